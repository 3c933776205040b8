package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/vpo-project/vpo/internal/catalog"
)

// vpo's job state words.
const (
	StateQueued    = "queued"    // River: available, scheduled, retryable, pending
	StateRunning   = "running"   // River: running
	StateCompleted = "completed" // River: completed
	StateFailed    = "failed"    // River: discarded (errored on its last attempt)
	StateCancelled = "cancelled" // River: cancelled
)

// States are vpo's job state words.
var States = []string{StateQueued, StateRunning, StateCompleted, StateFailed, StateCancelled}

// riverStatesByVPO maps each vpo state word to the River states it covers.
var riverStatesByVPO = map[string][]rivertype.JobState{
	StateQueued: {
		rivertype.JobStateAvailable, rivertype.JobStateScheduled,
		rivertype.JobStateRetryable, rivertype.JobStatePending,
	},
	StateRunning:   {rivertype.JobStateRunning},
	StateCompleted: {rivertype.JobStateCompleted},
	StateFailed:    {rivertype.JobStateDiscarded},
	StateCancelled: {rivertype.JobStateCancelled},
}

// StateOf returns vpo's word for a River job state ("" for an unknown one).
func StateOf(s rivertype.JobState) string {
	switch s {
	case rivertype.JobStateAvailable, rivertype.JobStateScheduled,
		rivertype.JobStateRetryable, rivertype.JobStatePending:
		return StateQueued
	case rivertype.JobStateRunning:
		return StateRunning
	case rivertype.JobStateCompleted:
		return StateCompleted
	case rivertype.JobStateDiscarded:
		return StateFailed
	case rivertype.JobStateCancelled:
		return StateCancelled
	}
	return ""
}

