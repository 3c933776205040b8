package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// JobQueue is the store's part of River's tables: the reads and repairs vpo needs
// that River's client has no API for (counts by state, jobs due since a time, and
// the startup repair of jobs a dead process left running). Everything else about
// jobs goes through River's client (JobGet, JobList, JobCancel, Insert). Its SQL
// is the dialect's, in queries_sqlite.go, beside the catalogue's.
type JobQueue struct {
	db *sql.DB
	q  *queries
	// node is River's client ID of this process on PostgreSQL: Running lists
	// only the running jobs it was the last to attempt.
	node string
}

// NewJobQueue returns the job queue queries over db, the pool River uses.
func NewJobQueue(db *sql.DB) *JobQueue { return &JobQueue{db: db, q: &sqliteQueries} }

// NewPostgresJobQueue returns the job queue queries on PostgreSQL over db (a
// database/sql view of River's pgx pool). node is this process's River client
// ID: JobQueueTx.Running lists only the running jobs it attempted last, since
// other nodes' jobs are theirs.
func NewPostgresJobQueue(db *sql.DB, node string) *JobQueue {
	return &JobQueue{db: db, q: &postgresQueries, node: node}
}

// riverTime formats t as River's SQLite driver stores timestamps (UTC, millisecond
// precision, SQLite's "YYYY-MM-DD HH:MM:SS.SSS"), so that text comparisons with
// River's columns are correct.
func riverTime(t time.Time) string {
	return t.UTC().Round(time.Millisecond).Format("2006-01-02 15:04:05.000")
}

// Counts returns how many jobs are queued (any queued state, including scheduled
// for later) and running, in one query on River's (state, queue, priority,
// scheduled_at, id) index.
func (j *JobQueue) Counts(ctx context.Context) (queued, running int, err error) {
	if err := j.db.QueryRowContext(ctx, j.q.jobCounts).Scan(&queued, &running); err != nil {
		return 0, 0, fmt.Errorf("count jobs: %w", Classify(err))
	}
	return queued, running, nil
}

// CountDue returns how many jobs are waiting to run (available, retryable or
// scheduled) and were due at or before t.
func (j *JobQueue) CountDue(ctx context.Context, t time.Time) (int, error) {
	var n int
	if err := j.db.QueryRowContext(ctx, j.q.jobsDue, riverTime(t)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count due jobs: %w", Classify(err))
	}
	return n, nil
}

// Run is what the job queue knows of the jobs marked with one metadata value
// (a root's scheduled runs).
type Run struct {
	// Active is how many of them are queued or running.
	Active int
	// LastID is the newest job of the kind asked for (0: none), with its River
	// state, creation and end (zero while not finished).
	LastID      int64
	LastState   string
	LastCreated time.Time
	LastEnded   time.Time
}

// RunStatus reports on the jobs whose metadata has value at the JSON path key
// ("$.vpo_run"), and on the newest of them of the given kind.
func (j *JobQueue) RunStatus(ctx context.Context, key, value, kind string) (Run, error) {
	var r Run
	if err := j.db.QueryRowContext(ctx, j.q.runActive, key, value).Scan(&r.Active); err != nil {
		return r, fmt.Errorf("count the jobs of a run: %w", Classify(err))
	}
	var created, ended string
	err := j.db.QueryRowContext(ctx, j.q.runLast, key, value, kind).Scan(&r.LastID, &r.LastState, &created, &ended)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r, nil
	case err != nil:
		return r, fmt.Errorf("find the last job of a run: %w", Classify(err))
	}
	r.LastCreated = parseTime(created)
	if ended != "" {
		r.LastEnded = parseTime(ended)
	}
	return r, nil
}

// StrandedJob is a job in state running.
type StrandedJob struct {
	ID      int64
	Kind    string
	Attempt int
	// Counter is the integer at the metadata key given to Running (0 if absent).
	Counter int
	// CancelRequested is set when River recorded a cancel request.
	CancelRequested bool
}

