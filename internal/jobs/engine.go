package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/vpo-project/vpo/internal/catalog"
)

// River tuning for a single process on SQLite. See the package documentation.
const (
	// FetchCooldown is the minimum time between two fetches of the job
	// queue. River's default (100 ms) adds that much latency to every burst.
	FetchCooldown = 20 * time.Millisecond

	// FetchPollInterval is how often the queue is polled when nothing woke the
	// producer up. Every insert of this process wakes it at once (River's
	// poll-only mode: see pollOnlyDriver), so the poll only finds jobs that
	// another process inserted (a CLI command beside the daemon), scheduled
	// jobs that came due, and retries. Measured idle cost: 50 ms polls plus
	// riversqlite's 50 ms notification poll were ~4% of a core; see
	// docs/benchmarks.md, "Idle CPU".
	FetchPollInterval = time.Second

	// DefaultJobTimeout is the per-job timeout used when Config.JobTimeout is
	// zero or negative.
	DefaultJobTimeout = 6 * time.Hour

	// DefaultHardStopTimeout is used when Config.HardStopTimeout is zero.
	DefaultHardStopTimeout = 5 * time.Second

	// DefaultAliveThreshold is used when Config.AliveThreshold is zero.
	DefaultAliveThreshold = 30 * time.Second

	// DefaultRetention is used when Config.Retention is zero.
	DefaultRetention = 7 * 24 * time.Hour

	// rescueMargin is added to JobTimeout to get River's RescueStuckJobsAfter.
	rescueMargin = 30 * time.Minute

	// queueName is the single River queue vpo uses.
	queueName = river.QueueDefault
)

// Errors returned by the engine.
var (
	// ErrNotFound is returned by Get and Cancel when no job has the given ID.
	ErrNotFound = errors.New("jobs: job not found")

	// ErrStarted is returned by RequeueInterrupted once the engine has been
	// started (it would requeue the engine's own running jobs), and by Start
	// when called twice.
	ErrStarted = errors.New("jobs: engine already started")

	// ErrStopped is returned by Start after Stop: an Engine is single-use.
	ErrStopped = errors.New("jobs: engine stopped")

	// ErrInvalidState is returned by List for a state filter that is not one
	// of the vpo state words.
	ErrInvalidState = errors.New("jobs: invalid state filter")
)

// Config configures an Engine.
type Config struct {
	// Workers is the maximum number of jobs run concurrently. Must be >= 1.
	Workers int

	// JobTimeout bounds each job: its context is cancelled after this long
	// and the attempt fails. Zero or negative means DefaultJobTimeout (6 h);
	// the timeout is never infinite. A worker may override it per kind with a
	// Timeout() method (river.WorkerDefaults), but must stay below
	// JobTimeout + 30 min: past that River's rescuer (RescueStuckJobsAfter)
	// would consider the job dead and run it a second time.
	JobTimeout time.Duration

	// Logger is the component logger ("vpo.jobs"), given by the caller. River's
	// own log lines go to it too, with the attribute lib=river and River's
	// routine Info lines demoted to Debug. Nil discards.
	Logger *slog.Logger

	// MaxAttempts is the default number of attempts of a job (the first run
	// included) before it is "failed". Zero means River's default (25, with
	// exponential backoff). Job kinds can override it through InsertOpts.
	MaxAttempts int

	// HardStopTimeout bounds how long Stop waits for workers to return once
	// their contexts are cancelled. Zero means DefaultHardStopTimeout (5 s).
	HardStopTimeout time.Duration

	// AliveThreshold is how long a due job may stay queued while a worker slot
	// is free before Alive reports the engine as not taking work. It is also
	// the grace period after Start. Zero means DefaultAliveThreshold (30 s).
	AliveThreshold time.Duration

	// Retention is how long finished jobs (completed, failed, cancelled) are
	// kept before River's cleaner deletes them. Zero means DefaultRetention
	// (7 days); negative keeps them forever.
	Retention time.Duration

	// Periodic are River periodic jobs (the roots' scheduled rescans), run by
	// the started engine.
	Periodic []*river.PeriodicJob

	// Observer, when not nil, is told of every job attempt that starts and ends
	// (the daemon's metrics).
	Observer Observer

	// ClientID is River's client ID, recorded in each job's attempted_by: on
	// PostgreSQL the node's name, so that a restarting node re-queues only the
	// jobs it was running. Empty: River's default (host name and start time).
	ClientID string

	// stuckThreshold overrides River's JobStuckThreshold (time past the job
	// timeout after which a job that did not return is "stuck"). Tests only.
	stuckThreshold time.Duration
}

