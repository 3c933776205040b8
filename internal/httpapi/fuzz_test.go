package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/logging"
)

// fuzzAPI is the real API over a real catalogue and job queue, wired as the daemon
// wires them (app.Open), with one library root; the engine is not started, so
// submitted jobs stay queued.
func fuzzAPI(f *testing.F) (http.Handler, string) {
	dir, root := f.TempDir(), f.TempDir()
	cfg := config.Default(dir)
	cfg.Library.Roots, cfg.Library.Extensions, cfg.Jobs.Workers = []string{root}, []string{"mkv"}, 1
	core, err := app.Open(context.Background(), cfg, logging.Discard(), app.Migrate)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { core.Close(context.Background()) })
	a := New(Deps{Logger: logging.Discard(), Database: core.Store, Started: time.Now(), Jobs: core.Jobs,
		Store: core.Store, Scanner: core.Scanner, MaxQueued: 1000000})
	a.SetReady()
	return a.Handler(), root
}

// checkResponse fails on anything but a success or a 4xx with a JSON error body.
func checkResponse(t *testing.T, rec *httptest.ResponseRecorder, input string) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("input %q: HTTP %d %s", input, rec.Code, rec.Body)
	}
	if rec.Code >= 400 && !strings.HasPrefix(rec.Body.String(), `{"error":{"code":"`) {
		t.Fatalf("input %q: HTTP %d without a JSON error: %s", input, rec.Code, rec.Body)
	}
}

// FuzzSubmitJob posts arbitrary bodies to POST /api/jobs: a 202 or a 4xx JSON
// error, never a 5xx or a panic.
func FuzzSubmitJob(f *testing.F) {
	h, root := fuzzAPI(f)
	for _, seed := range []string{
		`{"type":"scan","path":"` + root + `"}`, `{"type":"probe","path":"` + root + `/x.mkv"}`,
		`{"type":"scan","path":"/etc"}`, `{"type":"scan","path":"relative"}`, `{"type":"transcode","path":"/"}`,
		`{"type":"scan"}`, `{}`, `[]`, `null`, `{"type":"scan","path":"` + root + `"}{}`, `{"type":1}`,
		`{"type":"scan","path":"` + root + `/../"}`, `{"type":"scan","path":"\u0000"}`, "\xff\xfe", ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/jobs", strings.NewReader(string(body))))
		checkResponse(t, rec, string(body))
		if rec.Code == http.StatusAccepted && !strings.Contains(string(body), "scan") && !strings.Contains(string(body), "probe") {
			t.Fatalf("accepted a job without a type: %q", body)
		}
	})
}

// FuzzQueries sends arbitrary query strings to every GET endpoint.
func FuzzQueries(f *testing.F) {
	h, root := fuzzAPI(f)
	for _, seed := range []string{
		"", "limit=10", "limit=0", "limit=-1", "limit=1000000", "cursor=5", "cursor=abc", "state=queued&type=scan",
		"state=bogus", "path_prefix=" + url.QueryEscape(root), "path_prefix=relative", "missing=true", "missing=maybe",
		"codec=h264&language=eng&container=matroska", "limit=1&limit=2", "%zz", "path_prefix=%ff%fe", "unknown=1",
	} {
		f.Add("/api/files", seed)
		f.Add("/api/jobs", seed)
	}
	f.Add("/api/files/1", "")
	f.Add("/api/jobs/9223372036854775807", "")
	f.Add("/api/jobs/-1", "")
	f.Fuzz(func(t *testing.T, path, query string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") {
			return
		}
		target := path
		if query != "" {
			target += "?" + query
		}
		req, err := http.NewRequest("GET", target, nil)
		if err != nil {
			return // not a request a client could send
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkResponse(t, rec, target)
	})
}
