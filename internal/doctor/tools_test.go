package doctor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/config"
)

// writeScript writes an executable shell script standing in for a broken tool.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckTool(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notExec := filepath.Join(dir, "not-executable")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		tool    Tool
		timeout time.Duration
		status  Status
		want    []string // fragments of the detail
	}{
		{
			name:   "the real ffprobe from PATH",
			tool:   Tool{Name: "ffprobe", Setting: "tools.ffprobe", Env: "VPO_FFPROBE_PATH", VersionArgs: []string{"-version"}, Package: "ffmpeg"},
			status: OK,
			want:   []string{"/ffprobe: ffprobe version "},
		},
		{
			name:   "the real mkvmerge from PATH",
			tool:   Tool{Name: "mkvmerge", Setting: "tools.mkvmerge", VersionArgs: []string{"--version"}, Package: "mkvtoolnix"},
			status: OK,
			want:   []string{"/mkvmerge: mkvmerge v"},
		},
		{
			name:   "a name not in PATH names the package, the setting and the variable",
			tool:   Tool{Name: "mkvmerge", Setting: "tools.mkvmerge", Env: "VPO_MKVMERGE_PATH", Path: "vpo-no-such-mkvmerge", Package: "mkvtoolnix"},
			status: Fail,
			want:   []string{`"vpo-no-such-mkvmerge" not found in PATH`, "install mkvtoolnix", "tools.mkvmerge", "VPO_MKVMERGE_PATH"},
		},
		{
			name:   "a configured path that does not exist",
			tool:   Tool{Name: "ffprobe", Setting: "tools.ffprobe", Env: "VPO_FFPROBE_PATH", Path: filepath.Join(dir, "ffprobe"), Source: config.SourceFile},
			status: Fail,
			want:   []string{dir + "/ffprobe (tools.ffprobe, from file): does not exist", "VPO_FFPROBE_PATH"},
		},
		{
			name:   "a configured path that is not executable",
			tool:   Tool{Name: "ffmpeg", Setting: "tools.ffmpeg", Path: notExec, Source: config.SourceEnv},
			status: Fail,
			want:   []string{notExec + " (tools.ffmpeg, from env): is not executable"},
		},
		{
			name:   "a configured path that is a directory",
			tool:   Tool{Name: "ffmpeg", Setting: "tools.ffmpeg", Path: dir, Source: config.SourceEnv},
			status: Fail,
			want:   []string{dir + " (tools.ffmpeg, from env): is a directory"},
		},
		{
			name:   "a tool that fails quotes its stderr",
			tool:   Tool{Name: "ffprobe", Setting: "tools.ffprobe", Path: writeScript(t, dir, "failing", "echo 'libfoo.so: cannot open shared object' >&2; exit 3"), VersionArgs: []string{"-version"}},
			status: Fail,
			want:   []string{"failing -version\" failed: exit status 3: libfoo.so: cannot open shared object"},
		},
		{
			name:    "a tool that hangs is killed with its process group",
			tool:    Tool{Name: "ffprobe", Setting: "tools.ffprobe", Path: writeScript(t, dir, "hanging", "sleep 30; echo never"), VersionArgs: []string{"-version"}},
			timeout: 300 * time.Millisecond,
			status:  Fail,
			want:    []string{"hanging -version\" did not finish within 300ms"},
		},
		{
			name:   "a tool that prints nothing",
			tool:   Tool{Name: "ffprobe", Setting: "tools.ffprobe", Path: writeScript(t, dir, "silent", "exit 0")},
			status: Fail,
			want:   []string{"printed no version"},
		},
		{
			name:   "tools run with LC_ALL=C.UTF-8",
			tool:   Tool{Name: "mkvmerge", Setting: "tools.mkvmerge", Path: writeScript(t, dir, "locale", `echo "mkvmerge v1 LC_ALL=$LC_ALL"`)},
			status: OK,
			want:   []string{"locale: mkvmerge v1 LC_ALL=C.UTF-8"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			got := CheckTool(context.Background(), tt.tool, tt.timeout)
			if got.Status != tt.status || got.Name != tt.tool.Name {
				t.Errorf("CheckTool = %s %q %q, want status %s", got.Status, got.Name, got.Detail, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(got.Detail, w) {
					t.Errorf("detail %q does not contain %q", got.Detail, w)
				}
			}
			if strings.Contains(got.Detail, "\n") {
				t.Errorf("detail %q is more than one line", got.Detail)
			}
			if tt.timeout > 0 && time.Since(start) > 5*time.Second {
				t.Errorf("CheckTool took %s with a %s timeout", time.Since(start), tt.timeout)
			}
		})
	}
}

func TestTools(t *testing.T) {
	t.Parallel()
	cfg := config.Default(t.TempDir())
	cfg.Tools.MKVMerge = "/opt/mkvtoolnix/mkvmerge"
	cfg.Sources["tools.mkvmerge"] = config.SourceFile
	want := map[string]Tool{
		"ffprobe":     {Setting: "tools.ffprobe", Env: "VPO_FFPROBE_PATH", Source: config.SourceDefault},
		"ffmpeg":      {Setting: "tools.ffmpeg", Env: "VPO_FFMPEG_PATH", Source: config.SourceDefault},
		"mkvmerge":    {Setting: "tools.mkvmerge", Env: "VPO_MKVMERGE_PATH", Path: "/opt/mkvtoolnix/mkvmerge", Source: config.SourceFile},
		"mkvpropedit": {Setting: "tools.mkvpropedit", Env: "VPO_MKVPROPEDIT_PATH", Source: config.SourceDefault},
	}
	tools := Tools(cfg)
	if len(tools) != len(want) {
		t.Fatalf("Tools returned %d tools, want %d", len(tools), len(want))
	}
	for _, tool := range tools {
		w, found := want[tool.Name]
		if !found {
			t.Errorf("unexpected tool %q", tool.Name)
			continue
		}
		if tool.Setting != w.Setting || tool.Env != w.Env || tool.Path != w.Path || tool.Source != w.Source {
			t.Errorf("tool %s = %+v, want setting %s env %s path %q source %s", tool.Name, tool, w.Setting, w.Env, w.Path, w.Source)
		}
		if len(tool.VersionArgs) == 0 || tool.Package == "" {
			t.Errorf("tool %s has no version flag or package", tool.Name)
		}
	}
}
