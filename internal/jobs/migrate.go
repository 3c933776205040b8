package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
)

// Migrate applies River's own schema migrations (river_job, river_leader,
// river_queue, river_notification, river_migration, ...) to db with
// rivermigrate. It is idempotent: already applied versions are skipped. The
// River tables live beside the catalogue's; their migrations are tracked in
// river_migration, separately from vpo's own migrations.
func Migrate(ctx context.Context, db *sql.DB, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	migrator, err := rivermigrate.New(riversqlite.New(db), &rivermigrate.Config{
		// River's own migration lines are demoted (vpo logs each applied version
		// below), so that CLI commands do not print "No migrations to apply".
		Logger: slog.New(quietHandler{logger.Handler()}).With(slog.String("lib", "river")),
	})
	if err != nil {
		return fmt.Errorf("jobs: river migrator: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("jobs: river migrations: %w", err)
	}
	for _, v := range res.Versions {
		logger.InfoContext(ctx, "applied river migration",
			slog.Int("version", v.Version), slog.String("name", v.Name), slog.Duration("took", v.Duration))
	}
	return nil
}
