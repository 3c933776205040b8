// Package daemon runs `vpo serve`: it wires the catalogue, the job engine and the HTTP
// API together in order, reports readiness, and shuts them down gracefully in the
// reverse order when asked.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/systemd"
	"github.com/vpo-project/vpo/internal/version"
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
	// Signals delivers the shutdown signals (SIGTERM, SIGINT). The first starts a
	// graceful shutdown; later ones are logged and otherwise ignored.
	Signals <-chan os.Signal
	// Started is when the process started.
	Started time.Time
}

// Run runs the daemon until a signal asks it to stop, and returns nil after a
// graceful shutdown. A startup failure returns an error naming what failed, after
// stopping whatever had already started.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) error {
	logSettings(logging.Component(logger, "config"), cfg)
	notifier := systemd.NewNotifier(logging.Component(logger, "systemd"))
	return run(ctx, cfg, logger, opts, notifier)
}

func run(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options, notifier *systemd.Notifier) error {
	log := logging.Component(logger, "server")

	t := time.Now()
	store, err := catalog.Open(ctx, cfg.DatabasePath, logging.Component(logger, "db"))
	if err != nil {
		return err
	}
	logging.Component(logger, "db").Info("database ready", "path", cfg.DatabasePath,
		"schema_version", store.SchemaVersion(), "duration_ms", ms(time.Since(t)))

	closeStore := func() { store.Close(context.Background()) }

	jobsLog := logging.Component(logger, "jobs")
	t = time.Now()
	if err := jobs.Migrate(ctx, store.DB(), jobsLog); err != nil {
		closeStore()
		return fmt.Errorf("database %s: job queue schema: %w", cfg.DatabasePath, err)
	}
	scanner, err := library.NewScanner(library.Options{
		Store:      store,
		Prober:     probe.Runner{Path: cfg.Tools.FFprobe, Timeout: cfg.Jobs.ProbeTimeout},
		Extensions: cfg.Library.Extensions,
		Roots:      cfg.Library.Roots,
		Workers:    cfg.Jobs.Workers,
		Logger:     logging.Component(logger, "scan"),
	})
	if err != nil {
		closeStore()
		return err
	}
	if err := scanner.Prober().Check(); err != nil {
		logging.Component(logger, "scan").Warn("ffprobe is not available; files will be recorded with the error until it is",
			"error", err.Error())
	}
	workers := library.NewWorkers(scanner, store, logging.Component(logger, "scan"))
	engine, err := jobs.New(store.DB(), jobs.Config{
		Workers:     cfg.Jobs.Workers,
		JobTimeout:  cfg.Jobs.JobTimeout,
		MaxAttempts: maxAttempts,
		Logger:      jobsLog,
	}, workers.Register)
	if err != nil {
		closeStore()
		return err
	}
	n, err := engine.RequeueInterrupted(ctx)
	if err != nil {
		closeStore()
		return fmt.Errorf("re-queue interrupted jobs: %w", err)
	}
	jobsLog.Info("job queue ready", "requeued", n, "workers", cfg.Jobs.Workers, "duration_ms", ms(time.Since(t)))

	ln, err := systemd.Listener()
	if err != nil {
		closeStore()
		return err
	}
	if ln != nil {
		log.Info("using the listening socket passed by systemd; server.bind and server.port are not used",
			"address", ln.Addr().String())
		host, _, _ := net.SplitHostPort(ln.Addr().String())
		if cfg.Server.AuthToken == "" && !cfg.Server.AllowUnauthenticated && !config.IsLoopback(host) {
			ln.Close()
			closeStore()
			return &config.Error{Origin: "socket activation", Key: "server.auth_token",
				Msg: fmt.Sprintf("the socket passed by systemd listens on %s, beyond loopback, and no token is configured: set server.auth_token_file or server.allow_unauthenticated = true", ln.Addr())}
		}
	} else if ln, err = listen(cfg.Addr()); err != nil {
		closeStore()
		return err
	}

	api := httpapi.New(httpapi.Deps{
		Logger:        logging.Component(logger, "http"),
		Version:       version.String(),
		Database:      store,
		SchemaVersion: store.SchemaVersion(),
		Started:       opts.Started,
		Jobs:          engine,
		Store:         store,
		Scanner:       scanner,
		MaxQueued:     cfg.Jobs.MaxQueued,
		AuthToken:     cfg.Server.AuthToken,
		Addr:          ln.Addr(),
		AllowedHosts:  nil, // TODO(lead): cfg.Server.AllowedHosts
		WriteTimeout:  writeTimeout,
	})
	srv := &http.Server{
		Handler:           routes(api),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logging.Component(logger, "http").Handler(), slog.LevelWarn),
	}
	if err := engine.Start(ctx); err != nil {
		ln.Close()
		closeStore()
		return fmt.Errorf("start job workers: %w", err)
	}
	// /health reports background probes; the first round runs before ready.
	api.ProbeNow(ctx)
	probeCtx, stopProbes := context.WithCancel(context.Background())
	probesDone := make(chan struct{})
	go func() {
		defer close(probesDone)
		api.RunProbes(probeCtx)
	}()
	// Ready before serving: connections that arrived during startup (the listener is
	// bound, or systemd passed it already listening) wait in the backlog and are
	// answered as a ready daemon, so a socket-activated first request gets its
	// answer, not "starting".
	api.SetReady()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	log.Info("vpo is ready", "address", ln.Addr().String(), "version", version.String(),
		"startup_ms", ms(time.Since(opts.Started)))
	notifier.Ready(statusLine(ctx, ln.Addr().String(), engine))

	// Keep systemd's status line current, and ping its watchdog only while the
	// database answers and the job workers take work.
	bg, stopBackground := context.WithCancel(context.Background())
	defer stopBackground()
	statusCtx, stopStatus := context.WithCancel(bg)
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		t := time.NewTicker(statusInterval)
		defer t.Stop()
		for {
			select {
			case <-statusCtx.Done():
				return
			case <-t.C:
				notifier.Status(statusLine(statusCtx, ln.Addr().String(), engine))
			}
		}
	}()
	go notifier.Watchdog(bg, func(ctx context.Context) error {
		if err := store.Check(ctx); err != nil {
			return err
		}
		if ok, why := engine.Alive(ctx); !ok && !api.Draining() {
			return errors.New("job workers: " + why)
		}
		return nil
	})

	// Wait for a signal or a server failure.
	var runErr error
	select {
	case sig := <-opts.Signals:
		log.Info("shutdown requested", "signal", sig.String())
	case err := <-serveErr:
		runErr = fmt.Errorf("http server on %s stopped: %w", ln.Addr(), err)
		log.Error("http server failed; shutting down", "error", err.Error())
	case <-ctx.Done():
		log.Info("shutdown requested", "reason", context.Cause(ctx).Error())
	}
	go func() {
		for sig := range opts.Signals {
			log.Info("shutdown already in progress; signal ignored", "signal", sig.String())
		}
	}()

	// The status loop ends first, so that it cannot overwrite "shutting down".
	stopStatus()
	<-statusDone
	notifier.Stopping("shutting down")
	// The drain may take up to shutdown_timeout plus the hard stop of cancelled jobs;
	// ask systemd for that much time in case TimeoutStopSec is shorter.
	notifier.ExtendTimeout(cfg.Server.ShutdownTimeout + jobs.DefaultHardStopTimeout + 10*time.Second)
	shutdown(log, cfg, api, srv, store, engine, workers, func() {
		stopProbes()
		<-probesDone
	})
	return runErr
}

