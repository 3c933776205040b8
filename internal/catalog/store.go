// Package catalog is vpo's library catalogue in SQLite: opening and migrating the
// database, the health probe, and the files, tracks and job progress it records.
package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vpo-project/vpo/internal/catalog/migrations"
)

// BusyTimeout is how long a connection waits for another writer's lock before it
// fails with SQLITE_BUSY. Scans and the API share the file with River, so writers
// queue behind each other instead of failing.
const BusyTimeout = 10 * time.Second

// maxOpenConns bounds the pool. WAL lets readers run beside the one writer; more
// connections than this only add lock contention.
const maxOpenConns = 8

// Store is the catalogue over one SQLite file.
type Store struct {
	db     *sql.DB
	probe  *sql.DB // a separate read-only connection for health probes
	path   string
	ident  fileIdent
	schema int64 // the version the database is at
	latest int64 // the newest version this vpo knows
	// objects is how many tables, indexes, ... the file had when opened: 0 for
	// a brand-new database.
	objects int
	created bool
	q       *queries
	logger  *slog.Logger
	// pg is the connection settings on PostgreSQL (OpenPostgres), nil on SQLite.
	pg *pgx.ConnConfig
	// prepared are the page queries' prepared statements (stmts.go).
	prepared stmts
}

type fileIdent struct{ dev, ino uint64 }

// DSN returns the connection string vpo uses for path.
//
// Settings, and why:
//   - journal_mode(WAL): readers (the API, /health) never wait for the writer.
//   - busy_timeout: a writer waits for the lock instead of failing at once.
//   - foreign_keys(1): tracks cannot outlive their file.
//   - synchronous(NORMAL): durable at each checkpoint and safe against corruption
//     on power loss in WAL mode, without an fsync per transaction.
//   - _txlock=immediate: every transaction takes the write lock at BEGIN. With
//     deferred transactions a pool of several connections upgrades read locks to
//     write locks mid-transaction and fails with SQLITE_BUSY regardless of
//     busy_timeout (measured here: about half of 8,000 concurrent River inserts); with
//     a single connection, code that holds a transaction and calls the pool again
//     deadlocks. Immediate transactions on a small pool avoid both.
func DSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	return "file:" + escapePath(path) + "?" + q.Encode()
}

// escapePath escapes the characters that would end the path part of a file: URI.
func escapePath(p string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return r.Replace(p)
}

// Mode says what Open does about the database's schema version.
type Mode int

const (
	// CheckSchema opens a database whose schema is exactly this vpo's and refuses
	// any other (ErrSchemaPending, ErrSchemaTooNew). A brand-new database (a
	// missing or empty file) is created and migrated, logged at debug: that is what
	// lets `vpo scan` work on a fresh machine before `vpo serve` ever ran, and it
	// cannot surprise a running daemon, which would have created the schema. Every
	// command but `vpo serve` and `vpo migrate` opens this way.
	CheckSchema Mode = iota
	// ApplyMigrations applies pending migrations, logged at info: `vpo serve`,
	// which owns the database, and `vpo migrate`.
	ApplyMigrations
	// InspectSchema opens the database at whatever version it is, without
	// migrating or refusing: `vpo migrate --status`.
	InspectSchema
)

var (
	// ErrSchemaTooNew is wrapped by Open's error when the database was migrated
	// by a newer vpo than this one.
	ErrSchemaTooNew = errors.New("schema newer than this vpo supports")
	// ErrSchemaPending is wrapped by Open's error when the database needs
	// migrations this vpo has and Open was not asked to apply them.
	ErrSchemaPending = errors.New("schema migrations pending")
)

// Open opens or creates the catalogue at path with mode CheckSchema. Each error
// names the path and what is wrong with it.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	return OpenMode(ctx, path, logger, CheckSchema)
}

