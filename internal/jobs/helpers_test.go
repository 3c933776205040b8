package jobs

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"go.uber.org/goleak"
	_ "modernc.org/sqlite"

	"github.com/vpo-project/vpo/internal/pgtest"
)

// TestMain fails the run if goroutines are left behind once all tests are
// done (every engine stopped, every database closed). No goroutine is
// ignored: modernc.org/sqlite starts none, and database/sql's connection
// opener exits on Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pgtestMain{m})
}

// pgtestMain runs the tests through pgtest.Main, which stops the PostgreSQL
// cluster (if a test started it) before goleak looks for goroutines.
type pgtestMain struct{ m *testing.M }

func (p pgtestMain) Run() int { return pgtest.Main(p.m) }

// openTestDB opens a fresh database in t.TempDir() exactly as vpo's catalogue
// does, applies River's migrations, and closes it at cleanup.
func openTestDB(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vpo.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { _ = db.Close() })
	if err := Migrate(t.Context(), db, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	return db
}

// testLogger logs to the test's output (shown with -v or on failure).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo})).
		With(slog.String("component", "vpo.jobs"))
}

// testArgs are the arguments of the "test" job kind. Max, when set, is the
// job's MaxAttempts.
type testArgs struct {
	Name string `json:"name"`
	Max  int    `json:"max,omitempty"`
}

func (testArgs) Kind() string { return "test" }

func (a testArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: a.Max} }

// testWorker runs "test" jobs with its work function (nil: succeed).
type testWorker struct {
	river.WorkerDefaults[testArgs]
	work func(ctx context.Context, job *river.Job[testArgs]) error
}

func (w *testWorker) Work(ctx context.Context, job *river.Job[testArgs]) error {
	if w.work == nil {
		return nil
	}
	return w.work(ctx, job)
}

// otherArgs are a second kind, for kind filters.
type otherArgs struct{}

func (otherArgs) Kind() string { return "test_other" }

type otherWorker struct {
	river.WorkerDefaults[otherArgs]
}

func (otherWorker) Work(context.Context, *river.Job[otherArgs]) error { return nil }

// newTestEngine builds an engine whose "test" jobs run work; it is stopped at
// cleanup (before the database is closed).
func newTestEngine(t *testing.T, db *sql.DB, cfg Config, work func(ctx context.Context, job *river.Job[testArgs]) error) *Engine {
	t.Helper()
	if cfg.Workers == 0 {
		cfg.Workers = 4
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	e, err := New(db, cfg, func(w *river.Workers) {
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
	})
	return e
}

func startEngine(t *testing.T, e *Engine) {
	t.Helper()
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond every 5 ms until it is true or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitState waits until job id is in state and returns it.
func waitState(t *testing.T, e *Engine, id int64, state string) Job {
	t.Helper()
	var j Job
	waitFor(t, 10*time.Second, "job to be "+state, func() bool {
		var err error
		j, err = e.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return j.State == state
	})
	return j
}

func mustInsert(t *testing.T, e *Engine, args river.JobArgs) int64 {
	t.Helper()
	id, err := e.Insert(t.Context(), args)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
