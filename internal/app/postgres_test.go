package app

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestOpenPostgres: nodes that start at once on a fresh database migrate it one
// after the other (the migration lock) and all open; a CLI command's Open
// beside them checks the schema.
func TestOpenPostgres(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make([]error, 3)
	apps := make([]*App, 3)
	for i := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := config.Default(t.TempDir())
			cfg.Database.URL, cfg.DatabasePath, cfg.Jobs.Workers = u, "", 2
			apps[i], errs[i] = Open(ctx, cfg, logging.Discard(), Migrate)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer apps[i].Close(ctx)
		if !apps[i].Store.Postgres() || apps[i].Node == "" || apps[i].Store.SchemaVersion() != apps[i].Store.LatestSchemaVersion() {
			t.Errorf("node %d: postgres=%v node=%q schema %d", i, apps[i].Store.Postgres(), apps[i].Node, apps[i].Store.SchemaVersion())
		}
	}
	cfg := config.Default(t.TempDir())
	cfg.Database.URL, cfg.DatabasePath, cfg.Jobs.Workers = u, "", 1
	a, err := Open(ctx, cfg, logging.Discard(), CheckSchema)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
