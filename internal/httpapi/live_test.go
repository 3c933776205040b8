package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// SetLive changes the token, the allowed hosts and the queue cap for the requests
// that follow, over the real API and job queue.
func TestSetLive(t *testing.T) {
	t.Parallel()
	const oldToken, newToken = "old-token-0123456789", "new-token-0123456789"
	b := newBundle(t, func(d *Deps) { d.AuthToken = oldToken })
	h := b.api.Handler()
	do := func(method, host, token, body string) int {
		t.Helper()
		var r *http.Request
		if body != "" {
			r = newRequest(method, "/api/jobs", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		} else {
			r = newRequest(method, "/api/jobs", nil)
		}
		if host != "" {
			r.Host = host
		}
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	scan := `{"type":"scan","path":"` + b.root + `"}`

	if got := do("GET", "", oldToken, ""); got != 200 {
		t.Fatalf("old token before the change: %d", got)
	}
	if got := do("GET", "vpo.example:8321", oldToken, ""); got != 403 {
		t.Fatalf("vpo.example before it is allowed: %d", got)
	}

	b.api.SetLive(Live{AuthToken: newToken, AllowedHosts: []string{"vpo.example"}, MaxQueued: 1})
	cases := []struct {
		name         string
		method, host string
		token, body  string
		want         int
	}{
		{name: "old token refused", method: "GET", token: oldToken, want: 401},
		{name: "no token refused", method: "GET", want: 401},
		{name: "new token accepted", method: "GET", token: newToken, want: 200},
		{name: "new allowed host", method: "GET", host: "vpo.example:8321", token: newToken, want: 200},
		{name: "first job under the cap", method: "POST", token: newToken, body: scan, want: 202},
		{name: "second job beyond the new cap", method: "POST", token: newToken, body: scan, want: 429},
	}
	for _, tc := range cases {
		if got := do(tc.method, tc.host, tc.token, tc.body); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}

	// No token at all: /api/ is open again (on loopback, as at startup).
	b.api.SetLive(Live{MaxQueued: 10})
	if got := do("GET", "", "", ""); got != 200 {
		t.Errorf("no token configured: %d, want 200", got)
	}
	if got := do("GET", "vpo.example:8321", "", ""); got != 403 {
		t.Errorf("vpo.example after it was removed: %d, want 403", got)
	}
}

// SetLive is safe beside requests in flight (run with -race).
func TestSetLiveConcurrent(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	h := b.api.Handler()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				r := newRequest("GET", "/api/jobs", nil)
				if i%2 == 0 {
					r.Header.Set("Origin", "http://localhost:8321")
				}
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
		}()
	}
	for i := range 50 {
		b.api.SetLive(Live{AllowedHosts: []string{"a.example"}, MaxQueued: i + 1})
	}
	wg.Wait()
}
