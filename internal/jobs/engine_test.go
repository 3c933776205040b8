package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"go.uber.org/goleak"
)

func TestMigrateTwice(t *testing.T) {
	db := openTestDB(t) // migrates once
	for i := range 2 {
		if err := Migrate(t.Context(), db, testLogger(t)); err != nil {
			t.Fatalf("migrate #%d: %v", i+2, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM river_job`).Scan(&n); err != nil {
		t.Fatal(err)
	}
}

func TestStateOf(t *testing.T) {
	for _, tc := range []struct {
		river rivertype.JobState
		want  string
	}{
		{rivertype.JobStateAvailable, StateQueued},
		{rivertype.JobStateScheduled, StateQueued},
		{rivertype.JobStateRetryable, StateQueued},
		{rivertype.JobStatePending, StateQueued},
		{rivertype.JobStateRunning, StateRunning},
		{rivertype.JobStateCompleted, StateCompleted},
		{rivertype.JobStateDiscarded, StateFailed},
		{rivertype.JobStateCancelled, StateCancelled},
		{"bogus", ""},
	} {
		if got := StateOf(tc.river); got != tc.want {
			t.Errorf("StateOf(%q) = %q, want %q", tc.river, got, tc.want)
		}
	}
	// Every River state maps into riverStatesByVPO exactly once.
	seen := map[rivertype.JobState]int{}
	for word, states := range riverStatesByVPO {
		for _, s := range states {
			seen[s]++
			if StateOf(s) != word {
				t.Errorf("riverStatesByVPO[%q] has %q, but StateOf says %q", word, s, StateOf(s))
			}
		}
	}
	for _, s := range rivertype.JobStates() {
		if seen[s] != 1 {
			t.Errorf("River state %q appears %d times in riverStatesByVPO", s, seen[s])
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	db := openTestDB(t)
	for _, cfg := range []Config{{Workers: 0}, {Workers: -1}, {Workers: 1, MaxAttempts: -1}} {
		if _, err := New(db, cfg, nil); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// TestInsertLatency inserts jobs one at a time into a started engine and
// measures insert-to-start latency. Timings are logged, not asserted (only a
// generous bound for correctness).
func TestInsertLatency(t *testing.T) {
	db := openTestDB(t)
	started := make(chan time.Time, 1)
	e := newTestEngine(t, db, Config{Workers: 2}, func(ctx context.Context, job *river.Job[testArgs]) error {
		started <- time.Now()
		return nil
	})
	startEngine(t, e)
	time.Sleep(100 * time.Millisecond) // let the client settle (leader election, listener)

	const n = 50
	lat := make([]time.Duration, 0, n)
	ids := make([]int64, 0, n)
	for i := range n {
		t0 := time.Now()
		id := mustInsert(t, e, testArgs{Name: fmt.Sprint("latency-", i)})
		ids = append(ids, id)
		select {
		case t1 := <-started:
			lat = append(lat, t1.Sub(t0))
		case <-time.After(5 * time.Second):
			t.Fatalf("job %d did not start within 5s", id)
		}
		// Spread inserts so they don't all line up with the same poll phase.
		time.Sleep(time.Duration(13*i%47) * time.Millisecond)
	}
	for _, id := range ids {
		j := waitState(t, e, id, StateCompleted)
		if j.Attempt != 1 || j.FinalizedAt == nil || j.AttemptedAt == nil {
			t.Fatalf("completed job: %+v", j)
		}
	}
	slices.Sort(lat)
	t.Logf("insert-to-start latency over %d jobs: min %s, median %s, p90 %s, max %s",
		n, lat[0], lat[n/2], lat[n*9/10], lat[n-1])
}

func TestStates(t *testing.T) {
	for _, tc := range []struct {
		name string
		// run inserts a job into a started engine (whose worker is work) and
		// returns its ID, the expected final state and a check of the result.
		work  func(ctx context.Context, job *river.Job[testArgs]) error
		run   func(t *testing.T, e *Engine) int64
		want  string
		check func(t *testing.T, j Job)
	}{
		{
			name: "completed",
			run:  func(t *testing.T, e *Engine) int64 { return mustInsert(t, e, testArgs{Name: "ok"}) },
			want: StateCompleted,
			check: func(t *testing.T, j Job) {
				if j.Attempt != 1 || len(j.Errors) != 0 || string(j.Args) != `{"name":"ok"}` {
					t.Errorf("job: %+v, args %s", j, j.Args)
				}
			},
		},
		{
			name: "failed after max attempts 1",
			work: func(ctx context.Context, job *river.Job[testArgs]) error { return errors.New("boom: bad file") },
			run:  func(t *testing.T, e *Engine) int64 { return mustInsert(t, e, testArgs{Name: "bad", Max: 1}) },
			want: StateFailed,
			check: func(t *testing.T, j Job) {
				if j.Attempt != 1 || j.MaxAttempts != 1 || len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "boom: bad file") {
					t.Errorf("job: %+v", j)
				}
			},
		},
		{
			name: "cancel queued",
			work: func(ctx context.Context, job *river.Job[testArgs]) error {
				<-ctx.Done() // "block" occupies the only worker
				return ctx.Err()
			},
			run: func(t *testing.T, e *Engine) int64 {
				blocker := mustInsert(t, e, testArgs{Name: "block"})
				waitState(t, e, blocker, StateRunning)
				id := mustInsert(t, e, testArgs{Name: "queued"})
				j, err := e.Cancel(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if j.State != StateCancelled {
					t.Errorf("Cancel of a queued job returned state %q, want cancelled at once", j.State)
				}
				if _, err := e.Cancel(t.Context(), blocker); err != nil {
					t.Fatal(err)
				}
				return id
			},
			want: StateCancelled,
			check: func(t *testing.T, j Job) {
				if j.Attempt != 0 || j.FinalizedAt == nil {
					t.Errorf("job: %+v", j)
				}
			},
		},
		{
			name: "cancel running",
			work: func(ctx context.Context, job *river.Job[testArgs]) error {
				select {
				case <-ctx.Done():
					return fmt.Errorf("probe interrupted: %w", ctx.Err())
				case <-time.After(30 * time.Second):
					return errors.New("context was never cancelled")
				}
			},
			run: func(t *testing.T, e *Engine) int64 {
				id := mustInsert(t, e, testArgs{Name: "long"})
				waitState(t, e, id, StateRunning)
				t0 := time.Now()
				j, err := e.Cancel(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if j.State != StateRunning {
					t.Errorf("Cancel of a running job returned state %q, want running", j.State)
				}
				waitState(t, e, id, StateCancelled)
				t.Logf("running job cancelled %s after Cancel", time.Since(t0))
				return id
			},
			want: StateCancelled,
			check: func(t *testing.T, j Job) {
				if j.Attempt != 1 || len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "cancel") {
					t.Errorf("job: %+v", j)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			e := newTestEngine(t, db, Config{Workers: 1}, tc.work)
			startEngine(t, e)
			id := tc.run(t, e)
			j := waitState(t, e, id, tc.want)
			if j.ID != id || j.Kind != "test" {
				t.Errorf("job: %+v", j)
			}
			tc.check(t, j)
		})
	}
}

func TestStopSoftLetsJobFinish(t *testing.T) {
	db := openTestDB(t)
	running := make(chan struct{})
	var ctxErr atomic.Value
	e := newTestEngine(t, db, Config{Workers: 2}, func(ctx context.Context, job *river.Job[testArgs]) error {
		close(running)
		time.Sleep(300 * time.Millisecond)
		if err := ctx.Err(); err != nil {
			ctxErr.Store(err)
		}
		return nil
	})
	startEngine(t, e)
	id := mustInsert(t, e, testArgs{Name: "short"})
	<-running
	t0 := time.Now()
	if err := e.Stop(t.Context(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Logf("soft stop took %s", time.Since(t0))
	if v := ctxErr.Load(); v != nil {
		t.Errorf("job context was cancelled during the soft period: %v", v)
	}
	j, err := e.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != StateCompleted {
		t.Errorf("state after soft stop = %q, want completed", j.State)
	}
	// Idempotent; Start after Stop is refused.
	if err := e.Stop(t.Context(), time.Second); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := e.Start(t.Context()); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop: %v, want ErrStopped", err)
	}
	if ok, why := e.Alive(t.Context()); ok {
		t.Errorf("Alive after Stop = true (%s)", why)
	}
}

func TestStopBeforeStart(t *testing.T) {
	db := openTestDB(t)
	e := newTestEngine(t, db, Config{Workers: 1}, nil)
	if err := e.Stop(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(t.Context(), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop: %v, want ErrStopped", err)
	}
}

// TestStopHardInterrupts stops an engine while a job blocks beyond the soft
// period: its context must be cancelled, River must put it back in the queue,
// and a new engine on the same database must run it to completion.
func TestStopHardInterrupts(t *testing.T) {
	for _, tc := range []struct {
		name string
		// interrupted is what the worker returns once its ctx is cancelled.
		interrupted func(ctx context.Context) error
	}{
		{"worker wraps ctx.Err", func(ctx context.Context) error { return fmt.Errorf("ffprobe: %w", ctx.Err()) }},
		{"worker returns unrelated error", func(ctx context.Context) error { return errors.New("ffprobe: signal: killed") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			var (
				runs      atomic.Int32
				gotCtxErr = make(chan error, 1)
				running   = make(chan struct{}, 1)
			)
			e1 := newTestEngine(t, db, Config{Workers: 1}, func(ctx context.Context, job *river.Job[testArgs]) error {
				runs.Add(1)
				running <- struct{}{}
				<-ctx.Done()
				gotCtxErr <- ctx.Err()
				return tc.interrupted(ctx)
			})
			startEngine(t, e1)
			id := mustInsert(t, e1, testArgs{Name: "long probe", Max: 1})
			<-running

			t0 := time.Now()
			if err := e1.Stop(t.Context(), 200*time.Millisecond); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			t.Logf("hard stop took %s (soft 200ms)", time.Since(t0))
			if err := <-gotCtxErr; !errors.Is(err, context.Canceled) {
				t.Errorf("worker ctx.Err() = %v, want context.Canceled", err)
			}

			j, err := e1.Get(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			var riverState string
			if err := db.QueryRow(`SELECT state FROM river_job WHERE id = ?`, id).Scan(&riverState); err != nil {
				t.Fatal(err)
			}
			t.Logf("after interrupting Stop: river state %q, vpo state %q, attempt %d, errors %q, scheduled_at %s (%s ago)",
				riverState, j.State, j.Attempt, j.Errors, j.ScheduledAt.Format(time.RFC3339Nano), time.Since(j.ScheduledAt).Round(time.Millisecond))
			if j.State != StateQueued {
				t.Fatalf("state after interrupting Stop = %q, want queued", j.State)
			}

			// Next start: a new engine on the same database.
			done := make(chan struct{})
			e2 := newTestEngine(t, db, Config{Workers: 1}, func(ctx context.Context, job *river.Job[testArgs]) error {
				runs.Add(1)
				close(done)
				return nil
			})
			n, err := e2.RequeueInterrupted(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("RequeueInterrupted on the next start: %d", n)
			startEngine(t, e2)
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("interrupted job did not run again within 5s of the next start")
			}
			j = waitState(t, e2, id, StateCompleted)
			t.Logf("after rerun: attempt %d/%d, errors %q", j.Attempt, j.MaxAttempts, j.Errors)
			if runs.Load() != 2 {
				t.Errorf("worker ran %d times, want 2", runs.Load())
			}
			// River v0.51.2 does not count an attempt interrupted by shutdown:
			// the job ran twice but is on attempt 1 of 1, with no error.
			if j.Attempt != 1 || len(j.Errors) != 0 {
				t.Errorf("after rerun: attempt %d, errors %q; want attempt 1, no errors", j.Attempt, j.Errors)
			}

			if err := e2.Stop(t.Context(), time.Second); err != nil {
				t.Fatal(err)
			}
			// With both engines stopped, nothing of River's may be left
			// running, even while the database stays open for the catalogue
			// (only database/sql's connection opener remains)...
			goleak.VerifyNone(t, goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"))
			// ...and nothing at all once it is closed.
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			goleak.VerifyNone(t)
		})
	}
}

// TestStopHardTimeout: a worker that ignores cancellation makes Stop return an
// error after the hard timeout; the job stays running and is requeued at the
// next start.
func TestStopHardTimeout(t *testing.T) {
	db := openTestDB(t)
	release := make(chan struct{})
	running := make(chan struct{})
	e1 := newTestEngine(t, db, Config{Workers: 1, HardStopTimeout: 200 * time.Millisecond}, func(ctx context.Context, job *river.Job[testArgs]) error {
		close(running)
		<-release // ignores ctx
		return nil
	})
	startEngine(t, e1)
	id := mustInsert(t, e1, testArgs{Name: "deaf"})
	<-running
	t0 := time.Now()
	err := e1.Stop(t.Context(), 100*time.Millisecond)
	t.Logf("Stop returned after %s: %v", time.Since(t0), err)
	if err == nil {
		t.Fatal("Stop succeeded although the worker ignored cancellation")
	}
	if j, _ := e1.Get(t.Context(), id); j.State != StateRunning {
		t.Fatalf("state = %q, want running", j.State)
	}
	e2 := newTestEngine(t, db, Config{Workers: 1}, nil)
	n, err := e2.RequeueInterrupted(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("RequeueInterrupted = %d, %v; want 1", n, err)
	}
	startEngine(t, e2)
	waitState(t, e2, id, StateCompleted)
	close(release) // e1's worker returns; its completion must not clobber the row
	time.Sleep(100 * time.Millisecond)
	if j, _ := e2.Get(t.Context(), id); j.State != StateCompleted || j.Attempt != 2 {
		t.Errorf("job after e1's worker returned: %+v", j)
	}
	// e1 is stopped at cleanup (its earlier Stop failed, so cleanup retries).
}

// TestCrashRequeue: jobs left by a dead process are put back to work at
// startup by RequeueInterrupted.
func TestCrashRequeue(t *testing.T) {
	t.Run("abandoned engine", func(t *testing.T) {
		db := openTestDB(t)
		release := make(chan struct{})
		held := make(chan struct{})
		// e1 "dies" holding a job: it is never stopped until cleanup.
		e1 := newTestEngine(t, db, Config{Workers: 1}, func(ctx context.Context, job *river.Job[testArgs]) error {
			close(held)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
		startEngine(t, e1)
		id := mustInsert(t, e1, testArgs{Name: "orphan"})
		<-held
		defer close(release)

		e2 := newTestEngine(t, db, Config{Workers: 2}, nil)
		n, err := e2.RequeueInterrupted(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("RequeueInterrupted = %d, %v; want 1", n, err)
		}
		t0 := time.Now()
		startEngine(t, e2)
		j := waitState(t, e2, id, StateCompleted)
		t.Logf("requeued job completed %s after Start; attempt %d, errors %q, metadata %s",
			time.Since(t0), j.Attempt, j.Errors, j.Metadata)
		if j.Attempt != 2 || len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "process died") {
			t.Errorf("job: %+v", j)
		}
		if _, err := e2.RequeueInterrupted(t.Context()); !errors.Is(err, ErrStarted) {
			t.Errorf("RequeueInterrupted after Start: %v, want ErrStarted", err)
		}
	})

	// A job interrupted by a crash runs again before the jobs queued after it
	// (a scan, then the apply that needs its results), not behind them.
	t.Run("keeps its place in the queue", func(t *testing.T) {
		db := openTestDB(t)
		release := make(chan struct{})
		held := make(chan struct{})
		e1 := newTestEngine(t, db, Config{Workers: 1}, func(ctx context.Context, job *river.Job[testArgs]) error {
			close(held)
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		})
		startEngine(t, e1)
		first := mustInsert(t, e1, testArgs{Name: "first"})
		<-held
		defer close(release)
		time.Sleep(20 * time.Millisecond) // the requeue must not move it behind "second"
		second := mustInsert(t, e1, testArgs{Name: "second"})

		var mu sync.Mutex
		var order []string
		e2 := newTestEngine(t, db, Config{Workers: 1}, func(ctx context.Context, job *river.Job[testArgs]) error {
			mu.Lock()
			order = append(order, job.Args.Name)
			mu.Unlock()
			return nil
		})
		if n, err := e2.RequeueInterrupted(t.Context()); err != nil || n != 1 {
			t.Fatalf("RequeueInterrupted = %d, %v; want 1", n, err)
		}
		startEngine(t, e2)
		waitState(t, e2, first, StateCompleted)
		waitState(t, e2, second, StateCompleted)
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(order, []string{"first", "second"}) {
			t.Errorf("order after the requeue: %v, want [first second]", order)
		}
	})

	// Rows set up directly in SQL as a dead process would leave them.
	for _, tc := range []struct {
		name     string
		setup    string // UPDATE ... WHERE id = ?
		requeued int
		want     string
		errorHas string
	}{
		{
			name:     "running",
			setup:    `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', 'subsec') WHERE id = ?`,
			requeued: 1, want: StateCompleted, errorHas: "requeued at startup",
		},
		{
			name: "running, crashed too often",
			setup: `UPDATE river_job SET state = 'running', attempt = 4, attempted_at = datetime('now', 'subsec'),
				metadata = jsonb_set(metadata, '$."vpo:crash_requeues"', 25) WHERE id = ?`,
			requeued: 0, want: StateFailed, errorHas: "giving up",
		},
		{
			name: "running, cancel requested",
			setup: `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = datetime('now', 'subsec'),
				metadata = jsonb_set(metadata, '$.cancel_attempted_at', '2026-01-01T00:00:00Z') WHERE id = ?`,
			requeued: 0, want: StateCancelled, errorHas: "cancellation had been requested",
		},
		{
			name: "retryable, interrupted by shutdown",
			setup: `UPDATE river_job SET state = 'retryable', attempt = 1, attempted_at = datetime('now', 'subsec'),
				scheduled_at = datetime('now', '+1 hour'),
				errors = jsonb('[{"at":"2026-01-01T00:00:00Z","attempt":1,"error":"interrupted by shutdown: context canceled (worker returned: x)"}]')
				WHERE id = ?`,
			requeued: 1, want: StateCompleted, errorHas: "interrupted by shutdown",
		},
		{
			name: "retryable, ordinary error",
			setup: `UPDATE river_job SET state = 'retryable', attempt = 1, attempted_at = datetime('now', 'subsec'),
				scheduled_at = datetime('now', '+1 hour'),
				errors = jsonb('[{"at":"2026-01-01T00:00:00Z","attempt":1,"error":"disk full"}]')
				WHERE id = ?`,
			requeued: 0, want: StateQueued, errorHas: "disk full",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openTestDB(t)
			e := newTestEngine(t, db, Config{Workers: 1}, nil)
			id := mustInsert(t, e, testArgs{Name: "x"})
			if _, err := db.Exec(tc.setup, id); err != nil {
				t.Fatal(err)
			}
			n, err := e.RequeueInterrupted(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.requeued {
				t.Errorf("RequeueInterrupted = %d, want %d", n, tc.requeued)
			}
			startEngine(t, e)
			var j Job
			if tc.want == StateQueued {
				time.Sleep(300 * time.Millisecond) // must stay queued (backoff)
				j, err = e.Get(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if j.State != StateQueued {
					t.Fatalf("state = %q, want queued", j.State)
				}
			} else {
				j = waitState(t, e, id, tc.want)
			}
			if len(j.Errors) == 0 || !strings.Contains(j.Errors[0], tc.errorHas) {
				t.Errorf("errors %q, want one containing %q", j.Errors, tc.errorHas)
			}
			t.Logf("%s: state %s, attempt %d, errors %q", tc.name, j.State, j.Attempt, j.Errors)
		})
	}
}

func TestConcurrentInserts(t *testing.T) {
	db := openTestDB(t)
	var worked atomic.Int64
	e := newTestEngine(t, db, Config{Workers: 8}, func(ctx context.Context, job *river.Job[testArgs]) error {
		worked.Add(1)
		return nil
	})
	startEngine(t, e)

	const goroutines, per = 16, 125
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []error
		ids    = make(map[int64]bool)
		t0     = time.Now()
		ctx    = t.Context()
		failed atomic.Int64
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range per {
				id, err := e.Insert(ctx, testArgs{Name: fmt.Sprintf("g%d-%d", g, i)})
				mu.Lock()
				if err != nil {
					failed.Add(1)
					if len(errs) < 5 {
						errs = append(errs, err)
					}
				} else {
					ids[id] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	insertDur := time.Since(t0)
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d inserts failed, e.g. %v", n, goroutines*per, errs)
	}
	if len(ids) != goroutines*per {
		t.Fatalf("%d distinct IDs, want %d", len(ids), goroutines*per)
	}
	waitFor(t, 120*time.Second, "all jobs to complete", func() bool {
		q, r, err := e.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return q == 0 && r == 0
	})
	t.Logf("%d inserts from %d goroutines: 0 errors, %s (%.0f/s); all worked after %s (worked %d)",
		goroutines*per, goroutines, insertDur, float64(goroutines*per)/insertDur.Seconds(), time.Since(t0), worked.Load())
	var completed int
	if err := db.QueryRow(`SELECT count(*) FROM river_job WHERE state = 'completed'`).Scan(&completed); err != nil {
		t.Fatal(err)
	}
	if completed != goroutines*per {
		t.Errorf("%d completed, want %d", completed, goroutines*per)
	}
}

func TestCountsAndList(t *testing.T) {
	db := openTestDB(t)
	release := make(chan struct{})
	e := newTestEngine(t, db, Config{Workers: 1}, func(ctx context.Context, job *river.Job[testArgs]) error {
		if job.Args.Name == "block" {
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	})
	ctx := t.Context()

	// Before Start: everything is queued.
	var all []int64 // insertion order
	blocker := mustInsert(t, e, testArgs{Name: "block"})
	all = append(all, blocker)
	var tests, others []int64
	for i := range 6 {
		id := mustInsert(t, e, testArgs{Name: fmt.Sprint("t", i)})
		tests = append(tests, id)
		all = append(all, id)
	}
	for range 4 {
		id := mustInsert(t, e, otherArgs{})
		others = append(others, id)
		all = append(all, id)
	}
	cancelled := tests[0]
	if _, err := e.Cancel(ctx, cancelled); err != nil {
		t.Fatal(err)
	}
	q, r, err := e.Counts(ctx)
	if err != nil || q != len(all)-1 || r != 0 {
		t.Fatalf("Counts before start = %d, %d, %v; want %d, 0", q, r, err, len(all)-1)
	}

	// Start with one worker: the blocker runs, the rest wait.
	startEngine(t, e)
	waitState(t, e, blocker, StateRunning)
	q, r, err = e.Counts(ctx)
	if err != nil || q != len(all)-2 || r != 1 {
		t.Fatalf("Counts while blocked = %d, %d, %v; want %d, 1", q, r, err, len(all)-2)
	}

	ids := func(jobs []Job) []int64 {
		out := make([]int64, len(jobs))
		for i, j := range jobs {
			out[i] = j.ID
		}
		return out
	}
	desc := func(in []int64) []int64 {
		out := slices.Clone(in)
		slices.Sort(out)
		slices.Reverse(out)
		return out
	}
	without := func(in []int64, drop ...int64) []int64 {
		return slices.DeleteFunc(slices.Clone(in), func(id int64) bool { return slices.Contains(drop, id) })
	}

	for _, tc := range []struct {
		name string
		p    ListParams
		want []int64
	}{
		{"all", ListParams{}, desc(all)},
		{"queued", ListParams{State: StateQueued}, desc(without(all, blocker, cancelled))},
		{"running", ListParams{State: StateRunning}, []int64{blocker}},
		{"cancelled", ListParams{State: StateCancelled}, []int64{cancelled}},
		{"completed", ListParams{State: StateCompleted}, nil},
		{"kind other", ListParams{Kind: "test_other"}, desc(others)},
		{"kind test queued", ListParams{Kind: "test", State: StateQueued}, desc(without(tests, cancelled))},
		{"limit", ListParams{Limit: 3}, desc(all)[:3]},
		{"after", ListParams{After: desc(all)[2], Limit: 3}, desc(all)[3:6]},
		{"after kind", ListParams{Kind: "test", After: tests[3]}, desc(append([]int64{blocker}, tests[:3]...))},
		{"unknown kind", ListParams{Kind: "nope"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.List(ctx, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tc.want) {
				t.Errorf("List(%+v) = %v, want %v", tc.p, ids(got), tc.want)
			}
			for _, j := range got {
				if tc.p.State != "" && j.State != tc.p.State {
					t.Errorf("job %d state %q, filter %q", j.ID, j.State, tc.p.State)
				}
			}
		})
	}

	// Paging through everything with the cursor visits each job once.
	var paged []int64
	after := int64(0)
	for {
		page, err := e.List(ctx, ListParams{Limit: 4, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, ids(page)...)
		after = page[len(page)-1].ID
	}
	if !slices.Equal(paged, desc(all)) {
		t.Errorf("paged = %v, want %v", paged, desc(all))
	}

	if _, err := e.List(ctx, ListParams{State: "bogus"}); !errors.Is(err, ErrInvalidState) {
		t.Errorf("List bogus state: %v, want ErrInvalidState", err)
	}
	if _, err := e.Get(ctx, 999999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get missing: %v, want ErrNotFound", err)
	}
	if _, err := e.Cancel(ctx, 999999); !errors.Is(err, ErrNotFound) {
		t.Errorf("Cancel missing: %v, want ErrNotFound", err)
	}

	close(release)
	waitFor(t, 10*time.Second, "queue to drain", func() bool {
		q, r, err := e.Counts(ctx)
		return err == nil && q == 0 && r == 0
	})
	got, err := e.List(ctx, ListParams{State: StateCompleted})
	if err != nil || len(got) != len(all)-1 {
		t.Errorf("completed = %d jobs, %v; want %d", len(got), err, len(all)-1)
	}

	// Counts uses River's state index.
	rows, err := db.Query(`EXPLAIN QUERY PLAN SELECT coalesce(sum(state <> 'running'), 0), coalesce(sum(state = 'running'), 0)
		FROM river_job WHERE state IN ('available', 'scheduled', 'retryable', 'pending', 'running')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Counts query plan: %q", plan)
	if !strings.Contains(strings.Join(plan, " "), "USING") {
		t.Errorf("Counts query does not use an index: %q", plan)
	}
}

func TestAlive(t *testing.T) {
	db := openTestDB(t)
	release := make(chan struct{})
	e := newTestEngine(t, db, Config{
		Workers:        1,
		JobTimeout:     100 * time.Millisecond,
		AliveThreshold: 300 * time.Millisecond,
		stuckThreshold: 100 * time.Millisecond,
	}, func(ctx context.Context, job *river.Job[testArgs]) error {
		if job.Args.Name == "deaf" {
			<-release // ignores its timeout: River will report it stuck
		}
		return nil
	})
	ctx := t.Context()
	if ok, why := e.Alive(ctx); ok {
		t.Errorf("Alive before Start = true (%s)", why)
	}
	startEngine(t, e)
	if ok, why := e.Alive(ctx); !ok {
		t.Errorf("Alive idle = false (%s)", why)
	}

	deaf := mustInsert(t, e, testArgs{Name: "deaf"})
	waitState(t, e, deaf, StateRunning)
	next := mustInsert(t, e, testArgs{Name: "next"})
	if ok, why := e.Alive(ctx); !ok {
		t.Errorf("Alive with all workers busy = false (%s)", why)
	}
	var why string
	waitFor(t, 10*time.Second, "Alive to report the stall", func() bool {
		var ok bool
		ok, why = e.Alive(ctx)
		return !ok
	})
	t.Logf("Alive while the only worker is stuck: false, %q", why)

	close(release)
	waitState(t, e, next, StateCompleted)
	if ok, why := e.Alive(ctx); !ok {
		t.Errorf("Alive after recovery = false (%s)", why)
	}
	if err := e.Stop(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.Alive(ctx); ok {
		t.Error("Alive after Stop = true")
	}
}
