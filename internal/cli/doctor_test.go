package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// doctorHome is a home directory with ~/.vpo, a valid policy and a library root.
func doctorHome(t *testing.T) (home string, env map[string]string) {
	t.Helper()
	home = t.TempDir()
	policies := filepath.Join(home, ".vpo", "policies")
	root := filepath.Join(home, "tv")
	for _, d := range []string{policies, root} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	policy := "schema_version: 13\nphases:\n  - name: only\n    keep_audio:\n      languages: [eng]\n"
	if err := os.WriteFile(filepath.Join(policies, "movies.yaml"), []byte(policy), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "a.mkv"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".vpo", "config.toml"), []byte("[library]\nroots = [\""+root+"\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return home, map[string]string{}
}

func TestDoctor(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, home string, env map[string]string)
		args     []string
		code     int
		lines    []string // regexps, each must match a line of stdout
		errText  string   // the error, when code is not 0
		notLines []string // regexps no line may match
	}{
		{
			name: "all well",
			code: ExitOK,
			lines: []string{
				`^ok +ffprobe +/\S+/ffprobe: ffprobe version `,
				`^ok +mkvpropedit +/\S+/mkvpropedit: mkvpropedit v`,
				`^ok +data dir +\S+/\.vpo: writable, mode 0700$`,
				`^ok +database +\S+/\.vpo/library\.db does not exist yet; vpo serve will create it$`,
				`^ok +policies dir +\S+/policies: 1 policy$`,
				`^ok +policy movies +\S+/movies\.yaml: valid$`,
				`^ok +library root +\S+/tv: readable$`,
			},
			notLines: []string{`^FAIL`},
		},
		{
			name: "warnings do not fail",
			setup: func(t *testing.T, home string, _ map[string]string) {
				if err := os.RemoveAll(filepath.Join(home, ".vpo", "policies")); err != nil {
					t.Fatal(err)
				}
			},
			code:     ExitOK,
			lines:    []string{`^warn +policies dir +\S+ does not exist: no policies`},
			notLines: []string{`^FAIL`},
		},
		{
			name: "a missing tool fails and names its variable",
			setup: func(t *testing.T, _ string, env map[string]string) {
				env["VPO_MKVMERGE_PATH"] = "/nonexistent/mkvmerge"
			},
			code:    ExitFailure,
			lines:   []string{`^FAIL +mkvmerge +/nonexistent/mkvmerge \(tools\.mkvmerge, from env\): does not exist; set tools\.mkvmerge or VPO_MKVMERGE_PATH to an executable$`},
			errText: `^doctor: 1 of \d+ checks failed$`,
		},
		{
			name: "an invalid policy and a corrupt database",
			setup: func(t *testing.T, home string, _ map[string]string) {
				vpo := filepath.Join(home, ".vpo")
				if err := os.WriteFile(filepath.Join(vpo, "policies", "tv.yml"), []byte("schema_version: 12\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(vpo, "library.db"), []byte(strings.Repeat("not sqlite ", 1000)), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			code: ExitFailure,
			lines: []string{
				`^FAIL +database +\S+/library\.db is not a SQLite database$`,
				`^ok +policies dir +\S+: 2 policies, 1 invalid$`,
				`^FAIL +policy tv +\S+/tv\.yml:1:\d+: `,
			},
			errText: `^doctor: 2 of \d+ checks failed$`,
		},
		{
			name: "a missing library root",
			setup: func(t *testing.T, home string, _ map[string]string) {
				if err := os.RemoveAll(filepath.Join(home, "tv")); err != nil {
					t.Fatal(err)
				}
			},
			code:    ExitFailure,
			lines:   []string{`^FAIL +library root +\S+/tv does not exist \(is the disk mounted\?\)$`},
			errText: `^doctor: 1 of \d+ checks failed$`,
		},
		{
			name:    "a configuration error exits 78",
			args:    []string{"--config", "/nonexistent/vpo.toml"},
			code:    ExitConfig,
			errText: `^config /nonexistent/vpo\.toml: `,
		},
		{
			name:    "arguments are a usage error",
			args:    []string{"extra"},
			code:    ExitUsage,
			errText: `^"vpo doctor" takes no arguments, got "extra"$`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home, env := doctorHome(t)
			if tt.setup != nil {
				tt.setup(t, home, env)
			}
			out, stderr, err := runVPO(t, home, env, append([]string{"doctor"}, tt.args...)...)
			if got := ExitCode(err); got != tt.code {
				t.Fatalf("exit code %d (err %v), want %d; stdout:\n%s", got, err, tt.code, out)
			}
			if stderr != "" {
				t.Errorf("stderr = %q, want nothing (main prints the error)", stderr)
			}
			if tt.errText != "" && (err == nil || !regexp.MustCompile(tt.errText).MatchString(err.Error())) {
				t.Errorf("error %v does not match %s", err, tt.errText)
			}
			for _, re := range tt.lines {
				if !regexp.MustCompile("(?m)" + re).MatchString(out) {
					t.Errorf("no line matches %s in:\n%s", re, out)
				}
			}
			for _, re := range tt.notLines {
				if regexp.MustCompile("(?m)" + re).MatchString(out) {
					t.Errorf("a line matches %s in:\n%s", re, out)
				}
			}
			if tt.code == ExitOK || tt.code == ExitFailure {
				for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
					if !regexp.MustCompile(`^(ok|warn|FAIL) +\S`).MatchString(line) {
						t.Errorf("line %q is not STATUS NAME DETAIL", line)
					}
				}
			}
		})
	}
}

func TestDoctorJSON(t *testing.T) {
	home, env := doctorHome(t)
	env["VPO_FFPROBE_PATH"] = "vpo-no-such-ffprobe"
	out, _, err := runVPO(t, home, env, "doctor", "--json")
	if ExitCode(err) != ExitFailure {
		t.Fatalf("exit code %d (err %v), want 1", ExitCode(err), err)
	}
	var report struct {
		Status string `json:"status"`
		Checks []struct {
			Name, Status, Detail string
		} `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if report.Status != "fail" {
		t.Errorf("status %q, want fail", report.Status)
	}
	found := false
	for _, c := range report.Checks {
		if c.Name == "ffprobe" {
			found = true
			if c.Status != "fail" || !strings.Contains(c.Detail, `"vpo-no-such-ffprobe" not found in PATH`) {
				t.Errorf("ffprobe check = %+v", c)
			}
		}
		if c.Status != "ok" && c.Status != "warn" && c.Status != "fail" {
			t.Errorf("check %s has status %q", c.Name, c.Status)
		}
	}
	if !found {
		t.Errorf("no ffprobe check in %s", out)
	}
}
