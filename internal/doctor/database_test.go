package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/daemon"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/logging"
)

// newDatabase makes a real catalogue at dir/library.db as vpo serve does (the
// catalogue's and River's migrations) and returns the open store.
func newDatabase(t *testing.T, dir string) *catalog.Store {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(dir, "library.db")
	s, err := catalog.Open(ctx, path, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := jobs.Migrate(ctx, s.DB(), logging.Discard()); err != nil {
		t.Fatal(err)
	}
	return s
}

// closedDatabase is newDatabase, closed: the file alone holds it.
func closedDatabase(t *testing.T) string {
	t.Helper()
	s := newDatabase(t, t.TempDir())
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s.Path()
}

// exec runs SQL statements on the database at path, then closes it.
func execSQL(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", catalog.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// dirState is the names, sizes and mtimes in a directory, to show that a check wrote
// nothing.
func dirState(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d %d", de.Name(), fi.Size(), fi.ModTime().UnixNano()))
	}
	return out
}

func knownVersions(t *testing.T) (int64, int) {
	t.Helper()
	cat, err := KnownCatalogueVersion()
	if err != nil {
		t.Fatal(err)
	}
	river, err := KnownJobQueueVersion()
	if err != nil {
		t.Fatal(err)
	}
	if cat < 1 || river < 1 {
		t.Fatalf("known versions %d, %d: want at least 1", cat, river)
	}
	return cat, river
}

func TestCheckDatabaseGood(t *testing.T) {
	t.Parallel()
	cat, river := knownVersions(t)
	path := closedDatabase(t)
	dir := filepath.Dir(path)
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	before := dirState(t, dir)

	got := CheckDatabase(context.Background(), path, filepath.Dir(path))
	if len(got) != 4 {
		t.Fatalf("got %d results, want 4: %v", len(got), got)
	}
	checkResult(t, got[0], "database", OK, path+": quick_check ok, ")
	checkResult(t, got[1], "catalogue schema", OK, fmt.Sprintf("version %d, current", cat))
	checkResult(t, got[2], "job queue schema", OK, fmt.Sprintf("version %d, current", river))
	checkResult(t, got[3], "daemon", OK, "no vpo serve holds the database")

	// Read-only: no -wal, -shm or lock file appeared, and the file is byte for byte
	// what it was.
	if after := dirState(t, dir); !slices.Equal(before, after) {
		t.Errorf("CheckDatabase changed the directory:\nbefore %v\nafter  %v", before, after)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(content, again) {
		t.Errorf("CheckDatabase changed %s", path)
	}
}

func TestCheckDatabaseInUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := newDatabase(t, dir)
	t.Cleanup(func() { s.Close(context.Background()) })
	lock, err := daemon.LockDatabase(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lock.Release() })
	// A write the open store has not checkpointed: it is only in the WAL.
	execSQL(t, s.Path(), "CREATE TABLE doctor_probe (x)")
	before := dirState(t, dir)

	got := CheckDatabase(context.Background(), s.Path(), dir)
	if len(got) != 4 {
		t.Fatalf("got %d results, want 4: %v", len(got), got)
	}
	checkResult(t, got[0], "database", OK, "quick_check ok")
	checkResult(t, got[1], "catalogue schema", OK, "current")
	checkResult(t, got[3], "daemon", OK, fmt.Sprintf("vpo serve (pid %d) holds the database", os.Getpid()))

	if after := dirState(t, dir); !slices.Equal(before, after) {
		t.Errorf("CheckDatabase changed the directory of an open database:\nbefore %v\nafter  %v", before, after)
	}
	// The store still works: the doctor took no lock it kept.
	if err := s.Check(context.Background()); err != nil {
		t.Errorf("store after the doctor: %v", err)
	}
}

