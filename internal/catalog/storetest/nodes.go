package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
)

// testNodes: a node's heartbeat creates its row and refreshes it.
func testNodes(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	if nodes, err := s.Nodes(ctx); err != nil || len(nodes) != 0 {
		t.Fatalf("Nodes of a new store = %v, %v", nodes, err)
	}
	started := time.Now().Add(-time.Minute).UTC().Truncate(time.Millisecond)
	for _, n := range []catalog.Node{
		{Name: "nas-2", Version: "v1", PID: 7, Workers: 4, StartedAt: started},
		{Name: "nas-1", Version: "v1", PID: 8, Workers: 2, StartedAt: started},
		{Name: "nas-2", Version: "v2", PID: 9, Workers: 3, StartedAt: started},
	} {
		if err := s.Heartbeat(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	nodes, err := s.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Name != "nas-1" || nodes[1].Name != "nas-2" || nodes[1].Version != "v2" ||
		nodes[1].PID != 9 || nodes[1].Workers != 3 || !nodes[1].StartedAt.Equal(started) ||
		time.Since(nodes[1].HeartbeatAt) > time.Minute || nodes[1].HeartbeatAt.Before(started) {
		t.Errorf("Nodes = %+v", nodes)
	}
}
