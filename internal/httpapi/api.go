// Package httpapi is vpo's HTTP API: the /health probe, the job and catalogue
// endpoints, and the edge middleware that every request of the daemon passes
// through: panics, foreign Host headers (DNS rebinding), cross-origin mutations,
// requests during shutdown and oversized bodies become JSON errors, and each route
// gets its own write deadline.
//
// The daemon owns the top-level router (internal/daemon/routes.go); it mounts
// [API.HealthHandler] and [API.APIHandler] and wraps the whole in [API.Edge].
package httpapi

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/plans"
	"github.com/vpo-project/vpo/internal/policy"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// DefaultWriteTimeout is how long a normal (not streaming) route may take to write
// its response when Deps.WriteTimeout is zero. Listing a large catalogue page is
// well under it.
const DefaultWriteTimeout = 60 * time.Second

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
	// Policies are the policies loaded at startup; nil: the policy routes answer 503.
	Policies *policy.Registry
	// MaxQueued caps the queued jobs; a submission beyond it gets 429. 0: no cap.
	MaxQueued int
	// AuthToken, when set, is the bearer token every /api/ request must carry.
	AuthToken string

	// Addr is the address the daemon listens on. Requests whose Host header names it
	// are accepted; when it is a wildcard (0.0.0.0, ::), so are the machine's own
	// interface addresses and host name. nil: loopback names and AllowedHosts only.
	Addr net.Addr
	// AllowedHosts are further host names (or host:port) that requests may name in
	// their Host header ([server] allowed_hosts): the names vpo is reached by behind
	// a reverse proxy or on a LAN. An entry "*" disables the Host check.
	AllowedHosts []string
	// WriteTimeout bounds the writing of a normal route's response; streaming routes
	// have none. 0: DefaultWriteTimeout.
	WriteTimeout time.Duration
	// Roots lists the library roots for GET /api/roots; nil: no such route.
	Roots RootsFunc
	// Watch summarises the watched roots for /health: "" (none watched), "ok",
	// or "degraded" when a root fell back to periodic rescans or is off.
	Watch func() string
}

// API holds the handlers' dependencies and the daemon's lifecycle state as /health
// reports it.
type API struct {
	deps     Deps
	logger   *slog.Logger
	ready    atomic.Bool
	draining atomic.Bool
	probes   probeState

	// live holds the settings a reload may change (live.go); liveMu serializes
	// their changes, liveSet and addr are what the current live state was built from.
	live    atomic.Pointer[liveState]
	liveMu  sync.Mutex
	liveSet Live
	addr    net.Addr

	// apiMux serves /api/, healthMux everything else the API has (/health). They
	// and their 405 tables are built by New and never change afterwards, so
	// requests read them without a lock.
	apiMux    *http.ServeMux
	healthMux *http.ServeMux
	routes    []route // registered routes, until New freezes them into the muxes
	frozen    bool
}

// route is one "METHOD /path" route with its options.
type route struct {
	pattern   string
	handler   func(http.ResponseWriter, *http.Request) error
	streaming bool
	// noFallback: no any-method 405 catch-all for this path (one would conflict
	// with a wildcard route beside it, as POST /api/plans/apply with
	// GET /api/plans/{id}); the wildcard route answers instead.
	noFallback bool
}

// routeOption changes how a route is served.
type routeOption func(*route)

// streaming marks a route whose response is a long-lived stream (server-sent
// events): it has no write deadline, and no read deadline once its handler runs,
// so the server's timeouts do not cut it.
func streaming() routeOption { return func(r *route) { r.streaming = true } }

// New builds the API and registers its routes.
func New(deps Deps) *API { return newAPI(deps, nil) }

// Listening tells the API the address the daemon bound, for the Host check, when
// it was not known as Deps.Addr at New (the daemon builds the API before it binds).
// It must be called before the API serves its first request.
func (a *API) Listening(addr net.Addr) { a.setAddr(addr) }

