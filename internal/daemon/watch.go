package daemon

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/watch"
)

// --- watch: watched library roots to scan jobs ------------------------------------

// startWatch watches the roots configured with watch = true. Each root's mode
// picks its handler; only catalog exists in this vpo, so a root with mode plan or
// apply is a configuration error rather than a root that silently only
// catalogues. A watched root inside another watched root is covered by the outer
// one (validation has made sure that their policy and mode agree).
func (d *daemon) startWatch(ctx context.Context) error {
	var roots []watch.Root
	if err := checkRootModes(d.cfg); err != nil {
		return err
	}
	for _, rc := range d.cfg.Library.RootConfigs {
		h, err := d.rootHandler(rc)
		if err != nil {
			return err
		}
		if !rc.Watch {
			continue
		}
		p := rc.Path
		if rp, err := filepath.EvalSymlinks(p); err == nil {
			p = rp // events and the catalogue use resolved paths, as scans do
		}
		roots = append(roots, watch.Root{Path: p, Handler: h})
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

// rootHandler returns the handler of a root's mode.
func (d *daemon) rootHandler(rc config.Root) (watch.Handler, error) {
	if err := modeSupported(rc.Mode); err != nil {
		return nil, err
	}
	return catalogHandler{d: d}, nil
}

// modeSupported says whether this vpo has the feature a root's mode needs. Plan and
// apply arrive with the policy and apply work; each adds its handler to rootHandler
// and its mode here.
func modeSupported(mode string) error {
	if mode == config.ModeCatalog {
		return nil
	}
	return fmt.Errorf("mode %s needs the %s feature, not in this vpo yet", mode, mode)
}

// checkRootModes refuses, as a configuration error, a root whose mode this vpo
// cannot do, before the daemon starts anything (it runs first in run).
func checkRootModes(cfg *config.Config) error {
	for i, rc := range cfg.Library.RootConfigs {
		if err := modeSupported(rc.Mode); err != nil {
			return &config.Error{Origin: cfg.File, Key: "library.roots",
				Msg: fmt.Sprintf("entry %d (%s): %s", i+1, rc.Path, err.Error())}
		}
	}
	return nil
}

// catalogHandler is mode catalog: each batch becomes one scan job of the changed
// paths. A full queue refuses the batch; the watcher offers it again.
type catalogHandler struct{ d *daemon }

func (h catalogHandler) Handle(ctx context.Context, root string, b watch.Batch) error {
	if limit := int(h.d.maxQueued.Load()); limit > 0 {
		queued, _, err := h.d.app.Jobs.Counts(ctx)
		if err != nil {
			return err
		}
		if queued >= limit {
			return fmt.Errorf("the job queue is full (%d queued jobs)", queued)
		}
	}
	id, err := h.d.app.Jobs.Insert(ctx, library.ScanArgs{Path: root, Changed: b.Changed, Gone: b.Gone})
	if err != nil {
		return err
	}
	logging.Component(h.d.logger, "watch").Info("scan job submitted", "job_id", id, "root", root,
		"changed", len(b.Changed), "gone", len(b.Gone))
	return nil
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
