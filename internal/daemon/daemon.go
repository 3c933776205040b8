// Package daemon runs `vpo serve`: an ordered list of components (the database
// lock, the catalogue and job engine, the API and its health probes, the HTTP
// server, the job workers, readiness, systemd's status and watchdog) started in
// order, then stopped in the reverse order within the shutdown budget when a signal
// asks. This file tells that story top to bottom: startup, ready, drain, exit.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/metrics"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/systemd"
	"github.com/vpo-project/vpo/internal/version"
	"github.com/vpo-project/vpo/internal/watch"
	"github.com/vpo-project/vpo/internal/web"
)

// Server timeouts. Header and idle timeouts protect against slow or abandoned
// clients; the write timeout is generous because listing a large catalogue page is
// still well under it. It is applied per route by the router (httpapi.Edge), not by
// the server, so that streaming routes can have none.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

// Options are the daemon's inputs besides its configuration.
type Options struct {
	// Signals delivers the shutdown signals (SIGTERM, SIGINT) and SIGHUP. The first
	// shutdown signal starts a graceful shutdown; later ones are logged and otherwise
	// ignored. SIGHUP reloads the configuration (reload.go); one that arrives during
	// startup waits in the channel until vpo is ready, one during shutdown is ignored.
	Signals <-chan os.Signal
	// Started is when the process started.
	Started time.Time
	// Reload loads the configuration again as at startup (the same flags and
	// environment) when Signals delivers SIGHUP; nil: a reload fails (logged).
	Reload func() (*config.Config, error)
	// Level is the logger's level, which a reload changes; nil: fixed.
	Level *slog.LevelVar
}

// Run runs the daemon until a signal asks it to stop, and returns nil after a
// graceful shutdown. A startup failure returns an error naming what failed, after
// stopping whatever had already started.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) error {
	logSettings(logging.Component(logger, "config"), cfg)
	notifier := systemd.NewNotifier(logging.Component(logger, "systemd"))
	return run(ctx, cfg, logger, opts, notifier)
}

// run is the daemon's whole life: start the components in order, wait for a
// signal (or a server failure), stop them in reverse order.
func run(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options, notifier *systemd.Notifier) error {
	// The policies are read here (and again on a reload): a policy the
	// configuration names that is missing or invalid is a configuration error,
	// before anything starts.
	policies, err := loadPolicies(cfg, logging.Component(logger, "policy"), configuredPolicies(cfg))
	if err != nil {
		return err
	}
	d := &daemon{cfg: cfg, current: cfg, logger: logger, log: logging.Component(logger, "server"), opts: opts, notifier: notifier,
		policies: policies, metrics: newMetrics()}
	d.maxQueued.Store(int64(cfg.Jobs.MaxQueued))
	components := d.components()
	if err := startAll(ctx, d.shutdownContext, components); err != nil {
		return err
	}
	runErr := d.wait(ctx)
	start := time.Now()
	sctx, cancel := d.shutdownContext()
	stopAll(sctx, components)
	cancel()
	d.log.Info("shutdown complete", "duration_ms", ms(time.Since(start)))
	return runErr
}

// daemon holds what the components share. Each field is set by the start of the
// component that owns it, before any later component starts.
type daemon struct {
	cfg     *config.Config // as at startup: what needs a restart never changes
	current *config.Config // in force: cfg with the reloads' live changes (wait's goroutine only)
	// maxQueued is jobs.max_queued in force, for the watcher's batches (a reload
	// changes it).
	maxQueued atomic.Int64
	logger    *slog.Logger
	log       *slog.Logger // vpo.server
	opts      Options
	notifier  *systemd.Notifier
	policies  *policy.Registry // loaded before the components start
	metrics   *metrics.Metrics // the registry behind GET /metrics; no component of its own

	lock     *Lock     // lock (SQLite)
	nodeLock *NodeLock // lock (PostgreSQL)
	// beatStop and beatDone end and wait for the node's heartbeat (jobs).
	beatStop, beatDone chan struct{}
	app                *app.App     // store
	api                *httpapi.API // api
	ui                 *web.UI      // api: the web UI, mounted under /ui/
	probes             struct {     // api: the background health probes
		begin  chan struct{} // closed by the ready step: the probe rounds start
		cancel context.CancelFunc
		done   chan struct{}
	}
	watcher  *watch.Watcher // watch
	srv      *http.Server   // http
	ln       net.Listener   // http
	serveErr chan error     // http: Serve's result, once serving
	serving  bool           // ready: the server serves
	systemd  struct {       // systemd: the status loop and the watchdog
		cancel context.CancelFunc
		done   sync.WaitGroup
	}
}

