// Package app builds vpo's core from its configuration: the catalogue, the scanner
// and the job engine, wired the same way for `vpo serve`, the CLI commands and the
// tests. It starts nothing: the daemon starts the engine, the CLI commands use the
// engine only to read and change the queue that a daemon works.
//
// It is its own package, not part of internal/daemon, so that internal/httpapi's
// tests can build the real core without an import cycle (the daemon imports httpapi).
package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/metrics"
	"github.com/vpo-project/vpo/internal/plans"
	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/schedule"
)

// maxAttempts is how many times a job runs before it is failed. Retrying a scan
// that failed on a catalogue error helps when the error was passing (a full disk
// that was freed); more attempts would only repeat a real failure.
const maxAttempts = 3

// App is vpo's core over one database.
type App struct {
	// Store is the open catalogue; its pool is shared with the job engine.
	Store *catalog.Store
	// Scanner scans directories and probes files into the catalogue.
	Scanner *library.Scanner
	// Workers are the scan and probe job workers registered with Jobs.
	Workers *library.Workers
	// Plans runs the plan and apply jobs registered with Jobs.
	Plans *plans.Service
	// JournalDir is where in-place edits keep their crash journals.
	JournalDir string
	// Jobs is the job engine, not started.
	Jobs *jobs.Engine
	// Schedule is the roots' scheduled rescans, River periodic jobs of Jobs.
	Schedule *schedule.Scheduler
	// Node is this process's name on PostgreSQL (River's client ID); "" on SQLite.
	Node string

	// pool is the job queue's pgx pool on PostgreSQL (nil on SQLite).
	pool *pgxpool.Pool
}

// Schema says what Open does with the catalogue's and the job queue's schemas.
type Schema int

const (
	// CheckSchema (the CLI commands) refuses a schema newer than this vpo knows and
	// one with pending migrations; a brand-new database is created and migrated, so
	// that `vpo scan` works on a fresh machine.
	CheckSchema Schema = iota
	// Migrate (`vpo serve`, which owns the database) applies pending migrations.
	Migrate
)

// Option changes how Open builds the core.
type Option func(*options)

type options struct{ metrics *metrics.Metrics }

// WithMetrics has the job engine and the scanner report to m (the daemon's
// metrics); without it they report nowhere.
func WithMetrics(m *metrics.Metrics) Option { return func(o *options) { o.metrics = m } }

// Open opens (or creates) the catalogue at cfg.DatabasePath, checks or migrates its
// schema and the job queue's as schema says, and builds the scanner and the job
// engine on it.
// Component loggers (vpo.db, vpo.jobs, vpo.scan) are derived from logger. Close
// releases what Open opened; on an error nothing stays open.
//
// This is the only place vpo opens its catalogue.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, schema Schema, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	mode := catalog.CheckSchema
	if schema == Migrate {
		mode = catalog.ApplyMigrations
	}
	if cfg.Postgres() {
		return openPostgres(ctx, cfg, logger, schema, mode, o)
	}
	store, err := catalog.OpenMode(ctx, cfg.DatabasePath, logging.Component(logger, "db"), mode)
	if err != nil {
		return nil, err
	}
	jobsLog := logging.Component(logger, "jobs")
	if schema == Migrate {
		err = jobs.Migrate(ctx, store.DB(), jobsLog)
		if err != nil {
			err = fmt.Errorf("database %s: job queue schema: %w", cfg.DatabasePath, err)
		}
	} else {
		err = jobs.EnsureSchema(ctx, store.DB(), cfg.DatabasePath, jobsLog)
	}
	var a *App
	if err == nil {
		a, err = build(store, nil, "", cfg, logger, o)
	}
	if err != nil {
		_ = store.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return a, nil
}

// openPostgres is Open on PostgreSQL: the catalogue through database/sql, the
// job queue on a pgx pool of its own with River's riverpgxv5 driver.
func openPostgres(ctx context.Context, cfg *config.Config, logger *slog.Logger, schema Schema, mode catalog.Mode, o options) (*App, error) {
	var store *catalog.Store
	var pool *pgxpool.Pool
	// Nodes starting at once migrate one after the other.
	err := catalog.WithMigrationLock(ctx, cfg.Database.URL, cfg.Database.Password, func() error {
		var err error
		store, err = catalog.OpenPostgres(ctx, cfg.Database.URL, cfg.Database.Password, logging.Component(logger, "db"), mode)
		if err != nil {
			return err
		}
		pool, err = jobs.OpenPool(ctx, store.PostgresConnConfig(), cfg.Jobs.Workers)
		if err != nil {
			return fmt.Errorf("database %s: %w", store.Path(), err)
		}
		jobsLog := logging.Component(logger, "jobs")
		if schema == Migrate {
			if err := jobs.MigratePostgres(ctx, pool, jobsLog); err != nil {
				return fmt.Errorf("database %s: job queue schema: %w", store.Path(), err)
			}
			return nil
		}
		return jobs.EnsureSchemaPostgres(ctx, pool, store.Path(), jobsLog)
	})
	var a *App
	if err == nil {
		a, err = build(store, pool, NodeName(cfg), cfg, logger, o)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		if store != nil {
			_ = store.Close(context.WithoutCancel(ctx))
		}
		return nil, err
	}
	return a, nil
}

// NodeName is this process's node name on PostgreSQL: node.name, else the
// host name.
func NodeName(cfg *config.Config) string { return cfg.NodeName() }

