package catalog

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// maxPrepared bounds the statements a Store keeps prepared. The pages' texts
// depend on which filters are set (and, for a container filter, on how many
// names it matches), so they are a small but open set: the first maxPrepared
// distinct texts are kept, later ones are prepared per query as before.
const maxPrepared = 64

// stmts are the prepared statements of the store's page queries: the listing
// (ListFileEntries, ListFilesWithTracks) and EachFile's pages, which run many
// times with the same text. SQLite's prepare (parsing and planning the
// statement) was about a tenth of the CPU of a listing page of 100
// (docs/benchmarks.md, "Catalogue listing"). Each is prepared once per Store;
// database/sql prepares it again on each connection it runs on, once.
type stmts struct {
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
}

// query runs q with args on a statement prepared once for this store.
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, q) //nolint:sqlclosecheck // kept for the Store's life, closed by closeStmts
	if err != nil {
		return nil, err
	}
	if st == nil {
		return s.db.QueryContext(ctx, q, args...)
	}
	return st.QueryContext(ctx, args...)
}

// stmt returns q prepared, or nil when the store keeps maxPrepared statements
// already or is closing.
func (s *Store) stmt(ctx context.Context, q string) (*sql.Stmt, error) {
	c := &s.prepared
	c.mu.Lock()
	st, ok := c.m[q]
	full := c.closed || len(c.m) >= maxPrepared
	c.mu.Unlock()
	if ok || full {
		return st, nil
	}
	// Prepared outside the lock: a connection may be busy (a writer's
	// transaction holds one). Two callers may both prepare q; one is kept.
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if kept := c.keep(q, st); kept != st {
		defer st.Close()
		return kept, nil
	}
	return st, nil
}

// keep stores st as q's statement unless q has one already, the cache is full
// or closed, and returns q's statement (nil in the last two cases).
func (c *stmts) keep(q string, st *sql.Stmt) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[q]; ok || c.closed || len(c.m) >= maxPrepared {
		return old
	}
	if c.m == nil {
		c.m = make(map[string]*sql.Stmt)
	}
	c.m[q] = st
	return st
}

// closeStmts closes the prepared statements; later queries are not prepared.
func (s *Store) closeStmts() error {
	c := &s.prepared
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}
