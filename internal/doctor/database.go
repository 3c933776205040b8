package doctor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vpo-project/vpo/internal/catalog/migrations"
	"github.com/vpo-project/vpo/internal/daemon"
)

// readOnlyDSN opens path read-only: mode=ro makes SQLite open the file O_RDONLY, and
// query_only refuses any statement that would write, so that the doctor can never
// migrate, checkpoint or otherwise change a database a daemon may be using. In WAL
// mode a reader takes no lock a writer waits for.
//
// A reader of a WAL database creates PATH-wal and PATH-shm when they do not exist,
// even read-only; run as another user (root) that would leave files the daemon
// cannot open. They exist whenever a connection is open; when they do not, nobody has
// the database open, everything is in the main file, and immutable=1 reads it
// without creating or locking anything. (A daemon that starts during the check
// writes to its new WAL, not to the main file, until its first checkpoint.)
func readOnlyDSN(path string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	dsn := "file:" + r.Replace(path) + "?mode=ro&_pragma=query_only(1)&_pragma=busy_timeout(5000)"
	if !exists(path+"-wal") || !exists(path+"-shm") {
		dsn += "&immutable=1"
	}
	return dsn
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// CheckDatabase checks the catalogue database at path without changing it: that it
// opens read-only, PRAGMA quick_check, the catalogue's and the job queue's schema
// versions against this vpo's migrations, and whether a daemon holds it. A database
// that does not exist yet is fine when `vpo serve` can create it: in an existing
// writable directory, or in dataDir, which vpo serve creates.
func CheckDatabase(ctx context.Context, path, dataDir string) []Result {
	const name = "database"
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return []Result{absentDatabase(path, dataDir)}
	case err != nil:
		return []Result{fail(name, "%s: %v", path, unwrapPath(err))}
	case st.IsDir():
		return []Result{fail(name, "%s is a directory, not a file", path)}
	case !st.Mode().IsRegular():
		return []Result{fail(name, "%s is not a regular file", path)}
	}
	if err := syscall.Access(path, accessR|accessW); err != nil {
		return []Result{fail(name, "%s is not readable and writable by this user: %v", path, err)}
	}
	if dir := filepath.Dir(path); syscall.Access(dir, accessW|accessX) != nil {
		return []Result{fail(name, "the directory %s is not writable: SQLite needs it for %s-wal and -shm", dir, filepath.Base(path))}
	}

	db, err := sql.Open("sqlite", readOnlyDSN(path))
	if err != nil {
		return []Result{fail(name, "open %s: %v", path, err)}
	}
	defer db.Close()
	db.SetMaxOpenConns(1)

	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return []Result{fail(name, "%s %s", path, describeSQLiteError(err))}
	}
	out := []Result{quickCheck(ctx, db, path, st.Size())}
	out = append(out, catalogueSchema(ctx, db), jobQueueSchema(ctx, db))
	return append(out, daemonLock(path))
}

// absentDatabase says whether vpo serve can create the database at path.
func absentDatabase(path, dataDir string) Result {
	const name = "database"
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist) && filepath.Clean(dir) == filepath.Clean(dataDir):
		// vpo serve creates the data dir; CheckDataDir says whether it can.
	case errors.Is(err, fs.ErrNotExist):
		return fail(name, "%s cannot be created: its directory %s does not exist", path, dir)
	case err != nil:
		return fail(name, "%s cannot be created: %s: %v", path, dir, unwrapPath(err))
	case !st.IsDir():
		return fail(name, "%s cannot be created: %s is not a directory", path, dir)
	case syscall.Access(dir, accessW|accessX) != nil:
		return fail(name, "%s cannot be created: its directory %s is not writable", path, dir)
	}
	return ok(name, "%s does not exist yet; vpo serve will create it", path)
}

// describeSQLiteError words err as the rest of a sentence about the database.
func describeSQLiteError(err error) string {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return "is not a SQLite database"
		case sqlite3.SQLITE_CORRUPT:
			return "is corrupt"
		case sqlite3.SQLITE_CANTOPEN:
			return "cannot be opened"
		case sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
			return "cannot be opened: permission denied"
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return "is locked by another process"
		}
	}
	return "cannot be read: " + err.Error()
}

