// Package watch keeps watched library roots current without anyone asking: it
// watches every directory under each root with inotify (fsnotify), waits until a
// new or changed file has settled (its size and mtime unchanged for the settle
// time), and hands what changed to the root's Handler in batches, so that a burst
// of thousands of files becomes one piece of work, not thousands.
//
// Each root has its own inotify instance and goroutine. At start, after a kernel
// queue overflow, and periodically while a root is degraded (the inotify watch
// limit was reached) the root is reconciled: walked and compared with the
// catalogue, and whatever differs goes through the same settle step. A file is
// never handed over while it is still being written.
package watch

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/scan"
)

// State is a watched root's watch state, as /health and GET /api/roots show it.
type State string

// The watch states.
const (
	// StateOK: every directory under the root is watched.
	StateOK State = "ok"
	// StateDegraded: the inotify watch limit was reached; the root is rescanned
	// every RescanInterval instead.
	StateDegraded State = "degraded"
	// StateOff: the root is not watched (it cannot be read, or the watcher
	// stopped); it is retried every RescanInterval.
	StateOff State = "off"
)

// Batch is what changed under a root since the last batch.
type Batch struct {
	// Changed are files (regular, with a video extension) that are new or changed
	// and have settled. Paths are under the root.
	Changed []string
	// Gone are paths that were removed or moved away: files, or directories whose
	// catalogued files are gone with them. A path that exists again by the time
	// the batch is handled is not gone.
	Gone []string
}

// Handler does what a root's mode says with a batch: for mode catalog, a scan of
// the changed files. Handle must not block for long (submit work, don't do it); a
// batch whose Handle failed is offered again at the next tick.
type Handler interface {
	Handle(ctx context.Context, root string, b Batch) error
}

// Later is the error a Handler returns for the changed paths it cannot take now
// (a file that vpo itself is rewriting at this moment): the rest of the batch is
// taken as handled, and these paths settle again from now.
type Later struct{ Paths []string }

func (l *Later) Error() string {
	return fmt.Sprintf("%d files are busy; they settle again", len(l.Paths))
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, root string, b Batch) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, root string, b Batch) error { return f(ctx, root, b) }

// Catalogue is what reconciliation needs from the catalogue.
type Catalogue interface {
	KnownFiles(ctx context.Context, root string) (map[string]catalog.Known, error)
}

// Root is one watched root.
type Root struct {
	// Path is the root directory, absolute, with symlinks resolved.
	Path string
	// Handler receives the root's batches.
	Handler Handler
}

// RootState is the state of one root, for /health and GET /api/roots.
type RootState struct {
	Path  string `json:"path"`
	Watch State  `json:"watch"`
	// Directories is the number of directories watched.
	Directories int `json:"directories"`
	// Pending is the number of files waiting to settle.
	Pending int `json:"pending"`
	// Reason says why the state is not ok.
	Reason string `json:"reason,omitempty"`
}

// Options configure a Watcher.
type Options struct {
	Roots []Root
	// Settle is how long a file's size and mtime must stay unchanged.
	Settle time.Duration
	// RescanInterval is how often a degraded or off root is reconciled; 0 means
	// DefaultRescanInterval.
	RescanInterval time.Duration
	// Extensions are the video file extensions; other files are ignored.
	Extensions []string
	Catalogue  Catalogue
	Logger     *slog.Logger

	// newNotifier makes a root's inotify instance; nil means fsnotify. Tests use it
	// to inject failures at the inotify boundary.
	newNotifier func() (notifier, error)
}

// DefaultRescanInterval is how often a degraded root is rescanned.
const DefaultRescanInterval = 5 * time.Minute

// minBatchWait is the least time settled files wait for the rest of a burst that
// is still arriving, so that even with a short settle time a burst that takes
// seconds to write becomes one batch or a few.
const minBatchWait = 10 * time.Second

// maxBatch bounds the paths of one Handle call, so that a job's arguments stay
// a reasonable size; a bigger burst is split.
const maxBatch = 5000

// notifier is the part of fsnotify.Watcher the watcher uses: the boundary that
// tests replace.
type notifier interface {
	Add(path string) error
	Remove(path string) error
	Events() <-chan fsnotify.Event
	Errors() <-chan error
	Close() error
}

type fsnotifier struct{ w *fsnotify.Watcher }

func (f fsnotifier) Add(p string) error            { return f.w.Add(p) }
func (f fsnotifier) Remove(p string) error         { return f.w.Remove(p) }
func (f fsnotifier) Events() <-chan fsnotify.Event { return f.w.Events }
func (f fsnotifier) Errors() <-chan error          { return f.w.Errors }
func (f fsnotifier) Close() error                  { return f.w.Close() }
func newFSNotifier() (notifier, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	return fsnotifier{w}, nil
}

