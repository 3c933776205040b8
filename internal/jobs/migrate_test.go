package jobs

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaChecks: CheckSchema accepts only River's current version; EnsureSchema
// creates the tables of a new database but does not migrate an existing one;
// Migrate refuses a newer schema.
func TestSchemaChecks(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "vpo.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	latest := LatestSchemaVersion()
	if current, l, err := SchemaStatus(ctx, db); err != nil || current != 0 || l != latest || latest < 1 {
		t.Fatalf("new database: SchemaStatus = %d, %d, %v; want 0, %d", current, l, err, latest)
	}
	if err := CheckSchema(ctx, db, path); !errors.Is(err, ErrSchemaPending) {
		t.Errorf("CheckSchema on a new database = %v, want ErrSchemaPending", err)
	}
	if err := EnsureSchema(ctx, db, path, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if err := CheckSchema(ctx, db, path); err != nil {
		t.Errorf("CheckSchema after EnsureSchema = %v", err)
	}

	if _, err := db.Exec(`DELETE FROM river_migration WHERE version = ?`, latest); err != nil {
		t.Fatal(err)
	}
	err = EnsureSchema(ctx, db, path, testLogger(t))
	if !errors.Is(err, ErrSchemaPending) || !strings.Contains(err.Error(), "run `vpo migrate`") {
		t.Errorf("EnsureSchema on an older schema = %v, want ErrSchemaPending naming vpo migrate", err)
	}
	if current, _, _ := SchemaStatus(ctx, db); current != latest-1 {
		t.Errorf("EnsureSchema changed an existing schema: now at %d", current)
	}

	if _, err := db.Exec(`INSERT INTO river_migration (line, version) VALUES ('main', 999)`); err != nil {
		t.Fatal(err)
	}
	if err := CheckSchema(ctx, db, path); !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), "version 999, newer than this vpo supports") {
		t.Errorf("CheckSchema on a newer schema = %v, want ErrSchemaTooNew", err)
	}
	if err := Migrate(ctx, db, testLogger(t)); !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Migrate on a newer schema = %v, want ErrSchemaTooNew", err)
	}
}
