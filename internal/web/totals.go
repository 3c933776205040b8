package web

import (
	"context"
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
// The counting is the store's (catalog.Store.LibraryTotals).

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
		t, err := computeTotals(ctx, c.store)
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

func computeTotals(ctx context.Context, store *catalog.Store) (totals, error) {
	start := time.Now()
	lt, err := store.LibraryTotals(ctx, totalsTop)
	if err != nil {
		return totals{}, fmt.Errorf("library totals: %w", err)
	}
	conv := func(cs []catalog.Count) []count {
		out := make([]count, len(cs))
		for i, c := range cs {
			out[i] = count(c)
		}
		return out
	}
	t := totals{Files: lt.Files, Missing: lt.Missing, FailedProbes: lt.FailedProbes,
		Containers: conv(lt.Containers), Codecs: conv(lt.Codecs), Languages: conv(lt.Languages)}
	t.At, t.Took = time.Now(), time.Since(start)
	return t, nil
}
