package app

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
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
