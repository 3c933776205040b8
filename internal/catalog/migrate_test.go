package catalog

import (
	"context"
	"database/sql"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/probe"
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

// TestMigration5 backfills the packed tracks of a catalogue written by schema 4
// (tracks in their table only): every file reads back, through EachFile and
// ListFileEntries, the tracks GetFile reads from the tracks table, including
// tags that SQLite's JSON functions escape, one that is not UTF-8, tracks
// written out of index order and a file without tracks; a file recorded after
// the migration is packed by RecordFile; the down step drops the column.
func TestMigration5(t *testing.T) {
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
	if _, err := p.UpTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	const now = "2026-01-02 15:04:05.123"
	for _, q := range []string{
		`INSERT INTO files (id, path, size, mtime_ns, container, probed_at, first_seen, last_seen, updated_at) VALUES
		 (1, CAST('/lib/a.mkv' AS BLOB), 10, 5, 'matroska,webm', '` + now + `', '` + now + `', '` + now + `', '` + now + `'),
		 (2, CAST('/lib/none.mkv' AS BLOB), 20, 6, '', '` + now + `', '` + now + `', '` + now + `', '` + now + `'),
		 (3, CAST('/lib/odd.mkv' AS BLOB), 30, 7, 'mov,mp4', '` + now + `', '` + now + `', '` + now + `', '` + now + `')`,
		// Out of index order, NULL numbers, and tags with every kind of escape.
		`INSERT INTO tracks (file_id, idx, type, codec, language, title, is_default, is_forced, channels, channel_layout, width, height, frame_rate) VALUES
		 (1, 2, 'subtitle', 'subrip', 'fra', 'Forced', 0, 1, NULL, '', NULL, NULL, NULL),
		 (1, 0, 'video', 'h264', '', '', 1, 0, NULL, '', 1920, 1080, 23.976),
		 (1, 1, 'audio', 'ac3', 'eng', 'Director''s "cut" \ 5.1', 1, 0, 6, '5.1(side)', NULL, NULL, NULL),
		 (3, 0, 'audio', 'a"b', 'x' || char(1) || char(8) || char(9) || char(10) || char(12) || char(13) || char(31) || 'y', 'Français — 日本語 ` + "\u2028" + ` 🎬', 0, 0, -1, '', NULL, NULL, NULL),
		 (3, 1, 'subtitle', '', 'q' || CAST(X'FF' AS TEXT) || 'r [1,2]', '],[', 0, 0, NULL, '', NULL, NULL, NULL)`,
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
	if s.SchemaVersion() < 5 {
		t.Fatalf("schema version %d after migrating", s.SchemaVersion())
	}
	if _, err := s.RecordFile(ctx, Observation{Path: "/lib/new.mkv", Size: 1, ModTime: time.Unix(1, 0),
		Result: &probe.Result{Tracks: []probe.Track{{Index: 1, Type: "audio", Language: "q\xffr\"", Title: "\x01"}, {Index: 0, Type: "video"}}}}); err != nil {
		t.Fatal(err)
	}
	wantTracks := map[int64]int{1: 3, 2: 0, 3: 2, 4: 2}
	got := map[int64][]probe.Track{}
	if err := s.EachFile(ctx, FileFilter{}, func(f File) error { got[f.ID] = f.Tracks; return nil }); err != nil {
		t.Fatal(err)
	}
	entries, err := s.ListFileEntries(ctx, FileFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || len(entries) != 4 {
		t.Fatalf("EachFile read %d files and ListFileEntries %d; want 4", len(got), len(entries))
	}
	for _, e := range entries {
		f, err := s.GetFile(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Tracks) != wantTracks[e.ID] {
			t.Fatalf("file %d has %d tracks in the tracks table, want %d", e.ID, len(f.Tracks), wantTracks[e.ID])
		}
		var summary []TrackSummary
		for j := range f.Tracks { // not packed
			f.Tracks[j].FrameRate, f.Tracks[j].ChannelLayout = 0, ""
			tr := f.Tracks[j]
			summary = append(summary, TrackSummary{Index: tr.Index, Type: tr.Type, Codec: tr.Codec, Language: tr.Language,
				Default: tr.Default, Forced: tr.Forced})
		}
		if !reflect.DeepEqual(got[e.ID], f.Tracks) {
			t.Errorf("file %d: EachFile's tracks\n%+v\nthe tracks table's\n%+v", e.ID, got[e.ID], f.Tracks)
		}
		if !reflect.DeepEqual(e.Tracks, summary) {
			t.Errorf("file %d: ListFileEntries' tracks\n%+v\nthe tracks table's\n%+v", e.ID, e.Tracks, summary)
		}
	}

	if p, err = s.provider(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 4); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM pragma_table_info('files') WHERE name = 'tracks_packed'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("after down: %d tracks_packed columns (%v)", n, err)
	}
}