// Watcher watches the roots. Start it once; Stop is idempotent and safe before
// Start.
type Watcher struct {
	o     Options
	exts  scan.ExtSet
	roots []*rootWatch

	// limitWarned is set once the watch-limit warning was logged: one warning,
	// whichever roots reach the limit.
	limitWarned atomic.Bool

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    sync.WaitGroup
	stopped bool
}

// New returns a Watcher for o.Roots. It starts nothing.
func New(o Options) (*Watcher, error) {
	exts, err := scan.NewExtSet(o.Extensions)
	if err != nil {
		return nil, fmt.Errorf("watch: %w", err)
	}
	if o.Settle <= 0 {
		return nil, errors.New("watch: settle must be positive")
	}
	if o.RescanInterval <= 0 {
		o.RescanInterval = DefaultRescanInterval
	}
	if o.newNotifier == nil {
		o.newNotifier = newFSNotifier
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{o: o, exts: exts}
	for _, r := range o.Roots {
		w.roots = append(w.roots, &rootWatch{w: w, root: r, log: o.Logger.With("root", r.Path),
			state: StateOff, reason: "not started"})
	}
	return w, nil
}

// Start sets up the watches of every root (synchronously, so that events from now
// on are seen) and starts each root's goroutine, which first reconciles the root
// with the catalogue. A root that cannot be watched is logged and left off or
// degraded; Start itself fails only when the watcher was stopped.
func (w *Watcher) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped || w.cancel != nil {
		return errors.New("watch: already started or stopped")
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	for _, r := range w.roots {
		t := time.Now()
		r.setup()
		st := r.snapshot()
		r.log.Info("watching library root", "watch", string(st.Watch), "directories", st.Directories,
			"duration_ms", time.Since(t).Milliseconds())
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			r.run(bg)
		}()
	}
	return nil
}

// Stop stops every root's goroutine and closes its inotify instance, waiting for
// them within ctx. Files still settling are not handed over; the next start
// reconciles them.
func (w *Watcher) Stop(ctx context.Context) {
	w.mu.Lock()
	w.stopped = true
	cancel := w.cancel
	w.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	done := make(chan struct{})
	go func() { w.done.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		w.o.Logger.Warn("shutdown: the watcher did not stop in time")
	}
}

// States returns each root's state, in configuration order.
func (w *Watcher) States() []RootState {
	out := make([]RootState, len(w.roots))
	for i, r := range w.roots {
		out[i] = r.snapshot()
	}
	return out
}

// pending is a file waiting to settle.
type pending struct {
	size    int64
	mtime   time.Time
	changed time.Time // when size or mtime last changed, or an event said so
}

// rootWatch is one root's watcher. Everything but the fields under mu belongs to
// its goroutine (and to setup, which runs before the goroutine starts).
type rootWatch struct {
	w    *Watcher
	root Root
	log  *slog.Logger

	n       notifier
	dirs    map[string]struct{} // watched directories
	pending map[string]*pending // files waiting to settle
	settled map[string]struct{} // settled files waiting for a batch
	gone    map[string]struct{} // gone paths waiting for a batch
	since   time.Time           // when the oldest waiting item was queued
	lastErr string              // the last Handle error, logged once
	stateMu sync.Mutex          // guards the fields below
	state   State
	reason  string
	ndirs   int
	npend   int
}

func (r *rootWatch) setState(s State, reason string) {
	r.stateMu.Lock()
	r.state, r.reason = s, reason
	r.ndirs, r.npend = len(r.dirs), len(r.pending)
	r.stateMu.Unlock()
}

func (r *rootWatch) counts() {
	r.stateMu.Lock()
	r.ndirs, r.npend = len(r.dirs), len(r.pending)
	r.stateMu.Unlock()
}

func (r *rootWatch) snapshot() RootState {
	r.stateMu.Lock()
	defer r.stateMu.Unlock()
	return RootState{Path: r.root.Path, Watch: r.state, Directories: r.ndirs, Pending: r.npend, Reason: r.reason}
}

