package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// fuzzAPI is the real API over a real catalogue and job queue, wired as the daemon
// wires them (app.Open), with one library root; the engine is not started, so
// submitted jobs stay queued.
func fuzzAPI(f *testing.F) (http.Handler, string) {
	b := newBundle(f, nil)
	return b.api.Handler(), b.root
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
		req := newRequest("POST", "/api/jobs", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		h.ServeHTTP(rec, req)
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
		req.Host = testHost
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		checkResponse(t, rec, target)
	})
}
