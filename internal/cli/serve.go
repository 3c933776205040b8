package cli

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/daemon"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/systemd"
)

func newServeCmd(env Env) *cobra.Command {
	var configPath string
	var settings *settingFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the vpo daemon in the foreground",
		Long: `Run the vpo daemon in the foreground: the HTTP API and /health, and the job
workers. It logs to stderr only and stops gracefully on SIGTERM or SIGINT;
SIGHUP reloads the configuration file (settings that need a restart are
logged and keep their values; a bad file changes nothing).
Only one vpo serve runs per database: it holds a lock on DATABASE.lock, and a
second one on the same database exits 1 naming the first one's PID.

Settings come from, strongest first: these flags, the config file, the
environment (VPO_*), built-in defaults. Exit codes: 0 after a graceful
shutdown, 1 when startup fails, 2 for bad usage, 78 for a configuration error.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			started := time.Now()
			var flags config.Flags
			if cmd.Flags().Changed("config") {
				flags.ConfigPath = &configPath
			}
			settings.apply(&flags)
			return runServe(env, flags, started)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "config file (default ~/.vpo/config.toml, or $VPO_CONFIG_PATH)")
	settings = addSettingFlags(f)
	return cmd
}

func runServe(env Env, flags config.Flags, started time.Time) error {
	// Catch the signals first, so that a SIGTERM during startup is not fatal (nor a
	// SIGHUP, which the daemon handles as a reload once ready). SIGPIPE
	// is caught too: Go exits on a broken pipe on stderr unless SIGPIPE is notified,
	// and a daemon must outlive its log reader.
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(signals)
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	defer signal.Stop(pipes)

	// A reload (SIGHUP) loads the configuration as here: the same flags and
	// environment, the file read again.
	load := func() (*config.Config, error) { return config.Load(flags, config.Options{Getenv: env.Getenv}) }
	cfg, err := load()
	if err != nil {
		return fatal(env, nil, err)
	}
	level := new(slog.LevelVar)
	logger, err := newLogger(env, cfg, level)
	if err != nil {
		return fatal(env, nil, err)
	}
	if err := ensureDataDir(cfg); err != nil {
		return fatal(env, logger, err)
	}
	if err := daemon.Run(context.Background(), cfg, logger, daemon.Options{Signals: signals, Started: started,
		Reload: load, Level: level}); err != nil {
		return fatal(env, logger, err)
	}
	return nil
}

// fatal reports the error that stops vpo, once, and returns its exit code: 78 for a
// configuration error, 1 otherwise.
//
// Under journald the record goes to stderr with a "<3>" priority prefix rather than
// through the native protocol: journald learns a native message's unit from
// /proc/PID, which is gone when vpo has exited a moment later, so the error could be
// missing from `journalctl -u vpo`; a stream line belongs to its unit from the
// start. It is also sent as systemd's STATUS, which `systemctl status` shows.
func fatal(env Env, logger *slog.Logger, err error) error {
	code, msg := ExitFailure, "startup failed"
	if config.IsConfigError(err) {
		code, msg = ExitConfig, "configuration error; not starting"
	}
	if logger == nil || underJournal() {
		logger = bootstrapLogger(env)
	}
	logger.Error(msg, "error", err.Error())
	systemd.NewNotifier(logging.Discard()).Status(msg + ": " + err.Error())
	return &ExitError{Code: code, Err: err, Reported: true}
}

func underJournal() bool {
	ok, err := journal.StderrIsJournalStream()
	return ok && err == nil
}

// newLogger builds the configured logger: journald's native protocol when
// logging.journal says so, else text or JSON on stderr.
func newLogger(env Env, cfg *config.Config, level *slog.LevelVar) (*slog.Logger, error) {
	journal, err := logging.UseJournal(cfg.Logging.Journal)
	if err != nil {
		return nil, err
	}
	return logging.New(logging.Options{Level: cfg.Logging.Level, Format: cfg.Logging.Format, Writer: env.Stderr, Journal: journal, LevelVar: level})
}

// bootstrapLogger logs the error that stops vpo when the configured logger does not
// exist or cannot be trusted to reach the journal in time: text on stderr, with a
// "<3>" (err) priority prefix when stderr is journald's stream.
func bootstrapLogger(env Env) *slog.Logger {
	w, bare := env.Stderr, false
	if underJournal() {
		w, bare = prefixWriter{w: w, prefix: []byte("<3>")}, true
	}
	l, err := logging.New(logging.Options{Level: "info", Format: "text", Writer: w, Bare: bare})
	if err != nil {
		panic(err) // the defaults are valid
	}
	return l
}

// prefixWriter prefixes each write (one log record) with a syslog priority, which
// journald's stream reader parses (SyslogLevelPrefix=yes, the default).
type prefixWriter struct {
	w      io.Writer
	prefix []byte
}

func (p prefixWriter) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append(append([]byte(nil), p.prefix...), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
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