// components are the daemon's parts in start order; they stop in the reverse
// order. Each start may use what the ones before it set up. The order is what
// shutdown needs: systemd learns first that vpo is stopping; the ready step turns
// /health 503 and refuses new work (the drain); the running jobs get the budget
// while the HTTP server still answers /health and reads; then the server stops, then
// the probes behind /health, then the database closes and its lock is released.
//
// The watcher (library changes to scan jobs; watch.go) goes between "jobs" and
// "ready": started once the engine it feeds runs, and stopped right after the
// drain begins, before the engine drains. The roots' schedules are River
// periodic jobs of the engine (internal/schedule, configured in app.Open): they
// start and stop with "jobs".
func (d *daemon) components() []*component {
	return []*component{
		{name: "lock", start: d.lockDatabase, stop: d.unlockDatabase},
		{name: "store", start: d.openStore, stop: d.closeStore},
		{name: "recover", start: d.recoverApplies},
		{name: "api", start: d.startAPI, stop: d.stopProbes},
		{name: "http", start: d.bindHTTP, stop: d.stopHTTP},
		{name: "jobs", start: d.startJobs, stop: d.stopJobs},
		{name: "watch", start: d.startWatch, stop: d.stopWatch},
		{name: "ready", start: d.ready, stop: d.drain},
		{name: "systemd", start: d.startSystemd, stop: d.stopSystemd},
	}
}

// shutdownContext bounds a shutdown (or the unwinding of a failed startup) by
// server.shutdown_timeout. Components that need more (in-flight requests get at
// least minHTTPShutdown; the job engine's hard stop and the database checkpoint get
// their own time) say so.
func (d *daemon) shutdownContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d.cfg.Server.ShutdownTimeout)
}

// --- lock: one daemon per database ---------------------------------------------

// lockDatabase takes the database's lock before anything touches the database: the
// migrations and the re-queueing of interrupted jobs assume no other daemon works it.
func (d *daemon) lockDatabase(ctx context.Context) error {
	if d.cfg.Postgres() {
		pc, err := catalog.PostgresConfig(d.cfg.Database.URL, d.cfg.Database.Password)
		if err != nil {
			return err
		}
		l, err := LockNode(ctx, pc, catalog.DescribeURL(d.cfg.Database.URL), app.NodeName(d.cfg))
		if err != nil {
			return err
		}
		d.nodeLock = l
		return nil
	}
	l, err := LockDatabase(d.cfg.DatabasePath)
	if err != nil {
		return err
	}
	d.lock = l
	return nil
}

func (d *daemon) unlockDatabase(context.Context) {
	if d.nodeLock != nil {
		if err := d.nodeLock.Release(); err != nil {
			d.log.Warn("shutdown: releasing the node lock failed", "error", err.Error())
		}
		return
	}
	if err := d.lock.Release(); err != nil {
		d.log.Warn("shutdown: releasing the database lock failed", "error", err.Error())
	}
}

// --- store: the catalogue, the scanner and the job engine -------------------------

func (d *daemon) openStore(ctx context.Context) error {
	t := time.Now()
	a, err := app.Open(ctx, d.cfg, d.logger, app.Migrate, app.WithMetrics(d.metrics))
	if err != nil {
		return err
	}
	d.app = a
	if a.Store.Postgres() {
		logging.Component(d.logger, "db").Info("database ready", "database", a.Store.Path(), "node", a.Node,
			"schema_version", a.Store.SchemaVersion(), "duration_ms", ms(time.Since(t)))
		return nil
	}
	logging.Component(d.logger, "db").Info("database ready", "path", d.cfg.DatabasePath,
		"schema_version", a.Store.SchemaVersion(), "duration_ms", ms(time.Since(t)))
	return nil
}

// closeStore checkpoints the WAL into the database file and closes it. It gets its
// own storeCloseTimeout, even after a drain that used the whole budget.
func (d *daemon) closeStore(ctx context.Context) {
	t := time.Now()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeCloseTimeout)
	defer cancel()
	if err := d.app.Close(cctx); err != nil {
		d.log.Error("shutdown: closing the database failed", "error", err.Error())
	} else {
		d.log.Info("shutdown: database checkpointed and closed", "duration_ms", ms(time.Since(t)))
	}
}

// storeCloseTimeout bounds the final checkpoint and close.
const storeCloseTimeout = 5 * time.Second

// --- recover: what a killed daemon's applies left ----------------------------------

