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
	"strings"
	"syscall"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vpo-project/vpo/internal/catalog/migrations"
)

// ErrNotFound is returned when a requested row does not exist.
var ErrNotFound = errors.New("not found")

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
	schema int64
	logger *slog.Logger
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

// Open opens or creates the catalogue at path and brings its schema up to date. Each
// error names the path and what is wrong with it.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
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

	s := &Store{db: db, path: path, logger: logger}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return s.describeOpenError(err)
	}
	if mode != "wal" {
		return fmt.Errorf("database %s: cannot use WAL journal mode (got %q)", s.path, mode)
	}
	// A read that touches the schema proves the file is a database we can read.
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		return s.describeOpenError(err)
	}
	if err := s.migrate(ctx); err != nil {
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
			return fmt.Errorf("database %s is not a SQLite database", s.path)
		case sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("database %s cannot be opened (check that its directory is writable)", s.path)
		case sqlite3.SQLITE_READONLY:
			return fmt.Errorf("database %s is read-only", s.path)
		case sqlite3.SQLITE_PERM, sqlite3.SQLITE_AUTH:
			return fmt.Errorf("database %s: permission denied", s.path)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("database %s is corrupt", s.path)
		}
	}
	return fmt.Errorf("database %s: %w", s.path, err)
}

// migrate applies the embedded migrations, refusing a database whose schema is newer
// than this binary knows.
func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations.FS, ".")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("database %s: load migrations: %w", s.path, err)
	}
	sources := p.ListSources()
	latest := sources[len(sources)-1].Version
	current, err := s.dbVersion(ctx)
	if err != nil {
		return s.describeOpenError(err)
	}
	if current > latest {
		return fmt.Errorf("database %s has schema version %d, newer than this vpo supports (%d): it was written by a newer vpo; upgrade vpo or use another database_path",
			s.path, current, latest)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("database %s: apply migrations: %w", s.path, s.describeOpenError(err))
	}
	for _, r := range results {
		s.logger.Info("applied schema migration", "version", r.Source.Version,
			"file", filepath.Base(r.Source.Path), "duration_ms", r.Duration.Milliseconds())
	}
	s.schema = latest
	return nil
}

// dbVersion reads the highest applied goose version, 0 for a new database.
func (s *Store) dbVersion(ctx context.Context) (int64, error) {
	var exists int
	err := s.db.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'goose_db_version'").Scan(&exists)
	if err != nil || exists == 0 {
		return 0, err
	}
	var v sql.NullInt64
	err = s.db.QueryRowContext(ctx, "SELECT max(version_id) FROM goose_db_version WHERE is_applied = 1").Scan(&v)
	return v.Int64, err
}

// DB returns the pool, shared with the job engine.
func (s *Store) DB() *sql.DB { return s.db }

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// SchemaVersion returns the schema version the database is at.
func (s *Store) SchemaVersion() int64 { return s.schema }

// Check reports whether the database answers: the file is still the one that was
// opened (not deleted or replaced), it can still be opened for reading, and a read
// query on the probe connection succeeds before ctx's deadline. It does no writes and
// takes no lock a writer could be holding: in WAL mode a reader never waits for one.
func (s *Store) Check(ctx context.Context) error {
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
	if err := s.probe.QueryRowContext(ctx, "SELECT count(*) FROM goose_db_version").Scan(&v); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("database %s did not answer in time", s.path)
		}
		return fmt.Errorf("database %s: %w", s.path, err)
	}
	return nil
}

// Close checkpoints the WAL into the database file and closes every connection, so
// that the file alone holds the catalogue after vpo exits.
func (s *Store) Close(ctx context.Context) error {
	var errs []error
	if s.probe != nil {
		errs = append(errs, s.probe.Close())
	}
	if _, err := s.db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		errs = append(errs, fmt.Errorf("checkpoint database %s: %w", s.path, err))
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// IsBusy reports whether err means another connection or process held the
// database's write lock for longer than BusyTimeout.
func IsBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	// Some layers (River's driver) flatten the error to its text.
	return err != nil && strings.Contains(err.Error(), "database is locked")
}

// IsFull reports whether err means the disk holding the database is full.
func IsFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return err != nil && (strings.Contains(err.Error(), "database or disk is full") || errors.Is(err, syscall.ENOSPC))
}

// withTx runs fn in a transaction, committing if fn returns nil and rolling back
// otherwise.
func (s *Store) withTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
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
