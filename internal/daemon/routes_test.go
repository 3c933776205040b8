package daemon

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/web"
)

// Every route of the daemon's router is behind the edge middleware, and unknown
// paths get the API's JSON 404.
func TestRoutes(t *testing.T) {
	t.Parallel()
	api := httpapi.New(httpapi.Deps{Logger: logging.Discard(), AuthToken: "a-token-of-16-chars-or-more"})
	ui, err := web.New(web.Deps{Logger: logging.Discard(), Health: api, Token: "a-token-of-16-chars-or-more"})
	if err != nil {
		t.Fatal(err)
	}
	h := routes(api, ui, nil, false)
	tests := []struct {
		name, method, target, host string
		wantCode                   int
		wantBody                   string
		header                     map[string]string
	}{
		{"root sends browsers to the UI", "GET", "/", "127.0.0.1:8321", 302, `<a href="/ui/">Found</a>`, nil},
		{"the UI needs a login", "GET", "/ui/library", "127.0.0.1:8321", 303, `/ui/login?next=%2Fui%2Flibrary`, nil},
		{"the icon", "GET", "/favicon.ico", "127.0.0.1:8321", 200, `<svg`, nil},
		{"the login form", "GET", "/ui/login", "localhost:8321", 200, `<label for="token">`, nil},
		{"foreign host on the UI", "GET", "/ui/login", "evil.example", 403, `"code":"forbidden_host"`, nil},
		{"cross-site form post to the UI", "POST", "/ui/login", "127.0.0.1:8321", 403, `"code":"cross_origin"`,
			map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/x-www-form-urlencoded"}},
		{"UI form post without its CSRF token", "POST", "/ui/login", "127.0.0.1:8321", 403, `CSRF token is missing or wrong`,
			map[string]string{"Sec-Fetch-Site": "same-origin", "Content-Type": "application/x-www-form-urlencoded"}},
		{"health", "GET", "/health", "127.0.0.1:8321", 503, `"status":"starting"`, nil},
		{"health, wrong method", "POST", "/health", "127.0.0.1:8321", 405, `"code":"method_not_allowed"`, nil},
		{"api needs the token", "GET", "/api/jobs", "127.0.0.1:8321", 401, `"code":"unauthorized"`, nil},
		{"unknown path", "GET", "/nope", "127.0.0.1:8321", 404, `"message":"no such endpoint: /nope"`, nil},
		{"foreign host on health", "GET", "/health", "evil.example:8321", 403, `"code":"forbidden_host"`, nil},
		{"foreign host on an unknown path", "GET", "/nope", "evil.example", 403, `"code":"forbidden_host"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tt.method, tt.target, nil)
			req.Host = tt.host
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("%s %s: %d %s, want %d %s", tt.method, tt.target, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			want := "application/json"
			switch {
			case strings.HasPrefix(tt.wantBody, "<svg"):
				want = "image/svg+xml"
			case !strings.HasPrefix(tt.wantBody, `"`):
				want = "text/html; charset=utf-8"
			}
			if ct := rec.Header().Get("Content-Type"); ct != want {
				t.Fatalf("Content-Type %q, want %q", ct, want)
			}
		})
	}
}
