package httpapi

import (
	"context"
	"math"
	"net/http"
	"time"
)

// DatabaseChecker probes the database; catalog.Store implements it.
type DatabaseChecker interface {
	Check(ctx context.Context) error
}

// HealthTimeout bounds the database probe, so that /health answers well under 100 ms
// even when the database hangs.
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
}

func (a *API) handleHealth(w http.ResponseWriter, r *http.Request) error {
	h, code := a.Health(r.Context())
	writeJSON(w, code, h)
	return nil
}

// Health computes the health report and its HTTP status. Concurrent callers share one
// database probe, so a flood of probes costs one query at a time and a hung database
// holds at most one goroutine.
func (a *API) Health(ctx context.Context) (Health, int) {
	h := Health{
		Version:       a.deps.Version,
		SchemaVersion: a.deps.SchemaVersion,
		UptimeSeconds: math.Round(time.Since(a.deps.Started).Seconds()*1000) / 1000,
		ShuttingDown:  a.draining.Load(),
	}
	dbErr := a.checkDatabase(ctx)
	if dbErr != nil {
		h.Database = "disconnected"
		h.DatabaseError = dbErr.Error()
	} else {
		h.Database = "connected"
	}
	switch {
	case h.ShuttingDown:
		h.Status = "unhealthy"
	case !a.ready.Load():
		h.Status = "starting"
	case dbErr != nil:
		h.Status = "degraded"
	default:
		h.Status = "healthy"
		return h, http.StatusOK
	}
	return h, http.StatusServiceUnavailable
}

// checkDatabase runs the probe with HealthTimeout, in a goroutine so that even a
// probe blocked in a system call cannot hold the response past the deadline.
func (a *API) checkDatabase(ctx context.Context) error {
	if a.deps.Database == nil {
		return errNoDatabase
	}
	ch := a.health.DoChan("db", func() (any, error) {
		cctx, cancel := context.WithTimeout(context.Background(), HealthTimeout)
		defer cancel()
		return nil, a.deps.Database.Check(cctx)
	})
	timer := time.NewTimer(HealthTimeout + 10*time.Millisecond)
	defer timer.Stop()
	select {
	case res := <-ch:
		return res.Err
	case <-timer.C:
		return errDatabaseTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}

type healthError string

func (e healthError) Error() string { return string(e) }

const (
	errNoDatabase      = healthError("database is not open")
	errDatabaseTimeout = healthError("database did not answer within 50ms")
)
