package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the config loader as a config file: it must never
// panic, and every failure must be one *Error line naming the file.
func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		"",
		"database_path = \"lib.db\"\n[server]\nbind = \"127.0.0.1\"\nport = 8321\nshutdown_timeout = 30\n",
		"[logging]\nlevel = \"debug\"\nformat = \"json\"\njournal = \"off\"\n",
		"[jobs]\nworkers = 4\nprobe_timeout = 1.5\n[library]\nroots = [\"/srv/media\"]\nextensions = [\"mkv\"]\n",
		"[server]\nport = 70000\n",
		"[server\n",
		"[server]\nauth_token_file = \"/dev/null\"\nallow_unauthenticated = true\n",
		"x = \"\\uD800\"\n",
		"[[server]]\nport = 1\n",
	} {
		f.Add([]byte(seed))
	}
	home := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "config.toml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(Flags{ConfigPath: &path}, Options{Home: home, Getenv: func(string) (string, bool) { return "", false }})
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not a *config.Error: %v", err, err)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("multi-line error: %q", err.Error())
			}
			if !strings.HasPrefix(err.Error(), "config ") {
				t.Fatalf("error does not start with its origin: %q", err.Error())
			}
			return
		}
		if cfg.Server.Port < 1 || cfg.Server.Port > 65535 || cfg.Jobs.Workers < 1 || cfg.Server.ShutdownTimeout < 0 {
			t.Fatalf("invalid config accepted: %+v", cfg)
		}
	})
}
