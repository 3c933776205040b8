package httpapi

import (
	"context"
	"net/http"
)

// Root is a library root as GET /api/roots and `vpo roots` show it: its
// configuration, its watch state and its schedule. Its JSON field names are part
// of the API (docs/api.md).
type Root struct {
	Path   string `json:"path"`
	Policy string `json:"policy,omitempty"`
	Mode   string `json:"mode"`
	// Watch is ok, degraded or off (a root with watch = false is off, with the
	// reason "not watched"); WatchReason says why it is not ok.
	Watch       string `json:"watch"`
	WatchReason string `json:"watch_reason,omitempty"`
	// Directories watched and files waiting to settle.
	Directories int `json:"directories"`
	Pending     int `json:"pending"`
	// Schedule is the root's scheduled rescan, nil without one.
	Schedule any `json:"schedule,omitempty"`
}

// RootsFunc lists the library roots; the daemon implements it (it owns the
// watcher and the schedules).
type RootsFunc func(ctx context.Context) ([]Root, error)

func (a *API) handleListRoots(w http.ResponseWriter, r *http.Request) error {
	roots, err := a.deps.Roots(r.Context())
	if err != nil {
		return err
	}
	if roots == nil {
		roots = []Root{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"roots": roots})
	return nil
}
