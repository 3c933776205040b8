package web

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
)

// The dashboard's library totals count the whole catalogue, which no page may do
// per request. They are computed in the background instead, when a page asks for
// them and the last computation is older than the interval, and the page shows the
// last result with its age. With 100,000 files one computation takes tens of
// milliseconds (docs/benchmarks.md, "Web UI").
//
// The queries read the catalogue's tables directly, as the only aggregate vpo
// needs so far; they belong in internal/catalog once it has a home for them.

// totalsTimeout bounds one computation.
const totalsTimeout = 30 * time.Second

// totalsTop is how many containers, codecs and languages the totals keep.
const totalsTop = 12

// count is one row of a breakdown.
type count struct {
	Name string
	N    int64
}

// totals are the library totals.
type totals struct {
	Files, Missing, FailedProbes  int64
	Containers, Codecs, Languages []count
	// At is when they were computed, Took how long it took.
	At   time.Time
	Took time.Duration
}

// names are the breakdown's names that can be used as filters.
func (totals) names(cs []count) []string {
	var out []string
	for _, c := range cs {
		if c.Name != "" {
			out = append(out, c.Name)
		}
	}
	return out
}

type totalsCache struct {
	store    *catalog.Store
	interval time.Duration
	log      *slog.Logger
	ctx      context.Context
	cancel   context.CancelFunc

	mu      sync.Mutex
	cur     *totals
	running chan struct{} // closed when the computation in flight ends; nil when none
	wg      sync.WaitGroup
}

func newTotalsCache(store *catalog.Store, interval time.Duration, log *slog.Logger) *totalsCache {
	ctx, cancel := context.WithCancel(context.Background())
	return &totalsCache{store: store, interval: interval, log: log, ctx: ctx, cancel: cancel}
}

// peek returns the last totals without starting a computation.
func (c *totalsCache) peek() (totals, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return totals{}, false
	}
	return *c.cur, true
}

// refresh starts a computation in the background if the last one is older than
// the interval or than staleBefore, and none is in flight, and returns the channel
// that closes when the one in flight (if any) ends.
func (c *totalsCache) refresh(staleBefore time.Time) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running != nil {
		return c.running
	}
	if c.store == nil || c.ctx.Err() != nil ||
		(c.cur != nil && time.Since(c.cur.At) < c.interval && !c.cur.At.Before(staleBefore)) {
		return nil
	}
	done := make(chan struct{})
	c.running = done
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(done)
		ctx, cancel := context.WithTimeout(c.ctx, totalsTimeout)
		t, err := computeTotals(ctx, c.store.DB())
		cancel()
		c.mu.Lock()
		c.running = nil
		if err == nil {
			c.cur = &t
		}
		c.mu.Unlock()
		if err != nil && c.ctx.Err() == nil {
			c.log.Warn("ui: computing the library totals failed", "error", err.Error())
		}
	}()
	return done
}

// get returns the totals, starting a computation when they are older than the
// interval or than staleBefore (when a scan finished since, say). When there are
// none yet, or they are older than staleBefore, it waits up to wait for that
// computation; otherwise, or if it takes longer, it returns the last totals.
func (c *totalsCache) get(wait time.Duration, staleBefore time.Time) (totals, bool) {
	done := c.refresh(staleBefore)
	cur, ok := c.peek()
	// Only totals that are missing or known to be wrong are worth waiting for;
	// merely old ones are shown while the new ones are counted.
	if done != nil && (!ok || cur.At.Before(staleBefore)) {
		select {
		case <-done:
		case <-time.After(wait):
		}
	}
	return c.peek()
}

// wait cancels a computation in flight and waits for it.
func (c *totalsCache) wait() {
	c.cancel()
	c.wg.Wait()
}

func computeTotals(ctx context.Context, db *sql.DB) (totals, error) {
	start := time.Now()
	var t totals
	err := db.QueryRowContext(ctx,
		`SELECT count(*), coalesce(sum(missing), 0), coalesce(sum(probe_error <> ''), 0) FROM files`).
		Scan(&t.Files, &t.Missing, &t.FailedProbes)
	if err != nil {
		return t, fmt.Errorf("count files: %w", err)
	}
	// Each breakdown reads one index: files_container, tracks_codec (codec, file_id)
	// and tracks_language (language, file_id).
	breakdowns := []struct {
		into *[]count
		q    string
	}{
		{&t.Containers, `SELECT container, count(*) FROM files GROUP BY container ORDER BY 2 DESC, 1 LIMIT ?`},
		{&t.Codecs, `SELECT codec, count(DISTINCT file_id) FROM tracks GROUP BY codec ORDER BY 2 DESC, 1 LIMIT ?`},
		{&t.Languages, `SELECT language, count(DISTINCT file_id) FROM tracks GROUP BY language ORDER BY 2 DESC, 1 LIMIT ?`},
	}
	for _, b := range breakdowns {
		cs, err := breakdown(ctx, db, b.q)
		if err != nil {
			return t, fmt.Errorf("library totals: %w", err)
		}
		*b.into = cs
	}
	t.At, t.Took = time.Now(), time.Since(start)
	return t, nil
}

// breakdown runs one GROUP BY query of (name, count) rows.
func breakdown(ctx context.Context, db *sql.DB, q string) ([]count, error) {
	rows, err := db.QueryContext(ctx, q, totalsTop)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []count
	for rows.Next() {
		var c count
		if err := rows.Scan(&c.Name, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
