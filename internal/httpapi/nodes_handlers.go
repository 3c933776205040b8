package httpapi

import (
	"net/http"
	"time"
)

// NodeAlive is how recent a node's heartbeat must be for GET /api/nodes to
// call it alive: three of the daemon's 10 s heartbeats.
const NodeAlive = 30 * time.Second

// Node is a node as GET /api/nodes shows it. Its JSON field names are part of
// the API (docs/api.md).
type Node struct {
	Name          string    `json:"name"`
	Version       string    `json:"version"`
	PID           int       `json:"pid"`
	Workers       int       `json:"workers"`
	StartedAt     time.Time `json:"started_at"`
	LastHeartbeat time.Time `json:"last_heartbeat"`
	Alive         bool      `json:"alive"`
	// RunningJobs are the ids of the jobs the node runs.
	RunningJobs []int64 `json:"running_jobs"`
}

// handleListNodes lists the nodes that work the database (one on SQLite),
// their last heartbeat and the jobs each runs.
func (a *API) handleListNodes(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	nodes, err := a.deps.Store.Nodes(ctx)
	if err != nil {
		return err
	}
	running, err := a.deps.Jobs.RunningJobs(ctx)
	if err != nil {
		return err
	}
	byNode := map[string][]int64{}
	for _, j := range running {
		if j.By == "" && len(nodes) == 1 {
			j.By = nodes[0].Name // SQLite: the one daemon's
		}
		byNode[j.By] = append(byNode[j.By], j.ID)
	}
	out := make([]Node, 0, len(nodes))
	now := time.Now()
	for _, n := range nodes {
		ids := byNode[n.Name]
		if ids == nil {
			ids = []int64{}
		}
		out = append(out, Node{Name: n.Name, Version: n.Version, PID: n.PID, Workers: n.Workers,
			StartedAt: n.StartedAt, LastHeartbeat: n.HeartbeatAt, Alive: now.Sub(n.HeartbeatAt) < NodeAlive,
			RunningJobs: ids})
	}
	writeJSON(w, http.StatusOK, map[string]any{"nodes": out})
	return nil
}
