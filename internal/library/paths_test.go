package library

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/testmedia"
)

// TestScanPaths: the watcher's scan of changed and gone paths, with the real
// ffprobe on media made here and a real catalogue. Changed files are probed
// unless unchanged; gone files and the files under a gone directory are marked
// missing, unless the path is there again; paths outside the root are skipped.
func TestScanPaths(t *testing.T) {
	ctx := context.Background()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	media := testmedia.Make(t, root)
	store, err := catalog.Open(ctx, filepath.Join(t.TempDir(), "library.db"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(ctx)
	s, err := NewScanner(Options{Store: store, Prober: probe.Runner{}, Extensions: []string{"mkv", "mp4"},
		Workers: 2, Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	log := logging.Discard()

	// A full scan first: the catalogue has everything, with sub/inner.mkv.
	inner := filepath.Join(root, "sub", "inner.mkv")
	data, err := os.ReadFile(media.MKV)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(inner), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(inner, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Scan(ctx, root, log, nil); err != nil {
		t.Fatal(err)
	}

	// Unchanged: not probed again.
	c, err := s.ScanPaths(ctx, root, []string{media.MKV}, nil, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c != (catalog.Counts{Found: 1, Unchanged: 1}) {
		t.Errorf("unchanged file: counts %+v, want found 1, unchanged 1", c)
	}

	// A new file is probed; a path outside the root is skipped; the directory sub is
	// gone (its file with it); MP4 is listed as gone but still there.
	fresh := filepath.Join(root, "fresh.mkv")
	if err := os.WriteFile(fresh, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "sub")); err != nil {
		t.Fatal(err)
	}
	var reported catalog.Counts
	c, err = s.ScanPaths(ctx, root, []string{fresh, "/etc/passwd.mkv"}, []string{filepath.Join(root, "sub"), media.MP4}, log,
		func(c catalog.Counts) { reported = c })
	if err != nil {
		t.Fatal(err)
	}
	if want := (catalog.Counts{Found: 1, Probed: 1, Missing: 1}); c != want || reported != want {
		t.Errorf("counts %+v (reported %+v), want %+v", c, reported, want)
	}
	for p, wantMissing := range map[string]bool{fresh: false, inner: true, media.MP4: false} {
		f, err := store.GetFileByPath(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if f.Missing != wantMissing || f.ProbedAt == nil {
			t.Errorf("%s: missing %v, probed %v; want missing %v, probed", p, f.Missing, f.ProbedAt != nil, wantMissing)
		}
	}
}
