// Package library scans library directories into the catalogue: it walks a
// directory, skips files whose size and mtime are unchanged, probes new and changed
// files with ffprobe, records each file in one transaction, and marks files that
// disappeared as missing. The daemon's scan and probe jobs and the foreground
// `vpo scan` use the same code.
package library

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/scan"
)

// ErrBadPath is matched (errors.Is) by every *PathError.
var ErrBadPath = errors.New("bad path")

// PathError is a path a client asked to scan or probe that vpo refuses. The API
// answers it with a client error showing Reason; its Error is "bad path: " + Reason.
type PathError struct {
	Path   string // as the client gave it
	Reason string // one line naming the path and what is wrong with it
	Err    error  // the underlying error, if any
}

func (e *PathError) Error() string { return ErrBadPath.Error() + ": " + e.Reason }

// Is makes errors.Is(err, ErrBadPath) true.
func (e *PathError) Is(target error) bool { return target == ErrBadPath }

func (e *PathError) Unwrap() error { return e.Err }

func badPath(p string, err error, format string, args ...any) error {
	return &PathError{Path: p, Reason: fmt.Sprintf(format, args...), Err: err}
}

// ProgressInterval is how often a running scan records its counters.
const ProgressInterval = 500 * time.Millisecond

// Scanner scans directories and probes files into the catalogue.
type Scanner struct {
	store  *catalog.Store
	prober probe.Runner
	exts   scan.ExtSet
	roots  []string
	slots  chan struct{}
	logger *slog.Logger
	obs    ProbeObserver
}

// ProbeObserver is told how long each ffprobe run took; internal/metrics
// implements it. outcome is "ok", "error" or "timeout".
type ProbeObserver interface {
	ObserveProbe(outcome string, took time.Duration)
}

// Options configure a Scanner.
type Options struct {
	Store  *catalog.Store
	Prober probe.Runner
	// Extensions are the video file extensions.
	Extensions []string
	// Roots, when not empty, are the only directories that may be scanned.
	Roots []string
	// Workers bounds the ffprobe processes running at once, across all scans.
	Workers int
	Logger  *slog.Logger
	// Observer, when not nil, is told of every ffprobe run (the daemon's metrics).
	Observer ProbeObserver
}

// NewScanner returns a Scanner.
func NewScanner(o Options) (*Scanner, error) {
	exts, err := scan.NewExtSet(o.Extensions)
	if err != nil {
		return nil, fmt.Errorf("library.extensions: %w", err)
	}
	if o.Workers < 1 {
		o.Workers = 1
	}
	return &Scanner{store: o.Store, prober: o.Prober, exts: exts, roots: o.Roots,
		slots: make(chan struct{}, o.Workers), logger: o.Logger, obs: o.Observer}, nil
}

// Prober returns the ffprobe runner, for health checks.
func (s *Scanner) Prober() probe.Runner { return s.prober }

// ResolveDir checks a directory a client asked to scan: absolute, existing, a
// directory, and inside a library root when roots are configured, after resolving
// symlinks and "..". It returns the resolved path.
func (s *Scanner) ResolveDir(p string) (string, error) { return s.resolve(p, true) }

// ResolveFile is ResolveDir for a single file to probe.
func (s *Scanner) ResolveFile(p string) (string, error) { return s.resolve(p, false) }

func (s *Scanner) resolve(p string, dir bool) (string, error) {
	if p == "" {
		return "", badPath(p, nil, "path is empty")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", badPath(p, nil, "path contains a NUL byte")
	}
	if !filepath.IsAbs(p) {
		return "", badPath(p, nil, "path %q is not absolute", p)
	}
	resolved, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", badPath(p, nil, "path %q does not exist", p)
		}
		return "", badPath(p, err, "path %q: %v", p, unwrapPath(err))
	}
	st, err := os.Stat(resolved)
	if err != nil {
		return "", badPath(p, err, "path %q: %v", p, unwrapPath(err))
	}
	if dir && !st.IsDir() {
		return "", badPath(p, nil, "path %q is not a directory", p)
	}
	if !dir && !st.Mode().IsRegular() {
		return "", badPath(p, nil, "path %q is not a regular file", p)
	}
	// Refuse now what the job could not read anyway (as this daemon's user, under
	// its sandbox), rather than queue a job bound to fail.
	f, err := os.Open(resolved)
	if err != nil {
		return "", badPath(p, err, "path %q cannot be read: %v", p, unwrapPath(err))
	}
	if dir {
		_, err = f.ReadDir(1)
	}
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) {
		return "", badPath(p, err, "path %q cannot be read: %v", p, unwrapPath(err))
	}
	if len(s.roots) > 0 && !s.insideRoots(resolved) {
		return "", badPath(p, nil, "path %q is outside the library roots (%s)", p, strings.Join(s.roots, ", "))
	}
	return resolved, nil
}

