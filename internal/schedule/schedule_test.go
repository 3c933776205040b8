package schedule

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/riverqueue/river"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
)

// TestFireSkipsWhileARunIsActive: a schedule firing while the previous run's job
// is still queued inserts nothing (and counts the skip); once that job is over
// the next firing makes a new run, the scan of the whole root followed by the
// root's mode, marked with the root. On a real SQLite job queue.
func TestFireSkipsWhileARunIsActive(t *testing.T) {
	ctx := context.Background()
	store, err := catalog.OpenMode(ctx, filepath.Join(t.TempDir(), "library.db"), logging.Discard(), catalog.ApplyMigrations)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(ctx)
	if err := jobs.Migrate(ctx, store.DB(), logging.Discard()); err != nil {
		t.Fatal(err)
	}
	e, err := jobs.New(store.DB(), jobs.Config{Workers: 1}, func(ws *river.Workers) {
		river.AddWorker(ws, river.WorkFunc(func(context.Context, *river.Job[library.ScanArgs]) error { return nil }))
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New([]config.Root{
		{Path: "/srv/movies", Mode: config.ModeApply, Policy: "english", Schedule: "@every 1h"},
		{Path: "/srv/tv", Mode: config.ModeCatalog},
	}, func() RunStatuser { return e }, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.roots) != 1 || len(s.PeriodicJobs()) != 1 {
		t.Fatalf("%d scheduled roots, want 1 (the root without a schedule has none)", len(s.roots))
	}
	r := s.roots[0]

	args, opts := s.fire(r)
	want := library.ScanArgs{Path: "/srv/movies", Then: config.ModeApply, Policy: "english"}
	if got, ok := args.(library.ScanArgs); !ok || got.Path != want.Path || got.Then != want.Then || got.Policy != want.Policy {
		t.Fatalf("first firing = %#v, want %#v", args, want)
	}
	var md map[string]string
	if err := json.Unmarshal(opts.Metadata, &md); err != nil || md[MetadataRun] != "/srv/movies" {
		t.Fatalf("metadata %s, want %s = the root", opts.Metadata, MetadataRun)
	}
	id, err := e.InsertWith(ctx, args, opts) // what River does with it; nobody works it
	if err != nil {
		t.Fatal(err)
	}

	if args, _ := s.fire(r); args != nil {
		t.Fatalf("firing while the run's job is queued = %#v, want nil (skipped)", args)
	}
	st, ok, err := s.State(ctx, "/srv/movies")
	if err != nil || !ok {
		t.Fatalf("State = %v, %v", ok, err)
	}
	if st.LastRun == nil || st.LastRun.JobID != id || !st.LastRun.Running || st.Skipped != 1 || st.NextRun.IsZero() {
		t.Fatalf("State = %+v (last run %+v), want last run job %d running, 1 skipped, a next run", st, st.LastRun, id)
	}
	if _, ok, _ := s.State(ctx, "/srv/tv"); ok {
		t.Error("a root without a schedule has a schedule state")
	}

	if _, err := e.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if args, _ := s.fire(r); args == nil {
		t.Fatal("firing after the run's job ended = nil, want a new run")
	}
}
