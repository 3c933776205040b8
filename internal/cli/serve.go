package cli

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/daemon"
	"github.com/vpo-project/vpo/internal/logging"
)

func newServeCmd(env Env) *cobra.Command {
	var (
		configPath string
		bind       string
		port       = portValue(config.DefaultPort)
		level      = newEnum(config.DefaultLogLevel, config.LogLevels...)
		format     = newEnum(config.DefaultLogFormat, config.LogFormats...)
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the vpo daemon in the foreground",
		Long: `Run the vpo daemon in the foreground: the HTTP API and /health, and the job
workers. It logs to stderr only and stops gracefully on SIGTERM or SIGINT.

Settings come from, strongest first: these flags, the config file, the
environment (VPO_*), built-in defaults. Exit codes: 0 after a graceful
shutdown, 1 when startup fails, 2 for bad usage, 78 for a configuration error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			started := time.Now()
			var flags config.Flags
			fl := cmd.Flags()
			if fl.Changed("config") {
				flags.ConfigPath = &configPath
			}
			if fl.Changed("bind") {
				flags.Bind = &bind
			}
			if fl.Changed("port") {
				p := int(port)
				flags.Port = &p
			}
			if fl.Changed("log-level") {
				flags.LogLevel = &level.value
			}
			if fl.Changed("log-format") {
				flags.LogFormat = &format.value
			}
			return runServe(env, flags, started)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "config file (default ~/.vpo/config.toml, or $VPO_CONFIG_PATH)")
	f.StringVar(&bind, "bind", config.DefaultBind, "address to listen on")
	f.VarP(&port, "port", "p", "TCP port to listen on")
	f.Var(level, "log-level", "log level: debug, info, warning or error")
	f.Var(format, "log-format", "log format: text or json")
	return cmd
}

func runServe(env Env, flags config.Flags, started time.Time) error {
	// Catch the signals first, so that a SIGTERM during startup is not fatal. SIGPIPE
	// is caught too: Go exits on a broken pipe on stderr unless SIGPIPE is notified,
	// and a daemon must outlive its log reader.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(signals)
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)

	cfg, err := config.Load(flags, config.Options{Getenv: env.Getenv})
	if err != nil {
		bootstrapLogger(env).Error("configuration error; not starting", "error", err.Error())
		return &ExitError{Code: ExitConfig, Err: err, Reported: true}
	}
	logger, err := newLogger(env, cfg)
	if err != nil {
		bootstrapLogger(env).Error("configuration error; not starting", "error", err.Error())
		return &ExitError{Code: ExitConfig, Err: err, Reported: true}
	}
	if err := ensureDataDir(cfg); err != nil {
		logger.Error("startup failed", "error", err.Error())
		return &ExitError{Code: ExitFailure, Err: err, Reported: true}
	}
	if err := daemon.Run(context.Background(), cfg, logger, daemon.Options{Signals: signals, Started: started}); err != nil {
		if config.IsConfigError(err) {
			logger.Error("configuration error; not starting", "error", err.Error())
			return &ExitError{Code: ExitConfig, Err: err, Reported: true}
		}
		logger.Error("startup failed", "error", err.Error())
		return &ExitError{Code: ExitFailure, Err: err, Reported: true}
	}
	return nil
}

// newLogger builds the configured logger: journald's native protocol when
// logging.journal says so, else text or JSON on stderr.
func newLogger(env Env, cfg *config.Config) (*slog.Logger, error) {
	journal, err := logging.UseJournal(cfg.Logging.Journal)
	if err != nil {
		return nil, err
	}
	return logging.New(logging.Options{Level: cfg.Logging.Level, Format: cfg.Logging.Format, Writer: env.Stderr, Journal: journal})
}

// bootstrapLogger logs errors that happen before the configured logger exists, in the
// default format (or to journald under systemd, so that they get err priority), so
// that they look like every other record.
func bootstrapLogger(env Env) *slog.Logger {
	journal, _ := logging.UseJournal("auto")
	l, err := logging.New(logging.Options{Level: "info", Format: "text", Writer: env.Stderr, Journal: journal})
	if err != nil {
		l, _ = logging.New(logging.Options{Level: "info", Format: "text", Writer: env.Stderr})
	}
	return l
}

// ensureDataDir creates ~/.vpo (0700) when missing: it holds the default config and
// database. A database_path elsewhere is the operator's to create.
func ensureDataDir(cfg *config.Config) error {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		if cfg.Sources["database_path"] == config.SourceDefault || cfg.Sources["database_path"] == "" {
			return err
		}
	}
	return nil
}
