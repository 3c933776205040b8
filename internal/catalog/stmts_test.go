package catalog

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vpo-project/vpo/internal/logging"
)

// TestPreparedStatements: a store keeps at most maxPrepared statements, one per
// text, and answers every query right whether its statement is kept or not,
// from several goroutines at once; Close closes them.
func TestPreparedStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "vpo.db"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	texts := maxPrepared + 10
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range texts {
				q := fmt.Sprintf("SELECT %d + ?", i)
				if v, err := queryInt(ctx, s, q, g); err != nil || v != i+g {
					t.Errorf("%s with %d = %d, %v; want %d", q, g, v, err, i+g)
				}
			}
		})
	}
	wg.Wait()
	s.prepared.mu.Lock()
	kept := len(s.prepared.m)
	s.prepared.mu.Unlock()
	if kept != maxPrepared {
		t.Errorf("%d statements kept, want %d", kept, maxPrepared)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.prepared.m) != 0 || !s.prepared.closed {
		t.Errorf("after Close: %d statements kept, closed %v", len(s.prepared.m), s.prepared.closed)
	}
}

func queryInt(ctx context.Context, s *Store, q string, arg int) (int, error) {
	rows, err := s.query(ctx, q, arg)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var v int
	for rows.Next() {
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
	}
	return v, rows.Err()
}