// setup opens the root's inotify instance and watches every directory under it.
// Reaching the watch limit degrades the root: its watches are dropped (they would
// cover only part of it) and it is rescanned periodically instead.
func (r *rootWatch) setup() {
	if r.pending == nil {
		r.pending, r.settled, r.gone = map[string]*pending{}, map[string]struct{}{}, map[string]struct{}{}
	}
	r.dirs = map[string]struct{}{}
	st, err := os.Stat(r.root.Path)
	if err == nil && !st.IsDir() {
		err = errors.New("not a directory")
	}
	if err != nil {
		r.log.Error("cannot watch library root; retrying every rescan interval", "error", err.Error(),
			"rescan_interval_s", r.w.o.RescanInterval.Seconds())
		r.setState(StateOff, err.Error())
		return
	}
	n, err := r.w.o.newNotifier()
	if err != nil {
		r.degrade(fmt.Errorf("inotify: %w", err))
		return
	}
	r.n = n
	if err := r.addTree(r.root.Path, nil); err != nil {
		r.degrade(err)
		return
	}
	r.setState(StateOK, "")
}

// addTree watches dir and every directory under it; found, if not nil, is called
// for each regular file with a video extension. Unreadable directories are
// logged and skipped. It returns an error only when a watch could not be added
// for a reason other than a vanished directory (the watch limit, mostly).
func (r *rootWatch) addTree(dir string, found func(path string, info fs.FileInfo)) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			r.log.Warn("cannot read directory; not watched", "file_path", p, "error", unwrap(err).Error())
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if r.n != nil {
				if _, ok := r.dirs[p]; !ok {
					if err := r.n.Add(p); err != nil {
						if errors.Is(err, fs.ErrNotExist) {
							return fs.SkipDir
						}
						return fmt.Errorf("watch %s: %w", p, err)
					}
					r.dirs[p] = struct{}{}
				}
			}
			return nil
		}
		if found != nil && d.Type().IsRegular() && r.wanted(p) {
			if info, err := d.Info(); err == nil {
				found(p, info)
			}
		}
		return nil
	})
}

// wanted reports whether a file's name makes it one to handle: a video extension,
// and not one of vpo's own temporary files.
func (r *rootWatch) wanted(p string) bool {
	name := filepath.Base(p)
	return r.w.exts.Match(name) && !IsTemp(name)
}

// IsTemp reports whether name is one of vpo's own temporary files
// (".<name>.vpo-tmp-<random>"), which the watcher ignores.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, ".vpo-tmp-")
}

// degrade drops the root's watches after err and falls back to periodic rescans.
// The watch limit gets one warning naming the sysctl and the directories needed.
func (r *rootWatch) degrade(err error) {
	if r.n != nil {
		_ = r.n.Close()
		r.n = nil
	}
	r.dirs = map[string]struct{}{}
	if errors.Is(err, syscall.ENOSPC) {
		need := r.w.countDirs()
		reason := fmt.Sprintf("inotify watch limit reached: raise fs.inotify.max_user_watches to at least %d (the directories under the watched roots) plus what other programs use", need)
		if r.w.limitWarned.CompareAndSwap(false, true) {
			r.log.Warn("inotify watch limit reached; rescanning the root periodically instead",
				"sysctl", "fs.inotify.max_user_watches", "current", readMaxWatches(), "needed", need,
				"rescan_interval_s", r.w.o.RescanInterval.Seconds())
		}
		r.setState(StateDegraded, reason)
		return
	}
	r.log.Warn("cannot watch library root; rescanning it periodically instead", "error", err.Error(),
		"rescan_interval_s", r.w.o.RescanInterval.Seconds())
	r.setState(StateDegraded, err.Error())
}

// countDirs counts the directories under every watched root: the watches vpo
// needs.
func (w *Watcher) countDirs() int {
	n := 0
	for _, r := range w.roots {
		_ = filepath.WalkDir(r.root.Path, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				n++
			}
			return nil
		})
	}
	return n
}

