package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/pgtest"
)

// openTestPool opens a pool on a fresh database of the test cluster with
// River's migrations applied (twice: they are idempotent).
func openTestPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	u := pgtest.NewDatabase(t)
	cfg, err := catalog.PostgresConfig(u, "")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := OpenPool(t.Context(), cfg, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	for range 2 {
		if err := MigratePostgres(t.Context(), pool, testLogger(t)); err != nil {
			t.Fatal(err)
		}
	}
	return pool
}

func newPostgresEngine(t *testing.T, pool *pgxpool.Pool, cfg Config, work func(ctx context.Context, job *river.Job[testArgs]) error) *Engine {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "node-a"
	}
	e, err := NewPostgres(pool, cfg, func(w *river.Workers) {
		river.AddWorker(w, &testWorker{work: work})
		river.AddWorker(w, &otherWorker{})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx, 0); err != nil {
			t.Errorf("cleanup stop: %v", err)
		}
		if err := e.Close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// TestPostgresEngine: on PostgreSQL the engine runs jobs with the same
// states, retries, counts, cancellation and schema checks as on SQLite.
func TestPostgresEngine(t *testing.T) {
	pool := openTestPool(t)
	ctx := t.Context()
	if cur, latest, err := SchemaStatusPostgres(ctx, pool); err != nil || cur != latest || cur == 0 {
		t.Fatalf("SchemaStatusPostgres = %d, %d, %v", cur, latest, err)
	}
	if err := EnsureSchemaPostgres(ctx, pool, "test", logging.Discard()); err != nil {
		t.Fatal(err)
	}
	block := make(chan struct{})
	e := newPostgresEngine(t, pool, Config{Workers: 2, MaxAttempts: 2}, func(ctx context.Context, job *river.Job[testArgs]) error {
		switch job.Args.Name {
		case "fail":
			return errors.New("always fails")
		case "block":
			select {
			case <-block:
			case <-ctx.Done():
			}
			return ctx.Err()
		}
		return nil
	})
	startEngine(t, e)
	ok := mustInsert(t, e, testArgs{Name: "ok"})
	fail := mustInsert(t, e, testArgs{Name: "fail", Max: 1})
	blocked := mustInsert(t, e, testArgs{Name: "block"})
	other := mustInsert(t, e, otherArgs{})
	waitState(t, e, ok, StateCompleted)
	waitState(t, e, other, StateCompleted)
	j := waitState(t, e, fail, StateFailed)
	if len(j.Errors) != 1 || !strings.Contains(j.Errors[0], "always fails") {
		t.Errorf("failed job errors %q", j.Errors)
	}
	waitState(t, e, blocked, StateRunning)
	if q, r, err := e.Counts(ctx); err != nil || r != 1 || q != 0 {
		t.Errorf("Counts = %d queued, %d running, %v; want 0, 1", q, r, err)
	}
	kinds, err := e.CountsByKind(ctx)
	if err != nil || len(kinds) == 0 {
		t.Fatalf("CountsByKind = %v, %v", kinds, err)
	}
	if alive, why := e.Alive(ctx); !alive {
		t.Errorf("Alive = false: %s", why)
	}
	if _, err := e.Cancel(ctx, blocked); err != nil {
		t.Fatal(err)
	}
	waitState(t, e, blocked, StateCancelled)
	list, err := e.List(ctx, ListParams{Limit: 10})
	if err != nil || len(list) != 4 {
		t.Errorf("List = %d jobs, %v; want 4", len(list), err)
	}

	// A run's status, as the schedules read it.
	run := mustInsertWith(t, e, testArgs{Name: "ok"}, &river.InsertOpts{Metadata: []byte(`{"vpo_run":"root:/srv"}`)})
	waitState(t, e, run, StateCompleted)
	st, err := e.RunStatus(ctx, "vpo_run", "root:/srv", "test")
	if err != nil || st.LastID != run || st.Active != 0 || st.LastState != "completed" || st.LastEnded.IsZero() ||
		time.Since(st.LastCreated) > time.Minute || time.Since(st.LastCreated) < 0 {
		t.Errorf("RunStatus = %+v, %v", st, err)
	}
}

func mustInsertWith(t *testing.T, e *Engine, args river.JobArgs, opts *river.InsertOpts) int64 {
	t.Helper()
	id, err := e.InsertWith(t.Context(), args, opts)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestPostgresCrashRequeue: rows left as a dead node leaves them are repaired
// at that node's next start, as on SQLite; another node's running job is left
// alone (it is that node's).
func TestPostgresCrashRequeue(t *testing.T) {
	for _, tc := range []struct {
		name     string
		setup    string // $1 the job's id, $2 the node that attempted it
		node     string
		requeued int
		want     string
		errorHas string
	}{
		{"running", `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(), attempted_by = ARRAY[$2] WHERE id = $1`,
			"node-a", 1, StateCompleted, "requeued at startup"},
		{"running, crashed too often", `UPDATE river_job SET state = 'running', attempt = 4, attempted_at = now(), attempted_by = ARRAY[$2],
			metadata = metadata || '{"vpo:crash_requeues": 25}' WHERE id = $1`,
			"node-a", 0, StateFailed, "giving up"},
		{"running, cancel requested", `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(), attempted_by = ARRAY[$2],
			metadata = metadata || '{"cancel_attempted_at": "2026-01-01T00:00:00Z"}' WHERE id = $1`,
			"node-a", 0, StateCancelled, "cancellation had been requested"},
		{"retryable, interrupted by shutdown", `UPDATE river_job SET state = 'retryable', attempt = 1, attempted_at = now(),
			attempted_by = ARRAY[$2], scheduled_at = now() + interval '1 hour',
			errors = ARRAY['{"at":"2026-01-01T00:00:00Z","attempt":1,"error":"interrupted by shutdown: context canceled"}'::jsonb] WHERE id = $1`,
			"node-a", 1, StateCompleted, "interrupted by shutdown"},
		{"running on another node", `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(), attempted_by = ARRAY['x', $2] WHERE id = $1`,
			"node-b", 0, StateRunning, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pool := openTestPool(t)
			e := newPostgresEngine(t, pool, Config{Workers: 1}, nil)
			id := mustInsert(t, e, testArgs{Name: "x"})
			if _, err := pool.Exec(t.Context(), tc.setup, id, tc.node); err != nil {
				t.Fatal(err)
			}
			n, err := e.RequeueInterrupted(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.requeued {
				t.Errorf("RequeueInterrupted = %d, want %d", n, tc.requeued)
			}
			if tc.want == StateRunning {
				j, err := e.Get(t.Context(), id)
				if err != nil || j.State != StateRunning {
					t.Errorf("another node's job: %+v, %v; want it left running", j, err)
				}
				return
			}
			startEngine(t, e)
			j := waitState(t, e, id, tc.want)
			if len(j.Errors) == 0 || !strings.Contains(j.Errors[0], tc.errorHas) {
				t.Errorf("errors %q, want one containing %q", j.Errors, tc.errorHas)
			}
			if tc.name == "running" && !strings.Contains(string(j.Metadata), `"vpo:crash_requeues": 1`) {
				t.Errorf("metadata %s, want the crash counter at 1", j.Metadata)
			}
		})
	}
}
