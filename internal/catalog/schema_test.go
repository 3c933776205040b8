package catalog_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"modernc.org/sqlite"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/logging"
)

func execSQL(t *testing.T, path, query string) {
	t.Helper()
	db, err := sql.Open("sqlite", catalog.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query); err != nil {
		t.Fatal(err)
	}
}

// TestOpenModes: only ApplyMigrations changes an existing schema; CheckSchema
// creates a brand-new one and refuses any other version; InspectSchema only reads.
func TestOpenModes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	latest := catalog.LatestSchemaVersion()
	if latest < 1 {
		t.Fatalf("LatestSchemaVersion() = %d", latest)
	}
	tests := []struct {
		name    string
		setup   string // SQL run on a migrated database before the open; "" for a new file
		mode    catalog.Mode
		wantErr error
		wantMsg string
		created bool
		version int64
	}{
		{name: "check creates a new database", mode: catalog.CheckSchema, created: true, version: latest},
		{name: "check accepts the current schema", setup: "SELECT 1", mode: catalog.CheckSchema, version: latest},
		{name: "check refuses a newer schema", setup: "INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, 1)",
			mode: catalog.CheckSchema, wantErr: catalog.ErrSchemaTooNew,
			wantMsg: fmt.Sprintf("has schema version 999, newer than this vpo supports (%d): upgrade vpo", latest)},
		{name: "migrate refuses a newer schema", setup: "INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, 1)",
			mode: catalog.ApplyMigrations, wantErr: catalog.ErrSchemaTooNew},
		{name: "inspect reads a newer schema", setup: "INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, 1)",
			mode: catalog.InspectSchema, version: 999},
		{name: "check refuses an older schema", setup: "DELETE FROM goose_db_version WHERE version_id >= 1",
			mode: catalog.CheckSchema, wantErr: catalog.ErrSchemaPending,
			wantMsg: fmt.Sprintf("has schema version 0, older than this vpo needs (%d): run `vpo migrate`", latest)},
		{name: "inspect reads an older schema", setup: "DELETE FROM goose_db_version WHERE version_id >= 1",
			mode: catalog.InspectSchema, version: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "library.db")
			if tt.setup != "" {
				s, err := catalog.OpenMode(ctx, path, logging.Discard(), catalog.ApplyMigrations)
				if err != nil {
					t.Fatal(err)
				}
				s.Close(ctx)
				execSQL(t, path, tt.setup)
			}
			s, err := catalog.OpenMode(ctx, path, logging.Discard(), tt.mode)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("open: %v, want %v with %q", err, tt.wantErr, tt.wantMsg)
				}
				if !strings.HasPrefix(err.Error(), "database "+path+" ") || strings.Contains(err.Error(), "\n") {
					t.Errorf("message %q does not name the path on one line", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(ctx)
			if s.Created() != tt.created || s.SchemaVersion() != tt.version || s.LatestSchemaVersion() != latest {
				t.Errorf("created %v, version %d, latest %d; want %v, %d, %d",
					s.Created(), s.SchemaVersion(), s.LatestSchemaVersion(), tt.created, tt.version, latest)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{name: "nil", err: nil, want: nil},
		{name: "ENOSPC", err: fmt.Errorf("write: %w", syscall.ENOSPC), want: catalog.ErrFull},
		{name: "EROFS", err: fmt.Errorf("write: %w", syscall.EROFS), want: catalog.ErrReadOnly},
		{name: "flattened busy text", err: errors.New("insert: database is locked (5) (SQLITE_BUSY)"), want: catalog.ErrBusy},
		{name: "flattened full text", err: errors.New("database or disk is full (13)"), want: catalog.ErrFull},
		{name: "other", err: errors.New("syntax error"), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := catalog.Classify(tt.err)
			if tt.err != nil && (got == nil || got.Error() != tt.err.Error() || !errors.Is(got, tt.err)) {
				t.Errorf("Classify(%v) = %v: must keep the message and wrap the error", tt.err, got)
			}
			for _, s := range []error{catalog.ErrBusy, catalog.ErrFull, catalog.ErrReadOnly, catalog.ErrCorrupt} {
				if want := errors.Is(tt.want, s); errors.Is(got, s) != want {
					t.Errorf("errors.Is(Classify(%v), %v) = %v", tt.err, s, !want)
				}
			}
		})
	}
	// A real driver error, by its code.
	path := filepath.Join(t.TempDir(), "library.db")
	s := openAt(t, path)
	_, err := s.DB().Exec("SELECT * FROM no_such_table")
	var se *sqlite.Error
	if !errors.As(err, &se) || catalog.Classify(err) != err { //nolint:errorlint // identity: Classify must return a plain error unchanged
		t.Errorf("a plain SQL error %v was classified", err)
	}
}
