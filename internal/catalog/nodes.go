package catalog

import (
	"context"
	"fmt"
	"time"
)

// Node is a vpo serve process working the database, as its heartbeat row
// says.
type Node struct {
	Name        string
	Version     string
	PID         int
	Workers     int
	StartedAt   time.Time
	HeartbeatAt time.Time
}

// Heartbeat records node n as alive now (its row is created or refreshed).
func (s *Store) Heartbeat(ctx context.Context, n Node) error {
	_, err := s.db.ExecContext(ctx, s.q.upsertNode, n.Name, n.Version, n.PID, n.Workers,
		formatTime(n.StartedAt), formatTime(time.Now()))
	if err != nil {
		return fmt.Errorf("heartbeat of node %s: %w", n.Name, Classify(err))
	}
	return nil
}

// Nodes lists the nodes that ever heartbeat, by name.
func (s *Store) Nodes(ctx context.Context) ([]Node, error) {
	rows, err := s.db.QueryContext(ctx, s.q.listNodes)
	if err != nil {
		return nil, fmt.Errorf("list nodes: %w", Classify(err))
	}
	defer rows.Close()
	var out []Node
	for rows.Next() {
		var n Node
		var started, beat string
		if err := rows.Scan(&n.Name, &n.Version, &n.PID, &n.Workers, &started, &beat); err != nil {
			return nil, fmt.Errorf("list nodes: %w", Classify(err))
		}
		n.StartedAt, n.HeartbeatAt = parseTime(started), parseTime(beat)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list nodes: %w", Classify(err))
	}
	return out, nil
}

// RunningJob is a running job and the River client that attempted it last
// ("" on SQLite, where the one daemon runs every running job).
type RunningJob struct {
	ID   int64
	Kind string
	By   string
}

// RunningJobs lists the running jobs, in id order.
func (j *JobQueue) RunningJobs(ctx context.Context) ([]RunningJob, error) {
	rows, err := j.db.QueryContext(ctx, j.q.runningByNode)
	if err != nil {
		return nil, fmt.Errorf("list running jobs: %w", Classify(err))
	}
	defer rows.Close()
	var out []RunningJob
	for rows.Next() {
		var r RunningJob
		if err := rows.Scan(&r.ID, &r.Kind, &r.By); err != nil {
			return nil, fmt.Errorf("list running jobs: %w", Classify(err))
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list running jobs: %w", Classify(err))
	}
	return out, nil
}