// recoverApplies, before any job runs (the lock says no other daemon works this
// database): replays the journals of in-place edits a crash interrupted, so that
// each such file is its old complete self again, then removes the temp files left
// in the directories of the files that applies were working on, and drops their
// claims. Each is logged.
func (d *daemon) recoverApplies(ctx context.Context) error {
	log := logging.Component(d.logger, "apply")
	restored, err := apply.ReplayJournals(d.app.JournalDir, log)
	if err != nil {
		return fmt.Errorf("replay the apply journals in %s: %w", d.app.JournalDir, err)
	}
	if len(restored) > 0 {
		log.Info("restored files whose in-place edit was interrupted", "files", len(restored))
	}
	if err := d.app.Plans.Recover(ctx, log); err != nil {
		return fmt.Errorf("recover interrupted applies: %w", err)
	}
	return nil
}

// --- api: the handlers and the health probes behind /health ---------------------

// startAPI builds the API and arms its background health probes. The probe rounds
// start with the ready step, once the job engine runs (a round before would report
// the engine as not started); they stop after the HTTP server, so that /health stays
// current during the drain.
func (d *daemon) startAPI(context.Context) error {
	d.api = httpapi.New(httpapi.Deps{
		Logger:        logging.Component(d.logger, "http"),
		Version:       version.String(),
		Database:      d.app.Store,
		SchemaVersion: d.app.Store.SchemaVersion(),
		Started:       d.opts.Started,
		Jobs:          d.app.Jobs,
		Store:         d.app.Store,
		Scanner:       d.app.Scanner,
		Plans:         d.app.Plans,
		Policies:      d.policies,
		MaxQueued:     d.cfg.Jobs.MaxQueued,
		AuthToken:     d.cfg.Server.AuthToken,
		AllowedHosts:  d.cfg.Server.AllowedHosts,
		WriteTimeout:  writeTimeout,
		Roots:         d.roots,
		Watch:         d.watchSummary,
	})
	ui, err := web.New(web.Deps{
		Logger:      logging.Component(d.logger, "ui"),
		Store:       d.app.Store,
		Jobs:        d.app.Jobs,
		Scanner:     d.app.Scanner,
		Plans:       d.app.Plans,
		Policies:    d.policies,
		Health:      d.api,
		WatchStates: d.WatchStates,
		Config:      d.cfg,
		Version:     version.String(),
		Token:       d.cfg.Server.AuthToken,
		MaxQueued:   d.cfg.Jobs.MaxQueued,
	})
	if err != nil {
		return err
	}
	d.ui = ui
	d.metrics.SetSources(metricsSources(d.api, d.app))
	ctx, cancel := context.WithCancel(context.Background())
	begin, done := make(chan struct{}), make(chan struct{})
	d.probes.begin, d.probes.cancel, d.probes.done = begin, cancel, done
	go func() {
		defer close(done)
		select {
		case <-begin:
			d.api.RunProbes(ctx)
		case <-ctx.Done():
		}
	}()
	return nil
}

func (d *daemon) stopProbes(context.Context) {
	d.ui.Close() // a no-op after the HTTP server's shutdown closed it
	d.probes.cancel()
	<-d.probes.done
}

// --- http: the listener and the server --------------------------------------------

// bindHTTP binds the listener (or takes the one systemd passed) synchronously, so
// that a bad address fails the startup before the job engine starts. It does not
// serve yet: connections wait in the backlog until the ready step.
func (d *daemon) bindHTTP(context.Context) error {
	ln, err := systemd.Listener()
	if err != nil {
		return err
	}
	if ln != nil {
		d.log.Info("using the listening socket passed by systemd; server.bind and server.port are not used",
			"address", ln.Addr().String())
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if d.cfg.Server.AuthToken == "" && !d.cfg.Server.AllowUnauthenticated && !config.IsLoopback(host) {
			ln.Close()
			return &config.Error{Origin: "socket activation", Key: "server.auth_token",
				Msg: fmt.Sprintf("the socket passed by systemd listens on %s, beyond loopback, and no token is configured: set server.auth_token_file or server.allow_unauthenticated = true", ln.Addr())}
		}
	} else if ln, err = listen(d.cfg.Addr()); err != nil {
		return err
	}
	d.ln = ln
	d.api.Listening(ln.Addr())
	d.srv = &http.Server{
		Handler:           routes(d.api, d.ui, d.metrics, metricsOpen(d.cfg, ln.Addr())),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logging.Component(d.logger, "http").Handler(), slog.LevelWarn),
	}
	// The UI's live streams never go idle: Shutdown ends them first, or it would
	// wait for them until its deadline.
	d.srv.RegisterOnShutdown(d.ui.Close)
	d.serveErr = make(chan error, 1)
	return nil
}

