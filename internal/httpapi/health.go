package httpapi

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"sync"
	"time"
)

// DatabaseChecker probes the database; catalog.Store implements it.
type DatabaseChecker interface {
	Check(ctx context.Context) error
}

// Health probes run in the background, so that GET /health never waits for the
// database: it reports the latest probe, and answers in microseconds even when the
// database hangs or the machine is saturated.
const (
	// ProbeInterval is how often the database, the job queue and the tools are probed.
	ProbeInterval = 500 * time.Millisecond
	// ProbeTimeout bounds one probe round. It is generous: on a saturated machine a
	// healthy database can take tens of milliseconds to answer, and that is not an
	// outage.
	ProbeTimeout = 2 * time.Second
	// HangAfter is how long a probe may be in flight before /health reports the
	// database as not answering, without waiting for ProbeTimeout.
	HangAfter = time.Second
)

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
	// Watch is "ok" when every watched root is watched, "degraded" when one fell
	// back to periodic rescans (the inotify watch limit) or cannot be read (see
	// GET /api/roots for which and why); absent when no root is watched. It does
	// not make the daemon unhealthy: the roots are still rescanned.
	Watch string `json:"watch,omitempty"`
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

// WorkersAlive reports whether the latest probe found the job workers taking
// work (false when the engine was not probed: no engine, or the database failed).
func (h Health) WorkersAlive() bool { return h.Jobs != nil && h.Jobs.alive }

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

// Health computes the health report and its HTTP status from the latest probes.
func (a *API) Health(ctx context.Context) (Health, int) {
	h := Health{
		Version:       a.deps.Version,
		SchemaVersion: a.deps.SchemaVersion,
		UptimeSeconds: math.Round(time.Since(a.deps.Started).Seconds()*1000) / 1000,
		ShuttingDown:  a.draining.Load(),
		Goroutines:    runtime.NumGoroutine(),
	}
	p := a.latestProbes()
	h.Database = "connected"
	if p.dbErr != nil {
		h.Database = "disconnected"
		h.DatabaseError = p.dbErr.Error()
	}
	h.Jobs, h.Tools = p.jobs, p.tools
	if a.deps.Watch != nil {
		h.Watch = a.deps.Watch()
	}
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

// probeState is the latest probe round and the one in flight.
type probeState struct {
	mu       sync.Mutex
	last     probes
	lastAt   time.Time // when last finished; zero before the first round
	inFlight time.Time // when the round in flight started; zero when none
}

// latestProbes returns the latest round, or an error when there is none yet, when a
// round has been in flight longer than HangAfter, or when the latest is stale.
func (a *API) latestProbes() probes {
	a.probes.mu.Lock()
	defer a.probes.mu.Unlock()
	now := time.Now()
	if t := a.probes.inFlight; !t.IsZero() && now.Sub(t) > HangAfter {
		return probes{dbErr: fmt.Errorf("database has not answered for %s", now.Sub(t).Round(time.Millisecond))}
	}
	if a.probes.lastAt.IsZero() {
		return probes{dbErr: errNotProbed}
	}
	if age := now.Sub(a.probes.lastAt); age > ProbeTimeout+2*ProbeInterval {
		return probes{dbErr: fmt.Errorf("no health probe has finished for %s", age.Round(time.Millisecond))}
	}
	return a.probes.last
}

// RunProbes probes the database, the job queue and the tools every ProbeInterval
// until ctx is done, and returns when it is (the goroutine it runs in ends then,
// unless a probe is stuck in a system call, which ProbeTimeout bounds for queries).
func (a *API) RunProbes(ctx context.Context) {
	t := time.NewTicker(ProbeInterval)
	defer t.Stop()
	for {
		a.probeOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ProbeNow runs one probe round synchronously, so that /health is current at once
// (at startup, and in tests).
func (a *API) ProbeNow(ctx context.Context) { a.probeOnce(ctx) }

func (a *API) probeOnce(ctx context.Context) {
	a.probes.mu.Lock()
	a.probes.inFlight = time.Now()
	a.probes.mu.Unlock()
	cctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	p := a.runProbes(cctx)
	cancel()
	a.probes.mu.Lock()
	a.probes.last, a.probes.lastAt, a.probes.inFlight = p, time.Now(), time.Time{}
	a.probes.mu.Unlock()
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
	errNoDatabase = healthError("database is not open")
	errNotProbed  = healthError("not probed yet")
)
