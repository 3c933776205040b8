package catalog

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// The store's error sentinels. Every error a store method returns that comes from
// the database driver is classified once, here, so that callers test it with
// errors.Is instead of reading driver codes or error text. A classified error still
// wraps the driver's error, so its message is unchanged.
var (
	// ErrNotFound is returned when a requested row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBusy means another connection or process held the database's write lock
	// for longer than BusyTimeout.
	ErrBusy = errors.New("database is busy")
	// ErrFull means the disk (or file system quota) holding the database is full.
	ErrFull = errors.New("database or disk is full")
	// ErrReadOnly means the database cannot be written: a read-only file, directory
	// or mount.
	ErrReadOnly = errors.New("database is read-only")
	// ErrCorrupt means the file is not a database or its content is damaged.
	ErrCorrupt = errors.New("database is corrupt")
	// ErrUnavailable means the database server cannot be reached or refused the
	// connection (PostgreSQL: down, restarting, too many connections, network).
	// The operation may succeed once it is back.
	ErrUnavailable = errors.New("database is unavailable")
)

// classified is an error that is both its driver error and a sentinel.
type classified struct {
	sentinel error
	err      error
}

func (c *classified) Error() string   { return c.err.Error() }
func (c *classified) Unwrap() []error { return []error{c.sentinel, c.err} }

// Classify returns err wrapped so that errors.Is matches the store sentinel its
// driver code means (ErrBusy, ErrFull, ErrReadOnly, ErrCorrupt), or err itself when
// it has none. It is the one place that reads SQLite's result codes, like River's
// riversqlite interpretError; a second SQL backend adds its own codes here. It is
// exported for the job queue, whose errors come from River's driver over the same
// database.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if s := sentinelOf(err); s != nil && !errors.Is(err, s) {
		return &classified{sentinel: s, err: err}
	}
	return err
}

func sentinelOf(err error) error {
	if ok, s := postgresSentinel(err); ok {
		return s
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return ErrBusy
		case sqlite3.SQLITE_FULL:
			return ErrFull
		case sqlite3.SQLITE_READONLY:
			return ErrReadOnly
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return ErrCorrupt
		}
		return nil
	}
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return ErrFull
	case errors.Is(err, syscall.EROFS):
		return ErrReadOnly
	}
	// River's driver returns some errors (its batch inserts among them) with the
	// *sqlite.Error flattened into text, so the code is lost; SQLite's own
	// messages for these codes are fixed strings. This is the only place in vpo
	// that reads error text.
	msg := err.Error()
	switch {
	case strings.Contains(msg, "database is locked"), strings.Contains(msg, "database table is locked"):
		return ErrBusy
	case strings.Contains(msg, "database or disk is full"):
		return ErrFull
	case strings.Contains(msg, "attempt to write a readonly database"):
		return ErrReadOnly
	case strings.Contains(msg, "database disk image is malformed"), strings.Contains(msg, "file is not a database"):
		return ErrCorrupt
	}
	return nil
}

// postgresSentinel classifies the errors of pgx and PostgreSQL (SQLSTATE codes,
// https://www.postgresql.org/docs/current/errcodes-appendix.html); ok is false
// for an error that is not PostgreSQL's.
func postgresSentinel(err error) (bool, error) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "55P03", pe.Code == "40001", pe.Code == "40P01":
			// lock_not_available (lock_timeout), serialization_failure, deadlock_detected.
			return true, ErrBusy
		case pe.Code == "53100":
			return true, ErrFull
		case pe.Code == "25006":
			return true, ErrReadOnly
		case pe.Code == "XX001", pe.Code == "XX002":
			return true, ErrCorrupt
		case strings.HasPrefix(pe.Code, "08"), pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03",
			pe.Code == "53300", pe.Code == "28P01", pe.Code == "28000", pe.Code == "3D000":
			// Connection exceptions, the server shutting down or starting, too
			// many connections, a refused login, a missing database.
			return true, ErrUnavailable
		}
		return true, nil
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true, ErrUnavailable
	}
	var ne *net.OpError
	if errors.Is(err, driver.ErrBadConn) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true, ErrUnavailable
	}
	return false, nil
}
