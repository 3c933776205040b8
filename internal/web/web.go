// Package web is vpo's browser UI: server-rendered pages (html/template, with the
// templates and assets embedded in the binary) for the dashboard, the jobs, the
// library and the settings, a little plain JavaScript for the live parts (server-sent
// events), and the access control that guards them: a login form that takes vpo's
// token and sets a session cookie, CSRF tokens on every form, and logout.
//
// The UI is one http.Handler, mounted by the daemon under /ui/. It reads the
// catalogue and the job queue through their stores, never holds a lock across a
// request, and never runs an unbounded count over the catalogue per request: lists
// are cursor-paginated and the library totals are computed in the background at
// most every TotalsInterval (see totals.go).
package web

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/plans"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/watch"
)

// Prefix is the path the UI is mounted at.
const Prefix = "/ui/"

// Defaults for the zero values of Deps.
const (
	// DefaultSessionLifetime bounds a login session: after it, the token is asked
	// for again.
	DefaultSessionLifetime = 12 * time.Hour
	// DefaultTotalsInterval is how often, at most, the library totals are
	// recomputed.
	DefaultTotalsInterval = 30 * time.Second
)

// pageSize is the number of rows of a list page.
const pageSize = 50

// jobKinds are the job types the jobs page filters by: those whose workers the
// engine registers (library's scan and probe, plans' plan and apply), from the
// lists those packages register.
var jobKinds = append(append([]string{}, library.Kinds...), plans.Kinds...)

// HealthReporter is the daemon's health state, as /health reports it;
// *httpapi.API implements it.
type HealthReporter interface {
	Health(ctx context.Context) (httpapi.Health, int)
}

// Deps are what the UI needs from the rest of the daemon.
type Deps struct {
	Logger *slog.Logger
	// Store is the catalogue: files, tracks and job progress.
	Store *catalog.Store
	// Jobs is the job engine: the job list, cancel, and new scans.
	Jobs *jobs.Engine
	// Scanner checks the directory of a scan started from the UI.
	Scanner *library.Scanner
	// Plans queues plan and apply jobs (a policy's preview, "apply approved");
	// nil: the UI shows plans but cannot queue those jobs.
	Plans *plans.Service
	// Policies are the policies served, as for the API; nil shows none.
	Policies *policy.Registry
	// Health is the daemon's health state; nil shows none.
	Health HealthReporter
	// WatchStates returns the watched roots' states; nil (the func or its result)
	// shows none.
	WatchStates func() []watch.RootState
	// Config is the effective configuration, for the settings page; nil shows none.
	Config *config.Config
	// Version is vpo's version.
	Version string
	// Token, when set, is what the login form asks for (server.auth_token); without
	// it the UI is open, as the API is.
	Token string
	// MaxQueued caps the queued jobs, as for the API; 0: no cap.
	MaxQueued int
	// SessionLifetime bounds a login session; 0: DefaultSessionLifetime.
	SessionLifetime time.Duration
	// TotalsInterval is how often, at most, the library totals are recomputed; 0:
	// DefaultTotalsInterval.
	TotalsInterval time.Duration
}

// UI is the web UI's handler.
type UI struct {
	deps   Deps
	log    *slog.Logger
	mux    *http.ServeMux
	tmpl   *engine
	assets *assets

	key      [32]byte                    // signs CSRF tokens; new at each start
	rl       atomic.Pointer[reloadState] // the token, queue cap and config in force (reload.go)
	sessions *sessionStore
	logins   *loginLimiter
	totals   *totalsCache
	live     *liveState

	done      chan struct{} // closed by Close: streams end
	closeOnce sync.Once
}

// New builds the UI. It parses every template and fails on a broken one, so that a
// template error stops the daemon at startup, not at the first request.
func New(deps Deps) (*UI, error) {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.SessionLifetime <= 0 {
		deps.SessionLifetime = DefaultSessionLifetime
	}
	if deps.TotalsInterval <= 0 {
		deps.TotalsInterval = DefaultTotalsInterval
	}
	tmpl, err := newEngine()
	if err != nil {
		return nil, err
	}
	as, err := newAssets()
	if err != nil {
		return nil, err
	}
	u := &UI{
		deps:     deps,
		log:      deps.Logger,
		mux:      http.NewServeMux(),
		tmpl:     tmpl,
		assets:   as,
		sessions: newSessionStore(deps.SessionLifetime),
		logins:   newLoginLimiter(),
		done:     make(chan struct{}),
	}
	if _, err := rand.Read(u.key[:]); err != nil {
		return nil, err
	}
	u.SetLive(Reloadable{Token: deps.Token, MaxQueued: deps.MaxQueued, Config: deps.Config, Policies: deps.Policies})
	u.totals = newTotalsCache(deps.Store, deps.TotalsInterval, deps.Logger)
	u.live = newLiveState(deps.Jobs, deps.Store)
	u.routes()
	return u, nil
}

// routes registers every page. Each one goes through u.page, which resolves the
// visitor's session, enforces the login and the CSRF token, and renders errors.
func (u *UI) routes() {
	u.mux.Handle("GET /ui/static/{file}", u.assets)

	u.page("GET /ui/login", u.handleLoginForm, public)
	u.page("POST /ui/login", u.handleLogin, public)
	u.page("POST /ui/logout", u.handleLogout)

	u.page("GET /ui/{$}", u.handleDashboard)
	u.page("GET /ui/jobs", u.handleJobs)
	u.page("POST /ui/jobs", u.handleStartScan)
	u.page("GET /ui/jobs/{id}", u.handleJob)
	u.page("POST /ui/jobs/{id}/cancel", u.handleCancelJob)
	u.page("GET /ui/library", u.handleLibrary)
	u.page("GET /ui/files/{id}", u.handleFile)
	u.page("GET /ui/settings", u.handleSettings)
	u.page("GET /ui/policies", u.handlePolicies)
	u.page("GET /ui/policies/{name}", u.handlePolicy)
	u.page("POST /ui/policies/{name}/preview", u.handlePreview)
	u.page("GET /ui/plans", u.handlePlans)
	u.page("POST /ui/plans", u.handleDecidePlans)
	u.page("POST /ui/plans/apply", u.handleApplyApproved)
	u.page("GET /ui/plans/{id}", u.handlePlan)
	u.page("POST /ui/plans/{id}/{action}", u.handleDecidePlan)
	u.page("GET /ui/events", u.handleEvents, streamingRoute)

	u.page("/ui/", u.handleNotFound, public)
}

// ServeHTTP serves the UI with its security headers.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// No inline script, no framing, nothing from elsewhere: file names and track
	// titles come from untrusted media, and even if one slipped past the template
	// escaping it could not run.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Library URLs carry paths: no referrer to other sites. Not "no-referrer": with it
	// the browser sends "Origin: null" on our own form posts, which the edge refuses.
	h.Set("Referrer-Policy", "same-origin")
	u.mux.ServeHTTP(w, r)
}

// Favicon serves vpo's icon; the daemon mounts it at /favicon.ico, which browsers
// ask for on pages that name no icon (the API's JSON, /health).
func (u *UI) Favicon() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.assets.serve(w, r, "favicon.svg")
	})
}

// Close ends the live streams and waits for them and for a totals computation in
// flight. The daemon calls it when the HTTP server shuts down (a stream never goes
// idle, so the server would otherwise wait for it until its deadline). It is
// idempotent.
func (u *UI) Close() {
	u.closeOnce.Do(func() { close(u.done) })
	u.live.streams.closeAndWait()
	u.totals.wait()
}

// authRequired reports whether the UI asks for the token.
func (u *UI) authRequired() bool { return u.rl.Load().required }
