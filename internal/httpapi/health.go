package httpapi

import (
	"context"
	"math"
	"net/http"
	"runtime"
	"time"
)

// DatabaseChecker probes the database; catalog.Store implements it.
type DatabaseChecker interface {
	Check(ctx context.Context) error
}

// HealthTimeout bounds the probes behind /health, so that it answers well under
// 100 ms even when the database hangs.
const HealthTimeout = 50 * time.Millisecond

// Health is the /health response body.
type Health struct {
	Status        string  `json:"status"` // starting, healthy, degraded, unhealthy
	Database      string  `json:"database"`
	DatabaseError string  `json:"database_error,omitempty"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	Version       string  `json:"version"`
	ShuttingDown  bool    `json:"shutting_down"`
	SchemaVersion int64   `json:"schema_version"`
	// Jobs is present when the job engine runs.
	Jobs *JobsHealth `json:"jobs,omitempty"`
	// Tools maps each external tool to "ok" or why it cannot be used.
	Tools map[string]string `json:"tools,omitempty"`
	// Goroutines is the daemon's goroutine count, for leak monitoring.
	Goroutines int `json:"goroutines"`
}

// JobsHealth is the job engine's part of /health.
type JobsHealth struct {
	Queued  int    `json:"queued"`
	Running int    `json:"running"`
	Workers string `json:"workers"` // "ok...", or why the workers are not taking work
	alive   bool
}

// probes is the result of one round of health probes.
type probes struct {
	dbErr error
	jobs  *JobsHealth
	tools map[string]string
}

func (a *API) handleHealth(w http.ResponseWriter, r *http.Request) error {
	h, code := a.Health(r.Context())
	writeJSON(w, code, h)
	return nil
}

// Health computes the health report and its HTTP status.
func (a *API) Health(ctx context.Context) (Health, int) {
	h := Health{
		Version:       a.deps.Version,
		SchemaVersion: a.deps.SchemaVersion,
		UptimeSeconds: math.Round(time.Since(a.deps.Started).Seconds()*1000) / 1000,
		ShuttingDown:  a.draining.Load(),
		Goroutines:    runtime.NumGoroutine(),
	}
	p := a.probe(ctx)
	h.Database = "connected"
	if p.dbErr != nil {
		h.Database = "disconnected"
		h.DatabaseError = p.dbErr.Error()
	}
	h.Jobs, h.Tools = p.jobs, p.tools
	workersOK := p.jobs == nil || p.jobs.alive
	switch {
	case h.ShuttingDown:
		h.Status = "unhealthy"
	case !a.ready.Load():
		h.Status = "starting"
	case p.dbErr != nil || !workersOK:
		h.Status = "degraded"
	default:
		h.Status = "healthy"
		return h, http.StatusOK
	}
	return h, http.StatusServiceUnavailable
}

// probe runs the probes with HealthTimeout in a goroutine, so that even a probe
// blocked in a system call cannot hold the response past the deadline. Concurrent
// callers share one round, so a flood of health checks costs one round at a time
// and a hung database holds at most one goroutine.
func (a *API) probe(ctx context.Context) probes {
	ch := a.health.DoChan("probe", func() (any, error) {
		cctx, cancel := context.WithTimeout(context.Background(), HealthTimeout)
		defer cancel()
		return a.runProbes(cctx), nil
	})
	timer := time.NewTimer(HealthTimeout + 10*time.Millisecond)
	defer timer.Stop()
	select {
	case res := <-ch:
		return res.Val.(probes)
	case <-timer.C:
		return probes{dbErr: errDatabaseTimeout}
	case <-ctx.Done():
		return probes{dbErr: ctx.Err()}
	}
}

func (a *API) runProbes(ctx context.Context) probes {
	var p probes
	if a.deps.Database == nil {
		p.dbErr = errNoDatabase
	} else {
		p.dbErr = a.deps.Database.Check(ctx)
	}
	if a.deps.Jobs != nil && p.dbErr == nil {
		p.jobs = a.jobsHealth(ctx)
	}
	if a.deps.Scanner != nil {
		p.tools = map[string]string{"ffprobe": "ok"}
		if err := a.deps.Scanner.Prober().Check(); err != nil {
			p.tools["ffprobe"] = err.Error()
		}
	}
	return p
}

// jobsHealth reports the queue and whether the workers are taking work. Both are
// cheap reads on River's state index.
func (a *API) jobsHealth(ctx context.Context) *JobsHealth {
	jh := &JobsHealth{}
	q, r, err := a.deps.Jobs.Counts(ctx)
	if err != nil {
		jh.Workers = "cannot count jobs: " + err.Error()
		return jh
	}
	jh.Queued, jh.Running = q, r
	jh.alive, jh.Workers = a.deps.Jobs.Alive(ctx)
	return jh
}

type healthError string

func (e healthError) Error() string { return string(e) }

const (
	errNoDatabase      = healthError("database is not open")
	errDatabaseTimeout = healthError("database did not answer within 50ms")
)
