package daemon

import (
	"context"
	"fmt"
	"sync"
)

// A component is one part of the running daemon with a lifetime (the model is
// River's rivershared/startstop).
//
// start acquires what the component needs (a file, a listener, goroutines) and
// returns once the component runs; on an error it has released whatever it took.
// stop releases everything and waits for the component's goroutines to end, within
// ctx's deadline, the shutdown budget, unless the component's doc says how it uses
// the budget. The component type gives every stop the same contract: it runs at most
// once, only after a successful start, so a Stop before Start, a second Stop or a
// Stop of a component whose start failed does nothing.
type component struct {
	name  string
	start func(ctx context.Context) error
	stop  func(ctx context.Context)

	mu      sync.Mutex
	started bool
	stopped bool
}

// Start starts the component. It fails if the component was started or stopped
// before: a component is single-use, as the daemon is.
func (c *component) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.stopped {
		return fmt.Errorf("%s: already started or stopped", c.name)
	}
	if err := c.start(ctx); err != nil {
		c.stopped = true
		return err
	}
	c.started = true
	return nil
}

// Stop stops the component if it runs. It is idempotent and safe to call before
// Start; a Stop during another waits for it.
func (c *component) Stop(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started || c.stopped {
		c.stopped = true
		return
	}
	c.stopped = true
	if c.stop != nil {
		c.stop(ctx)
	}
}

// startAll starts the components in order. When one fails, the ones already
// started are stopped in reverse order (with stopCtx), and its error is returned.
func startAll(ctx context.Context, stopCtx func() (context.Context, context.CancelFunc), cs []*component) error {
	for i, c := range cs {
		if err := c.Start(ctx); err != nil {
			sctx, cancel := stopCtx()
			stopAll(sctx, cs[:i])
			cancel()
			return err
		}
	}
	return nil
}

// stopAll stops the components in reverse order.
func stopAll(ctx context.Context, cs []*component) {
	for i := len(cs) - 1; i >= 0; i-- {
		cs[i].Stop(ctx)
	}
}
