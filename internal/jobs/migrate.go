package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

var (
	// ErrSchemaTooNew is wrapped by CheckSchema's error when River's tables were
	// migrated by a newer vpo (a newer River) than this one.
	ErrSchemaTooNew = errors.New("job queue schema newer than this vpo supports")
	// ErrSchemaPending is wrapped by CheckSchema's error when River's tables need
	// migrations this vpo has.
	ErrSchemaPending = errors.New("job queue schema migrations pending")
)

// Migrate applies River's own schema migrations (river_job, river_leader,
// river_queue, river_notification, river_migration, ...) to db with
// rivermigrate, logging each applied version at info. It is idempotent: already
// applied versions are skipped. The River tables live beside the catalogue's;
// their migrations are tracked in river_migration, separately from vpo's own
// migrations. Only `vpo serve` and `vpo migrate` call it on an existing database.
func Migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	return migrateWith(ctx, riversqlite.New(db), logger, slog.LevelInfo)
}

// EnsureSchema is for CLI commands other than `vpo serve` and `vpo migrate`: when
// River's tables do not exist yet (a brand-new database, which no daemon can be
// using) it creates them, logging the migrations at debug; otherwise it only
// checks, as CheckSchema.
func EnsureSchema(ctx context.Context, db *sql.DB, dbPath string, logger *slog.Logger) error {
	current, _, err := SchemaStatus(ctx, db)
	if err != nil {
		return fmt.Errorf("database %s: %w", dbPath, err)
	}
	if current == 0 {
		return migrateWith(ctx, riversqlite.New(db), logger, slog.LevelDebug)
	}
	return CheckSchema(ctx, db, dbPath)
}

// migrateWith applies River's migrations through drv (either backend's driver).
func migrateWith[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], logger *slog.Logger, level slog.Level) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// Refuse a newer schema with vpo's message rather than River's.
	if current, latest, err := schemaStatusWith(ctx, drv); err != nil {
		return err
	} else if current > latest {
		return fmt.Errorf("version %d is newer than this vpo supports (%d): upgrade vpo%w",
			current, latest, hide(ErrSchemaTooNew))
	}
	migrator, err := newMigratorWith(drv, logger)
	if err != nil {
		return err
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("jobs: river migrations: %w", err)
	}
	for _, v := range res.Versions {
		logger.Log(ctx, level, "applied river migration",
			slog.Int("version", v.Version), slog.String("name", v.Name), slog.Duration("took", v.Duration))
	}
	return nil
}

func newMigrator(db *sql.DB, logger *slog.Logger) (*rivermigrate.Migrator[*sql.Tx], error) {
	return newMigratorWith(riversqlite.New(db), logger)
}

func newMigratorWith[TTx any](drv riverdriver.Driver[TTx], logger *slog.Logger) (*rivermigrate.Migrator[TTx], error) {
	migrator, err := rivermigrate.New(drv, &rivermigrate.Config{
		// River's own migration lines are demoted (vpo logs each applied version
		// itself), so that CLI commands do not print "No migrations to apply".
		Logger: slog.New(quietHandler{logger.Handler()}).With(slog.String("lib", "river")),
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river migrator: %w", err)
	}
	return migrator, nil
}

// SchemaStatus returns the highest River migration applied to db (0 when River's
// tables do not exist yet) and the newest this vpo's River has.
func SchemaStatus(ctx context.Context, db *sql.DB) (current, latest int, err error) {
	return schemaStatusWith(ctx, riversqlite.New(db))
}

func schemaStatusWith[TTx any](ctx context.Context, drv riverdriver.Driver[TTx]) (current, latest int, err error) {
	latest = LatestSchemaVersion()
	// The driver's executor, not migrator.ExistingVersions: that one fails on a
	// version its bundle does not know, which is exactly the newer-schema case
	// this must report.
	exec := drv.GetExecutor()
	exists, err := exec.TableExists(ctx, &riverdriver.TableExistsParams{Table: "river_migration"})
	if err != nil {
		return 0, 0, fmt.Errorf("jobs: river schema version: %w", err)
	}
	if !exists {
		return 0, latest, nil
	}
	applied, err := exec.MigrationGetByLine(ctx, &riverdriver.MigrationGetByLineParams{Line: riverdriver.MigrationLineMain})
	if err != nil {
		return 0, 0, fmt.Errorf("jobs: river schema version: %w", err)
	}
	for _, m := range applied {
		current = max(current, m.Version)
	}
	return current, latest, nil
}

// LatestSchemaVersion returns the newest River migration this vpo's River has.
func LatestSchemaVersion() int {
	// The migrator's bundle is in the binary: listing it touches no database.
	migrator, err := newMigrator(nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return 0
	}
	all := migrator.AllVersions()
	return all[len(all)-1].Version
}

// CheckSchema returns nil when River's tables in db are exactly at this vpo's
// River version, and otherwise a one-line error naming dbPath that wraps
// ErrSchemaTooNew or ErrSchemaPending.
func CheckSchema(ctx context.Context, db *sql.DB, dbPath string) error {
	return checkSchemaWith(ctx, riversqlite.New(db), dbPath)
}

func checkSchemaWith[TTx any](ctx context.Context, drv riverdriver.Driver[TTx], dbPath string) error {
	current, latest, err := schemaStatusWith(ctx, drv)
	if err != nil {
		return fmt.Errorf("database %s: %w", dbPath, err)
	}
	switch {
	case current > latest:
		return fmt.Errorf("database %s has job queue schema version %d, newer than this vpo supports (%d): upgrade vpo%w",
			dbPath, current, latest, hide(ErrSchemaTooNew))
	case current < latest:
		return fmt.Errorf("database %s has job queue schema version %d, older than this vpo needs (%d): run `vpo migrate` (or start `vpo serve`)%w",
			dbPath, current, latest, hide(ErrSchemaPending))
	}
	return nil
}

// hide wraps a sentinel so that errors.Is finds it without its text showing.
func hide(sentinel error) error { return hidden{sentinel} }

type hidden struct{ err error }

func (h hidden) Error() string { return "" }
func (h hidden) Unwrap() error { return h.err }
