package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
)

// Live updates are server-sent events on GET /ui/events: every liveInterval a
// "summary" event (queue counts and the running and queued jobs, for the dashboard
// and the header) and, for the jobs a page names in ?jobs=, a "jobs" event with
// their state and progress. The browser's EventSource reconnects by itself; the
// stream ends after maxStreamLife (the browser then reconnects, so that a stream
// does not outlive a revoked session or pin a connection for ever), when the
// session ends, and when the daemon shuts down (Close).
const (
	liveInterval  = time.Second
	maxStreamLife = 10 * time.Minute
	// maxStreams bounds the open streams; more get 503 and retry.
	maxStreams = 64
	// maxLiveJobs bounds the jobs one stream follows.
	maxLiveJobs = 20
	// reconnectMillis is what the browser waits before reconnecting.
	reconnectMillis = 3000
)

// liveJob is a job as the live updates send it.
type liveJob struct {
	ID          int64          `json:"id"`
	Type        string         `json:"type"`
	State       string         `json:"state"`
	Path        string         `json:"path"`
	Progress    catalog.Counts `json:"progress"`
	Processed   int64          `json:"processed"`
	Percent     int64          `json:"percent"`
	CancelAsked bool           `json:"cancel_requested"`
	Finished    bool           `json:"finished"`
}

func liveJobOf(v jobView) liveJob {
	done := processed(v.Progress)
	pct := int64(0)
	if v.Progress.Found > 0 {
		pct = min(100, done*100/v.Progress.Found)
	}
	return liveJob{ID: v.ID, Type: v.Type, State: v.State, Path: displayPath(v.Path), Progress: v.Progress,
		Processed: done, Percent: pct, CancelAsked: v.CancelAsked, Finished: v.Finished()}
}

type liveSummary struct {
	Queued  int       `json:"queued"`
	Running int       `json:"running"`
	Active  []liveJob `json:"active"`
}

// liveState computes the summary at most once per liveInterval for all streams.
type liveState struct {
	engine *jobs.Engine
	store  *catalog.Store

	mu   sync.Mutex
	at   time.Time
	data []byte

	streams streamTracker
}

func newLiveState(engine *jobs.Engine, store *catalog.Store) *liveState {
	return &liveState{engine: engine, store: store, streams: streamTracker{idle: make(chan struct{})}}
}

func (l *liveState) summary(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.data != nil && time.Since(l.at) < liveInterval {
		return l.data, nil
	}
	var s liveSummary
	var err error
	if s.Queued, s.Running, err = l.engine.Counts(ctx); err != nil {
		return nil, err
	}
	active, err := l.engine.List(ctx, jobs.ListParams{State: jobs.StateRunning, Limit: dashboardJobs})
	if err != nil {
		return nil, err
	}
	if len(active) < dashboardJobs {
		queued, err := l.engine.List(ctx, jobs.ListParams{State: jobs.StateQueued, Limit: dashboardJobs - len(active)})
		if err != nil {
			return nil, err
		}
		active = append(active, queued...)
	}
	views, err := jobViews(ctx, l.store, active)
	if err != nil {
		return nil, err
	}
	s.Active = make([]liveJob, len(views))
	for i, v := range views {
		s.Active[i] = liveJobOf(v)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	l.data, l.at = b, time.Now()
	return b, nil
}

// jobs returns the state of the given jobs; a job that no longer exists is "gone".
func (l *liveState) jobs(ctx context.Context, ids []int64) ([]byte, error) {
	var found []jobs.Job
	out := make([]liveJob, 0, len(ids))
	for _, id := range ids {
		j, err := l.engine.Get(ctx, id)
		if errors.Is(err, jobs.ErrNotFound) {
			out = append(out, liveJob{ID: id, State: "gone", Finished: true})
			continue
		}
		if err != nil {
			return nil, err
		}
		found = append(found, j)
	}
	views, err := jobViews(ctx, l.store, found)
	if err != nil {
		return nil, err
	}
	for _, v := range views {
		out = append(out, liveJobOf(v))
	}
	return json.Marshal(out)
}

// streamTracker counts the open streams, so that Close can wait for them.
type streamTracker struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed once closed is set and n is 0
}

func (s *streamTracker) enter() (ok bool, full bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false, false
	}
	if s.n >= maxStreams {
		return false, true
	}
	s.n++
	return true, false
}

func (s *streamTracker) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n--
	if s.closed && s.n == 0 {
		close(s.idle)
	}
}

// closeAndWait refuses new streams and waits for the open ones to end.
func (s *streamTracker) closeAndWait() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		if s.n == 0 {
			close(s.idle)
		}
	}
	s.mu.Unlock()
	<-s.idle
}

func parseJobIDs(s string) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > maxLiveJobs {
		return nil, errorf(http.StatusBadRequest, "at most %d jobs per stream", maxLiveJobs)
	}
	ids := make([]int64, 0, len(parts))
	for _, p := range parts {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			return nil, errorf(http.StatusBadRequest, "%q is not a job id", p)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func (u *UI) handleEvents(w http.ResponseWriter, r *http.Request, v visitor) error {
	ids, err := parseJobIDs(r.URL.Query().Get("jobs"))
	if err != nil {
		var he *httpError
		errors.As(err, &he)
		http.Error(w, he.msg, he.status)
		return nil
	}
	ok, full := u.live.streams.enter()
	if !ok {
		w.Header().Set("Retry-After", "10")
		msg := "vpo is shutting down"
		if full {
			msg = "too many live streams are open"
		}
		http.Error(w, msg, http.StatusServiceUnavailable)
		return nil
	}
	defer u.live.streams.leave()

	// A stream outlives the server's write timeout by design: lift the deadlines the
	// server (or the daemon's edge) set for this response. The read deadline too:
	// once it passes, the server's background read cancels the request's context.
	// Errors mean the writer has no deadlines (a test recorder).
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, "retry: %d\n\n", reconnectMillis); err != nil {
		return nil
	}
	if err := rc.Flush(); err != nil {
		return nil
	}

	ctx := r.Context()
	end := time.NewTimer(maxStreamLife)
	defer end.Stop()
	tick := time.NewTicker(liveInterval)
	defer tick.Stop()
	for {
		if u.authRequired() && !u.sessions.valid(v.id, u.rl.Load().token) {
			_, _ = fmt.Fprint(w, "event: logout\ndata: {}\n\n")
			_ = rc.Flush()
			return nil
		}
		if err := u.sendLive(ctx, w, ids); err != nil {
			if ctx.Err() == nil {
				u.log.Warn("ui: live update failed", "error", err.Error())
				_, _ = fmt.Fprint(w, "event: failure\ndata: {}\n\n")
			}
			return nil
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-u.done:
			_, _ = fmt.Fprint(w, "event: bye\ndata: {}\n\n")
			_ = rc.Flush()
			return nil
		case <-end.C:
			return nil
		case <-tick.C:
		}
	}
}

func (u *UI) sendLive(ctx context.Context, w http.ResponseWriter, ids []int64) error {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	sum, err := u.live.summary(qctx)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "event: summary\ndata: %s\n\n", sum); err != nil {
		return err
	}
	if len(ids) == 0 {
		return nil
	}
	js, err := u.live.jobs(qctx, ids)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: jobs\ndata: %s\n\n", js)
	return err
}
