package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/daemon"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/logging"
)

// schemaStatus is the catalogue's and the job queue's schema versions.
type schemaStatus struct {
	exists                     bool
	catalogue, catalogueLatest int64
	queue, queueLatest         int
}

func (s schemaStatus) upToDate() bool {
	return s.catalogue == s.catalogueLatest && s.queue == s.queueLatest
}

func newMigrateCmd(env Env) *cobra.Command {
	var configPath string
	var status bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply pending database schema migrations",
		Long: `vpo migrate applies the catalogue's and the job queue's pending schema migrations
and prints the versions. "vpo serve" migrates on start; every other command refuses a
database whose schema is not this vpo's.

With --status it changes nothing: it prints the current and latest versions and
exits 0 when both schemas are up to date, 1 when migrations are pending or the
database is newer than this vpo.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(env, cmd, configPath)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			if cfg.Postgres() {
				return migratePostgres(ctx, env, cfg, status)
			}
			before, err := readSchemaStatus(ctx, cfg.DatabasePath)
			if err != nil {
				return err
			}
			if status {
				printSchemaStatus(env.Stdout, before)
				if !before.upToDate() {
					return &ExitError{Code: ExitFailure, Err: errors.New("schema migrations pending"), Reported: true}
				}
				return nil
			}
			// Hold the daemon's lock while migrating: no `vpo serve` may work the
			// database meanwhile, nor start and migrate it at the same time.
			lock, err := daemon.LockDatabase(cfg.DatabasePath)
			if err != nil {
				var inUse *daemon.InUseError
				if errors.As(err, &inUse) {
					return fmt.Errorf("database %s is in use by vpo serve (pid %d): stop it first, or let it migrate when it starts", cfg.DatabasePath, inUse.PID)
				}
				return err
			}
			defer func() { _ = lock.Release() }()
			return applyMigrations(ctx, env, cfg, before)
		},
	}
	addConfigFlag(cmd, &configPath)
	cmd.Flags().BoolVar(&status, "status", false, "print the schema versions and exit 1 if migrations are pending; change nothing")
	return cmd
}

// loadConfig loads the configuration as openSession does, without opening the
// database.
func loadConfig(env Env, cmd *cobra.Command, configPath string) (*config.Config, error) {
	var flags config.Flags
	if cmd.Flags().Changed("config") {
		flags.ConfigPath = &configPath
	}
	cfg, err := config.Load(flags, config.Options{Getenv: env.Getenv})
	if err != nil {
		return nil, &ExitError{Code: ExitConfig, Err: err}
	}
	return cfg, nil
}

// readSchemaStatus reads the schema versions without changing the database; a
// database that does not exist is at version 0 and is not created.
func readSchemaStatus(ctx context.Context, path string) (schemaStatus, error) {
	st := schemaStatus{exists: true}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		st.exists = false
	} else {
		store, err := catalog.OpenMode(ctx, path, logging.Discard(), catalog.InspectSchema)
		if err != nil {
			return st, err
		}
		defer store.Close(context.Background())
		st.catalogue, st.catalogueLatest = store.SchemaVersion(), store.LatestSchemaVersion()
		st.queue, st.queueLatest, err = jobs.SchemaStatus(ctx, store.DB())
		if err != nil {
			return st, fmt.Errorf("database %s: %w", path, err)
		}
		return st, nil
	}
	st.catalogueLatest = catalog.LatestSchemaVersion()
	st.queueLatest = jobs.LatestSchemaVersion()
	return st, nil
}

func printSchemaStatus(w io.Writer, st schemaStatus) {
	if !st.exists {
		fmt.Fprintln(w, "database does not exist yet")
	}
	fmt.Fprintf(w, "catalogue schema: version %d, latest %d: %s\n", st.catalogue, st.catalogueLatest, verdict(st.catalogue, st.catalogueLatest))
	fmt.Fprintf(w, "job queue schema: version %d, latest %d: %s\n", st.queue, st.queueLatest, verdict(int64(st.queue), int64(st.queueLatest)))
}

func verdict(current, latest int64) string {
	switch {
	case current == latest:
		return "up to date"
	case current > latest:
		return "newer than this vpo: upgrade vpo"
	}
	return fmt.Sprintf("%d pending", latest-current)
}

func applyMigrations(ctx context.Context, env Env, cfg *config.Config, before schemaStatus) error {
	logger, err := newLogger(env, cfg, nil)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: err}
	}
	if err := ensureDataDir(cfg); err != nil {
		return err
	}
	store, err := catalog.OpenMode(ctx, cfg.DatabasePath, logging.Component(logger, "db"), catalog.ApplyMigrations)
	if err != nil {
		return err
	}
	defer store.Close(context.Background())
	if err := jobs.Migrate(ctx, store.DB(), logging.Component(logger, "jobs")); err != nil {
		return fmt.Errorf("database %s: job queue schema: %w", cfg.DatabasePath, err)
	}
	after, err := readSchemaStatus(ctx, cfg.DatabasePath)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "catalogue schema: %s\n", change(before.catalogue, after.catalogue))
	fmt.Fprintf(env.Stdout, "job queue schema: %s\n", change(int64(before.queue), int64(after.queue)))
	return nil
}

func change(from, to int64) string {
	if from == to {
		return fmt.Sprintf("version %d, up to date", to)
	}
	return fmt.Sprintf("migrated from version %d to %d", from, to)
}

// migratePostgres is vpo migrate on PostgreSQL. Nodes may be running: the
// migrations run under the database's migration lock, as a starting vpo serve
// runs them.
func migratePostgres(ctx context.Context, env Env, cfg *config.Config, statusOnly bool) error {
	read := func() (schemaStatus, error) {
		st := schemaStatus{exists: true}
		store, err := catalog.OpenPostgres(ctx, cfg.Database.URL, cfg.Database.Password, logging.Discard(), catalog.InspectSchema)
		if err != nil {
			return st, err
		}
		defer store.Close(context.Background())
		st.catalogue, st.catalogueLatest = store.SchemaVersion(), store.LatestSchemaVersion()
		pool, err := jobs.OpenPool(ctx, store.PostgresConnConfig(), 1)
		if err != nil {
			return st, err
		}
		defer pool.Close()
		st.queue, st.queueLatest, err = jobs.SchemaStatusPostgres(ctx, pool)
		if err != nil {
			return st, fmt.Errorf("database %s: %w", store.Path(), err)
		}
		return st, nil
	}
	before, err := read()
	if err != nil {
		return err
	}
	if statusOnly {
		printSchemaStatus(env.Stdout, before)
		if !before.upToDate() {
			return &ExitError{Code: ExitFailure, Err: errors.New("schema migrations pending"), Reported: true}
		}
		return nil
	}
	logger, err := newLogger(env, cfg, nil)
	if err != nil {
		return &ExitError{Code: ExitConfig, Err: err}
	}
	a, err := app.Open(ctx, cfg, logger, app.Migrate)
	if err != nil {
		return err
	}
	_ = a.Close(context.Background())
	after, err := read()
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "catalogue schema: %s\n", change(before.catalogue, after.catalogue))
	fmt.Fprintf(env.Stdout, "job queue schema: %s\n", change(int64(before.queue), int64(after.queue)))
	return nil
}