func build(store *catalog.Store, pool *pgxpool.Pool, node string, cfg *config.Config, logger *slog.Logger, o options) (*App, error) {
	jobsLog := logging.Component(logger, "jobs")
	scanLog := logging.Component(logger, "scan")
	scanner, err := library.NewScanner(library.Options{
		Store:      store,
		Prober:     probe.Runner{Path: cfg.Tools.FFprobe, Timeout: cfg.Jobs.ProbeTimeout},
		Extensions: cfg.Library.Extensions,
		Roots:      cfg.Library.Roots,
		Workers:    cfg.Jobs.Workers,
		Logger:     scanLog,
		Observer:   probeObserver(o.metrics),
	})
	if err != nil {
		return nil, err // config.Load validates the extensions, so this is not expected
	}
	workers := library.NewWorkers(scanner, store, scanLog)
	journalDir := filepath.Join(filepath.Dir(cfg.DatabasePath), "journal")
	if cfg.DataDir != "" {
		journalDir = filepath.Join(cfg.DataDir, "journal")
	}
	applyLog := logging.Component(logger, "apply")
	svc := plans.New(plans.Options{
		Store:   store,
		Scanner: scanner,
		Executor: &apply.Executor{
			Tools: apply.Tools{MKVMerge: cfg.Tools.MKVMerge, MKVPropEdit: cfg.Tools.MKVPropEdit,
				FFmpeg: cfg.Tools.FFmpeg, FFprobe: cfg.Tools.FFprobe},
			Settle:       cfg.Apply.Settle,
			ProbeTimeout: cfg.Jobs.ProbeTimeout,
			InPlace:      cfg.Apply.InPlace,
			Backup:       cfg.Apply.Backup,
			JournalDir:   journalDir,
			Logger:       applyLog,
		},
		PoliciesDir:     cfg.Policies.Dir,
		RequireApproval: cfg.Policies.RequireApproval,
		Logger:          applyLog,
		Observer:        applyObserver(o.metrics),
		Node:            node,
		ApplyWorkers:    cfg.Apply.Workers,
	})
	var engine *jobs.Engine
	sched, err := schedule.New(cfg.Library.RootConfigs, func() schedule.RunStatuser { return engine },
		logging.Component(logger, "schedule"))
	if err != nil {
		return nil, err // config.Load validates the schedules, so this is not expected
	}
	jcfg := jobs.Config{
		Periodic:    sched.PeriodicJobs(),
		Workers:     cfg.Jobs.Workers,
		JobTimeout:  cfg.Jobs.JobTimeout,
		MaxAttempts: maxAttempts,
		Logger:      jobsLog,
		Observer:    jobObserver(o.metrics),
		ClientID:    node,
	}
	register := func(ws *river.Workers) {
		workers.Register(ws)
		svc.Register(ws)
	}
	if pool != nil {
		engine, err = jobs.NewPostgres(pool, jcfg, register)
	} else {
		engine, err = jobs.New(store.DB(), jcfg, register)
	}
	if err != nil {
		return nil, err
	}
	workers.SetFollowUp(func(ctx context.Context, a library.ScanArgs, metadata []byte) error {
		return followUp(ctx, engine, a, metadata)
	})
	return &App{Store: store, Scanner: scanner, Workers: workers, Plans: svc, JournalDir: journalDir, Jobs: engine,
		Schedule: sched, Node: node, pool: pool}, nil
}

// followUp submits the plan or apply job a watched root's scan job asks for
// (ScanArgs.Then), for the changed files, or for all of the root after a full
// scan; a scan of gone paths only needs none. The apply job is unattended: the
// root's mode apply is the owner's consent (see docs/operations.md, "Watched
// roots"). A scheduled run's mark is carried over.
func followUp(ctx context.Context, engine *jobs.Engine, a library.ScanArgs, metadata []byte) error {
	if len(a.Changed) == 0 && len(a.Gone) > 0 {
		return nil
	}
	var args river.JobArgs
	switch a.Then {
	case config.ModePlan:
		args = plans.PlanArgs{Policy: a.Policy, Path: a.Path, Paths: a.Changed}
	case config.ModeApply:
		args = plans.ApplyArgs{Policy: a.Policy, Path: a.Path, Paths: a.Changed, Unattended: true}
	default:
		return fmt.Errorf("a scan cannot be followed by %q", a.Then)
	}
	var opts *river.InsertOpts
	var md map[string]any
	if json.Unmarshal(metadata, &md) == nil {
		if run, ok := md[schedule.MetadataRun].(string); ok {
			b, _ := json.Marshal(map[string]string{schedule.MetadataRun: run})
			opts = &river.InsertOpts{Metadata: b}
		}
	}
	_, err := engine.InsertWith(ctx, args, opts)
	return err
}

// probeObserver and jobObserver keep a nil *metrics.Metrics out of the
// interfaces, so that the scanner and the engine skip their hooks entirely.
func probeObserver(m *metrics.Metrics) library.ProbeObserver {
	if m == nil {
		return nil
	}
	return m
}

func applyObserver(m *metrics.Metrics) plans.ApplyObserver {
	if m == nil {
		return nil
	}
	return m
}

func jobObserver(m *metrics.Metrics) jobs.Observer {
	if m == nil {
		return nil
	}
	return m
}

// Close checkpoints and closes the catalogue. The engine must be stopped (or never
// started) first.
func (a *App) Close(ctx context.Context) error {
	_ = a.Jobs.Close()
	if a.pool != nil {
		a.pool.Close()
	}
	return a.Store.Close(ctx)
}