// stopHTTP lets in-flight requests finish within what is left of the budget, but
// at least minHTTPShutdown, then closes their connections. A server that never
// served only closes its listener.
func (d *daemon) stopHTTP(ctx context.Context) {
	if !d.serving {
		d.ln.Close()
		return
	}
	t := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok || time.Until(deadline) < minHTTPShutdown {
		deadline = time.Now().Add(minHTTPShutdown) // requests still get a moment after a long drain
	}
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	err := d.srv.Shutdown(sctx)
	cancel()
	if err != nil {
		d.log.Warn("shutdown: in-flight requests did not finish in time; closing their connections",
			"duration_ms", ms(time.Since(t)))
		_ = d.srv.Close()
	} else {
		d.log.Info("shutdown: http server stopped", "duration_ms", ms(time.Since(t)))
	}
}

// minHTTPShutdown is the least time in-flight requests get to finish, even when the
// job drain used the whole shutdown_timeout.
const minHTTPShutdown = 500 * time.Millisecond

// --- jobs: the job engine -----------------------------------------------------------

// startJobs re-queues the jobs a killed daemon left running (the lock says none is
// running elsewhere), then starts the workers.
func (d *daemon) startJobs(ctx context.Context) error {
	if err := d.app.Scanner.Prober().Check(); err != nil {
		logging.Component(d.logger, "scan").Warn("ffprobe is not available; files will be recorded with the error until it is",
			"error", err.Error())
	}
	t := time.Now()
	n, err := d.app.Jobs.RequeueInterrupted(ctx)
	if err != nil {
		return fmt.Errorf("re-queue interrupted jobs: %w", err)
	}
	logging.Component(d.logger, "jobs").Info("job queue ready", "requeued", n, "workers", d.cfg.Jobs.Workers,
		"duration_ms", ms(time.Since(t)))
	if err := d.startHeartbeat(ctx); err != nil {
		return fmt.Errorf("record this node: %w", err)
	}
	if err := d.app.Jobs.Start(ctx); err != nil {
		d.stopHeartbeat()
		return fmt.Errorf("start job workers: %w", err)
	}
	return nil
}

// stopJobs stops the workers: running jobs get server.shutdown_timeout to finish,
// then are cancelled and put back in the queue (the engine's hard stop gives them
// jobs.DefaultHardStopTimeout more to return). The HTTP server still answers
// meanwhile.
func (d *daemon) stopJobs(ctx context.Context) {
	budget := d.cfg.Server.ShutdownTimeout
	t := time.Now()
	_, running, _ := d.app.Jobs.Counts(context.WithoutCancel(ctx))
	if running > 0 {
		d.log.Info("shutdown: waiting for running jobs", "running", running, "timeout_s", budget.Seconds())
	}
	if err := d.app.Jobs.Stop(context.WithoutCancel(ctx), budget); err != nil {
		d.log.Warn("shutdown: job workers did not stop cleanly", "error", err.Error(), "duration_ms", ms(time.Since(t)))
	} else {
		d.log.Info("shutdown: job workers stopped", "duration_ms", ms(time.Since(t)))
	}
	d.stopHeartbeat()
}

// --- ready: serving, and the drain ------------------------------------------------

// ready opens the doors: the first probe round runs, the background rounds start,
// /health may report healthy, and the server serves. Connections that arrived
// during startup (the listener is bound, or systemd passed it already listening)
// waited in the backlog and are answered as a ready daemon, so a socket-activated
// first request gets its answer, not "starting".
func (d *daemon) ready(ctx context.Context) error {
	d.api.ProbeNow(ctx)
	close(d.probes.begin)
	d.api.SetReady()
	d.serving = true
	go func() { d.serveErr <- d.srv.Serve(d.ln) }()
	d.log.Info("vpo is ready", "address", d.ln.Addr().String(), "version", version.String(),
		"startup_ms", ms(time.Since(d.opts.Started)))
	return nil
}

// drain begins the shutdown proper: /health turns 503, mutating requests are
// refused, and job workers that are cancelled from now on know it is a shutdown.
func (d *daemon) drain(context.Context) {
	d.api.StartDrain()
	d.app.Workers.ShutdownBegun()
	d.app.Plans.ShutdownBegun()
	d.log.Info("shutdown: health reports unhealthy; new work refused",
		"shutdown_timeout_s", d.cfg.Server.ShutdownTimeout.Seconds())
}

