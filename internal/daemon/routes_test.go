package daemon

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/logging"
)

// Every route of the daemon's router is behind the edge middleware, and unknown
// paths get the API's JSON 404.
func TestRoutes(t *testing.T) {
	t.Parallel()
	h := routes(httpapi.New(httpapi.Deps{Logger: logging.Discard(), AuthToken: "a-token-of-16-chars-or-more"}))
	tests := []struct {
		name, method, target, host string
		wantCode                   int
		wantBody                   string
	}{
		{"health", "GET", "/health", "127.0.0.1:8321", 503, `"status":"starting"`},
		{"health, wrong method", "POST", "/health", "127.0.0.1:8321", 405, `"code":"method_not_allowed"`},
		{"api needs the token", "GET", "/api/jobs", "127.0.0.1:8321", 401, `"code":"unauthorized"`},
		{"unknown path", "GET", "/nope", "127.0.0.1:8321", 404, `"message":"no such endpoint: /nope"`},
		{"foreign host on health", "GET", "/health", "evil.example:8321", 403, `"code":"forbidden_host"`},
		{"foreign host on an unknown path", "GET", "/nope", "evil.example", 403, `"code":"forbidden_host"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(tt.method, tt.target, nil)
			req.Host = tt.host
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode || !strings.Contains(rec.Body.String(), tt.wantBody) {
				t.Fatalf("%s %s: %d %s, want %d %s", tt.method, tt.target, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
		})
	}
}
