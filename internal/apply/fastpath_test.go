package apply_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/testmedia"
)

// countingTool returns a wrapper around the real tool name that appends a
// line to a log file for each run, and the log's path.
func countingTool(t *testing.T, name string) (wrapper, log string) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log = filepath.Join(dir, name+".runs")
	wrapper = filepath.Join(dir, name)
	body := "#!/bin/sh\necho run >> '" + log + "'\nexec '" + path + "' \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, log
}

func runs(t *testing.T, log string) int {
	t.Helper()
	data, err := os.ReadFile(log)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "run\n")
}

// TestApplyMetadataOnlyProbesOnce: a flags-only plan on an MKV file whose
// size, mtime and fingerprint match the plan runs ffprobe at most once (no
// pre-apply probe), in place and on a copy, and the result is right.
func TestApplyMetadataOnlyProbesOnce(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{apply.InPlaceAuto, apply.InPlaceNever} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := testmedia.MakeRich(t, dir).MKV
			pol, req := planFor(t, path, flagsFrench)
			e, _ := inPlaceExecutor(t)
			e.InPlace = mode
			var log string
			e.Tools.FFprobe, log = countingTool(t, "ffprobe")
			res, err := e.Apply(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Changed || res.InPlace != (mode == apply.InPlaceAuto) {
				t.Fatalf("res = %+v", res)
			}
			if n := runs(t, log); n > 1 {
				t.Errorf("ffprobe ran %d times, want at most 1", n)
			}
			if again := requestFor(t, pol, path); !again.Plan.Conformant() {
				t.Errorf("not conformant after the apply:\n%s", planText(again.Plan))
			}
		})
	}
}

// TestApplyMetadataOnlyStale: without the pre-apply ffprobe, a file changed
// after planning is still refused as stale and left as it is, whether its
// mtime moved or was put back (the fingerprint sees the new header).
func TestApplyMetadataOnlyStale(t *testing.T) {
	t.Parallel()
	for _, keepMtime := range []bool{false, true} {
		name := "mtime changed"
		if keepMtime {
			name = "mtime put back"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := testmedia.MakeRich(t, dir).MKV
			old := time.Now().Add(-time.Hour).Truncate(time.Second)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			_, req := planFor(t, path, flagsFrench)
			// Someone else edits the file after it was planned.
			cmd := exec.Command("mkvpropedit", path, "--edit", "track:a2", "--set", "name=Changed")
			cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("mkvpropedit: %v\n%s", err, out)
			}
			if keepMtime {
				if err := os.Chtimes(path, old, old); err != nil {
					t.Fatal(err)
				}
			}
			before := stateOf(t, path)
			e, jdir := inPlaceExecutor(t)
			var log string
			e.Tools.FFprobe, log = countingTool(t, "ffprobe")
			_, err := e.Apply(context.Background(), req)
			if !errors.Is(err, apply.ErrStale) {
				t.Fatalf("err = %v, want %v", err, apply.ErrStale)
			}
			assertUntouched(t, path, before)
			assertEmptyDir(t, jdir)
			if n := runs(t, log); n != 0 {
				t.Errorf("ffprobe ran %d times on a stale file, want 0", n)
			}
		})
	}
}
