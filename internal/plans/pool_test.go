package plans

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/testmedia"
)

// TestFilePool: at most n at once, never two on the same file, and the
// first error stops what comes after.
func TestFilePool(t *testing.T) {
	p := newFilePool(2)
	var running, peak atomic.Int32
	var mu sync.Mutex
	busy := map[int64]bool{}
	var overlap atomic.Bool
	for i := 0; i < 40; i++ {
		id := int64(i % 3)
		if err := p.do(id, func() error {
			mu.Lock()
			if busy[id] {
				overlap.Store(true)
			}
			busy[id] = true
			mu.Unlock()
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			mu.Lock()
			busy[id] = false
			mu.Unlock()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.wait(); err != nil {
		t.Fatal(err)
	}
	if overlap.Load() {
		t.Error("two runs on the same file at once")
	}
	if peak.Load() > 2 {
		t.Errorf("%d at once, want at most 2", peak.Load())
	}

	stop := errors.New("catalogue gone")
	p = newFilePool(2)
	_ = p.do(1, func() error { return stop })
	if err := p.wait(); !errors.Is(err, stop) {
		t.Fatalf("wait: %v", err)
	}
	ran := false
	if err := p.do(2, func() error { ran = true; return nil }); !errors.Is(err, stop) || ran {
		t.Errorf("after an error: do = %v, ran %t", err, ran)
	}
}

const flagsPolicy = `schema_version: 13
config: {audio_languages: [fra, eng]}
phases:
  - name: flags
    default_flags: {}
`

// TestRunForegroundWorkers: two files at once, in place: every file is
// changed, verified and recorded, the counters and the per-file reports add
// up, and no claim or journal is left.
func TestRunForegroundWorkers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := catalog.Open(ctx, filepath.Join(dir, "library.db"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	lib := filepath.Join(dir, "lib")
	src := testmedia.MakeRich(t, t.TempDir()).MKV
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	for i := 0; i < n; i++ {
		p := filepath.Join(lib, fmt.Sprintf("f%d.mkv", i))
		if err := os.MkdirAll(lib, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		// Distinct content (the segment title), so that the catalogue
		// does not take the copies for one moved file.
		if out, err := exec.Command("mkvpropedit", p, "--edit", "info", "--set", fmt.Sprintf("title=copy %d", i)).CombinedOutput(); err != nil {
			t.Fatalf("mkvpropedit: %v\n%s", err, out)
		}
	}
	pdir := filepath.Join(dir, "policies")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pdir, "flags.yaml"), []byte(flagsPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := library.NewScanner(library.Options{Store: store, Extensions: []string{"mkv"}, Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Scan(ctx, lib, logging.Discard(), nil); err != nil {
		t.Fatal(err)
	}
	jdir := filepath.Join(dir, "journal")
	svc := New(Options{Store: store, Scanner: sc, Logger: logging.Discard(), PoliciesDir: pdir, ApplyWorkers: 2,
		Executor: &apply.Executor{Logger: logging.Discard(), InPlace: apply.InPlaceAuto, JournalDir: jdir}})
	var mu sync.Mutex
	seen := map[string]string{}
	c, err := svc.RunForeground(ctx, "flags", []string{lib}, false, func(path string, o Outcome) {
		mu.Lock()
		defer mu.Unlock()
		seen[filepath.Base(path)] = o.Result + " " + o.Reason
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Done != n || c.Changed != n || c.Found != n || c.Bytes == 0 {
		t.Errorf("counts %+v, want %d done and changed; reports %v", c, n, seen)
	}
	if len(seen) != n {
		t.Errorf("%d reports, want %d: %v", len(seen), n, seen)
	}
	if cs, _ := store.Claims(ctx); len(cs) != 0 {
		t.Errorf("claims left: %+v", cs)
	}
	if left, _ := os.ReadDir(jdir); len(left) != 0 {
		t.Errorf("journals left: %v", left)
	}
	l, err := svc.LoadPolicy("flags")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		p := filepath.Join(lib, fmt.Sprintf("f%d.mkv", i))
		f, err := store.GetFileByPath(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		// The catalogue says what the file says.
		if plan := l.evaluate(f); !plan.Conformant() {
			t.Errorf("%s: the catalogue is not conformant after the apply", p)
		}
		r, err := sc.Prober().Probe(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if plan := policy.Evaluate(l.pol, policy.FileInfoFromProbe(p, f.Size, *r)); !plan.Conformant() {
			t.Errorf("%s: the file is not conformant after the apply", p)
		}
		if st, _ := os.Stat(p); st.Size() != f.Size || !st.ModTime().Equal(f.ModTime) {
			t.Errorf("%s: the catalogue has size %d mtime %s, the file %d %s", p, f.Size, f.ModTime, st.Size(), st.ModTime())
		}
	}
}
