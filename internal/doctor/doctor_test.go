package doctor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vpo-project/vpo/internal/config"
)

func TestReport(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		report Report
		failed int
		json   string
	}{
		{name: "empty", report: nil, failed: 0, json: `{"status":"ok","checks":[]}`},
		{
			name:   "warnings do not fail",
			report: Report{ok("a", "fine"), warn("b", "hmm")},
			failed: 0,
			json:   `{"status":"warn","checks":[{"name":"a","status":"ok","detail":"fine"},{"name":"b","status":"warn","detail":"hmm"}]}`,
		},
		{
			name:   "failures count",
			report: Report{fail("a", "broken"), warn("b", "hmm"), fail("c", "gone")},
			failed: 2,
			json:   `{"status":"fail","checks":[{"name":"a","status":"fail","detail":"broken"},{"name":"b","status":"warn","detail":"hmm"},{"name":"c","status":"fail","detail":"gone"}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.report.Failed(); got != tt.failed {
				t.Errorf("Failed() = %d, want %d", got, tt.failed)
			}
			b, err := json.Marshal(tt.report)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.json {
				t.Errorf("JSON = %s\nwant   %s", b, tt.json)
			}
		})
	}
	for s, want := range map[Status]string{OK: "ok", Warn: "warn", Fail: "FAIL"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

// TestRun checks the order and names of a whole run over a fresh data dir, with the
// real tools from PATH and the real kernel's limits.
func TestRun(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cfg := config.Default(filepath.Join(home, ".vpo"))
	root := filepath.Join(home, "tv")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(root, "a.mkv"), "x")
	cfg.Library.Roots = []string{root}

	got := Run(context.Background(), cfg, Options{})
	want := []struct {
		name   string
		status Status
	}{
		{"config", OK},
		{"ffprobe", OK}, {"ffmpeg", OK}, {"mkvmerge", OK}, {"mkvpropedit", OK},
		{"data dir", OK},
		{"database", OK},
		{"policies dir", Warn},
		{"library root", OK},
		{"fs.inotify.max_user_watches", -1}, // the machine's; any verdict
		{"fs.inotify.max_user_instances", OK},
	}
	if len(got) != len(want) {
		t.Fatalf("Run = %d results, want %d: %v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Name != w.name || (w.status >= 0 && got[i].Status != w.status) {
			t.Errorf("result %d = %s %q %q, want %s %q", i, got[i].Status, got[i].Name, got[i].Detail, w.status, w.name)
		}
	}
	if got.Failed() != 0 {
		t.Errorf("Run on a fresh setup failed: %v", got)
	}
	if _, err := os.Stat(cfg.DataDir); err == nil {
		t.Errorf("Run created the data dir %s", cfg.DataDir)
	}
}