// Job is vpo's view of a River job.
type Job struct {
	ID    int64  `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"` // one of the State* words
	// Args are the job's arguments as stored (JSON).
	Args json.RawMessage `json:"args"`
	// Attempt is the number of the current or last attempt (0 before the
	// first run). An attempt interrupted by Stop is not counted.
	Attempt     int `json:"attempt"`
	MaxAttempts int `json:"max_attempts"`
	// Errors are the error messages of failed attempts, oldest first.
	Errors      []string   `json:"errors,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ScheduledAt time.Time  `json:"scheduled_at"`
	AttemptedAt *time.Time `json:"attempted_at,omitempty"`
	FinalizedAt *time.Time `json:"finalized_at,omitempty"`
	// Metadata is River's job metadata (JSON object).
	Metadata json.RawMessage `json:"metadata"`
}

// jobFromRow converts a River row to a Job.
func jobFromRow(r *rivertype.JobRow) Job {
	j := Job{
		ID:          r.ID,
		Kind:        r.Kind,
		State:       StateOf(r.State),
		Args:        json.RawMessage(r.EncodedArgs),
		Attempt:     r.Attempt,
		MaxAttempts: r.MaxAttempts,
		CreatedAt:   r.CreatedAt,
		ScheduledAt: r.ScheduledAt,
		AttemptedAt: r.AttemptedAt,
		FinalizedAt: r.FinalizedAt,
		Metadata:    json.RawMessage(r.Metadata),
	}
	for _, ae := range r.Errors {
		j.Errors = append(j.Errors, ae.Error)
	}
	return j
}

// Get returns the job with the given ID, or ErrNotFound.
func (e *Engine) Get(ctx context.Context, id int64) (Job, error) {
	row, err := e.client.JobGet(ctx, id)
	if err != nil {
		if errors.Is(err, river.ErrNotFound) {
			return Job{}, ErrNotFound
		}
		return Job{}, fmt.Errorf("jobs: get %d: %w", id, catalog.Classify(err))
	}
	return jobFromRow(row), nil
}

// ListParams filters and pages List.
type ListParams struct {
	// State is a vpo state word (StateQueued, ...) or "" for all.
	State string
	// Kind is a job kind or "" for all.
	Kind string
	// Limit is the page size: default 50, at most 1000.
	Limit int
	// After is a cursor: only jobs with an ID lower than After are listed
	// (pass the ID of the last job of the previous page). 0 starts at the
	// newest job.
	After int64
}

// List returns jobs newest first (by descending ID), filtered by p.
func (e *Engine) List(ctx context.Context, p ListParams) ([]Job, error) {
	limit := p.Limit
	switch {
	case limit <= 0:
		limit = 50
	case limit > 1000:
		limit = 1000
	}
	lp := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit)
	if p.State != "" {
		states, ok := riverStatesByVPO[p.State]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrInvalidState, p.State)
		}
		lp = lp.States(states...)
	}
	if p.Kind != "" {
		lp = lp.Kinds(p.Kind)
	}
	if p.After > 0 {
		lp = lp.After(river.JobListCursorFromJob(&rivertype.JobRow{ID: p.After}))
	}
	res, err := e.client.JobList(ctx, lp)
	if err != nil {
		return nil, fmt.Errorf("jobs: list: %w", catalog.Classify(err))
	}
	jobs := make([]Job, 0, len(res.Jobs))
	for _, r := range res.Jobs {
		jobs = append(jobs, jobFromRow(r))
	}
	return jobs, nil
}

// Cancel cancels a job. A queued job becomes "cancelled" at once. A running
// job is marked for cancellation and its context is cancelled; the returned
// Job still says "running", and the job turns "cancelled" when its worker
// returns an error (or "completed" if it returns nil). Cancelling a finished
// job changes nothing. Returns ErrNotFound for an unknown ID.
func (e *Engine) Cancel(ctx context.Context, id int64) (Job, error) {
	row, err := e.client.JobCancel(ctx, id)
	if err != nil {
		if errors.Is(err, river.ErrNotFound) {
			return Job{}, ErrNotFound
		}
		return Job{}, fmt.Errorf("jobs: cancel %d: %w", id, catalog.Classify(err))
	}
	e.log.InfoContext(ctx, "job cancel requested", slog.Int64("job_id", id), slog.String("state", string(row.State)))
	return jobFromRow(row), nil
}

// Counts returns how many jobs are queued (any queued state, including
// scheduled for later) and running. River's client has no count, so this is
// the store's query (catalog.JobQueue).
func (e *Engine) Counts(ctx context.Context) (queued, running int, err error) {
	queued, running, err = e.queue().Counts(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("jobs: %w", err)
	}
	return queued, running, nil
}

// KindCount is how many jobs of a kind are in a vpo state.
type KindCount struct {
	Kind  string
	State string // one of States
	N     int64
}

// CountsByKind counts the jobs by kind and vpo state, finished jobs still kept
// (Config.Retention) included, for the metrics scrape: one grouped query on
// River's table (catalog.JobQueue.CountByKind).
func (e *Engine) CountsByKind(ctx context.Context) ([]KindCount, error) {
	rows, err := e.queue().CountByKind(ctx)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	type key struct{ kind, state string }
	sums := map[key]int64{}
	var order []key
	for _, r := range rows {
		k := key{r.Kind, StateOf(rivertype.JobState(r.State))}
		if k.state == "" {
			continue // a River state this vpo does not know
		}
		if _, seen := sums[k]; !seen {
			order = append(order, k)
		}
		sums[k] += r.N
	}
	out := make([]KindCount, 0, len(order))
	for _, k := range order {
		out = append(out, KindCount{Kind: k.kind, State: k.state, N: sums[k]})
	}
	return out, nil
}

// queue is the store's queries on River's tables, over the engine's pool.
func (e *Engine) queue() *catalog.JobQueue { return e.jq }

// RunStatus reports on the jobs whose River metadata has value at key (a
// top-level key), and on the newest of them of kind (catalog.JobQueue.RunStatus).
func (e *Engine) RunStatus(ctx context.Context, key, value, kind string) (catalog.Run, error) {
	return e.queue().RunStatus(ctx, "$."+key, value, kind)
}

// maxCrashRequeues is how many times RequeueInterrupted requeues a job found
// running after the process died; the next time, the job is failed instead,
// so a job that kills the daemon cannot crash-loop it forever. It is generous:
// an operator's SIGKILL or a power cut is not the job's fault, and a scan must
// survive many of them (systemd's start rate limit stops a fast crash loop first).
const maxCrashRequeues = 25

// crashRequeuesKey is the metadata key counting crash requeues of a job.
const crashRequeuesKey = "vpo:crash_requeues"

// RequeueInterrupted must be called at daemon startup, before Start. vpo is
// the only process using its database, so a job still `running` belongs to a
// process that died; it is put back to `available` with scheduled_at = now
// (River's own rescuer would wait RescueStuckJobsAfter, i.e. hours). The
// interrupted attempt stays counted and an error saying so is appended to the
// job's errors. Exceptions: a job whose cancellation had been requested is
// cancelled instead, and a job already requeued this way maxCrashRequeues
// times is failed instead (it may be what kills the daemon).
//
// Jobs left `retryable` with an "interrupted by shutdown" error (a worker
// cancelled by Stop that River did not recognise as interrupted) are also
// made `available` now, skipping the retry backoff. (River v0.51.2 itself
// sets jobs interrupted by Stop back to `available` with scheduled_at = now,
// so they need nothing here.)
//
// It returns how many jobs were requeued and logs each one with its job_id.
// It returns ErrStarted once the engine has been started.
func (e *Engine) RequeueInterrupted(ctx context.Context) (int, error) {
	e.mu.Lock()
	st := e.state
	e.mu.Unlock()
	if st != stateNew {
		return 0, ErrStarted
	}

	now := time.Now()
	requeued := 0
	err := e.queue().WithTx(ctx, func(tx *catalog.JobQueueTx) error {
		running, err := tx.Running(ctx, crashRequeuesKey)
		if err != nil {
			return err
		}
		for _, s := range running {
			var msg string
			switch {
			case s.CancelRequested:
				msg = "vpo: the process died while this job was running; its cancellation had been requested, so it is cancelled"
			case s.Counter >= maxCrashRequeues:
				msg = fmt.Sprintf("vpo: the process died while this job was running (%d times now); giving up", s.Counter+1)
			default:
				msg = "vpo: the process died while this job was running; requeued at startup"
			}
			errJSON, err := json.Marshal(rivertype.AttemptError{At: now.UTC(), Attempt: s.Attempt, Error: msg})
			if err != nil {
				return err
			}
			switch {
			case s.CancelRequested:
				if err := tx.Finalize(ctx, s.ID, string(rivertype.JobStateCancelled), errJSON, now); err != nil {
					return err
				}
				e.log.WarnContext(ctx, "job left running by a dead process had a cancel request; cancelled it",
					slog.Int64("job_id", s.ID), slog.String("kind", s.Kind), slog.Int("attempt", s.Attempt))
			case s.Counter >= maxCrashRequeues:
				if err := tx.Finalize(ctx, s.ID, string(rivertype.JobStateDiscarded), errJSON, now); err != nil {
					return err
				}
				e.log.ErrorContext(ctx, "job left running by a dead process too many times; failed it",
					slog.Int64("job_id", s.ID), slog.String("kind", s.Kind), slog.Int("attempt", s.Attempt),
					slog.Int("crash_requeues", s.Counter))
			default:
				if err := tx.Requeue(ctx, s.ID, errJSON, now, crashRequeuesKey, s.Counter+1); err != nil {
					return err
				}
				requeued++
				e.log.WarnContext(ctx, "requeued job left running by a dead process",
					slog.Int64("job_id", s.ID), slog.String("kind", s.Kind), slog.Int("attempt", s.Attempt))
			}
		}

		// Retryable because a shutdown interrupted them: run again now.
		retried, err := tx.RequeueRetryable(ctx, interruptedMarker, now)
		if err != nil {
			return err
		}
		for _, r := range retried {
			requeued++
			e.log.WarnContext(ctx, "requeued job interrupted by the last shutdown",
				slog.Int64("job_id", r.ID), slog.String("kind", r.Kind), slog.Int("attempt", r.Attempt))
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("jobs: requeue interrupted: %w", err)
	}
	return requeued, nil
}

// Alive reports whether the workers are taking work, for /health and the
// systemd watchdog, with a short reason. It is false when:
//   - the engine is not started, or is stopping/stopped;
//   - River's client stopped without Stop being called;
//   - the database cannot be queried;
//   - some job has been queued and due for longer than Config.AliveThreshold
//     while a worker slot is free (fewer than Workers jobs are running in this
//     process, not counting jobs River reported stuck past their timeout).
//
// When all worker slots are busy, a waiting queue is normal and Alive is true
// without querying. Otherwise it runs one indexed count query. For
// AliveThreshold after Start, queued jobs are not held against the engine.
func (e *Engine) Alive(ctx context.Context) (bool, string) {
	e.mu.Lock()
	st, startedAt := e.state, e.startedAt
	e.mu.Unlock()
	switch st {
	case stateNew:
		return false, "job engine not started"
	case stateStopping, stateStopped:
		return false, "job engine stopped"
	}
	select {
	case <-e.client.Stopped():
		return false, "river client stopped unexpectedly"
	default:
	}

	active, stuck := e.activeCounts()
	live := active - stuck
	if live >= e.cfg.Workers {
		return true, fmt.Sprintf("ok: all %d workers busy", e.cfg.Workers)
	}

	now := time.Now()
	threshold := e.cfg.AliveThreshold
	waiting, err := e.queue().CountDue(ctx, now.Add(-threshold))
	if err != nil {
		return false, "job database query failed: " + err.Error()
	}
	if waiting > 0 && now.Sub(startedAt) >= threshold {
		reason := fmt.Sprintf("%d job(s) queued and due for over %s while only %d of %d workers are running",
			waiting, threshold, live, e.cfg.Workers)
		if stuck > 0 {
			reason += fmt.Sprintf(" (%d more stuck past their timeout)", stuck)
		}
		return false, reason
	}
	return true, fmt.Sprintf("ok: %d of %d workers running", active, e.cfg.Workers)
}
