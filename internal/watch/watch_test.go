package watch

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/logging"
)

const testSettle = time.Second

// recorder is a Handler that records the batches it gets.
type recorder struct {
	mu      sync.Mutex
	batches []Batch
	at      []time.Time
}

func (r *recorder) Handle(_ context.Context, _ string, b Batch) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, b)
	r.at = append(r.at, time.Now())
	return nil
}

// changedAt returns when p was first handed over as changed, or the zero time.
func (r *recorder) changedAt(p string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, b := range r.batches {
		if slices.Contains(b.Changed, p) {
			return r.at[i]
		}
	}
	return time.Time{}
}

func (r *recorder) goneSeen(p string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.batches {
		if slices.Contains(b.Gone, p) {
			return true
		}
	}
	return false
}

func (r *recorder) count() (batches, changed int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.batches {
		changed += len(b.Changed)
	}
	return len(r.batches), changed
}

type bundle struct {
	root  string
	store *catalog.Store
	rec   *recorder
	w     *Watcher
}

// setup starts a watcher on a fresh root over a real catalogue. opts, if not
// nil, adjusts the options before New.
func setup(t *testing.T, opts func(*Options)) *bundle {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store, err := catalog.Open(context.Background(), filepath.Join(t.TempDir(), "library.db"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	b := &bundle{root: root, store: store, rec: &recorder{}}
	o := Options{Roots: []Root{{Path: root, Handler: b.rec}}, Settle: testSettle, Extensions: []string{"mkv"},
		Catalogue: store, Logger: logging.Discard()}
	if opts != nil {
		opts(&o)
	}
	b.w, err = New(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bundle) start(t *testing.T) {
	t.Helper()
	if err := b.w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.w.Stop(context.Background()) })
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNewFileSettles: a file copied into a watched root (real inotify) is handed
// over once it has settled, not before, and within settle + 5 s; other files and
// vpo's temporary files are not.
func TestNewFileSettles(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.start(t)
	if st := b.w.States()[0]; st.Watch != StateOK || st.Directories != 1 {
		t.Fatalf("state = %+v, want ok with 1 directory", st)
	}
	created := time.Now()
	p := filepath.Join(b.root, "movie.mkv")
	write(t, p, "video")
	write(t, filepath.Join(b.root, "notes.txt"), "text")
	write(t, filepath.Join(b.root, ".movie.mkv.vpo-tmp-1234"), "temp")
	waitFor(t, testSettle+5*time.Second, "the new file", func() bool { return !b.rec.changedAt(p).IsZero() })
	if got := b.rec.changedAt(p).Sub(created); got < testSettle {
		t.Errorf("handed over %v after it was written, before it settled (%v)", got, testSettle)
	}
	time.Sleep(2 * testSettle)
	if n, c := b.rec.count(); n != 1 || c != 1 {
		t.Errorf("%d batches with %d changed files, want 1 with 1 (only movie.mkv)", n, c)
	}
}

// TestSlowWriteWaits: a file written in pieces, each sooner than the settle time
// after the last, is handed over only after the last write, plus the settle time.
func TestSlowWriteWaits(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.start(t)
	p := filepath.Join(b.root, "slow.mkv")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	for range 60 { // 15 s of writing (the figure), a piece every 250 ms
		if _, err := f.WriteString(strings.Repeat("x", 1000)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
		if !b.rec.changedAt(p).IsZero() {
			t.Fatal("the file was handed over while it was still being written")
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	last := time.Now()
	waitFor(t, testSettle+5*time.Second, "the written file", func() bool { return !b.rec.changedAt(p).IsZero() })
	if got := b.rec.changedAt(p).Sub(last); got < testSettle-250*time.Millisecond {
		t.Errorf("handed over %v after the last write, want at least the settle time", got)
	}
}

// TestDirectoryMovedIn: a directory tree moved into the root (as Sonarr imports)
// has its files handed over and its directories watched, so that a file written
// later deep inside it is seen too.
func TestDirectoryMovedIn(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.start(t)
	outside := t.TempDir()
	write(t, filepath.Join(outside, "Show", "S01", "e1.mkv"), "one")
	write(t, filepath.Join(outside, "Show", "S01", "e2.mkv"), "two")
	if err := os.Rename(filepath.Join(outside, "Show"), filepath.Join(b.root, "Show")); err != nil {
		t.Fatal(err)
	}
	e1, e2 := filepath.Join(b.root, "Show", "S01", "e1.mkv"), filepath.Join(b.root, "Show", "S01", "e2.mkv")
	waitFor(t, testSettle+5*time.Second, "the moved-in files", func() bool {
		return !b.rec.changedAt(e1).IsZero() && !b.rec.changedAt(e2).IsZero()
	})
	later := filepath.Join(b.root, "Show", "S01", "e3.mkv")
	write(t, later, "three")
	waitFor(t, testSettle+5*time.Second, "a file written into the moved-in tree", func() bool { return !b.rec.changedAt(later).IsZero() })
	// A hard link is a new file too.
	link := filepath.Join(b.root, "link.mkv")
	if err := os.Link(e1, link); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testSettle+5*time.Second, "the hard link", func() bool { return !b.rec.changedAt(link).IsZero() })
}

// TestDeletionsAreGone: a deleted file and a directory moved out are handed over
// as gone; a file created and deleted before it settled is not handed over at all.
func TestDeletionsAreGone(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	p := filepath.Join(b.root, "a.mkv")
	write(t, p, "a")
	write(t, filepath.Join(b.root, "dir", "b.mkv"), "b")
	b.start(t)
	waitFor(t, testSettle+5*time.Second, "the existing files (startup reconciliation)", func() bool {
		return !b.rec.changedAt(p).IsZero()
	})
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(b.root, "dir"), filepath.Join(t.TempDir(), "away")); err != nil {
		t.Fatal(err)
	}
	brief := filepath.Join(b.root, "brief.mkv")
	write(t, brief, "x")
	if err := os.Remove(brief); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testSettle+5*time.Second, "the deletions", func() bool {
		return b.rec.goneSeen(p) && b.rec.goneSeen(filepath.Join(b.root, "dir"))
	})
	if !b.rec.changedAt(brief).IsZero() {
		t.Error("a file deleted before it settled was handed over as changed")
	}
	if st := b.w.States()[0]; st.Directories != 1 {
		t.Errorf("%d directories watched after the move out, want 1", st.Directories)
	}
}

// TestBurstCoalesces: 2,000 files arriving together are handed over in one batch
// (or very few), not one call per file.
func TestBurstCoalesces(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.start(t)
	for i := range 2000 {
		write(t, filepath.Join(b.root, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%04d.mkv", i)), "x")
	}
	waitFor(t, testSettle+10*time.Second, "2,000 files", func() bool { _, c := b.rec.count(); return c >= 2000 })
	n, c := b.rec.count()
	if c != 2000 || n > 3 {
		t.Errorf("%d files in %d batches, want 2000 in at most 3", c, n)
	}
}

// TestStartupReconciles: files that arrived while vpo was down are handed over at
// start, unless the catalogue has them unchanged; catalogued files that are gone
// are handed over as gone.
func TestStartupReconciles(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	same, changed, fresh := filepath.Join(b.root, "same.mkv"), filepath.Join(b.root, "changed.mkv"), filepath.Join(b.root, "new.mkv")
	gone := filepath.Join(b.root, "gone.mkv")
	for _, p := range []string{same, changed, fresh} {
		write(t, p, "content")
	}
	for _, p := range []string{same, changed} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		size := st.Size()
		if p == changed {
			size++
		}
		if _, err := b.store.RecordFile(ctx, catalog.Observation{Path: p, Size: size, ModTime: st.ModTime(), ProbeError: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.store.RecordFile(ctx, catalog.Observation{Path: gone, Size: 1, ModTime: time.Now(), ProbeError: "x"}); err != nil {
		t.Fatal(err)
	}
	b.start(t)
	waitFor(t, testSettle+5*time.Second, "the reconciled files", func() bool {
		return !b.rec.changedAt(changed).IsZero() && !b.rec.changedAt(fresh).IsZero() && b.rec.goneSeen(gone)
	})
	if !b.rec.changedAt(same).IsZero() {
		t.Error("a file the catalogue has unchanged was handed over")
	}
}

// fakeNotifier is the inotify boundary with failures injected: the real fsnotify
// watcher underneath, but Add fails with ENOSPC (as inotify_add_watch does at
// fs.inotify.max_user_watches) once limit watches exist, and events can be
// dropped and errors sent. The sysctl cannot be lowered for one test without
// affecting the whole machine, so the limit is faked here; the real path is
// tested by the other tests. Each open makes a new instance, as fsnotify does.
type fakeNotifier struct {
	limit atomic.Int64
	drop  bool
	errs  chan error // shared by the instances: the test sends on it
}

func newFake(limit int, drop bool) *fakeNotifier {
	f := &fakeNotifier{drop: drop, errs: make(chan error, 1)}
	f.limit.Store(int64(limit))
	return f
}

type fakeInstance struct {
	f      *fakeNotifier
	real   *fsnotify.Watcher
	adds   int64
	events chan fsnotify.Event
}

func (f *fakeNotifier) open() (notifier, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	in := &fakeInstance{f: f, real: w, events: make(chan fsnotify.Event)}
	go func() {
		defer close(in.events)
		for ev := range w.Events {
			if !f.drop {
				in.events <- ev
			}
		}
	}()
	go func() {
		for err := range w.Errors {
			f.errs <- err
		}
	}()
	return in, nil
}

func (in *fakeInstance) Add(p string) error {
	if in.adds >= in.f.limit.Load() {
		return fmt.Errorf("%q: %w", p, syscall.ENOSPC)
	}
	in.adds++
	return in.real.Add(p)
}
func (in *fakeInstance) Remove(p string) error         { return in.real.Remove(p) }
func (in *fakeInstance) Events() <-chan fsnotify.Event { return in.events }
func (in *fakeInstance) Errors() <-chan error          { return in.f.errs }
func (in *fakeInstance) Close() error                  { return in.real.Close() }

// TestWatchLimitDegrades: when inotify_add_watch fails with ENOSPC (faked, see
// fakeNotifier), the root is degraded, its state names the sysctl and the
// directories needed, and periodic rescans still hand over new files; once the
// limit is raised, the next rescan watches the root again.
func TestWatchLimitDegrades(t *testing.T) {
	t.Parallel()
	fake := newFake(2, false)
	b := setup(t, func(o *Options) {
		o.newNotifier = fake.open
		o.RescanInterval = 500 * time.Millisecond
	})
	for _, d := range []string{"a", "b", "c"} {
		if err := os.MkdirAll(filepath.Join(b.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b.start(t)
	st := b.w.States()[0]
	if st.Watch != StateDegraded || !strings.Contains(st.Reason, "fs.inotify.max_user_watches to at least 4") {
		t.Fatalf("state = %+v, want degraded naming fs.inotify.max_user_watches and 4 directories", st)
	}
	p := filepath.Join(b.root, "c", "new.mkv")
	write(t, p, "x")
	waitFor(t, testSettle+5*time.Second, "the new file, by periodic rescan", func() bool { return !b.rec.changedAt(p).IsZero() })

	fake.limit.Store(100)
	waitFor(t, 5*time.Second, "the root watched again", func() bool { return b.w.States()[0].Watch == StateOK })
	if st := b.w.States()[0]; st.Directories != 4 || st.Reason != "" {
		t.Errorf("state after the limit was raised = %+v, want ok with 4 directories", st)
	}
}

// TestOverflowRescans: when the kernel's event queue overflows (events lost), the
// root is rescanned, so that the files whose events were lost are handed over.
func TestOverflowRescans(t *testing.T) {
	t.Parallel()
	fake := newFake(1000, true) // every event is lost
	b := setup(t, func(o *Options) { o.newNotifier = fake.open })
	b.start(t)
	time.Sleep(300 * time.Millisecond) // the startup reconciliation, on an empty root, is over
	p := filepath.Join(b.root, "lost.mkv")
	write(t, p, "x")
	time.Sleep(testSettle + 500*time.Millisecond)
	if !b.rec.changedAt(p).IsZero() {
		t.Fatal("a file whose events were dropped was handed over: the fake does not drop")
	}
	fake.errs <- fsnotify.ErrEventOverflow
	waitFor(t, testSettle+5*time.Second, "the file found by the overflow rescan", func() bool { return !b.rec.changedAt(p).IsZero() })
}

// TestRootOff: a root that does not exist is off, with the reason, and the others
// are unaffected; Stop before Start and a second Stop do nothing.
func TestRootOff(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *Options) {
		o.Roots = append(o.Roots, Root{Path: "/nonexistent/vpo-root", Handler: HandlerFunc(func(context.Context, string, Batch) error {
			return errors.New("not called")
		})})
	})
	b.start(t)
	states := b.w.States()
	if states[0].Watch != StateOK || states[1].Watch != StateOff || !strings.Contains(states[1].Reason, "no such file") {
		t.Errorf("states = %+v, want ok and off (no such file)", states)
	}
	w2, err := New(Options{Settle: time.Second, Extensions: []string{"mkv"}})
	if err != nil {
		t.Fatal(err)
	}
	w2.Stop(context.Background())
	w2.Stop(context.Background())
	if err := w2.Start(context.Background()); err == nil {
		t.Error("Start after Stop succeeded")
	}
}

// TestWatchLimitAtRuntime: a directory created later that hits the watch limit
// (ENOSPC faked, see fakeNotifier) degrades the root then, and its files are still
// handed over by the rescan that follows.
func TestWatchLimitAtRuntime(t *testing.T) {
	t.Parallel()
	fake := newFake(2, false)
	b := setup(t, func(o *Options) {
		o.newNotifier = fake.open
		o.RescanInterval = time.Hour // only the rescan the degradation starts
	})
	b.start(t)
	if st := b.w.States()[0]; st.Watch != StateOK {
		t.Fatalf("state = %+v, want ok", st)
	}
	write(t, filepath.Join(b.root, "one", "a.mkv"), "a") // the second watch: still within the limit
	waitFor(t, testSettle+5*time.Second, "a.mkv", func() bool { return !b.rec.changedAt(filepath.Join(b.root, "one", "a.mkv")).IsZero() })
	// The third watch: ENOSPC. The directory is moved in with its file, so that the
	// rescan the degradation starts finds it (a file written later into a degraded
	// root waits for the periodic rescan).
	outside := t.TempDir()
	write(t, filepath.Join(outside, "two", "b.mkv"), "b")
	if err := os.Rename(filepath.Join(outside, "two"), filepath.Join(b.root, "two")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(b.root, "two", "b.mkv")
	waitFor(t, 5*time.Second, "the degraded state", func() bool { return b.w.States()[0].Watch == StateDegraded })
	if st := b.w.States()[0]; !strings.Contains(st.Reason, "fs.inotify.max_user_watches to at least 3") {
		t.Errorf("reason %q does not name the sysctl and the 3 directories needed", st.Reason)
	}
	waitFor(t, testSettle+5*time.Second, "b.mkv, by the rescan", func() bool { return !b.rec.changedAt(p).IsZero() })
}

// TestLaterSettlesAgain: paths a handler returns in a Later (a file vpo itself is
// rewriting) are not handed over with the batch; they settle again from then and
// come back in a later batch, while the rest of the batch counts as handled.
func TestLaterSettlesAgain(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var calls [][]string
	busy := ""
	b := setup(t, func(o *Options) {
		o.Roots[0].Handler = HandlerFunc(func(_ context.Context, _ string, bt Batch) error {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, slices.Clone(bt.Changed))
			if busy != "" && slices.Contains(bt.Changed, busy) {
				p := busy
				busy = "" // busy once only
				return &Later{Paths: []string{p}}
			}
			return nil
		})
	})
	a, c := filepath.Join(b.root, "a.mkv"), filepath.Join(b.root, "claimed.mkv")
	mu.Lock()
	busy = c
	mu.Unlock()
	b.start(t)
	write(t, a, "a")
	write(t, c, "c")
	waitFor(t, 4*testSettle+5*time.Second, "the claimed file again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(calls) >= 2
	})
	time.Sleep(2 * testSettle)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 || !slices.Equal(calls[0], []string{a, c}) || !slices.Equal(calls[1], []string{c}) {
		t.Fatalf("batches %q, want [a claimed] then [claimed] alone (a was handled)", calls)
	}
}
