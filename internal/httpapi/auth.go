package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// requireToken guards what APIHandler serves (everything under /api/) with the
// bearer token, when one is configured; /health is not behind it and stays open for
// probes. Tokens are compared in constant time
// (as SHA-256 digests, so that not even the length leaks) and never logged.
func (a *API) requireToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		live := a.live.Load() // the token in force when the request arrived (SetLive)
		if !live.hasToken {
			next.ServeHTTP(w, r)
			return
		}
		want := live.tokenSum
		got, ok := bearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			reason := "missing bearer token"
			if ok {
				reason = "wrong bearer token"
			}
			a.logger.Warn("request refused: "+reason, "peer", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Bearer realm="vpo"`)
			writeError(w, r, a.logger, errorf(http.StatusUnauthorized, "unauthorized",
				"this endpoint needs an Authorization: Bearer <token> header with vpo's token"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequireToken guards h with the bearer token as /api/ is guarded (the same 401
// and log line); the daemon puts GET /metrics behind it beyond loopback. While no
// token is in force (SetLive) it lets every request through.
func (a *API) RequireToken(h http.Handler) http.Handler { return a.requireToken(h) }

// bearer extracts the token from an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