// RequeuedJob is a job that JobQueueTx.RequeueRetryable made available.
type RequeuedJob struct {
	ID      int64
	Kind    string
	Attempt int
}

// JobQueueTx is a JobQueue transaction, from JobQueue.WithTx.
type JobQueueTx struct {
	tx   *sql.Tx
	q    *queries
	node string
}

// WithTx runs fn in one write transaction, committed if fn returns nil.
func (j *JobQueue) WithTx(ctx context.Context, fn func(tx *JobQueueTx) error) error {
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", Classify(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := fn(&JobQueueTx{tx: tx, q: j.q, node: j.node}); err != nil {
		return Classify(err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", Classify(err))
	}
	return nil
}

// Running returns the jobs in state running, in id order, reading counterKey (a
// top-level metadata key) into each one's Counter. Malformed metadata reads as
// empty, as River's own rescuer tolerates it.
func (tx *JobQueueTx) Running(ctx context.Context, counterKey string) ([]StrandedJob, error) {
	args := []any{jsonKeyPath(counterKey)}
	if tx.q == &postgresQueries {
		args = append(args, tx.node)
	}
	rows, err := tx.tx.QueryContext(ctx, tx.q.runningJobs, args...)
	if err != nil {
		return nil, fmt.Errorf("select running jobs: %w", err)
	}
	defer rows.Close()
	var out []StrandedJob
	for rows.Next() {
		var s StrandedJob
		if err := rows.Scan(&s.ID, &s.Kind, &s.Attempt, &s.Counter, &s.CancelRequested); err != nil {
			return nil, fmt.Errorf("select running jobs: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("select running jobs: %w", err)
	}
	return out, nil
}

// Finalize moves running job id to state (River's "cancelled" or "discarded"),
// finalized at, appending attemptError (a JSON rivertype.AttemptError) to its
// errors. A job no longer running is left alone.
func (tx *JobQueueTx) Finalize(ctx context.Context, id int64, state string, attemptError []byte, at time.Time) error {
	if _, err := tx.tx.ExecContext(ctx, tx.q.finalizeRunningJob, string(attemptError), riverTime(at), id, state); err != nil {
		return fmt.Errorf("finalize job %d: %w", id, err)
	}
	return nil
}

// Requeue makes running job id available at, appending attemptError to its errors
// and setting the metadata counterKey to counter. A job no longer running is left
// alone.
func (tx *JobQueueTx) Requeue(ctx context.Context, id int64, attemptError []byte, at time.Time, counterKey string, counter int) error {
	if _, err := tx.tx.ExecContext(ctx, tx.q.requeueRunningJob, string(attemptError), riverTime(at), id, counter, jsonKeyPath(counterKey)); err != nil {
		return fmt.Errorf("requeue job %d: %w", id, err)
	}
	return nil
}

// RequeueRetryable makes available at the retryable jobs whose last error
// contains marker, and returns them.
func (tx *JobQueueTx) RequeueRetryable(ctx context.Context, marker string, at time.Time) ([]RequeuedJob, error) {
	rows, err := tx.tx.QueryContext(ctx, tx.q.requeueRetryable, riverTime(at), "%"+marker+"%")
	if err != nil {
		return nil, fmt.Errorf("requeue retryable jobs: %w", err)
	}
	defer rows.Close()
	var out []RequeuedJob
	for rows.Next() {
		var r RequeuedJob
		if err := rows.Scan(&r.ID, &r.Kind, &r.Attempt); err != nil {
			return nil, fmt.Errorf("requeue retryable jobs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("requeue retryable jobs: %w", err)
	}
	return out, nil
}

// jsonKeyPath is the JSON path of a top-level object key, quoted so that any
// characters (like the colon of "vpo:crash_requeues") are safe.
func jsonKeyPath(key string) string { return `$."` + key + `"` }