// OpenMode opens or creates the catalogue at path, doing what mode says about its
// schema.
func OpenMode(ctx context.Context, path string, logger *slog.Logger, mode Mode) (*Store, error) {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("database directory %s does not exist", dir)
	case err != nil:
		return nil, fmt.Errorf("database directory %s: %w", dir, unwrapPath(err))
	case !st.IsDir():
		return nil, fmt.Errorf("database directory %s is not a directory", dir)
	}
	st, err = os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return nil, fmt.Errorf("database path %s is a directory, not a file", path)
	case err == nil && !st.Mode().IsRegular():
		return nil, fmt.Errorf("database path %s is not a regular file", path)
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("database %s: %w", path, unwrapPath(err))
	case errors.Is(err, fs.ErrNotExist):
		if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
			return nil, fmt.Errorf("database directory %s is not writable: %w", dir, err)
		}
		// Create the file owner-only before SQLite does: the catalogue lists the
		// owner's files and is nobody else's business.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("create database %s: %w", path, unwrapPath(err))
		}
		f.Close()
	}

	db, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxOpenConns)
	db.SetMaxIdleConns(maxOpenConns)
	db.SetConnMaxIdleTime(0)

	s := &Store{db: db, path: path, logger: logger, q: &sqliteQueries}
	if err := s.init(ctx, mode); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context, mode Mode) error {
	var journal string
	if err := s.db.QueryRowContext(ctx, s.q.journalMode).Scan(&journal); err != nil {
		return s.describeOpenError(err)
	}
	if journal != "wal" {
		return fmt.Errorf("database %s: cannot use WAL journal mode (got %q)", s.path, journal)
	}
	// A read that touches the schema proves the file is a database we can read.
	if err := s.db.QueryRowContext(ctx, s.q.countSchemaObjects).Scan(&s.objects); err != nil {
		return s.describeOpenError(err)
	}
	if err := s.migrate(ctx, mode); err != nil {
		return err
	}
	st, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("database %s: %w", s.path, unwrapPath(err))
	}
	s.ident = identOf(st)

	probe, err := sql.Open("sqlite", DSN(s.path)+"&_pragma=query_only(1)")
	if err != nil {
		return fmt.Errorf("open database %s: %w", s.path, err)
	}
	probe.SetMaxOpenConns(1)
	probe.SetMaxIdleConns(1)
	s.probe = probe
	return nil
}

func (s *Store) describeOpenError(err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("database %s is not a SQLite database%w", s.path, hide(ErrCorrupt))
		case sqlite3.SQLITE_CANTOPEN:
			// In WAL mode SQLite must create the -wal and -shm files beside the
			// database: an unwritable directory is the usual reason.
			if err := syscall.Access(filepath.Dir(s.path), 2 /* W_OK */); err != nil {
				return fmt.Errorf("database %s cannot be opened: its directory is not writable (%w)%w", s.path, err, hide(ErrReadOnly))
			}
			return fmt.Errorf("database %s cannot be opened (check that its directory is writable)", s.path)
		case sqlite3.SQLITE_READONLY:
			return fmt.Errorf("database %s is read-only%w", s.path, hide(ErrReadOnly))
		case sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
			return fmt.Errorf("database %s: permission denied", s.path)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("database %s is corrupt%w", s.path, hide(ErrCorrupt))
		}
	}
	return fmt.Errorf("database %s: %w", s.path, Classify(err))
}

// hide wraps a sentinel so that errors.Is finds it without its text showing in
// the message: "%w" of hide(ErrCorrupt) adds nothing to the text.
func hide(sentinel error) error { return hidden{sentinel} }

type hidden struct{ err error }

func (h hidden) Error() string { return "" }
func (h hidden) Unwrap() error { return h.err }

// migrate checks the database's schema version against the embedded migrations and,
// as mode says, applies the pending ones or refuses. A database whose schema is
// newer than this binary knows is refused in every mode but InspectSchema.
func (s *Store) migrate(ctx context.Context, mode Mode) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	sources := p.ListSources()
	s.latest = sources[len(sources)-1].Version
	s.schema, err = s.dbVersion(ctx)
	if err != nil {
		if s.pg != nil {
			return s.describePostgresError(err)
		}
		return s.describeOpenError(err)
	}
	if mode == InspectSchema {
		return nil
	}
	if s.schema > s.latest {
		return fmt.Errorf("database %s has schema version %d, newer than this vpo supports (%d): upgrade vpo%w",
			s.path, s.schema, s.latest, hide(ErrSchemaTooNew))
	}
	if s.schema == s.latest {
		return nil
	}
	level := slog.LevelInfo
	if mode == CheckSchema {
		if s.objects != 0 {
			return fmt.Errorf("database %s has schema version %d, older than this vpo needs (%d): run `vpo migrate` (or start `vpo serve`)%w",
				s.path, s.schema, s.latest, hide(ErrSchemaPending))
		}
		// A brand-new database: nobody else can be using it yet.
		level = slog.LevelDebug
		s.created = true
	}
	results, err := p.Up(ctx)
	if err != nil {
		if s.pg != nil {
			return fmt.Errorf("apply migrations: %w", s.describePostgresError(err))
		}
		return fmt.Errorf("database %s: apply migrations: %w", s.path, s.describeOpenError(err))
	}
	for _, r := range results {
		s.logger.Log(ctx, level, "applied schema migration", "version", r.Source.Version,
			"file", filepath.Base(r.Source.Path), "duration_ms", r.Duration.Milliseconds())
	}
	s.schema = s.latest
	return nil
}

