package httpapi

import (
	"fmt"
	"mime"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"
)

// Edge wraps the daemon's whole router in the middleware every request passes
// through, outermost first:
//
//   - a panic becomes a JSON 500 (logged; the stack at debug level);
//   - the write deadline is set to WriteTimeout (a streaming route lifts it);
//   - a Host header that does not name vpo is refused (403 forbidden_host);
//   - a mutating request from another site is refused (403 cross_origin);
//   - during shutdown, mutating requests are refused (503 shutting_down);
//   - request bodies are limited to MaxBodyBytes (413 body_too_large).
//
// The bearer token and the JSON content-type rule are not here: they guard /api/
// only (see APIHandler).
func (a *API) Edge(next http.Handler) http.Handler {
	h := a.limitBody(next)
	h = a.refuseWhileDraining(h)
	h = a.checkOrigin(h)
	h = a.checkHost(h)
	h = a.writeDeadline(h)
	return a.recoverPanics(h)
}

// writeDeadline gives the request's response WriteTimeout to be written. It
// replaces the server's blanket WriteTimeout, which would cut a long-lived stream:
// streaming routes clear the deadline again (see streaming).
func (a *API) writeDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An error means the writer has no deadlines (httptest.ResponseRecorder).
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(a.deps.WriteTimeout))
		next.ServeHTTP(w, r)
	})
}

// requireJSON refuses a request body that is not declared as JSON. Besides being
// the API's contract, it closes a cross-site hole: a web page can POST a text/plain
// body to 127.0.0.1 without a CORS preflight, but not an application/json one.
func (a *API) requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ContentLength is -1 for a chunked body of unknown length.
		if !isMutating(r.Method) || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		ct := r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err == nil && (mt == "application/json" ||
			r.URL.Path == validatePolicyPath && yamlMediaTypes[mt]) {
			// POST /api/policies/validate also takes a YAML body: none of the YAML
			// types is a CORS simple type, so they keep the preflight just as
			// application/json does (policies_handlers.go).
			next.ServeHTTP(w, r)
			return
		}
		msg := "request body has no Content-Type; send Content-Type: application/json"
		if ct != "" {
			msg = "request body has Content-Type " + quote(ct) + "; send Content-Type: application/json"
		}
		writeError(w, r, a.logger, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type", msg))
	})
}

func (a *API) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			writeError(w, r, a.logger, errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes)))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

func (a *API) refuseWhileDraining(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.draining.Load() && isMutating(r.Method) {
			w.Header().Set("Retry-After", "30")
			w.Header().Set("Connection", "close")
			writeError(w, r, a.logger, errorf(http.StatusServiceUnavailable, "shutting_down",
				"vpo is shutting down and accepts no new work; retry after it restarts"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func isMutating(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

func (a *API) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil || v == http.ErrAbortHandler { //nolint:errorlint // recover() value, compared as net/http documents
				if v != nil {
					panic(v)
				}
				return
			}
			a.logger.Error("handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			a.logger.Debug("handler panic stack", "stack", string(debug.Stack()))
			writeError(w, r, a.logger, errorf(http.StatusInternalServerError, "internal", "internal error; see the vpo log"))
		}()
		next.ServeHTTP(w, r)
	})
}

// quote quotes s for an error message, escaping what a client sent.
func quote(s string) string { return strconv.Quote(s) }
