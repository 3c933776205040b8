package catalog

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/logging"
)

// TestMigration2 converts a catalogue written by schema 1 (paths as TEXT,
// RFC 3339 timestamps): paths become bytes, including one that is not UTF-8,
// timestamps take the one format, and tracks survive the rebuild of both tables.
func TestMigration2(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "library.db")
	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{db: db, path: path, q: &sqliteQueries}
	p, err := s.provider()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	const v1Time = "2026-01-02T15:04:05.123456789Z"
	for _, q := range []string{
		`INSERT INTO files (id, path, size, mtime_ns, probed_at, first_seen, last_seen, updated_at)
		 VALUES (1, '/lib/a.mkv', 10, 5, '` + v1Time + `', '` + v1Time + `', '` + v1Time + `', '` + v1Time + `'),
		        (2, CAST(X'2F6C69622F6261FF642E6D6B76' AS TEXT), 20, 6, NULL, '` + v1Time + `', '` + v1Time + `', '` + v1Time + `')`,
		`INSERT INTO tracks (file_id, idx, type, codec) VALUES (1, 0, 'video', 'h264'), (1, 1, 'audio', 'aac'), (2, 0, 'video', 'hevc')`,
		`INSERT INTO job_progress (job_id, found, updated_at) VALUES (7, 3, '` + v1Time + `')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	s, err = OpenMode(ctx, path, logging.Discard(), ApplyMigrations)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if s.SchemaVersion() < 2 {
		t.Fatalf("schema version %d after migrating", s.SchemaVersion())
	}
	want := time.Date(2026, 1, 2, 15, 4, 5, 123e6, time.UTC)
	a, err := s.GetFileByPath(ctx, "/lib/a.mkv")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Tracks) != 2 || !a.FirstSeen.Equal(want) || a.ProbedAt == nil || !a.ProbedAt.Equal(want) {
		t.Errorf("file 1 after migration: %+v", a)
	}
	b, err := s.GetFileByPath(ctx, "/lib/ba\xffd.mkv")
	if err != nil {
		t.Fatalf("the non-UTF-8 path did not survive: %v", err)
	}
	if len(b.Tracks) != 1 || b.ProbedAt != nil {
		t.Errorf("file 2 after migration: %+v", b)
	}
	var typ string
	if err := s.db.QueryRowContext(ctx, `SELECT DISTINCT typeof(path) FROM files`).Scan(&typ); err != nil || typ != "blob" {
		t.Errorf("paths stored as %q (%v), want blob", typ, err)
	}
	known, err := s.KnownFiles(ctx, "/lib")
	if err != nil || len(known) != 2 {
		t.Errorf("KnownFiles(/lib) = %v, %v", known, err)
	}
	prog, err := s.GetProgress(ctx, 7)
	if err != nil || !prog[7].UpdatedAt.Equal(want) || prog[7].Found != 3 {
		t.Errorf("progress after migration: %+v, %v", prog, err)
	}
	var fk int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&fk); err != nil || fk != 0 {
		t.Errorf("foreign key check: %d violations (%v)", fk, err)
	}
	// The down migration restores schema 1's representation.
	if p, err = s.provider(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT typeof(path) FROM files WHERE id = 2`).Scan(&typ); err != nil || typ != "text" {
		t.Errorf("after down: path stored as %q (%v)", typ, err)
	}
}