func TestCheckDatabase(t *testing.T) {
	t.Parallel()
	cat, river := knownVersions(t)
	tests := []struct {
		name    string
		setup   func(t *testing.T) string // returns the database path
		dataDir string                    // "" means the database's directory
		want    []Result                  // Detail is a fragment
	}{
		{
			name:  "absent",
			setup: func(t *testing.T) string { return filepath.Join(t.TempDir(), "library.db") },
			want:  []Result{{Name: "database", Status: OK, Detail: "does not exist yet; vpo serve will create it"}},
		},
		{
			name:  "absent, in a data dir vpo serve will create",
			setup: func(t *testing.T) string { return filepath.Join(t.TempDir(), ".vpo", "library.db") },
			want:  []Result{{Name: "database", Status: OK, Detail: "does not exist yet; vpo serve will create it"}},
		},
		{
			name:    "absent, in a directory nobody creates",
			setup:   func(t *testing.T) string { return filepath.Join(t.TempDir(), "gone", "library.db") },
			dataDir: "/nonexistent/.vpo",
			want:    []Result{{Name: "database", Status: Fail, Detail: "library.db cannot be created: its directory "}},
		},
		{
			name: "garbage bytes",
			setup: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "library.db")
				b := make([]byte, 8192)
				rand.Read(b)
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			},
			want: []Result{{Name: "database", Status: Fail, Detail: "library.db is not a SQLite database"}},
		},
		{
			name:  "a directory",
			setup: func(t *testing.T) string { return t.TempDir() },
			want:  []Result{{Name: "database", Status: Fail, Detail: "is a directory, not a file"}},
		},
		{
			name: "an empty file",
			setup: func(t *testing.T) string {
				return writeFile(t, filepath.Join(t.TempDir(), "library.db"), "")
			},
			want: []Result{
				{Name: "database", Status: OK, Detail: "quick_check ok, 0 bytes"},
				{Name: "catalogue schema", Status: Warn, Detail: fmt.Sprintf("not created yet (this vpo's is version %d)", cat)},
				{Name: "job queue schema", Status: Warn, Detail: "not created yet"},
				{Name: "daemon", Status: OK, Detail: "no vpo serve"},
			},
		},
		{
			name: "catalogue without the job queue",
			setup: func(t *testing.T) string {
				s, err := catalog.Open(context.Background(), filepath.Join(t.TempDir(), "library.db"), logging.Discard())
				if err != nil {
					t.Fatal(err)
				}
				s.Close(context.Background())
				return s.Path()
			},
			want: []Result{
				{Name: "database", Status: OK, Detail: "quick_check ok"},
				{Name: "catalogue schema", Status: OK, Detail: fmt.Sprintf("version %d, current", cat)},
				{Name: "job queue schema", Status: Warn, Detail: fmt.Sprintf("not created yet (this vpo's is version %d); vpo serve will create it", river)},
				{Name: "daemon", Status: OK, Detail: "no vpo serve"},
			},
		},
		{
			name: "written by a newer vpo",
			setup: func(t *testing.T) string {
				p := closedDatabase(t)
				execSQL(t, p, fmt.Sprintf("INSERT INTO goose_db_version (version_id, is_applied) VALUES (%d, 1)", cat+1),
					fmt.Sprintf("INSERT INTO river_migration (line, version) VALUES ('main', %d)", river+1),
					"PRAGMA wal_checkpoint(TRUNCATE)")
				return p
			},
			want: []Result{
				{Name: "database", Status: OK, Detail: "quick_check ok"},
				{Name: "catalogue schema", Status: Fail, Detail: fmt.Sprintf("version %d, newer than this vpo's %d: written by a newer vpo; upgrade vpo", cat+1, cat)},
				{Name: "job queue schema", Status: Fail, Detail: fmt.Sprintf("version %d, newer than this vpo's %d", river+1, river)},
				{Name: "daemon", Status: OK, Detail: "no vpo serve"},
			},
		},
		{
			name: "an older job queue schema",
			setup: func(t *testing.T) string {
				p := closedDatabase(t)
				execSQL(t, p, fmt.Sprintf("DELETE FROM river_migration WHERE version = %d", river), "PRAGMA wal_checkpoint(TRUNCATE)")
				return p
			},
			want: []Result{
				{Name: "database", Status: OK, Detail: "quick_check ok"},
				{Name: "catalogue schema", Status: OK, Detail: "current"},
				{Name: "job queue schema", Status: Warn, Detail: fmt.Sprintf("version %d, older than this vpo's %d; vpo serve will migrate it", river-1, river)},
				{Name: "daemon", Status: OK, Detail: "no vpo serve"},
			},
		},
		{
			name: "a damaged index page",
			setup: func(t *testing.T) string {
				p := closedDatabase(t)
				corruptIndex(t, p)
				return p
			},
			want: []Result{
				{Name: "database", Status: Fail, Detail: "library.db: quick_check: Tree "},
				{Name: "catalogue schema", Status: OK, Detail: "current"},
				{Name: "job queue schema", Status: OK, Detail: "current"},
				{Name: "daemon", Status: OK, Detail: "no vpo serve"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := tt.setup(t)
			dataDir := filepath.Dir(path)
			if tt.dataDir != "" {
				dataDir = tt.dataDir
			}
			got := CheckDatabase(context.Background(), path, dataDir)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d results, want %d: %v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				checkResult(t, got[i], w.Name, w.Status, w.Detail)
			}
		})
	}
}

// corruptIndex overwrites the page of the files_container index with junk, so that
// the file still opens and its schema reads, and quick_check finds the damage.
func corruptIndex(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var root, pageSize int64
	err = db.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = 'files_container'").Scan(&root)
	if err == nil {
		err = db.QueryRow("PRAGMA page_size").Scan(&pageSize)
	}
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, int(pageSize)), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
}