// wait waits for a shutdown signal, a server failure or the end of ctx, and returns
// the server's error, if that is what ended it; SIGHUP meanwhile reloads. Later
// signals are logged and ignored.
func (d *daemon) wait(ctx context.Context) error {
	var runErr error
wait:
	for {
		select {
		case sig := <-d.opts.Signals:
			if sig == syscall.SIGHUP {
				d.log.Info("reload requested", "signal", sig.String())
				d.reload(ctx)
				continue
			}
			d.log.Info("shutdown requested", "signal", sig.String())
		case err := <-d.serveErr:
			runErr = fmt.Errorf("http server on %s stopped: %w", d.ln.Addr(), err)
			d.log.Error("http server failed; shutting down", "error", err.Error())
		case <-ctx.Done():
			d.log.Info("shutdown requested", "reason", context.Cause(ctx).Error())
		}
		break wait
	}
	go func() {
		for sig := range d.opts.Signals {
			if sig == syscall.SIGHUP {
				d.log.Info("shutdown in progress; reload ignored", "signal", sig.String())
				continue
			}
			d.log.Info("shutdown already in progress; signal ignored", "signal", sig.String())
		}
	}()
	return runErr
}

// --- systemd: readiness, status and watchdog --------------------------------------

// startSystemd reports READY=1, keeps systemd's status line current, and pings its
// watchdog only while the database answers and the job workers take work.
func (d *daemon) startSystemd(ctx context.Context) error {
	addr := d.ln.Addr().String()
	d.notifier.Ready(statusLine(ctx, addr, d.app.Jobs))
	bg, cancel := context.WithCancel(context.Background())
	d.systemd.cancel = cancel
	d.systemd.done.Add(2)
	go func() {
		defer d.systemd.done.Done()
		d.notifier.KeepStatus(bg, statusInterval, func(ctx context.Context) string {
			return statusLine(ctx, addr, d.app.Jobs)
		})
	}()
	go func() {
		defer d.systemd.done.Done()
		d.notifier.Watchdog(bg, func(ctx context.Context) error {
			err := d.app.Store.Check(ctx)
			if err == nil {
				if ok, why := d.app.Jobs.Alive(ctx); !ok && !d.api.Draining() {
					err = errors.New("job workers: " + why)
				}
			}
			d.metrics.ObserveWatchdog(err)
			return err
		})
	}()
	return nil
}

// stopSystemd ends the status loop first, so that it cannot overwrite "shutting
// down", and the watchdog with it: systemd stops watching once it is told STOPPING
// (the unit leaves the running state). The drain may take up to shutdown_timeout
// plus the hard stop of cancelled jobs; systemd is asked for that much time in case
// TimeoutStopSec is shorter.
func (d *daemon) stopSystemd(context.Context) {
	d.systemd.cancel()
	d.systemd.done.Wait()
	d.notifier.Stopping("shutting down")
	d.notifier.ExtendTimeout(d.cfg.Server.ShutdownTimeout + jobs.DefaultHardStopTimeout + 10*time.Second)
}

// statusInterval is how often systemd's STATUS= line is refreshed.
const statusInterval = 5 * time.Second

// statusLine is the one-line summary `systemctl status vpo` shows.
func statusLine(ctx context.Context, addr string, engine *jobs.Engine) string {
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	q, r, err := engine.Counts(cctx)
	if err != nil {
		return fmt.Sprintf("serving on %s; job counts unavailable", addr)
	}
	return fmt.Sprintf("serving on %s; %d jobs running, %d queued", addr, r, q)
}

// listen binds addr, describing the usual failures in an operator's words.
func listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return nil, fmt.Errorf("cannot listen on %s: address already in use (is another vpo running?)", addr)
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return nil, fmt.Errorf("cannot listen on %s: this machine has no such address", addr)
	case errors.Is(err, syscall.EACCES):
		return nil, fmt.Errorf("cannot listen on %s: permission denied", addr)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return nil, fmt.Errorf("cannot listen on %s: cannot resolve host %q", addr, dnsErr.Name)
	}
	return nil, fmt.Errorf("cannot listen on %s: %w", addr, err)
}

func logSettings(log *slog.Logger, cfg *config.Config) {
	file := cfg.File
	if file == "" {
		file = "(none)"
	}
	log.Info("configuration loaded", "config_file", file)
	for _, s := range cfg.Settings() {
		log.Info("setting", "key", s.Key, "value", s.Value, "source", string(s.Source))
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
