package daemon

import (
	"context"
	"path/filepath"

	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/watch"
)

// --- roots: GET /api/roots and /health's watch -----------------------------------

// roots lists the configured library roots with their watch state and their
// schedule, for GET /api/roots (and `vpo roots`). A watched root inside another
// one shares the outer root's watch (the outer one watches it).
func (d *daemon) roots(ctx context.Context) ([]httpapi.Root, error) {
	states := d.WatchStates()
	out := make([]httpapi.Root, 0, len(d.cfg.Library.RootConfigs))
	for _, rc := range d.cfg.Library.RootConfigs {
		r := httpapi.Root{Path: rc.Path, Policy: rc.Policy, Mode: rc.Mode, Watch: string(watch.StateOff)}
		switch {
		case !rc.Watch:
			r.WatchReason = "not watched (watch = false)"
		case states == nil:
			r.WatchReason = "the watcher has not started"
		default:
			p := rc.Path
			if rp, err := filepath.EvalSymlinks(p); err == nil {
				p = rp
			}
			for _, st := range states {
				if st.Path == p || within(p, st.Path) {
					r.Watch, r.WatchReason, r.Directories, r.Pending = string(st.Watch), st.Reason, st.Directories, st.Pending
					break
				}
			}
		}
		if st, ok, err := d.app.Schedule.State(ctx, rc.Path); err != nil {
			return nil, err
		} else if ok {
			r.Schedule = st
		}
		out = append(out, r)
	}
	return out, nil
}

// watchSummary is /health's watch: "" when no root is watched, "degraded" when
// a watched root is not fully watched, else "ok".
func (d *daemon) watchSummary() string {
	states := d.WatchStates()
	if len(states) == 0 {
		return ""
	}
	for _, st := range states {
		if st.Watch != watch.StateOK {
			return "degraded"
		}
	}
	return "ok"
}
