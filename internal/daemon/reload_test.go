package daemon

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/logging"
)

// loadFile loads a configuration from a config file with body, as `vpo serve
// --config FILE` does, with env as the environment.
func loadFile(t *testing.T, dir, body string, env map[string]string) (*config.Config, error) {
	t.Helper()
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return config.Load(config.Flags{ConfigPath: &path}, config.Options{Home: dir,
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
}

func TestPlanReload(t *testing.T) {
	t.Parallel()
	const token1, token2 = "first-token-0123456789", "second-token-0123456789"
	cases := []struct {
		name        string
		old, next   string
		listen      string // the host the daemon listens on; "" 127.0.0.1
		wantLive    []string
		wantRestart []string
		wantErr     string
		check       func(t *testing.T, c *config.Config)
	}{
		{name: "nothing changed", old: "", next: ""},
		{name: "live settings", old: "[logging]\nlevel = \"info\"\n",
			next:     "[logging]\nlevel = \"debug\"\n[jobs]\nmax_queued = 5\n[server]\nallowed_hosts = [\"vpo.example\"]\n",
			wantLive: []string{"jobs.max_queued", "logging.level", "server.allowed_hosts"},
			check: func(t *testing.T, c *config.Config) {
				if c.Logging.Level != "debug" || c.Jobs.MaxQueued != 5 || !slices.Equal(c.Server.AllowedHosts, []string{"vpo.example"}) {
					t.Errorf("live settings not in the plan's config: %+v %+v", c.Logging, c.Server.AllowedHosts)
				}
			}},
		{name: "restart settings keep their values", old: "[server]\nport = 8400\n[jobs]\nworkers = 2\n",
			next:        "[server]\nport = 8401\n[jobs]\nworkers = 3\nmax_queued = 7\n[logging]\nformat = \"json\"\n",
			wantLive:    []string{"jobs.max_queued"},
			wantRestart: []string{"jobs.workers", "logging.format", "server.port"},
			check: func(t *testing.T, c *config.Config) {
				if c.Server.Port != 8400 || c.Jobs.Workers != 2 || c.Logging.Format != "text" || c.Jobs.MaxQueued != 7 {
					t.Errorf("plan's config: port %d workers %d format %s max_queued %d", c.Server.Port, c.Jobs.Workers, c.Logging.Format, c.Jobs.MaxQueued)
				}
				if c.Sources["server.port"] != config.SourceFile {
					t.Errorf("server.port source = %s", c.Sources["server.port"])
				}
			}},
		{name: "database path and roots need a restart", old: "database_path = \"/tmp/a.db\"\n",
			next:        "database_path = \"/tmp/b.db\"\n[library]\nroots = [\"/srv\"]\n",
			wantRestart: []string{"database_path", "library.roots"},
			check: func(t *testing.T, c *config.Config) {
				if c.DatabasePath != "/tmp/a.db" || len(c.Library.Roots) != 0 || len(c.Library.RootConfigs) != 0 {
					t.Errorf("plan's config: database %s roots %v", c.DatabasePath, c.Library.Roots)
				}
			}},
		{name: "token file content changed", old: "[server]\nauth_token_file = \"t1\"\n", next: "[server]\nauth_token_file = \"t2\"\n",
			wantLive: []string{"server.auth_token", "server.auth_token_file"},
			check: func(t *testing.T, c *config.Config) {
				if c.Server.AuthToken != token2 {
					t.Errorf("token in the plan = %q", c.Server.AuthToken)
				}
			}},
		{name: "token removed beyond loopback", listen: "0.0.0.0",
			old: "[server]\nbind = \"0.0.0.0\"\nauth_token_file = \"t1\"\n", next: "[server]\nbind = \"127.0.0.1\"\n",
			wantErr: "server.auth_token: vpo listens on 0.0.0.0, beyond loopback, and no token would be configured"},
		{name: "token removed beyond loopback, explicitly allowed", listen: "0.0.0.0",
			old:      "[server]\nbind = \"0.0.0.0\"\nauth_token_file = \"t1\"\n",
			next:     "[server]\nbind = \"0.0.0.0\"\nallow_unauthenticated = true\n",
			wantLive: []string{"server.allow_unauthenticated", "server.auth_token", "server.auth_token_file"}},
		{name: "token removed on loopback", old: "[server]\nauth_token_file = \"t1\"\n", next: "",
			wantLive: []string{"server.auth_token", "server.auth_token_file"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, tok := range map[string]string{"t1": token1, "t2": token2} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(tok+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			// Relative token files resolve against the data dir, ~/.vpo.
			if err := os.MkdirAll(filepath.Join(dir, ".vpo"), 0o700); err != nil {
				t.Fatal(err)
			}
			for _, n := range []string{"t1", "t2"} {
				_ = os.Rename(filepath.Join(dir, n), filepath.Join(dir, ".vpo", n))
			}
			old, err := loadFile(t, dir, tc.old, nil)
			if err != nil {
				t.Fatalf("old config: %v", err)
			}
			next, err := loadFile(t, dir, tc.next, nil)
			if err != nil {
				t.Fatalf("next config: %v", err)
			}
			listen := tc.listen
			if listen == "" {
				listen = "127.0.0.1"
			}
			p, err := planReload(old, next, listen)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !config.IsConfigError(err) {
					t.Fatalf("error = %v, want a config error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(p.live); !slices.Equal(got, tc.wantLive) && (len(got) > 0 || len(tc.wantLive) > 0) {
				t.Errorf("live changes = %v, want %v", got, tc.wantLive)
			}
			if got := keys(p.restart); !slices.Equal(got, tc.wantRestart) && (len(got) > 0 || len(tc.wantRestart) > 0) {
				t.Errorf("restart changes = %v, want %v", got, tc.wantRestart)
			}
			// Nothing that needs a restart differs from the old configuration.
			for _, c := range config.Changes(old, p.cfg) {
				if !liveKeys[c.Key] {
					t.Errorf("%s changed in the plan's config, but it needs a restart", c.Key)
				}
			}
			if tc.check != nil {
				tc.check(t, p.cfg)
			}
		})
	}
}

// A changed secret is reported as changed without showing either value.
func TestPlanReloadRedactsSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	old, err := loadFile(t, dir, "", map[string]string{"VPO_AUTH_TOKEN": "first-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	next, err := loadFile(t, dir, "", map[string]string{"VPO_AUTH_TOKEN": "second-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planReload(old, next, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.live) != 1 || p.live[0].Key != "server.auth_token" || p.live[0].Old != "(set, redacted)" || p.live[0].New != "(set, redacted)" {
		t.Errorf("changes = %+v", p.live)
	}
}

// docs/operations.md names every setting a reload puts in force, in its Reloading
// section, and every setting is a known key.
func TestReloadDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Reloading")
	if !ok {
		t.Fatal(errors.New("docs/operations.md has no ## Reloading section"))
	}
	section, _, _ = strings.Cut(section, "\n## ")
	known := map[string]bool{}
	for _, s := range config.Specs() {
		known[s.Key] = true
	}
	for _, k := range liveKeyList() {
		if !known[k] {
			t.Errorf("live key %s is not a setting", k)
		}
		if !strings.Contains(section, "`"+k+"`") {
			t.Errorf("the Reloading section does not name `%s`", k)
		}
	}
}

// syncBuffer is a log sink safe for the daemon's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls the log until it contains want.
func (s *syncBuffer) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log:\n%s", want, s.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReloadSignals runs the daemon in-process: a SIGHUP that arrives before it is
// ready waits and is handled once it is (the level changes, through the LevelVar);
// a SIGHUP after SIGTERM is logged and ignored.
func TestReloadSignals(t *testing.T) {
	home := t.TempDir()
	port := freePort(t)
	cfg := testConfig(t, home, port)
	var out syncBuffer
	level := new(slog.LevelVar)
	logger, err := logging.New(logging.Options{Level: "info", Format: "text", Writer: &out, LevelVar: level})
	if err != nil {
		t.Fatal(err)
	}
	reload := func() (*config.Config, error) {
		env := map[string]string{"VPO_SERVER_PORT": strconv.Itoa(port), "VPO_JOBS_WORKERS": "2", "VPO_LOG_LEVEL": "debug"}
		return config.Load(config.Flags{}, config.Options{Home: home,
			Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	}
	signals := make(chan os.Signal, 4)
	signals <- syscall.SIGHUP // before Run: queued until ready
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), cfg, logger, Options{Signals: signals, Started: time.Now(), Reload: reload, Level: level})
	}()
	out.waitFor(t, `message="configuration reloaded" logger=vpo.config config_file="" changed=[logging.level] needs_restart=[]`)
	if i, j := strings.Index(out.String(), `message="vpo is ready"`), strings.Index(out.String(), `message="reload requested"`); i < 0 || j < i {
		t.Errorf("the early SIGHUP was handled before vpo was ready (ready at %d, reload at %d)", i, j)
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("level after the reload = %v, want debug", level.Level())
	}
	signals <- syscall.SIGTERM
	signals <- syscall.SIGHUP
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop")
	}
	out.waitFor(t, `message="shutdown in progress; reload ignored" logger=vpo.server signal=hangup`)
	if n := strings.Count(out.String(), `message="configuration reloaded"`); n != 1 {
		t.Errorf("%d reloads, want 1", n)
	}
	close(signals)
}
