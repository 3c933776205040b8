package cli

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/jobs"
)

// session is what the catalogue commands share: the configuration, a logger on
// stderr and vpo's core (app.Open: the same wiring as the daemon's). They work
// whether or not a daemon is running: they open the same SQLite file, whose WAL mode
// and busy timeout let both write. They do not take the daemon's database lock.
type session struct {
	cfg    *config.Config
	logger *slog.Logger
	app    *app.App
	store  *catalog.Store
}

// addConfigFlag adds -c/--config to a catalogue command.
func addConfigFlag(cmd *cobra.Command, path *string) {
	cmd.Flags().StringVarP(path, "config", "c", "", "config file (default ~/.vpo/config.toml, or $VPO_CONFIG_PATH)")
}

// openSession loads the configuration and opens the catalogue, the job queue, the
// scanner and an engine that is never started.
func openSession(ctx context.Context, env Env, cmd *cobra.Command, configPath string) (*session, error) {
	var flags config.Flags
	if cmd.Flags().Changed("config") {
		flags.ConfigPath = &configPath
	}
	cfg, err := config.Load(flags, config.Options{Getenv: env.Getenv})
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	logger, err := newLogger(env, cfg, nil)
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	if err := ensureDataDir(cfg); err != nil {
		return nil, err
	}
	a, err := app.Open(ctx, cfg, logger, app.CheckSchema)
	if err != nil {
		return nil, err
	}
	return &session{cfg: cfg, logger: logger, app: a, store: a.Store}, nil
}

func (s *session) close() { s.app.Close(context.Background()) }

// engine returns the job engine, never started: it reads and changes the queue that
// the daemon works.
func (s *session) engine() (*jobs.Engine, error) { return s.app.Jobs, nil }