// newAPI builds the API; extra, when not nil, registers more routes before they are
// frozen (tests use it for handlers that the product does not have).
func newAPI(deps Deps, extra func(a *API)) *API {
	if deps.WriteTimeout <= 0 {
		deps.WriteTimeout = DefaultWriteTimeout
	}
	a := &API{deps: deps, logger: deps.Logger, apiMux: http.NewServeMux(), healthMux: http.NewServeMux()}
	a.addr = deps.Addr
	a.SetLive(Live{AuthToken: deps.AuthToken, AllowedHosts: deps.AllowedHosts, MaxQueued: deps.MaxQueued,
		Policies: deps.Policies})
	a.handle("GET /health", a.handleHealth)
	if deps.Jobs != nil {
		a.handle("POST /api/jobs", a.handleSubmitJob)
		a.handle("GET /api/jobs", a.handleListJobs)
		a.handle("GET /api/jobs/{id}", a.handleGetJob)
		a.handle("POST /api/jobs/{id}/cancel", a.handleCancelJob)
		a.handle("GET /api/files", a.handleListFiles)
		a.handle("GET /api/files/{id}", a.handleGetFile)
		a.registerPlans()
		a.handle("GET /api/files/{id}/plan", a.handleFilePlan)
		if deps.Store != nil {
			a.handle("GET /api/nodes", a.handleListNodes)
		}
	}
	if deps.Roots != nil {
		a.handle("GET /api/roots", a.handleListRoots)
	}
	a.handle("GET /api/policies", a.handleListPolicies)
	a.handle("GET /api/policies/{name}", a.handleGetPolicy)
	// POST /api/policies/validate; see handlePolicyPost for why not its own pattern.
	a.handle("POST /api/policies/{name}", a.handlePolicyPost)
	if extra != nil {
		extra(a)
	}
	a.freeze()
	return a
}

// handle registers a "METHOD /path" route. It panics after New has returned.
func (a *API) handle(pattern string, h func(http.ResponseWriter, *http.Request) error, opts ...routeOption) {
	if a.frozen {
		panic("httpapi: route " + pattern + " registered after New")
	}
	r := route{pattern: pattern, handler: h}
	for _, o := range opts {
		o(&r)
	}
	a.routes = append(a.routes, r)
}

// muxFor is the mux that serves path.
func (a *API) muxFor(path string) *http.ServeMux {
	if strings.HasPrefix(path, "/api/") {
		return a.apiMux
	}
	return a.healthMux
}

// freeze puts the registered routes into the muxes, each path with a catch-all that
// answers other methods with a JSON 405 and an Allow header computed here, once.
func (a *API) freeze() {
	methods := map[string][]string{} // path -> methods
	var paths []string
	for _, r := range a.routes {
		method, path, _ := strings.Cut(r.pattern, " ")
		if r.noFallback {
			a.muxFor(path).Handle(r.pattern, a.serve(r))
			continue
		}
		if _, seen := methods[path]; !seen {
			paths = append(paths, path)
		}
		methods[path] = append(methods[path], method)
		a.muxFor(path).Handle(r.pattern, a.serve(r))
	}
	for _, path := range paths {
		allowed := methods[path]
		slices.Sort(allowed)
		allow := strings.Join(allowed, ", ")
		a.muxFor(path).HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, r, a.logger, errorf(http.StatusMethodNotAllowed, "method_not_allowed",
				fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow)))
		})
	}
	a.apiMux.Handle("/", a.NotFoundHandler())
	a.healthMux.Handle("/", a.NotFoundHandler())
	a.routes, a.frozen = nil, true
}

// serve adapts a route's handler: a returned error goes through writeError, and a
// streaming route lifts the deadlines that Edge set.
func (a *API) serve(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.streaming {
			rc := http.NewResponseController(w)
			// The zero time clears the deadlines. The read deadline matters too:
			// once it passes, the server's background read fails and cancels the
			// request's context. Errors mean the writer has no deadlines
			// (httptest.ResponseRecorder); there is nothing to clear then.
			_ = rc.SetWriteDeadline(time.Time{})
			_ = rc.SetReadDeadline(time.Time{})
		}
		if err := rt.handler(w, r); err != nil {
			writeError(w, r, a.logger, err)
		}
	})
}

// HealthHandler serves GET /health; the daemon mounts it at "/health".
func (a *API) HealthHandler() http.Handler { return a.healthMux }

// APIHandler serves everything under /api/, behind the bearer token (when one is
// configured) and the JSON content-type rule; the daemon mounts it at "/api/".
func (a *API) APIHandler() http.Handler {
	return a.requireToken(a.requireJSON(a.apiMux))
}

// NotFoundHandler answers any request with a JSON 404; the daemon mounts it at "/".
func (a *API) NotFoundHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, a.logger, errorf(http.StatusNotFound, "not_found",
			fmt.Sprintf("no such endpoint: %s", r.URL.Path)))
	})
}

// Handler returns the API alone, mounted and wrapped as the daemon does it: for
// tests and tools that serve the API without the daemon's other routes.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/health", a.HealthHandler())
	mux.Handle("/api/", a.APIHandler())
	mux.Handle("/", a.NotFoundHandler())
	return a.Edge(mux)
}

// SetReady marks startup as finished: /health may now report healthy.
func (a *API) SetReady() { a.ready.Store(true) }

// StartDrain marks the start of shutdown: /health turns 503 and new mutating requests
// are refused with 503. It is idempotent.
func (a *API) StartDrain() { a.draining.Store(true) }

// Draining reports whether shutdown has begun.
func (a *API) Draining() bool { return a.draining.Load() }
