package metrics

import (
	"net/http"
	"time"
)

// Unmatched is the route label of a request answered before any router matched
// it (a foreign Host header, refused by the edge).
const Unmatched = "unmatched"

// Instrument wraps the daemon's whole router (outside the edge middleware, so that
// refused requests count too) and records each request by the pattern of the
// ServeMux route that served it, never by its path: "GET /api/files/{id}" is one
// series however many files are asked for. A request that no mux matched counts as
// Unmatched; one that an outer mux matched but an inner one refused (a missing
// token on /api/) counts under the outer pattern ("/api/").
//
// It reads r.Pattern after the handler returns: ServeMux sets it on the request it
// was given, and vpo's middleware passes that same request down. A middleware that
// replaced the request (r.WithContext) would hide the inner patterns, leaving the
// outer one, which is still bounded.
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	if m == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			route := r.Pattern
			if route == "" {
				route = Unmatched
			}
			code := rec.status
			if code == 0 {
				code = http.StatusOK // the handler wrote nothing: net/http answers 200
			}
			m.ObserveRequest(route, code, time.Since(start))
		}()
		next.ServeHTTP(rec, r)
	})
}

// statusRecorder remembers the status code of a response. It unwraps to the
// writer it wraps, so that http.ResponseController (write deadlines, flushing)
// reaches the connection, and it flushes for streaming handlers that assert
// http.Flusher.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 && code >= 200 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Flush implements http.Flusher.
func (s *statusRecorder) Flush() {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	_ = http.NewResponseController(s.ResponseWriter).Flush()
}

// Unwrap is for http.ResponseController.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
