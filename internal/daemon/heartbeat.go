package daemon

import (
	"context"
	"os"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/version"
)

// HeartbeatInterval is how often a running daemon refreshes its node's row
// (catalog.Store.Heartbeat), which GET /api/nodes reads. A node whose last
// heartbeat is older than three intervals is shown as not alive.
const HeartbeatInterval = 10 * time.Second

// startHeartbeat records the node at once and then every HeartbeatInterval
// until stopHeartbeat. A failed heartbeat is logged (the database being away
// shows in /health); the next one tries again.
func (d *daemon) startHeartbeat(ctx context.Context) error {
	node := catalog.Node{Name: d.cfg.NodeName(), Version: version.String(), PID: os.Getpid(),
		Workers: d.cfg.Jobs.Workers, StartedAt: d.opts.Started}
	if err := d.app.Store.Heartbeat(ctx, node); err != nil {
		return err
	}
	log := logging.Component(d.logger, "jobs")
	d.beatStop, d.beatDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(d.beatDone)
		t := time.NewTicker(HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-d.beatStop:
				return
			case <-t.C:
			}
			hctx, cancel := context.WithTimeout(context.Background(), HeartbeatInterval)
			if err := d.app.Store.Heartbeat(hctx, node); err != nil {
				log.Warn("node heartbeat failed", "node", node.Name, "error", err.Error())
			}
			cancel()
		}
	}()
	return nil
}

func (d *daemon) stopHeartbeat() {
	if d.beatStop != nil {
		close(d.beatStop)
		<-d.beatDone
	}
}
