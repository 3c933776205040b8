package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/config"
)

// runVPO runs the root command in-process with args, the environment env and HOME
// set to home, and returns its stdout, stderr and error.
func runVPO(t *testing.T, home string, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	t.Setenv("HOME", home) // config.Load finds ~/.vpo through os.UserHomeDir
	var stdout, stderr bytes.Buffer
	root := NewRoot(Env{Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	root.SetArgs(args)
	err := root.Execute()
	return stdout.String(), stderr.String(), err
}

// configHome is a home directory whose ~/.vpo/config.toml sets jobs.max_queued and
// server.port, the latter to be overridden by a flag.
func configHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, ".vpo")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte("[server]\nport = 9100\n[jobs]\nmax_queued = 5\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

var showEnv = map[string]string{"VPO_LOG_LEVEL": "debug", "VPO_AUTH_TOKEN": "s3cret-s3cret-s3cret", "VPO_SERVER_PORT": "9200"}

func TestConfigShowText(t *testing.T) {
	home := configHome(t)
	out, stderr, err := runVPO(t, home, showEnv, "config", "show", "--port", "9300")
	if err != nil {
		t.Fatalf("err = %v, stderr %q", err, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("the token is shown:\n%s", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1+len(config.Specs()) {
		t.Fatalf("%d lines, want a header and %d settings:\n%s", len(lines), len(config.Specs()), out)
	}
	header := lines[0]
	valueCol, sourceCol := strings.Index(header, "VALUE"), strings.Index(header, "SOURCE")
	if !strings.HasPrefix(header, "KEY ") || valueCol < 0 || sourceCol < 0 {
		t.Fatalf("header = %q", header)
	}
	rows := map[string][2]string{}
	for _, l := range lines[1:] {
		if len(l) <= sourceCol || l[valueCol-1] != ' ' || l[sourceCol-1] != ' ' {
			t.Fatalf("line %q is not aligned with the header %q", l, header)
		}
		key := strings.TrimSpace(l[:valueCol])
		rows[key] = [2]string{strings.TrimSpace(l[valueCol:sourceCol]), strings.TrimSpace(l[sourceCol:])}
	}
	want := map[string][2]string{
		"server.port":             {"9300", "flag"},
		"jobs.max_queued":         {"5", "file"},
		"logging.level":           {"debug", "env"},
		"server.auth_token":       {"(set, redacted)", "env"},
		"server.bind":             {"127.0.0.1", "default"},
		"server.shutdown_timeout": {"30s", "default"},
		"tools.ffmpeg":            {`""`, "default"},
		"server.allowed_hosts":    {"[]", "default"},
		"library.extensions":      {`["mkv", "mp4", "m4v", "avi", "mov", "webm", "ts", "m2ts", "mts", "wmv", "flv", "mpg", "mpeg"]`, "default"},
		"policies.dir":            {filepath.Join(home, ".vpo", "policies"), "default"},
	}
	for key, w := range want {
		if got := rows[key]; got != w {
			t.Errorf("%s: %q from %q, want %q from %q", key, got[0], got[1], w[0], w[1])
		}
	}
}

func TestConfigShowJSON(t *testing.T) {
	home := configHome(t)
	out, _, err := runVPO(t, home, showEnv, "config", "show", "--json", "-p", "9300", "--log-format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		Key    string `json:"key"`
		Value  any    `json:"value"`
		Source string `json:"source"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("not a JSON array of {key, value, source}: %v\n%s", err, out)
	}
	byKey := map[string]int{}
	for i, s := range got {
		byKey[s.Key] = i
	}
	for _, s := range config.Specs() {
		if _, ok := byKey[s.Key]; !ok {
			t.Errorf("%s is missing", s.Key)
		}
	}
	want := []struct {
		key    string
		value  any
		source string
	}{
		{"server.port", 9300.0, "flag"},
		{"logging.format", "json", "flag"},
		{"jobs.max_queued", 5.0, "file"},
		{"logging.level", "debug", "env"},
		{"server.auth_token", "(set, redacted)", "env"},
		{"server.allow_unauthenticated", false, "default"},
		{"jobs.job_timeout", "6h0m0s", "default"},
		{"server.allowed_hosts", []any{}, "default"},
	}
	for _, w := range want {
		i, ok := byKey[w.key]
		if !ok {
			continue
		}
		g := got[i]
		gv, _ := json.Marshal(g.Value)
		wv, _ := json.Marshal(w.value)
		if string(gv) != string(wv) || g.Source != w.source {
			t.Errorf("%s = %s from %s, want %s from %s", w.key, gv, g.Source, wv, w.source)
		}
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("the token is shown")
	}
}

func TestConfigShowErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.toml")
	if err := os.WriteFile(bad, []byte("[server]\nport = 70000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	unknown := filepath.Join(t.TempDir(), "unknown.toml")
	if err := os.WriteFile(unknown, []byte("[server]\nport = 8000\nprot = 8001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{name: "out of range in the file", args: []string{"config", "show", "--config", bad}, wantCode: ExitConfig,
			wantErr: "config " + bad + ": server.port: 70000 is out of range (1-65535)"},
		{name: "unknown key", args: []string{"config", "show", "-c", unknown}, wantCode: ExitConfig,
			wantErr: "config " + unknown + ":3:1: server.prot: unknown key"},
		{name: "bad environment value", args: []string{"config", "show"}, env: map[string]string{"VPO_JOBS_WORKERS": "many"},
			wantCode: ExitConfig, wantErr: `config environment VPO_JOBS_WORKERS: jobs.workers: "many" is not an integer`},
		{name: "bad flag value", args: []string{"config", "show", "--port", "abc"}, wantCode: ExitUsage,
			wantErr: `invalid argument "abc" for "-p, --port" flag: not a port number (1-65535)`},
		{name: "bad enum flag", args: []string{"config", "show", "--log-level", "loud"}, wantCode: ExitUsage,
			wantErr: `invalid argument "loud" for "--log-level" flag: must be one of debug, info, warning, error`},
		{name: "serve binds the same flags", args: []string{"serve", "--port", "70000"}, wantCode: ExitUsage,
			wantErr: `invalid argument "70000" for "-p, --port" flag: not a port number (1-65535)`},
		{name: "extra argument", args: []string{"config", "show", "x"}, wantCode: ExitUsage,
			wantErr: `"vpo config show" takes no arguments, got "x"`},
		{name: "unknown subcommand", args: []string{"config", "edit"}, wantCode: ExitUsage,
			wantErr: `unknown command "edit" for "vpo config"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := runVPO(t, t.TempDir(), tt.env, tt.args...)
			if err == nil {
				t.Fatalf("no error; stdout %q", out)
			}
			if code := ExitCode(err); code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			var ce *config.Error
			if tt.wantCode == ExitConfig && !errors.As(err, &ce) {
				t.Errorf("%T is not a config error", err)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("error = %q, want %q", err.Error(), tt.wantErr)
			}
			if out != "" {
				t.Errorf("stdout = %q, want nothing", out)
			}
		})
	}
}