// quickCheck runs PRAGMA quick_check, which checks the structure of every table and
// index page but not that indexes match their tables (integrity_check does, much
// more slowly).
func quickCheck(ctx context.Context, db *sql.DB, path string, size int64) Result {
	const name = "database"
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return fail(name, "%s %s", path, describeSQLiteError(err))
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fail(name, "%s: quick_check: %v", path, err)
		}
		if s != "ok" {
			// "*** in database main ***\nTree 6 page 6: btreeInitPage() returns error code 11"
			s = strings.TrimSpace(strings.TrimPrefix(s, "*** in database main ***"))
			problems = append(problems, strings.Join(strings.Fields(s), " "))
		}
	}
	if err := rows.Err(); err != nil {
		return fail(name, "%s %s", path, describeSQLiteError(err))
	}
	switch len(problems) {
	case 0:
		return ok(name, "%s: quick_check ok, %s", path, humanSize(size))
	case 1:
		return fail(name, "%s: quick_check: %s; restore it from a backup", path, problems[0])
	}
	return fail(name, "%s: quick_check: %s (and %d more problems); restore it from a backup", path, problems[0], len(problems)-1)
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// tableExists reports whether the database has the table.
func tableExists(ctx context.Context, db *sql.DB, table string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&n)
	return n > 0, err
}

// KnownCatalogueVersion is the newest catalogue schema version this vpo has a
// migration for.
func KnownCatalogueVersion() (int64, error) {
	// goose wants a *sql.DB but only reads the embedded files here.
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return 0, fmt.Errorf("load catalogue migrations: %w", err)
	}
	sources := p.ListSources()
	if len(sources) == 0 {
		return 0, errors.New("load catalogue migrations: none embedded")
	}
	return sources[len(sources)-1].Version, nil
}

// KnownJobQueueVersion is the newest River migration this vpo has.
func KnownJobQueueVersion() (int, error) {
	m, err := rivermigrate.New(riversqlite.New(nil), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, fmt.Errorf("load river migrations: %w", err)
	}
	all := m.AllVersions()
	if len(all) == 0 {
		return 0, errors.New("load river migrations: none")
	}
	return all[len(all)-1].Version, nil
}

// catalogueSchema compares goose's recorded version with this vpo's migrations.
func catalogueSchema(ctx context.Context, db *sql.DB) Result {
	const name = "catalogue schema"
	known, err := KnownCatalogueVersion()
	if err != nil {
		return fail(name, "%v", err)
	}
	var current int64
	exists, err := tableExists(ctx, db, "goose_db_version")
	if err == nil && exists {
		var v sql.NullInt64
		err = db.QueryRowContext(ctx, "SELECT max(version_id) FROM goose_db_version WHERE is_applied = 1").Scan(&v)
		current = v.Int64
	}
	if err != nil {
		return fail(name, "read goose_db_version: %s", describeSQLiteError(err))
	}
	return compareVersions(name, current, known)
}

// jobQueueSchema compares River's recorded version with the migrations of the River
// this vpo is built with.
func jobQueueSchema(ctx context.Context, db *sql.DB) Result {
	const name = "job queue schema"
	known, err := KnownJobQueueVersion()
	if err != nil {
		return fail(name, "%v", err)
	}
	var current int64
	exists, err := tableExists(ctx, db, "river_migration")
	if err == nil && exists {
		var v sql.NullInt64
		err = db.QueryRowContext(ctx, "SELECT max(version) FROM river_migration WHERE line = 'main'").Scan(&v)
		current = v.Int64
	}
	if err != nil {
		return fail(name, "read river_migration: %s", describeSQLiteError(err))
	}
	return compareVersions(name, current, int64(known))
}

func compareVersions(name string, current, known int64) Result {
	switch {
	case current == known:
		return ok(name, "version %d, current", current)
	case current == 0:
		return warn(name, "not created yet (this vpo's is version %d); vpo serve will create it", known)
	case current < known:
		return warn(name, "version %d, older than this vpo's %d; vpo serve will migrate it (back up the database first)", current, known)
	}
	return fail(name, "version %d, newer than this vpo's %d: written by a newer vpo; upgrade vpo", current, known)
}

// daemonLock reports whether a `vpo serve` holds the database.
func daemonLock(path string) Result {
	const name = "daemon"
	pid, held, err := daemon.Holder(path)
	switch {
	case err != nil:
		return warn(name, "cannot tell whether vpo serve is running: %v", err)
	case held && pid > 0:
		return ok(name, "vpo serve (pid %d) holds the database", pid)
	case held:
		return ok(name, "a vpo serve holds the database (pid unknown)")
	}
	return ok(name, "no vpo serve holds the database")
}
