package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/watch"
)

// --- watch: watched library roots to scan jobs ------------------------------------

// startWatch watches the roots configured with watch = true. Each root's mode
// says what its batches become (rootHandler). A watched root inside another
// watched root is covered by the outer one (validation has made sure that their
// policy and mode agree).
func (d *daemon) startWatch(ctx context.Context) error {
	var roots []watch.Root
	for _, rc := range d.cfg.Library.RootConfigs {
		if !rc.Watch {
			continue
		}
		p := rc.Path
		if rp, err := filepath.EvalSymlinks(p); err == nil {
			p = rp // events and the catalogue use resolved paths, as scans do
		}
		roots = append(roots, watch.Root{Path: p, Handler: d.rootHandler(rc)})
	}
	roots = outermost(roots)
	w, err := watch.New(watch.Options{
		Roots:      roots,
		Settle:     d.cfg.Library.Settle,
		Extensions: d.cfg.Library.Extensions,
		Catalogue:  d.app.Store,
		Logger:     logging.Component(d.logger, "watch"),
	})
	if err != nil {
		return err
	}
	d.watcher = w
	return w.Start(ctx)
}

func (d *daemon) stopWatch(ctx context.Context) { d.watcher.Stop(ctx) }

// rootHandler returns the handler of a root's mode: every mode submits one scan
// job a batch; in mode plan or apply the scan job, once it has catalogued the
// files, submits a plan or apply job of the root's policy for them
// (library.ScanArgs.Then; internal/app wires it).
func (d *daemon) rootHandler(rc config.Root) watch.Handler {
	h := rootHandler{d: d, policy: rc.Policy}
	switch rc.Mode {
	case config.ModePlan, config.ModeApply:
		h.then = rc.Mode
	}
	return h
}

// rootHandler turns a watched root's batch into a scan job (and, by its Then, a
// plan or apply job). A full queue refuses the batch; the watcher offers it again.
type rootHandler struct {
	d      *daemon
	then   string // "", "plan" or "apply"
	policy string
}

func (h rootHandler) Handle(ctx context.Context, root string, b watch.Batch) error {
	changed, busy, err := h.d.selfWritten(ctx, b.Changed)
	if err != nil {
		return err
	}
	gone, err := h.d.catalogued(ctx, b.Gone)
	if err != nil {
		return err
	}
	b.Gone = gone
	if len(changed) == 0 && len(b.Gone) == 0 {
		if len(busy) > 0 {
			return &watch.Later{Paths: busy}
		}
		return nil
	}
	if limit := int(h.d.maxQueued.Load()); limit > 0 {
		queued, _, err := h.d.app.Jobs.Counts(ctx)
		if err != nil {
			return err
		}
		if queued >= limit {
			return fmt.Errorf("the job queue is full (%d queued jobs)", queued)
		}
	}
	args := library.ScanArgs{Path: root, Changed: changed, Gone: b.Gone}
	if len(changed) > 0 {
		args.Then, args.Policy = h.then, h.policy
	}
	id, err := h.d.app.Jobs.Insert(ctx, args)
	if err != nil {
		return err
	}
	logging.Component(h.d.logger, "watch").Info("scan job submitted", "job_id", id, "root", root,
		"changed", len(changed), "gone", len(b.Gone), "then", args.Then)
	if len(busy) > 0 {
		return &watch.Later{Paths: busy}
	}
	return nil
}

// selfWritten sorts out the changed files that are vpo's own writes: a file
// whose catalogue entry already has its size and mtime needs nothing (the final
// rename of an apply, which records the new version in the same step); a file an
// apply is working on right now (claimed) is busy and settles again, so that an
// event of the rename that comes before the apply's record is not taken for a
// new file. What is left is changed.
func (d *daemon) selfWritten(ctx context.Context, paths []string) (changed, busy []string, err error) {
	if len(paths) == 0 {
		return nil, nil, nil
	}
	claims, err := d.app.Store.Claims(ctx)
	if err != nil {
		return nil, nil, err
	}
	claimed := make(map[string]bool, len(claims))
	for _, c := range claims {
		claimed[c.Path] = true
	}
	for _, p := range paths {
		if claimed[p] {
			busy = append(busy, p)
			continue
		}
		info, serr := os.Lstat(p)
		if serr != nil {
			changed = append(changed, p) // the scan will see it gone
			continue
		}
		f, gerr := d.app.Store.GetFileByPath(ctx, p)
		switch {
		case errors.Is(gerr, catalog.ErrNotFound):
		case gerr != nil:
			return nil, nil, gerr
		case f.ProbedAt != nil && !f.Missing && f.Size == info.Size() && f.ModTime.Equal(info.ModTime()):
			logging.Component(d.logger, "watch").Info("file skipped: catalogued as it is now (vpo's own write)", "file_path", p)
			continue
		}
		changed = append(changed, p)
	}
	return changed, busy, nil
}

// catalogued keeps the gone paths that the catalogue has as present files, or
// that are directories over present files: the others need no scan (a file
// removed before it settled; the original of a container conversion, whose
// catalogue entry the apply moved to the new name).
func (d *daemon) catalogued(ctx context.Context, gone []string) ([]string, error) {
	var out []string
	notMissing := false
	for _, p := range gone {
		f, err := d.app.Store.GetFileByPath(ctx, p)
		switch {
		case err == nil:
			if !f.Missing {
				out = append(out, p)
			}
			continue
		case !errors.Is(err, catalog.ErrNotFound):
			return nil, err
		}
		under, err := d.app.Store.ListFiles(ctx, catalog.FileFilter{PathPrefix: p, Missing: &notMissing, Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(under) > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

// outermost drops the roots that lie inside another root of the list.
func outermost(roots []watch.Root) []watch.Root {
	var out []watch.Root
	for i, r := range roots {
		inner := false
		for j, o := range roots {
			if i != j && o.Path != r.Path && within(r.Path, o.Path) || (o.Path == r.Path && j < i) {
				inner = true
				break
			}
		}
		if !inner {
			out = append(out, r)
		}
	}
	return out
}

func within(p, dir string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || len(p) > len(dir) && p[:len(dir)] == dir && p[len(dir)] == '/'
}

// WatchStates returns each watched root's watch state (ok, degraded, off), for
// /health and GET /api/roots; nil before the watcher started.
func (d *daemon) WatchStates() []watch.RootState {
	if d.watcher == nil {
		return nil
	}
	return d.watcher.States()
}