// Observer is told when job attempts start and end; internal/metrics implements
// it. outcome is "completed", "failed", "cancelled" or "interrupted" (by shutdown).
type Observer interface {
	ObserveJobStart(kind string)
	ObserveJob(kind, outcome string, took time.Duration)
}

// withDefaults returns c with zero values replaced by defaults, or an error
// for invalid values.
func (c Config) withDefaults() (Config, error) {
	if c.Workers < 1 {
		return c, fmt.Errorf("jobs: Config.Workers must be >= 1, got %d", c.Workers)
	}
	if c.Workers > river.QueueNumWorkersMax {
		return c, fmt.Errorf("jobs: Config.Workers must be <= %d, got %d", river.QueueNumWorkersMax, c.Workers)
	}
	if c.MaxAttempts < 0 {
		return c, fmt.Errorf("jobs: Config.MaxAttempts must be >= 0, got %d", c.MaxAttempts)
	}
	if c.JobTimeout <= 0 {
		c.JobTimeout = DefaultJobTimeout
	}
	if c.HardStopTimeout <= 0 {
		c.HardStopTimeout = DefaultHardStopTimeout
	}
	if c.AliveThreshold <= 0 {
		c.AliveThreshold = DefaultAliveThreshold
	}
	if c.Retention == 0 {
		c.Retention = DefaultRetention
	}
	if c.Retention < 0 {
		c.Retention = -1 // River's "never delete"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// engine lifecycle states.
const (
	stateNew = iota
	stateStarted
	stateStopping
	stateStopped
)

// Engine runs vpo's jobs. It wraps a river.Client on the catalogue's *sql.DB.
//
// Lifecycle: New, then (at daemon startup) RequeueInterrupted, then Start,
// and finally Stop. An Engine is single-use: it cannot be started again after
// Stop. Insert, Get, List, Cancel and Counts work in any state, including
// before Start (jobs inserted then wait in the queue).
type Engine struct {
	db     *sql.DB
	ownDB  bool // db is the engine's own (PostgreSQL): Close closes it
	jq     *catalog.JobQueue
	cfg    Config
	log    *slog.Logger
	client riverClient
	// cooldown and poll are River's FetchCooldown and FetchPollInterval for
	// the backend.
	cooldown, poll time.Duration

	mu        sync.Mutex
	state     int
	startedAt time.Time
	stopDone  chan struct{} // closed when the first Stop returns
	stopErr   error

	// interrupting is set just before Stop cancels running jobs, so the
	// middleware can tell a shutdown cancellation from other ones.
	interrupting atomic.Bool

	// active and stuck track jobs being worked by this process (IDs), for
	// Alive. stuck holds the active jobs River reported as stuck (past their
	// timeout and not returning).
	activeMu sync.Mutex
	active   map[int64]struct{}
	stuck    map[int64]struct{}
}

// New builds an Engine on db (the catalogue's database, already migrated with
// Migrate). register adds vpo's workers to the River worker bundle, e.g.
//
//	jobs.New(db, cfg, func(w *river.Workers) { river.AddWorker(w, &ProbeWorker{...}) })
//
// Nothing runs until Start.
func New(db *sql.DB, cfg Config, register func(w *river.Workers)) (*Engine, error) {
	if db == nil {
		return nil, errors.New("jobs: nil *sql.DB")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	if register != nil {
		register(workers)
	}

	e := &Engine{
		db:       db,
		jq:       catalog.NewJobQueue(db),
		cfg:      cfg,
		log:      cfg.Logger,
		active:   make(map[int64]struct{}),
		stuck:    make(map[int64]struct{}),
		cooldown: FetchCooldown,
		poll:     FetchPollInterval,
	}
	client, err := river.NewClient[*sql.Tx](pollOnlyDriver{riversqlite.New(db)}, e.riverConfig(workers))
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	e.client = client
	return e, nil
}

// riverConfig is the River configuration of e, on either backend.
func (e *Engine) riverConfig(workers *river.Workers) *river.Config {
	cfg := e.cfg
	return &river.Config{
		ID:                          cfg.ClientID,
		CancelledJobRetentionPeriod: cfg.Retention,
		CompletedJobRetentionPeriod: cfg.Retention,
		DiscardedJobRetentionPeriod: cfg.Retention,
		FetchCooldown:               e.cooldown,
		FetchPollInterval:           e.poll,
		JobStuckHandler:             e.onStuck,
		JobStuckThreshold:           cfg.stuckThreshold,
		JobTimeout:                  cfg.JobTimeout,
		Logger:                      slog.New(quietHandler{cfg.Logger.Handler()}).With(slog.String("lib", "river")),
		MaxAttempts:                 cfg.MaxAttempts,
		PeriodicJobs:                cfg.Periodic,
		Middleware:                  []rivertype.Middleware{&engineMiddleware{e: e}},
		Queues: map[string]river.QueueConfig{
			queueName: {MaxWorkers: cfg.Workers},
		},
		RescueStuckJobsAfter: cfg.JobTimeout + rescueMargin,
		Workers:              workers,
	}
}

// riverClient is what the engine uses of River's client, whichever its driver
// (river.Client[*sql.Tx] on SQLite, river.Client[pgx.Tx] on PostgreSQL).
type riverClient interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	Stopped() <-chan struct{}
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobCancel(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// pollOnlyDriver is riversqlite's driver without its listener. riversqlite
// emulates LISTEN/NOTIFY with an outbox table that every client polls every 50
// ms, idle or not, and River then wakes a producer on an insert only through
// that outbox, at most once per FetchCooldown. Without a listener River runs in
// poll-only mode: an insert made by this process wakes the producer directly,
// in memory (Client.Insert's notifyProducerWithoutListenerJobFetch), with no
// outbox row to write or poll. vpo's jobs are inserted by the daemon itself (the
// API, the watcher, the schedules, follow-up jobs), so they start at once;
// jobs inserted by another process are found by the FetchPollInterval poll, and
// a cancel asked by another process is seen by River's 2 s cancel poll.
type pollOnlyDriver struct{ *riversqlite.Driver }

// SupportsListener reports false: River polls instead of listening.
func (pollOnlyDriver) SupportsListener() bool { return false }

// SupportsListenNotify reports false: River writes no notification rows.
func (pollOnlyDriver) SupportsListenNotify() bool { return false }

// Start starts fetching and working jobs. The engine's lifetime is NOT tied to
// ctx (only its values are kept): cancelling ctx would make River hard-stop
// and cancel running jobs at once, skipping Stop's soft period, so call Stop
// to stop. Start returns ErrStarted if called twice and ErrStopped after Stop.
func (e *Engine) Start(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch e.state {
	case stateStarted:
		return ErrStarted
	case stateStopping, stateStopped:
		return ErrStopped
	}
	if err := e.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("jobs: start river client: %w", err)
	}
	e.state = stateStarted
	e.startedAt = time.Now()
	e.log.InfoContext(ctx, "job engine started",
		slog.Int("workers", e.cfg.Workers),
		slog.Duration("job_timeout", e.cfg.JobTimeout),
		slog.Duration("fetch_cooldown", e.cooldown),
		slog.Duration("fetch_poll_interval", e.poll),
	)
	return nil
}

// Stop stops the engine: it stops fetching new jobs, lets running jobs finish
// for up to soft, then cancels the contexts of those still running and waits
// up to Config.HardStopTimeout for their workers to return. Jobs interrupted
// this way go back to the queue (River sets them `available`, not counting the
// attempt) and run again at the next start.
//
// If ctx ends first, running jobs are cancelled at once and Stop returns
// ctx's error. If workers still have not returned after the hard timeout,
// Stop returns an error; their jobs stay `running` in the database and are
// requeued by RequeueInterrupted at the next start.
//
// Stop is idempotent (a call made while another is in progress waits for it
// and returns its result; a call after a successful Stop returns nil; a call
// after a failed Stop tries again) and safe before Start (the engine then can
// no longer be started).
func (e *Engine) Stop(ctx context.Context, soft time.Duration) error {
	e.mu.Lock()
	switch {
	case e.state == stateStopped:
		e.mu.Unlock()
		return nil
	case e.stopDone != nil:
		done := e.stopDone
		e.mu.Unlock()
		select {
		case <-done:
			e.mu.Lock()
			defer e.mu.Unlock()
			return e.stopErr
		case <-ctx.Done():
			return ctx.Err()
		}
	case e.state == stateNew:
		e.state = stateStopped
		e.mu.Unlock()
		return nil
	}
	e.state = stateStopping
	e.stopDone = make(chan struct{})
	done := e.stopDone
	e.mu.Unlock()

	err := e.stop(ctx, soft)

	e.mu.Lock()
	e.stopErr = err
	if err == nil {
		e.state = stateStopped
	} else {
		// Workers still running: let a later Stop try again.
		e.stopDone = nil
	}
	e.mu.Unlock()
	close(done)
	return err
}

// stop does the work of Stop; see there.
func (e *Engine) stop(ctx context.Context, soft time.Duration) error {
	start := time.Now()
	e.log.InfoContext(ctx, "job engine stopping", slog.Duration("soft", soft), slog.Int("running", e.activeCount()))

	if soft > 0 {
		softCtx, cancel := context.WithTimeout(ctx, soft)
		err := e.client.Stop(softCtx)
		cancel()
		if err == nil {
			e.log.InfoContext(ctx, "job engine stopped", slog.Duration("took", time.Since(start)))
			return nil
		}
	}

	// Soft period over (or ctx done): cancel running jobs and wait for them.
	n := e.activeCount()
	e.interrupting.Store(true)
	e.log.WarnContext(ctx, "cancelling running jobs", slog.Int("running", n), slog.Duration("hard_timeout", e.cfg.HardStopTimeout))
	hardCtx, cancel := context.WithTimeout(ctx, e.cfg.HardStopTimeout)
	defer cancel()
	if err := e.client.StopAndCancel(hardCtx); err != nil {
		left := e.activeIDs()
		e.log.ErrorContext(ctx, "job workers did not return after cancellation; their jobs will be requeued at next start",
			slog.Any("job_ids", left), slog.String("error", err.Error()))
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("jobs: %d worker(s) did not return within %s of cancellation: %w", len(left), e.cfg.HardStopTimeout, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	e.log.InfoContext(ctx, "job engine stopped", slog.Duration("took", time.Since(start)), slog.Int("interrupted", n))
	return nil
}

// Insert queues a job and returns its ID. args' kind must have a worker
// registered in New. Per-kind options (max attempts, priority, uniqueness)
// come from args' InsertOpts method, if any. The job starts within tens of
// milliseconds if a worker slot is free and the engine is started.
func (e *Engine) Insert(ctx context.Context, args river.JobArgs) (int64, error) {
	res, err := e.client.Insert(ctx, args, nil)
	if err != nil {
		return 0, fmt.Errorf("jobs: insert %s: %w", args.Kind(), catalog.Classify(err))
	}
	return res.Job.ID, nil
}

// InsertWith is Insert with River's insert options (metadata, a schedule).
func (e *Engine) InsertWith(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (int64, error) {
	res, err := e.client.Insert(ctx, args, opts)
	if err != nil {
		return 0, fmt.Errorf("jobs: insert %s: %w", args.Kind(), catalog.Classify(err))
	}
	return res.Job.ID, nil
}

// onStuck is River's JobStuckHandler: a job ran past its timeout plus River's
// stuck threshold without returning. It keeps its worker slot.
func (e *Engine) onStuck(_ context.Context, p river.JobStuckHandlerParams) river.JobStuckHandlerResult {
	e.activeMu.Lock()
	if _, ok := e.active[p.ID]; ok {
		e.stuck[p.ID] = struct{}{}
	}
	e.activeMu.Unlock()
	e.log.Error("job is stuck: past its timeout and not returning; it keeps a worker slot",
		slog.Int64("job_id", p.ID), slog.String("kind", p.Kind), slog.Int("stuck_total", p.TotalStuckJobs))
	return river.JobStuckHandlerResult{}
}

func (e *Engine) jobBegin(id int64) {
	e.activeMu.Lock()
	e.active[id] = struct{}{}
	e.activeMu.Unlock()
}

func (e *Engine) jobEnd(id int64) {
	e.activeMu.Lock()
	delete(e.active, id)
	delete(e.stuck, id)
	e.activeMu.Unlock()
}

func (e *Engine) activeCount() int {
	e.activeMu.Lock()
	defer e.activeMu.Unlock()
	return len(e.active)
}

// activeCounts returns the jobs being worked by this process and how many of
// them are stuck.
func (e *Engine) activeCounts() (active, stuck int) {
	e.activeMu.Lock()
	defer e.activeMu.Unlock()
	return len(e.active), len(e.stuck)
}

func (e *Engine) activeIDs() []int64 {
	e.activeMu.Lock()
	defer e.activeMu.Unlock()
	ids := make([]int64, 0, len(e.active))
	for id := range e.active {
		ids = append(ids, id)
	}
	return ids
}

// interruptedMarker is put in the error of a job interrupted by shutdown whose
// worker did not itself return ctx.Err(); RequeueInterrupted recognises it.
const interruptedMarker = "interrupted by shutdown"

// engineMiddleware wraps every job run. It tracks the jobs being worked (for
// Alive and Stop's logs) and enforces the shutdown contract: when Stop has
// cancelled a job's context, the error returned must wrap context.Canceled so
// that River requeues the job instead of recording a failed attempt.
type engineMiddleware struct {
	river.MiddlewareDefaults
	e *Engine
}

// Work implements rivertype.WorkerMiddleware.
func (m *engineMiddleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	m.e.jobBegin(job.ID)
	defer m.e.jobEnd(job.ID)
	log := m.e.log.With(slog.Int64("job_id", job.ID), slog.String("kind", job.Kind), slog.Int("attempt", job.Attempt))
	log.DebugContext(ctx, "job started")
	obs := m.e.cfg.Observer
	if obs != nil {
		obs.ObserveJobStart(job.Kind)
	}
	start := time.Now()

	err := doInner(ctx)
	elapsed := time.Since(start)
	took := slog.Duration("took", elapsed)
	outcome := "failed"
	var cancelErr *rivertype.JobCancelError
	switch {
	case err == nil:
		outcome = "completed"
		log.DebugContext(ctx, "job finished", took)
	case ctx.Err() != nil && errors.Is(context.Cause(ctx), rivertype.ErrJobCancelledRemotely):
		outcome = "cancelled"
		log.InfoContext(ctx, "job cancelled", took)
	case ctx.Err() != nil && m.e.interrupting.Load() && errors.Is(ctx.Err(), context.Canceled):
		// Cancelled by Stop.
		if !errors.Is(err, context.Canceled) {
			err = fmt.Errorf("%s: %w (worker returned: %w)", interruptedMarker, ctx.Err(), err)
		}
		outcome = "interrupted"
		log.InfoContext(ctx, "job interrupted by shutdown; it will run again at next start", took)
	default:
		if errors.As(err, &cancelErr) {
			outcome = "cancelled" // the worker refused the job (river.JobCancel)
		}
		log.WarnContext(ctx, "job attempt failed", took,
			slog.Int("max_attempts", job.MaxAttempts), slog.String("error", err.Error()))
	}
	if obs != nil {
		obs.ObserveJob(job.Kind, outcome, elapsed)
	}
	return err
}

// quietHandler passes River's log records to vpo's handler with Info demoted
// to Debug: River logs routine events (client started, producer job counts
// every 5 s while busy, job errors, which the middleware logs itself) at Info.
// Warnings and errors pass unchanged.
type quietHandler struct{ h slog.Handler }

func demote(l slog.Level) slog.Level {
	if l == slog.LevelInfo {
		return slog.LevelDebug
	}
	return l
}

// Enabled implements slog.Handler.
func (q quietHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return q.h.Enabled(ctx, demote(l))
}

// Handle implements slog.Handler.
func (q quietHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Level = demote(r.Level)
	return q.h.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (q quietHandler) WithAttrs(as []slog.Attr) slog.Handler { return quietHandler{q.h.WithAttrs(as)} }

// WithGroup implements slog.Handler.
func (q quietHandler) WithGroup(name string) slog.Handler { return quietHandler{q.h.WithGroup(name)} }
