package library

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/scan"
)

// ScanPaths is the scan of what changed under root (already resolved by
// ResolveDir), as the watcher reports it: the files in changed are probed unless
// the catalogue has them with the same size and mtime, and the paths in gone
// (files, or directories whose files went with them) are marked missing unless
// they exist again. Paths outside root are skipped with a warning. It reports and
// returns counters as Scan does.
func (s *Scanner) ScanPaths(ctx context.Context, root string, changed, gone []string, logger *slog.Logger, report func(catalog.Counts)) (catalog.Counts, error) {
	start := time.Now()
	gone = slices.Clone(gone)
	logger.Info("scan of changed paths started", "path", root, "changed", len(changed), "gone", len(gone))
	var c counters
	stopReports := s.reportEvery(&c, report)
	defer stopReports()

	work := make(chan scan.Entry, 64)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for _, p := range changed {
			if !within(p, root) {
				logger.Warn("changed path outside the root; skipped", "file_path", p)
				continue
			}
			info, err := os.Lstat(p)
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					gone = append(gone, p) // gone again before its scan
				}
				continue
			}
			if !info.Mode().IsRegular() {
				continue
			}
			c.found.Add(1)
			e := scan.Entry{Path: p, Size: info.Size(), ModTime: info.ModTime()}
			f, err := s.store.GetFileByPath(gctx, p)
			switch {
			case err == nil && f.ProbedAt != nil && f.Size == e.Size && f.ModTime.Equal(e.ModTime):
				c.unchanged.Add(1)
				if f.Missing {
					if err := s.store.MarkPresent(gctx, []int64{f.ID}); err != nil {
						return err
					}
				}
				continue
			case err != nil && !errors.Is(err, catalog.ErrNotFound):
				return err
			}
			select {
			case work <- e:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
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
			return c.snapshot(), fmt.Errorf("scan of %s interrupted: %w", root, ctx.Err())
		}
		return c.snapshot(), fmt.Errorf("scan of %s: %w", root, err)
	}

	var missing []int64
	for _, p := range gone {
		if !within(p, root) {
			continue
		}
		if _, err := os.Lstat(p); err == nil {
			continue // there again: not gone
		}
		if f, err := s.store.GetFileByPath(ctx, p); err == nil {
			if !f.Missing {
				missing = append(missing, f.ID)
				logger.Info("file is missing", "file_path", p)
			}
		} else if !errors.Is(err, catalog.ErrNotFound) {
			return c.snapshot(), err
		}
		under, err := s.store.KnownFiles(ctx, p)
		if err != nil {
			return c.snapshot(), err
		}
		for fp, k := range under {
			if !k.Missing {
				missing = append(missing, k.ID)
				logger.Info("file is missing", "file_path", fp)
			}
		}
	}
	return s.finish(ctx, &c, missing, stopReports, report, logger, root, start)
}