// readMaxWatches returns the current fs.inotify.max_user_watches, or "" when it
// cannot be read.
func readMaxWatches() string {
	b, err := os.ReadFile("/proc/sys/fs/inotify/max_user_watches")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// tickInterval is how often pending files are checked: a quarter of the settle
// time, between 100 ms and 5 s, so a file is handled at most a quarter settle late.
func (w *Watcher) tickInterval() time.Duration {
	return min(max(w.o.Settle/4, 100*time.Millisecond), 5*time.Second)
}

// run is the root's goroutine: reconcile once, then events, ticks and rescans
// until ctx ends.
func (r *rootWatch) run(ctx context.Context) {
	defer func() {
		if r.n != nil {
			_ = r.n.Close()
		}
		r.setState(StateOff, "stopped")
	}()
	if r.snapshot().Watch != StateOff {
		r.reconcile(ctx, "startup")
	}
	// The tick runs only while files wait (to settle, or for a batch): an idle
	// root costs no wakeups, whatever the settle time.
	tick := time.NewTicker(r.w.tickInterval())
	defer tick.Stop()
	ticking := true
	rescan := time.NewTicker(r.w.o.RescanInterval)
	defer rescan.Stop()
	for {
		switch idle := len(r.pending) == 0 && len(r.settled) == 0 && len(r.gone) == 0; {
		case idle && ticking:
			tick.Stop()
			ticking = false
		case !idle && !ticking:
			tick.Reset(r.w.tickInterval())
			ticking = true
		}
		var events <-chan fsnotify.Event
		var errs <-chan error
		if r.n != nil {
			events, errs = r.n.Events(), r.n.Errors()
		}
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				r.n = nil
				continue
			}
			r.event(ctx, ev)
		case err, ok := <-errs:
			if !ok {
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				r.log.Warn("inotify event queue overflowed; rescanning the root")
				r.reconcile(ctx, "overflow")
				continue
			}
			r.log.Warn("inotify error", "error", err.Error())
		case <-tick.C:
			r.tick(ctx, time.Now())
		case <-rescan.C:
			switch r.snapshot().Watch {
			case StateOff:
				r.setup()
				if r.snapshot().Watch != StateOff {
					r.reconcile(ctx, "retry")
				}
			case StateDegraded:
				// Try the watches again: the limit may have been raised (or other
				// programs let theirs go) since.
				r.setup()
				if r.snapshot().Watch == StateOK {
					r.log.Info("library root watched again", "directories", len(r.dirs))
				}
				r.reconcile(ctx, "periodic")
			}
		}
	}
}

// event handles one inotify event.
func (r *rootWatch) event(ctx context.Context, ev fsnotify.Event) {
	p := ev.Name
	if p == "" || IsTemp(filepath.Base(p)) {
		return
	}
	if ev.Has(fsnotify.Remove) || ev.Has(fsnotify.Rename) {
		r.removed(p)
		return
	}
	if pf, ok := r.pending[p]; ok && !ev.Has(fsnotify.Create) {
		// A write to a file already settling (a copy sends one per write): it must
		// settle from now; the tick looks at its size and mtime.
		pf.changed = time.Now()
		return
	}
	info, err := os.Lstat(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			r.removed(p)
		}
		return
	}
	if info.IsDir() {
		if ev.Has(fsnotify.Create) {
			// A directory created or moved in: watch it and everything under it,
			// and take every file in it as new.
			if err := r.addTree(p, func(fp string, fi fs.FileInfo) { r.observe(fp, fi, time.Now()) }); err != nil {
				r.degrade(err)
				r.reconcile(ctx, "watch limit")
			}
			r.counts()
		}
		return
	}
	if info.Mode().IsRegular() && r.wanted(p) {
		r.observe(p, info, time.Now())
	}
}

// observe notes that a file is new or may have changed: it must settle from now.
func (r *rootWatch) observe(p string, info fs.FileInfo, now time.Time) {
	delete(r.gone, p)
	delete(r.settled, p)
	pf, ok := r.pending[p]
	if !ok {
		pf = &pending{}
		r.pending[p] = pf
	}
	pf.size, pf.mtime, pf.changed = info.Size(), info.ModTime(), now
	r.counts()
}

// removed notes that p (a file or a directory) was removed or moved away.
func (r *rootWatch) removed(p string) {
	for f := range r.pending {
		if f == p || strings.HasPrefix(f, p+"/") {
			delete(r.pending, f)
		}
	}
	for f := range r.settled {
		if f == p || strings.HasPrefix(f, p+"/") {
			delete(r.settled, f)
		}
	}
	for d := range r.dirs {
		if d == p || strings.HasPrefix(d, p+"/") {
			// A directory moved away keeps its inotify watch (it follows the inode);
			// drop it, or its events would come under a path that is no longer
			// there.
			if r.n != nil {
				_ = r.n.Remove(d)
			}
			delete(r.dirs, d)
		}
	}
	r.queue(r.gone, p, time.Now())
	r.counts()
}

func (r *rootWatch) queue(set map[string]struct{}, p string, now time.Time) {
	if len(r.settled) == 0 && len(r.gone) == 0 {
		r.since = now
	}
	set[p] = struct{}{}
}

