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
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/version"
)

// Server timeouts. Header and idle timeouts protect against slow or abandoned
// clients; the write timeout is generous because listing a large catalogue page is
// still well under it.
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
	log := logging.Component(logger, "server")
	logSettings(logging.Component(logger, "config"), cfg)

	t := time.Now()
	store, err := catalog.Open(ctx, cfg.DatabasePath, logging.Component(logger, "db"))
	if err != nil {
		return err
	}
	logging.Component(logger, "db").Info("database ready", "path", cfg.DatabasePath,
		"schema_version", store.SchemaVersion(), "duration_ms", ms(time.Since(t)))

	ln, err := listen(cfg.Addr())
	if err != nil {
		store.Close(context.Background())
		return err
	}

	api := httpapi.New(httpapi.Deps{
		Logger:        logging.Component(logger, "http"),
		Version:       version.String(),
		Database:      store,
		SchemaVersion: store.SchemaVersion(),
		Started:       opts.Started,
	})
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logging.Component(logger, "http").Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	api.SetReady()
	log.Info("vpo is ready", "address", ln.Addr().String(), "version", version.String(),
		"startup_ms", ms(time.Since(opts.Started)))

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

	shutdown(log, cfg, api, srv, store)
	return runErr
}

// shutdown stops the daemon in order: health turns 503 and mutating requests are
// refused; in-flight requests finish within the budget; then the database is
// checkpointed and closed.
func shutdown(log *slog.Logger, cfg *config.Config, api *httpapi.API, srv *http.Server, store *catalog.Store) {
	start := time.Now()
	budget := cfg.Server.ShutdownTimeout
	deadline := start.Add(budget)

	api.StartDrain()
	log.Info("shutdown: health reports unhealthy; new work refused", "shutdown_timeout_s", budget.Seconds())

	t := time.Now()
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