func (s *Store) provider() (*goose.Provider, error) {
	if s.pg != nil {
		return s.postgresProvider()
	}
	fsys, err := fs.Sub(migrations.FS, ".")
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("database %s: load migrations: %w", s.path, err)
	}
	return p, nil
}

// dbVersion reads the highest applied goose version, 0 for a new database.
func (s *Store) dbVersion(ctx context.Context) (int64, error) {
	var exists int
	err := s.db.QueryRowContext(ctx, s.q.gooseTableExists).Scan(&exists)
	if err != nil || exists == 0 {
		return 0, err
	}
	var v sql.NullInt64
	err = s.db.QueryRowContext(ctx, s.q.gooseVersion).Scan(&v)
	return v.Int64, err
}

// LatestSchemaVersion returns the newest schema version this vpo knows.
func (s *Store) LatestSchemaVersion() int64 { return s.latest }

// Created reports whether Open created the schema of a brand-new database.
func (s *Store) Created() bool { return s.created }

// DB returns the pool, shared with the job engine.
func (s *Store) DB() *sql.DB { return s.db }

// Path returns the database file's path; on PostgreSQL, the database's URL
// without password or parameters (DescribeURL).
func (s *Store) Path() string { return s.path }

// SchemaVersion returns the schema version the database is at.
func (s *Store) SchemaVersion() int64 { return s.schema }

// Check reports whether the database answers: the file is still the one that was
// opened (not deleted or replaced), it can still be opened for reading, and a read
// query on the probe connection succeeds before ctx's deadline. It does no writes and
// takes no lock a writer could be holding: in WAL mode a reader never waits for one.
func (s *Store) Check(ctx context.Context) error {
	if s.pg != nil {
		return s.checkPostgres(ctx)
	}
	st, err := os.Stat(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("database file %s has been removed", s.path)
		}
		return fmt.Errorf("database file %s: %w", s.path, unwrapPath(err))
	}
	if identOf(st) != s.ident {
		return fmt.Errorf("database file %s has been replaced since vpo opened it", s.path)
	}
	// access(2), not open+close: closing any descriptor of the database file would
	// drop every POSIX lock this process holds on it, SQLite's included, and another
	// process could then checkpoint and delete the WAL under the running daemon.
	if err := syscall.Access(s.path, 4 /* R_OK */); err != nil {
		return fmt.Errorf("database file %s cannot be read: %w", s.path, err)
	}
	var v int64
	if err := s.probe.QueryRowContext(ctx, s.q.probe).Scan(&v); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("database %s did not answer in time", s.path)
		}
		return fmt.Errorf("database %s: %w", s.path, Classify(err))
	}
	return nil
}

// Close checkpoints the WAL into the database file and closes every connection, so
// that the file alone holds the catalogue after vpo exits.
func (s *Store) Close(ctx context.Context) error {
	errs := []error{s.closeStmts()}
	if s.probe != nil {
		errs = append(errs, s.probe.Close())
	}
	// PostgreSQL has no checkpoint statement: nothing to fold back into a file.
	if s.q.checkpoint == "" {
		return errors.Join(append(errs, s.db.Close())...)
	}
	if _, err := s.db.ExecContext(ctx, s.q.checkpoint); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint database %s: %w", s.path, err))
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// withTx runs fn in a transaction, committing if fn returns nil and rolling back
// otherwise.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", Classify(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return Classify(err)
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", Classify(err))
	}
	return nil
}

func identOf(st fs.FileInfo) fileIdent {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return fileIdent{dev: uint64(sys.Dev), ino: sys.Ino}
	}
	return fileIdent{}
}

// unwrapPath drops the *fs.PathError's repetition of the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// LatestSchemaVersion returns the newest catalogue schema version this vpo knows:
// the number of its last embedded migration file.
func LatestSchemaVersion() int64 {
	entries, _ := fs.ReadDir(migrations.FS, ".")
	var latest int64
	for _, e := range entries {
		digits := e.Name()[:strings.IndexFunc(e.Name(), func(r rune) bool { return r < '0' || r > '9' })]
		if v, err := strconv.ParseInt(digits, 10, 64); err == nil {
			latest = max(latest, v)
		}
	}
	return latest
}
