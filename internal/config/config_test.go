package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envFrom(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrecedence checks flag > file > env > default for every layered setting.
func TestPrecedence(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		file       string
		env        map[string]string
		flags      Flags
		wantPort   int
		wantSource Source
		wantLevel  string
	}{
		{name: "default", wantPort: 8321, wantSource: SourceDefault, wantLevel: "info"},
		{name: "env over default", env: map[string]string{"VPO_SERVER_PORT": "9001", "VPO_LOG_LEVEL": "debug"},
			wantPort: 9001, wantSource: SourceEnv, wantLevel: "debug"},
		{name: "file over env", file: "[server]\nport = 9002\n[logging]\nlevel = \"warning\"\n",
			env:      map[string]string{"VPO_SERVER_PORT": "9001", "VPO_LOG_LEVEL": "debug"},
			wantPort: 9002, wantSource: SourceFile, wantLevel: "warning"},
		{name: "flag over file and env", file: "[server]\nport = 9002\n",
			env:      map[string]string{"VPO_SERVER_PORT": "9001"},
			flags:    Flags{Values: map[string]string{"server.port": "9003", "logging.level": "error"}},
			wantPort: 9003, wantSource: SourceFlag, wantLevel: "error"},
		{name: "flag over env without file", env: map[string]string{"VPO_SERVER_PORT": "9001"},
			flags: Flags{Values: map[string]string{"server.port": "9003"}}, wantPort: 9003, wantSource: SourceFlag, wantLevel: "info"},
		{name: "empty env is unset", env: map[string]string{"VPO_SERVER_PORT": ""},
			wantPort: 8321, wantSource: SourceDefault, wantLevel: "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			if tt.file != "" {
				if err := os.MkdirAll(filepath.Join(home, ".vpo"), 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(home, ".vpo"), tt.file)
			}
			cfg, err := Load(tt.flags, Options{Home: home, Getenv: envFrom(tt.env)})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Server.Port != tt.wantPort || cfg.Sources["server.port"] != tt.wantSource && !(tt.wantSource == SourceDefault && cfg.Sources["server.port"] == "") {
				t.Errorf("port = %d from %q, want %d from %q", cfg.Server.Port, cfg.Sources["server.port"], tt.wantPort, tt.wantSource)
			}
			if cfg.Logging.Level != tt.wantLevel {
				t.Errorf("level = %q, want %q", cfg.Logging.Level, tt.wantLevel)
			}
		})
	}
}

// TestEveryEnvVar checks that each documented variable reaches its setting.
func TestEveryEnvVar(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	env := map[string]string{
		"VPO_DATABASE_PATH":           "/srv/vpo/lib.db",
		"VPO_SERVER_BIND":             "0.0.0.0",
		"VPO_SERVER_PORT":             "9100",
		"VPO_SERVER_SHUTDOWN_TIMEOUT": "12.5",
		"VPO_LOG_LEVEL":               "warning",
		"VPO_LOG_FORMAT":              "json",
		"VPO_FFPROBE_PATH":            "/opt/ffprobe",
		"VPO_JOBS_WORKERS":            "3",
		"VPO_LOG_JOURNAL":             "off",
		"VPO_AUTH_TOKEN":              "0123456789abcdef0123",
		"VPO_SERVER_ALLOWED_HOSTS":    "vpo.lan",
		"VPO_POLICIES_DIR":            "/srv/policies",
		"VPO_FFMPEG_PATH":             "/opt/ffmpeg",
		"VPO_MKVMERGE_PATH":           "/opt/mkvmerge",
		"VPO_MKVPROPEDIT_PATH":        "/opt/mkvpropedit",
		"VPO_NODE_NAME":               "nas-1",
	}
	cfg, err := Load(Flags{}, Options{Home: home, Getenv: envFrom(env)})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.DatabasePath, cfg.Server.Bind, cfg.Server.Port, cfg.Server.ShutdownTimeout,
		cfg.Logging.Level, cfg.Logging.Format, cfg.Tools.FFprobe, cfg.Jobs.Workers, cfg.Logging.Journal,
		strings.Join(cfg.Server.AllowedHosts, ","), cfg.Policies.Dir, cfg.Tools.FFmpeg, cfg.Tools.MKVMerge, cfg.Tools.MKVPropEdit}
	want := []any{"/srv/vpo/lib.db", "0.0.0.0", 9100, 12500 * time.Millisecond,
		"warning", "json", "/opt/ffprobe", 3, "off",
		"vpo.lan", "/srv/policies", "/opt/ffmpeg", "/opt/mkvmerge", "/opt/mkvpropedit"}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("setting %d = %v, want %v", i, got[i], want[i])
		}
	}
	for key, src := range cfg.Sources {
		if src != SourceEnv {
			t.Errorf("%s source = %s, want env", key, src)
		}
	}
	// Every variable of the table is in this test.
	for _, name := range EnvVars() {
		// The PostgreSQL settings exclude database_path: TestDatabaseURL has them.
		if _, ok := env[name]; !ok && name != ConfigPathEnv && name != "VPO_SERVER_AUTH_TOKEN_FILE" &&
			name != "VPO_DATABASE_URL" && name != "VPO_DATABASE_PASSWORD_FILE" {
			t.Errorf("%s is not tested here", name)
		}
	}
}

