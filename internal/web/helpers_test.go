package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/probe"
)

const testToken = "correct-horse-battery-staple"

// syncBuffer is a log sink that tests read while the server writes.
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

// testBundle is a real catalogue and job engine in a temp dir, the UI over them,
// and an HTTP server on loopback.
type testBundle struct {
	app  *app.App
	cfg  *config.Config
	ui   *UI
	srv  *httptest.Server
	logs *syncBuffer
}

type setupOpts struct {
	token string
	// start starts the job engine, so that jobs run.
	start bool
	roots []string
	// policies are policy files (name -> YAML) of the policies directory.
	policies map[string]string
}

func setup(t *testing.T, o setupOpts) *testBundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	cfg := config.Default(dir)
	cfg.DatabasePath = filepath.Join(dir, "vpo.db")
	cfg.Jobs.Workers = 2
	cfg.Library.Roots = o.roots
	cfg.Server.AuthToken = o.token
	cfg.Policies.Dir = filepath.Join(dir, "policies")
	if err := os.MkdirAll(cfg.Policies.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range o.policies {
		if err := os.WriteFile(filepath.Join(cfg.Policies.Dir, name+".yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := policy.LoadRegistry(cfg.Policies.Dir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.Open(ctx, cfg, logger, app.Migrate)
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.New(httpapi.Deps{Logger: logger, Version: "test", Database: a.Store, Started: time.Now(),
		Jobs: a.Jobs, Store: a.Store, Scanner: a.Scanner, SchemaVersion: a.Store.SchemaVersion()})
	if o.start {
		if err := a.Jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	api.ProbeNow(ctx)
	api.SetReady()
	ui, err := New(Deps{Logger: logger, Store: a.Store, Jobs: a.Jobs, Scanner: a.Scanner, Health: api,
		Plans: a.Plans, Policies: reg, Config: cfg, Version: "test", Token: o.token})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ui)
	t.Cleanup(func() {
		ui.Close()
		srv.Close()
		if err := a.Jobs.Stop(ctx, time.Second); err != nil {
			t.Errorf("stop jobs: %v", err)
		}
		if err := a.Close(ctx); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	return &testBundle{app: a, cfg: cfg, ui: ui, srv: srv, logs: logs}
}

// record puts a file with its tracks in the catalogue through the scanner's write
// path, as if ffprobe had said so.
func (b *testBundle) record(t *testing.T, path, container string, tracks ...probe.Track) int64 {
	t.Helper()
	id, err := b.app.Store.RecordFile(context.Background(), catalog.Observation{
		Path: path, Size: 123456, ModTime: time.Now(), Fingerprint: "0123456789abcdef",
		Result: &probe.Result{Container: container, Duration: 83.5, BitRate: 900000, Tracks: tracks},
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// client is a browser stand-in: a cookie jar, and redirects are not followed so
// that tests see them.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (b *testBundle) client(t *testing.T) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: t, base: b.srv.URL, hc: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(method, path string, form url.Values) response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (c *client) get(path string) response { return c.do(http.MethodGet, path, nil) }

func (c *client) post(path string, form url.Values) response {
	return c.do(http.MethodPost, path, form)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf loads page and returns the CSRF token of its forms.
func (c *client) csrf(page string) string {
	c.t.Helper()
	r := c.get(page)
	m := csrfRE.FindStringSubmatch(r.body)
	if m == nil {
		c.t.Fatalf("GET %s: no CSRF token in the page (status %d)", page, r.status)
	}
	return m[1]
}

// login logs c in with the token.
func (c *client) login(token string) response {
	c.t.Helper()
	return c.post("/ui/login", url.Values{"csrf": {c.csrf("/ui/login")}, "token": {token}, "next": {"/ui/"}})
}

func mustStatus(t *testing.T, what string, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d; body:\n%s", what, r.status, want, r.body)
	}
}