// minHTTPShutdown is the least time in-flight requests get to finish, even when the
// job drain used the whole shutdown_timeout.
const minHTTPShutdown = 500 * time.Millisecond

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

// maxAttempts is how many times a job runs before it is failed. Retrying a scan
// that failed on a catalogue error helps when the error was passing (a full disk
// that was freed); more attempts would only repeat a real failure.
const maxAttempts = 3

// shutdown stops the daemon in order: health turns 503 and mutating requests are
// refused; in-flight requests finish within the budget; then the database is
// checkpointed and closed.
func shutdown(log *slog.Logger, cfg *config.Config, api *httpapi.API, srv *http.Server, store *catalog.Store,
	engine *jobs.Engine, workers *library.Workers, stopProbes func()) {
	start := time.Now()
	budget := cfg.Server.ShutdownTimeout
	deadline := start.Add(budget)

	api.StartDrain()
	workers.ShutdownBegun()
	log.Info("shutdown: health reports unhealthy; new work refused", "shutdown_timeout_s", budget.Seconds())

	// Jobs first, while the HTTP server still answers /health (503) and reads: the
	// running jobs get the budget, then are cancelled and put back in the queue.
	t := time.Now()
	_, running, _ := engine.Counts(context.Background())
	if running > 0 {
		log.Info("shutdown: waiting for running jobs", "running", running, "timeout_s", budget.Seconds())
	}
	if err := engine.Stop(context.Background(), budget); err != nil {
		log.Warn("shutdown: job workers did not stop cleanly", "error", err.Error(), "duration_ms", ms(time.Since(t)))
	} else {
		log.Info("shutdown: job workers stopped", "duration_ms", ms(time.Since(t)))
	}

	t = time.Now()
	if time.Until(deadline) < minHTTPShutdown {
		deadline = time.Now().Add(minHTTPShutdown) // requests still get a moment after a long drain
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	err := srv.Shutdown(ctx)
	cancel()
	if err != nil {
		log.Warn("shutdown: in-flight requests did not finish in time; closing their connections",
			"duration_ms", ms(time.Since(t)))
		_ = srv.Close()
	} else {
		log.Info("shutdown: http server stopped", "duration_ms", ms(time.Since(t)))
	}

	stopProbes()
	t = time.Now()
	ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
	if err := store.Close(ctx); err != nil {
		log.Error("shutdown: closing the database failed", "error", err.Error())
	} else {
		log.Info("shutdown: database checkpointed and closed", "duration_ms", ms(time.Since(t)))
	}
	cancel()
	log.Info("shutdown complete", "duration_ms", ms(time.Since(start)))
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
