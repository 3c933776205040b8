// Package httpapi is vpo's HTTP API: the /health probe, the job and catalogue
// endpoints, and the middleware that turns errors, panics, oversized bodies and
// requests during shutdown into JSON errors.
package httpapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/plans"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Deps are what the API needs from the rest of the daemon.
type Deps struct {
	Logger  *slog.Logger
	Version string
	// Database is probed by /health.
	Database DatabaseChecker
	// SchemaVersion is the catalogue's schema version.
	SchemaVersion int64
	// Started is when the process started, for uptime.
	Started time.Time

	// The job engine, the catalogue and the scanner; nil in tests of /health alone.
	Jobs    *jobs.Engine
	Store   *catalog.Store
	Scanner *library.Scanner
	// Plans runs plan and apply jobs; nil disables them and the plan endpoints.
	Plans *plans.Service
	// MaxQueued caps the queued jobs; a submission beyond it gets 429. 0: no cap.
	MaxQueued int
	// AuthToken, when set, is the bearer token every /api/ request must carry.
	AuthToken string
}

// API holds the handlers' dependencies and the daemon's lifecycle state as /health
// reports it.
type API struct {
	deps     Deps
	logger   *slog.Logger
	ready    atomic.Bool
	draining atomic.Bool
	probes   probeState
	mux      *http.ServeMux

	methodsMu sync.Mutex
	methods   map[string][]string // path pattern -> methods, for 405 responses
}

// New builds the API and registers its routes.
func New(deps Deps) *API {
	a := &API{deps: deps, logger: deps.Logger, mux: http.NewServeMux(), methods: map[string][]string{}}
	a.handle("GET /health", a.handleHealth)
	if deps.Jobs != nil {
		a.handle("POST /api/jobs", a.handleSubmitJob)
		a.handle("GET /api/jobs", a.handleListJobs)
		a.handle("GET /api/jobs/{id}", a.handleGetJob)
		a.handle("POST /api/jobs/{id}/cancel", a.handleCancelJob)
		a.handle("GET /api/files", a.handleListFiles)
		a.handle("GET /api/files/{id}", a.handleGetFile)
		a.registerPlans()
	}
	a.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, a.logger, errorf(http.StatusNotFound, "not_found",
			fmt.Sprintf("no such endpoint: %s", r.URL.Path)))
	})
	return a
}

// handle registers a "METHOD /path" route, plus a catch-all for the same path that
// answers other methods with a JSON 405 and an Allow header.
func (a *API) handle(pattern string, h func(http.ResponseWriter, *http.Request) error) {
	method, path, _ := strings.Cut(pattern, " ")
	a.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, a.logger, err)
		}
	})
	a.methodsMu.Lock()
	defer a.methodsMu.Unlock()
	known, seen := a.methods[path]
	a.methods[path] = append(known, method)
	if seen {
		return
	}
	a.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		a.methodsMu.Lock()
		allowed := append([]string(nil), a.methods[path]...)
		a.methodsMu.Unlock()
		sort.Strings(allowed)
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		writeError(w, r, a.logger, errorf(http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allowed, ", "))))
	})
}

// Handler returns the API wrapped in its middleware.
func (a *API) Handler() http.Handler {
	return a.recoverPanics(a.requireToken(a.refuseWhileDraining(a.limitBody(a.mux))))
}

// SetReady marks startup as finished: /health may now report healthy.
func (a *API) SetReady() { a.ready.Store(true) }

// StartDrain marks the start of shutdown: /health turns 503 and new mutating requests
// are refused with 503. It is idempotent.
func (a *API) StartDrain() { a.draining.Store(true) }

// Draining reports whether shutdown has begun.
func (a *API) Draining() bool { return a.draining.Load() }

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
			if v == nil || v == http.ErrAbortHandler {
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