func (s *Scanner) insideRoots(p string) bool {
	for _, r := range s.roots {
		if rr, err := filepath.EvalSymlinks(r); err == nil {
			r = rr
		}
		if within(p, r) {
			return true
		}
	}
	return false
}

// within reports whether p is dir or lies under it.
func within(p, dir string) bool {
	if dir == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// counters are a scan's live counts, updated from several goroutines.
type counters struct{ found, probed, unchanged, failed, missing atomic.Int64 }

func (c *counters) snapshot() catalog.Counts {
	return catalog.Counts{Found: c.found.Load(), Probed: c.probed.Load(), Unchanged: c.unchanged.Load(),
		Failed: c.failed.Load(), Missing: c.missing.Load()}
}

// Scan scans dir (already resolved by ResolveDir) into the catalogue. report, if not
// nil, receives the counters every ProgressInterval and once at the end. logger
// carries the job's context (job_id). On cancellation Scan returns an error wrapping
// ctx.Err(); every file recorded before that is complete, and nothing is marked
// missing.
func (s *Scanner) Scan(ctx context.Context, dir string, logger *slog.Logger, report func(catalog.Counts)) (catalog.Counts, error) {
	start := time.Now()
	known, err := s.store.KnownFiles(ctx, dir)
	if err != nil {
		return catalog.Counts{}, err
	}
	logger.Info("scan started", "path", dir, "catalogued", len(known))

	var c counters
	stopReports := s.reportEvery(&c, report)
	defer stopReports()

	var (
		reappeared []int64
		mu         sync.Mutex
		unreadable []string
	)
	work := make(chan scan.Entry, 64)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		return scan.Walk(gctx, dir, s.exts, func(e scan.Entry) error {
			c.found.Add(1)
			k, ok := known[e.Path]
			delete(known, e.Path)
			if ok && k.Probed && k.Size == e.Size && k.MtimeNS == e.ModTime.UnixNano() {
				c.unchanged.Add(1)
				if k.Missing {
					reappeared = append(reappeared, k.ID)
				}
				return nil
			}
			select {
			case work <- e:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		}, func(path string, err error) {
			logger.Warn("skipping unreadable path", "file_path", path, "error", err.Error())
			mu.Lock()
			unreadable = append(unreadable, path)
			mu.Unlock()
		})
	})
	for range cap(s.slots) {
		g.Go(func() error {
			for e := range work {
				if err := s.probeEntry(gctx, e, logger, &c); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return c.snapshot(), fmt.Errorf("scan of %s interrupted: %w", dir, ctx.Err())
		}
		return c.snapshot(), fmt.Errorf("scan of %s: %w", dir, err)
	}

	for _, u := range unreadable {
		if u == dir {
			// Nothing under it could be read: that is a failed scan, not an empty one,
			// and no catalogued file is marked missing.
			return c.snapshot(), fmt.Errorf("scan of %s: the directory cannot be read", dir)
		}
	}
	if err := s.store.MarkPresent(ctx, reappeared); err != nil {
		return c.snapshot(), err
	}
	var gone []int64
	for path, k := range known {
		if k.Missing || underAny(path, unreadable) {
			continue
		}
		gone = append(gone, k.ID)
		logger.Info("file is missing", "file_path", path)
	}
	return s.finish(ctx, &c, gone, stopReports, report, logger, dir, start)
}

// finish ends a scan of path: it marks the gone files missing, sends the last
// report and logs the counts.
func (s *Scanner) finish(ctx context.Context, c *counters, gone []int64, stopReports func(),
	report func(catalog.Counts), logger *slog.Logger, path string, start time.Time) (catalog.Counts, error) {
	if err := s.store.MarkMissing(ctx, gone); err != nil {
		return c.snapshot(), err
	}
	c.missing.Store(int64(len(gone)))
	counts := c.snapshot()
	stopReports()
	if report != nil {
		report(counts)
	}
	logger.Info("scan finished", "path", path, "found", counts.Found, "probed", counts.Probed,
		"unchanged", counts.Unchanged, "failed", counts.Failed, "missing", counts.Missing,
		"duration_ms", time.Since(start).Milliseconds())
	return counts, nil
}

// reportEvery calls report with a snapshot of c every ProgressInterval until the
// returned stop function is called (which is idempotent).
func (s *Scanner) reportEvery(c *counters, report func(catalog.Counts)) (stop func()) {
	if report == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				report(c.snapshot())
			case <-done:
				return
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { close(done); <-finished }) }
}

func underAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if within(path, d) {
			return true
		}
	}
	return false
}

// probeEntry fingerprints and probes one file and records it. A file ffprobe cannot
// read is recorded with its error; only cancellation and catalogue errors stop the
// scan.
func (s *Scanner) probeEntry(ctx context.Context, e scan.Entry, logger *slog.Logger, c *counters) error {
	_, err := s.ProbeEntry(ctx, e, logger)
	switch {
	case err == nil:
		c.probed.Add(1)
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, errFileUnreadable):
		c.failed.Add(1)
		return nil
	default:
		return err
	}
}

// errFileUnreadable marks a per-file failure that was recorded or logged, not fatal
// to the scan.
var errFileUnreadable = errors.New("file could not be read")

// ProbeEntry probes one file found by a walk and records the result in one
// transaction, returning the recorded file. A file that ffprobe cannot read is
// recorded with the error, and the returned error wraps errFileUnreadable.
func (s *Scanner) ProbeEntry(ctx context.Context, e scan.Entry, logger *slog.Logger) (catalog.File, error) {
	log := logger.With("file_path", e.Path)
	select {
	case s.slots <- struct{}{}:
	case <-ctx.Done():
		return catalog.File{}, ctx.Err()
	}
	defer func() { <-s.slots }()

	fp, err := scan.Fingerprint(e.Path, e.Size)
	if err != nil {
		// The file vanished or changed while we looked at it; the next scan sees it.
		log.Warn("cannot fingerprint file; skipped", "error", err.Error())
		return catalog.File{}, fmt.Errorf("%w: %w", errFileUnreadable, err)
	}
	obs := catalog.Observation{Path: e.Path, Size: e.Size, ModTime: e.ModTime, Fingerprint: fp}
	probeStart := time.Now()
	res, perr := s.prober.Probe(ctx, e.Path)
	if ctx.Err() != nil {
		return catalog.File{}, ctx.Err()
	}
	if s.obs != nil {
		s.obs.ObserveProbe(probeOutcome(perr), time.Since(probeStart))
	}
	if perr != nil {
		obs.ProbeError = perr.Error()
		// A missing ffprobe is the machine's fault, and a timeout may be (a slow
		// network share): leave the file unprobed so that the next scan tries again.
		// A file ffprobe rejects stays recorded with its error until it changes.
		obs.Retry = errors.Is(perr, probe.ErrNotFound) || errors.Is(perr, probe.ErrTimeout)
	} else {
		obs.Result = res
	}
	id, err := s.store.RecordFile(ctx, obs)
	if err != nil {
		if ctx.Err() != nil {
			return catalog.File{}, ctx.Err()
		}
		return catalog.File{}, err
	}
	if perr != nil {
		log.Warn("ffprobe could not read file; recorded with the error", "error", perr.Error())
		return catalog.File{ID: id, Path: e.Path, ProbeError: obs.ProbeError}, fmt.Errorf("%w: %w", errFileUnreadable, perr)
	}
	log.Debug("file probed", "container", res.Container, "tracks", len(res.Tracks))
	return catalog.File{ID: id, Path: e.Path, Container: res.Container}, nil
}

// probeOutcome is a probe's outcome as ProbeObserver reports it.
func probeOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, probe.ErrTimeout):
		return "timeout"
	}
	return "error"
}

// ProbeFile probes one file (already resolved by ResolveFile) and records it.
func (s *Scanner) ProbeFile(ctx context.Context, path string, logger *slog.Logger) (catalog.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return catalog.File{}, badPath(path, err, "%s: %v", path, unwrapPath(err))
	}
	f, err := s.ProbeEntry(ctx, scan.Entry{Path: path, Size: st.Size(), ModTime: st.ModTime()}, logger)
	if errors.Is(err, errFileUnreadable) {
		return f, nil // recorded with its error
	}
	return f, err
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
