package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/vpo-project/vpo/internal/catalog"
)

// River tuning for a queue shared by several processes on PostgreSQL. An insert
// anywhere wakes every node's producer through LISTEN/NOTIFY (riverpgxv5's
// listener), so the poll only backs up a lost notification and finds jobs that
// came due; River's defaults suit that. SQLite's 20 ms cooldown exists because
// there the only wake-up is in-process: here a shorter cooldown would only make
// the nodes contend for the same fetch.
const (
	// PostgresFetchCooldown is the minimum time between two fetches on
	// PostgreSQL (River's default).
	PostgresFetchCooldown = 100 * time.Millisecond
	// PostgresFetchPollInterval is the fallback poll on PostgreSQL (River's
	// default).
	PostgresFetchPollInterval = time.Second
)

// OpenPool opens the job queue's connection pool on PostgreSQL, from the
// catalogue's connection settings (catalog.Store.PostgresConnConfig), sized for
// workers jobs at once plus River's own connections (producer, listener,
// leader election, maintenance).
func OpenPool(ctx context.Context, conn *pgx.ConnConfig, workers int) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("jobs: pool settings: %w", err)
	}
	pc.ConnConfig = conn
	pc.MaxConns = int32(min(workers+6, 100))
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("jobs: open pool: %w", catalog.Classify(err))
	}
	return pool, nil
}

// NewPostgres builds an Engine on the PostgreSQL pool (its database already
// migrated with MigratePostgres), with River's riverpgxv5 driver: the same jobs,
// workers, timeouts and retries as New on SQLite, polling and cooldown for a
// shared queue (PostgresFetchCooldown, PostgresFetchPollInterval), and the
// listener. The pool stays the caller's: close it after Stop.
func NewPostgres(pool *pgxpool.Pool, cfg Config, register func(w *river.Workers)) (*Engine, error) {
	if pool == nil {
		return nil, errors.New("jobs: nil pool")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	if register != nil {
		register(workers)
	}
	db := stdlib.OpenDBFromPool(pool)
	e := &Engine{
		db:       db,
		ownDB:    true,
		jq:       catalog.NewPostgresJobQueue(db, cfg.ClientID),
		cfg:      cfg,
		log:      cfg.Logger,
		active:   make(map[int64]struct{}),
		stuck:    make(map[int64]struct{}),
		cooldown: PostgresFetchCooldown,
		poll:     PostgresFetchPollInterval,
	}
	client, err := river.NewClient[pgx.Tx](riverpgxv5.New(pool), e.riverConfig(workers))
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	e.client = client
	return e, nil
}

// MigratePostgres is Migrate on PostgreSQL.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	return migrateWith(ctx, riverpgxv5.New(pool), logger, slog.LevelInfo)
}

// EnsureSchemaPostgres is EnsureSchema on PostgreSQL; name names the database
// in messages.
func EnsureSchemaPostgres(ctx context.Context, pool *pgxpool.Pool, name string, logger *slog.Logger) error {
	current, _, err := schemaStatusWith(ctx, riverpgxv5.New(pool))
	if err != nil {
		return fmt.Errorf("database %s: %w", name, err)
	}
	if current == 0 {
		return migrateWith(ctx, riverpgxv5.New(pool), logger, slog.LevelDebug)
	}
	return checkSchemaWith(ctx, riverpgxv5.New(pool), name)
}

// SchemaStatusPostgres is SchemaStatus on PostgreSQL.
func SchemaStatusPostgres(ctx context.Context, pool *pgxpool.Pool) (current, latest int, err error) {
	return schemaStatusWith(ctx, riverpgxv5.New(pool))
}

// Close releases what the engine opened itself (on PostgreSQL, its
// database/sql view of the pool), after Stop or when it was never started. The
// database or pool it was built on stays open.
func (e *Engine) Close() error {
	if e.ownDB {
		return e.db.Close()
	}
	return nil
}

// RunningJobs lists the running jobs with the River client (node) that runs
// each ("" on SQLite, where the one daemon runs them all).
func (e *Engine) RunningJobs(ctx context.Context) ([]catalog.RunningJob, error) {
	return e.queue().RunningJobs(ctx)
}