// tick checks the pending files: one whose size or mtime changed starts over; one
// unchanged for the settle time is settled; one that vanished is gone. Then the
// waiting files go out as one batch once nothing is pending (a burst that has
// ended), or once the oldest has waited a settle time, and at least minBatchWait
// (a burst that goes on).
func (r *rootWatch) tick(ctx context.Context, now time.Time) {
	settle := r.w.o.Settle
	for p, pf := range r.pending {
		info, err := os.Lstat(p)
		switch {
		case err != nil || !info.Mode().IsRegular():
			delete(r.pending, p)
			if err != nil && errors.Is(err, fs.ErrNotExist) {
				r.queue(r.gone, p, now)
			}
		case info.Size() != pf.size || !info.ModTime().Equal(pf.mtime):
			pf.size, pf.mtime, pf.changed = info.Size(), info.ModTime(), now
		case now.Sub(pf.changed) >= settle:
			delete(r.pending, p)
			r.queue(r.settled, p, now)
		}
	}
	r.counts()
	if len(r.settled) == 0 && len(r.gone) == 0 {
		return
	}
	if len(r.pending) > 0 && now.Sub(r.since) < max(settle, minBatchWait) {
		return
	}
	r.flush(ctx)
}

// flush hands the waiting files to the handler, in batches of at most maxBatch
// paths. What the handler refuses stays for the next tick.
func (r *rootWatch) flush(ctx context.Context) {
	changed := slices.Sorted(keys(r.settled))
	gone := slices.Sorted(keys(r.gone))
	for len(changed) > 0 || len(gone) > 0 {
		var b Batch
		nc := min(len(changed), maxBatch)
		b.Changed, changed = changed[:nc], changed[nc:]
		ng := min(len(gone), maxBatch-nc)
		b.Gone, gone = gone[:ng], gone[ng:]
		err := r.root.Handler.Handle(ctx, r.root.Path, b)
		var later *Later
		if errors.As(err, &later) {
			for _, p := range later.Paths {
				delete(r.settled, p)
				if info, serr := os.Lstat(p); serr == nil && info.Mode().IsRegular() {
					r.observe(p, info, time.Now())
				}
			}
			err = nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if err.Error() != r.lastErr {
				r.log.Warn("cannot hand over changed files; retrying", "error", err.Error(),
					"changed", len(b.Changed), "gone", len(b.Gone))
				r.lastErr = err.Error()
			}
			return
		}
		r.lastErr = ""
		r.log.Info("changed files handed over", "changed", len(b.Changed), "gone", len(b.Gone))
		for _, p := range b.Changed {
			delete(r.settled, p)
		}
		for _, p := range b.Gone {
			delete(r.gone, p)
		}
	}
	r.since = time.Now()
}

func keys(m map[string]struct{}) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// reconcile walks the root (watching every directory it finds, unless degraded)
// and compares it with the catalogue: files that are new, changed or not yet
// probed must settle; catalogued files that are no longer there are gone. Files of
// unreadable directories are left alone.
func (r *rootWatch) reconcile(ctx context.Context, why string) {
	t := time.Now()
	known, err := r.w.o.Catalogue.KnownFiles(ctx, r.root.Path)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Error("reconcile: cannot read the catalogue; retrying at the next rescan", "error", err.Error())
		}
		return
	}
	now := time.Now()
	var unreadable []string
	var found, queued int
	_ = filepath.WalkDir(r.root.Path, func(p string, d fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				unreadable = append(unreadable, p)
			}
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if r.n != nil {
				if _, ok := r.dirs[p]; !ok {
					if err := r.n.Add(p); err != nil {
						if errors.Is(err, fs.ErrNotExist) {
							return fs.SkipDir
						}
						// Go on without watches: this walk is the rescan.
						r.degrade(fmt.Errorf("watch %s: %w", p, err))
						return nil
					}
					r.dirs[p] = struct{}{}
				}
			}
			return nil
		}
		if !d.Type().IsRegular() || !r.wanted(p) {
			return nil
		}
		info, ierr := d.Info()
		if ierr != nil {
			return nil //nolint:nilerr // vanished since it was listed: gone, if catalogued
		}
		found++
		k, ok := known[p]
		delete(known, p)
		if ok && k.Probed && !k.Missing && k.Size == info.Size() && k.MtimeNS == info.ModTime().UnixNano() {
			return nil
		}
		_, waiting := r.pending[p]
		_, settled := r.settled[p]
		if !waiting && !settled {
			r.observe(p, info, now)
			queued++
		}
		return nil
	})
	if ctx.Err() != nil {
		return
	}
	var gone int
	for p, k := range known {
		if k.Missing || underAny(p, unreadable) {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			continue // not a file the walk reports (a symlink, say); the scanner's business
		}
		r.queue(r.gone, p, now)
		gone++
	}
	r.counts()
	r.log.Info("library root reconciled", "reason", why, "found", found, "to_settle", queued, "gone", gone,
		"duration_ms", time.Since(t).Milliseconds())
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