// TestConfigPath checks which file is read and that only the default may be missing.
func TestConfigPath(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	other := writeFile(t, t.TempDir(), "[server]\nport = 9200\n")

	cfg, err := Load(Flags{}, Options{Home: home, Getenv: envFrom(nil)})
	if err != nil || cfg.File != "" {
		t.Fatalf("missing default file: cfg.File=%q err=%v, want defaults", cfg.File, err)
	}
	cfg, err = Load(Flags{}, Options{Home: home, Getenv: envFrom(map[string]string{"VPO_CONFIG_PATH": other})})
	if err != nil || cfg.Server.Port != 9200 || cfg.File != other {
		t.Fatalf("VPO_CONFIG_PATH: port=%d file=%q err=%v", cfg.Server.Port, cfg.File, err)
	}
	missing := filepath.Join(home, "nope.toml")
	_, err = Load(Flags{ConfigPath: &missing}, Options{Home: home, Getenv: envFrom(map[string]string{"VPO_CONFIG_PATH": other})})
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("--config to a missing file: err=%v, want an error naming %s", err, missing)
	}
}

// TestValidationMessages checks that each bad value gets one clear line naming the
// file, the key and, where the decoder knows it, the line and column.
func TestValidationMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		file string
		env  map[string]string
		want string // substring after "config <file>"
	}{
		{name: "port out of range", file: "[server]\nport = 70000\n", want: ": server.port: 70000 is out of range (1-65535)"},
		{name: "negative shutdown timeout", file: "[server]\nshutdown_timeout = -1\n", want: ": server.shutdown_timeout: -1 is out of range (0-86400 seconds)"},
		{name: "bad level", file: "[logging]\nlevel = \"loud\"\n", want: `: logging.level: "loud" is not one of debug, info, warning, error`},
		{name: "bad format", file: "[logging]\nformat = \"xml\"\n", want: `: logging.format: "xml" is not one of text, json`},
		{name: "unknown key", file: "[server]\nport = 8000\nbogus = 1\n", want: ":3:1: server.bogus: unknown key"},
		{name: "unknown table", file: "[nope]\nx = 1\n", want: ":1:2: nope: unknown key"},
		{name: "wrong type", file: "[server]\nport = \"abc\"\n", want: ":2:8: server.port: wrong type: got a TOML string, want an integer"},
		{name: "malformed", file: "[server\nport = 1\n", want: ":1:8: expected ']' to close table name"},
		{name: "workers zero", file: "[jobs]\nworkers = 0\n", want: ": jobs.workers: 0 is out of range (1-256)"},
		{name: "apply workers too many", file: "[apply]\nworkers = 17\n", want: ": apply.workers: 17 is out of range (1-16)"},
		{name: "apply workers zero", file: "[apply]\nworkers = 0\n", want: ": apply.workers: 0 is out of range (1-16)"},
		{name: "relative root", file: "[library]\nroots = [\"media\"]\n", want: `: library.roots: entry 1 "media" is not an absolute path`},
		{name: "env port not a number", env: map[string]string{"VPO_SERVER_PORT": "abc"}, want: `config environment VPO_SERVER_PORT: server.port: "abc" is not an integer`},
		{name: "env level bad", env: map[string]string{"VPO_LOG_LEVEL": "loud"}, want: `config environment VPO_LOG_LEVEL: logging.level: "loud" is not one of`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			var flags Flags
			var path string
			if tt.file != "" {
				path = writeFile(t, home, tt.file)
				flags.ConfigPath = &path
			}
			_, err := Load(flags, Options{Home: home, Getenv: envFrom(tt.env)})
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error", err)
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("message has several lines: %q", msg)
			}
			if path != "" && !strings.HasPrefix(msg, "config "+path) {
				t.Errorf("message %q does not start by naming %s", msg, path)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

// TestUnreadableFile uses a directory as the config file: unreadable even for root.
func TestUnreadableFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, err := Load(Flags{ConfigPath: &dir}, Options{Home: dir, Getenv: envFrom(nil)})
	if err == nil || !strings.Contains(err.Error(), "config "+dir+": cannot read file") {
		t.Fatalf("err = %v", err)
	}
}

func TestRelativeDatabasePath(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cfg, err := Load(Flags{}, Options{Home: home, Getenv: envFrom(map[string]string{"VPO_DATABASE_PATH": "other.db"})})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(home, ".vpo", "other.db"); cfg.DatabasePath != want {
		t.Errorf("database path = %q, want %q", cfg.DatabasePath, want)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		file      string
		env       map[string]string
		tokenFile string // contents of token.txt, written when not ""
		want      string // error substring, "" for success
		wantToken string
	}{
		{name: "loopback needs no token", file: "[server]\nbind = \"127.0.0.1\"\n"},
		{name: "ipv6 loopback needs no token", file: "[server]\nbind = \"::1\"\n"},
		{name: "wildcard without token", file: "[server]\nbind = \"0.0.0.0\"\n",
			want: `server.bind: "0.0.0.0" is not a loopback address, and no token is configured`},
		{name: "wildcard explicitly unauthenticated", file: "[server]\nbind = \"0.0.0.0\"\nallow_unauthenticated = true\n"},
		{name: "token file", file: "[server]\nbind = \"0.0.0.0\"\nauth_token_file = \"token.txt\"\n",
			tokenFile: "s3cret-s3cret-s3cret\n", wantToken: "s3cret-s3cret-s3cret"},
		{name: "token from env", file: "[server]\nbind = \"0.0.0.0\"\n",
			env: map[string]string{"VPO_AUTH_TOKEN": "env-token-env-token"}, wantToken: "env-token-env-token"},
		{name: "token file missing", file: "[server]\nauth_token_file = \"/nonexistent/token\"\n",
			want: "server.auth_token_file: /nonexistent/token: file does not exist"},
		{name: "token file empty", file: "[server]\nauth_token_file = \"token.txt\"\n", tokenFile: "\n",
			want: "token.txt is empty"},
		{name: "token too short", env: map[string]string{"VPO_AUTH_TOKEN": "short"},
			want: "server.auth_token: the token is 5 characters; use at least 16"},
		{name: "allow must be a bool", file: "[server]\nallow_unauthenticated = \"yes\"\n",
			want: "wrong type: got a TOML string, want true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			home := t.TempDir()
			dataDir := filepath.Join(home, ".vpo")
			if err := os.MkdirAll(dataDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if tt.tokenFile != "" {
				if err := os.WriteFile(filepath.Join(dataDir, "token.txt"), []byte(tt.tokenFile), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tt.file != "" {
				writeFile(t, dataDir, tt.file)
			}
			cfg, err := Load(Flags{}, Options{Home: home, Getenv: envFrom(tt.env)})
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("err = %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Server.AuthToken != tt.wantToken {
				t.Errorf("token = %q, want %q", cfg.Server.AuthToken, tt.wantToken)
			}
			for _, s := range cfg.Settings() {
				if tt.wantToken != "" && strings.Contains(fmt.Sprint(s.Value), tt.wantToken) {
					t.Errorf("setting %s shows the token", s.Key)
				}
			}
		})
	}
}

// TestShippedExamples keeps the example configs in packaging/ and docs/ loadable.
func TestShippedExamples(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```toml\n")
	if !ok {
		t.Fatal("docs/operations.md has no toml example")
	}
	example, _, _ := strings.Cut(rest, "```")
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("0123456789abcdef0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	docPath := writeFile(t, dir, strings.ReplaceAll(example, "/etc/vpo/token", token))
	for _, path := range []string{"../../packaging/config.toml", docPath} {
		if _, err := Load(Flags{ConfigPath: &path}, Options{Home: dir, Getenv: envFrom(nil)}); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// TestApplyWorkers: two files at once unless the file says otherwise.
func TestApplyWorkers(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	cfg, err := Load(Flags{}, Options{Home: home, Getenv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Apply.Workers != 2 {
		t.Errorf("default apply.workers = %d, want 2", cfg.Apply.Workers)
	}
	p := writeFile(t, home, "[apply]\nworkers = 5\n")
	cfg, err = Load(Flags{ConfigPath: &p}, Options{Home: home, Getenv: envFrom(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Apply.Workers != 5 {
		t.Errorf("apply.workers = %d, want 5", cfg.Apply.Workers)
	}
}
