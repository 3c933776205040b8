package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vpo-project/vpo/internal/catalog"
)

// On PostgreSQL several daemons (nodes) share one database, so the one-daemon
// rule becomes one daemon per node: each holds a session-level advisory lock on
// its node name (pg_try_advisory_lock) for its lifetime, on a connection of its
// own, taken before the migrations and the re-queueing of the node's
// interrupted jobs, as the file lock is on SQLite. A second process with the
// same node name fails to start. PostgreSQL drops the lock when the session
// ends: the process exits (SIGKILL included) or the connection is lost; a
// lost connection is reconnected and the lock taken again (NodeLock.keep).

// ErrNodeInUse is matched (errors.Is) by LockNode's error when another
// process holds the node's lock.
var ErrNodeInUse = errors.New("node in use by another vpo serve")

// NodeLock is a held node lock.
type NodeLock struct {
	cfg  *pgx.ConnConfig
	key  int64
	node string
	db   string

	mu   sync.Mutex
	conn *pgx.Conn
	stop chan struct{}
	done chan struct{}
	// lost is set while the lock is not held (the connection was lost and not
	// yet re-taken).
	lost error
}

// LockNode connects to the database of cfg (named db in messages) and takes
// node's advisory lock. The error is one line: the server's refusal
// (catalog.ErrUnavailable) or, when another process holds the lock,
// ErrNodeInUse.
func LockNode(ctx context.Context, cfg *pgx.ConnConfig, db, node string) (*NodeLock, error) {
	l := &NodeLock{cfg: cfg, key: catalog.NodeLockKey(node), node: node, db: db, stop: make(chan struct{}), done: make(chan struct{})}
	conn, err := l.take(ctx)
	if err != nil {
		return nil, err
	}
	l.conn = conn
	go l.keep()
	return l, nil
}

func (l *NodeLock) take(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, l.cfg)
	if err != nil {
		return nil, catalog.DescribePostgresError(l.db, err)
	}
	var ok bool
	if err := conn.QueryRow(cctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&ok); err != nil {
		_ = conn.Close(context.Background())
		return nil, catalog.DescribePostgresError(l.db, err)
	}
	if !ok {
		_ = conn.Close(context.Background())
		return nil, fmt.Errorf("node %q already runs on database %s (another vpo serve holds its lock): stop it, or give this one another node name%w",
			l.node, l.db, hide(ErrNodeInUse))
	}
	return conn, nil
}

// keepInterval is how often the lock's connection is checked.
const keepInterval = 2 * time.Second

// keep checks the lock's connection and, once it is lost (the server
// restarted, the network failed), reconnects and takes the lock again.
func (l *NodeLock) keep() {
	defer close(l.done)
	t := time.NewTicker(keepInterval)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		conn := l.conn
		l.mu.Unlock()
		if conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), keepInterval)
			err := conn.Ping(ctx)
			cancel()
			if err == nil {
				continue
			}
			_ = conn.Close(context.Background())
		}
		next, err := l.take(context.Background())
		l.mu.Lock()
		l.conn, l.lost = next, err
		l.mu.Unlock()
	}
}

// Held returns nil while the lock is held, else why not.
func (l *NodeLock) Held() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost
}

// Release releases the lock and closes its connection.
func (l *NodeLock) Release() error {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.key)
	return errors.Join(err, l.conn.Close(ctx))
}

// hide wraps a sentinel so that errors.Is finds it without its text showing.
func hide(sentinel error) error { return hidden{sentinel} }

type hidden struct{ err error }

func (h hidden) Error() string { return "" }
func (h hidden) Unwrap() error { return h.err }
