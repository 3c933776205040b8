package app

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/schedule"
)

// TestOpen builds the core on a real SQLite file: the job queue's schema is there,
// the scanner follows the configuration, and a second Open of the same file (a CLI
// command beside the daemon) works.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	cfg := config.Default(t.TempDir())
	cfg.Library.Roots, cfg.Jobs.Workers = []string{root}, 2

	a, err := Open(ctx, cfg, logging.Discard(), Migrate)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if q, r, err := a.Jobs.Counts(ctx); err != nil || q != 0 || r != 0 {
		t.Fatalf("job counts on a new database = %d, %d, %v", q, r, err)
	}
	if _, err := a.Scanner.ResolveDir(root); err != nil {
		t.Errorf("ResolveDir(root): %v", err)
	}
	if _, err := a.Scanner.ResolveDir(t.TempDir()); !errors.Is(err, library.ErrBadPath) {
		t.Errorf("ResolveDir outside library.roots = %v, want ErrBadPath", err)
	}

	b, err := Open(ctx, cfg, logging.Discard(), Migrate)
	if err != nil {
		t.Fatalf("second Open of the same database: %v", err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestOpenError(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nowhere")
	cfg := config.Default(dir)
	_, err := Open(context.Background(), cfg, logging.Discard(), Migrate)
	if err == nil || err.Error() != "database directory "+dir+" does not exist" {
		t.Fatalf("Open in a missing directory = %v", err)
	}
}

// TestFollowUp: a watched root's scan is followed by the plan or apply job of
// its mode for the changed files (apply unattended), a scheduled run's mark is
// carried over, and a scan of gone paths only is followed by nothing. On the
// real queue of a real database.
func TestFollowUp(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default(t.TempDir())
	cfg.Jobs.Workers = 1
	a, err := Open(ctx, cfg, logging.Discard(), Migrate)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	run, _ := json.Marshal(map[string]any{schedule.MetadataRun: "/srv/movies", "periodic": true})
	steps := []struct {
		args library.ScanArgs
		md   []byte
	}{
		{library.ScanArgs{Path: "/srv/movies", Changed: []string{"/srv/movies/a.mkv"}, Then: "apply", Policy: "english"}, nil},
		{library.ScanArgs{Path: "/srv/movies", Then: "plan", Policy: "english"}, run},
		{library.ScanArgs{Path: "/srv/movies", Gone: []string{"/srv/movies/b.mkv"}, Then: "apply", Policy: "english"}, nil},
	}
	for _, s := range steps {
		if err := followUp(ctx, a.Jobs, s.args, s.md); err != nil {
			t.Fatal(err)
		}
	}
	if err := followUp(ctx, a.Jobs, library.ScanArgs{Path: "/x", Then: "transcode"}, nil); err == nil {
		t.Error("an unknown Then was accepted")
	}
	js, err := a.Jobs.List(ctx, jobs.ListParams{})
	if err != nil {
		t.Fatal(err)
	}
	if len(js) != 2 {
		t.Fatalf("%d jobs, want 2 (none after a scan of gone paths only)", len(js))
	}
	plan, apply := js[0], js[1] // newest first
	if plan.Kind != "plan" || string(plan.Args) != `{"policy":"english","path":"/srv/movies"}` ||
		!strings.Contains(string(plan.Metadata), `"vpo_run":"/srv/movies"`) || strings.Contains(string(plan.Metadata), "periodic") {
		t.Errorf("plan job %s %s %s, want the whole root, marked as the run (River's own keys not copied)", plan.Kind, plan.Args, plan.Metadata)
	}
	if apply.Kind != "apply" || string(apply.Args) != `{"policy":"english","path":"/srv/movies","paths":["/srv/movies/a.mkv"],"unattended":true}` ||
		strings.Contains(string(apply.Metadata), "vpo_run") {
		t.Errorf("apply job %s %s %s, want the changed file, unattended, unmarked", apply.Kind, apply.Args, apply.Metadata)
	}
}
