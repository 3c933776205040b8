package cli

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/logging"
)

// session is what the catalogue commands share: the configuration, a logger on
// stderr and the open catalogue. They work whether or not a daemon is running: they
// open the same SQLite file, whose WAL mode and busy timeout let both write.
type session struct {
	cfg    *config.Config
	logger *slog.Logger
	store  *catalog.Store
}

// addConfigFlag adds -c/--config to a catalogue command.
func addConfigFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", "", "config file (default ~/.vpo/config.toml, or $VPO_CONFIG_PATH)")
}

// openSession loads the configuration and opens the catalogue and job queue schema.
func openSession(ctx context.Context, env Env, cmd *cobra.Command, configPath string) (*session, error) {
	var flags config.Flags
	if cmd.Flags().Changed("config") {
		flags.ConfigPath = &configPath
	}
	cfg, err := config.Load(flags, config.Options{Getenv: env.Getenv})
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	logger, err := newLogger(env, cfg)
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	if err := ensureDataDir(cfg); err != nil {
		return nil, err
	}
	store, err := catalog.Open(ctx, cfg.DatabasePath, logging.Component(logger, "db"))
	if err != nil {
		return nil, err
	}
	// Check only: `vpo serve` and `vpo migrate` migrate. A brand-new database is
	// created and migrated, so that `vpo scan` works on a fresh machine.
	if err := jobs.EnsureSchema(ctx, store.DB(), cfg.DatabasePath, logging.Component(logger, "jobs")); err != nil {
		store.Close(context.Background())
		return nil, err
	}
	return &session{cfg: cfg, logger: logger, store: store}, nil
}

func (s *session) close() { s.store.Close(context.Background()) }

// engine returns a job engine that is never started: it reads and changes the queue
// that the daemon works.
func (s *session) engine() (*jobs.Engine, error) {
	return jobs.New(s.store.DB(), jobs.Config{Workers: s.cfg.Jobs.Workers, Logger: logging.Component(s.logger, "jobs")}, nil)
}
