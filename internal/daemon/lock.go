package daemon

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// One daemon per database. At startup the daemon re-queues the jobs it finds
// `running`, which is right only if no other daemon works the same database, so it
// holds an exclusive flock(2) on a lock file beside the database for its whole
// lifetime. flock, not fcntl: fcntl locks belong to the process and are dropped when
// any descriptor of the file is closed, and SQLite uses fcntl locks on the database
// itself; a separate file with flock cannot interfere with either. The kernel
// releases the lock when the process exits, SIGKILL included, so there is never a
// stale lock to clean up. The file is left in place at exit: removing it would let a
// daemon that opened it just before the removal and one that creates a new file both
// hold "the" lock.
//
// Foreground CLI commands (vpo scan, vpo jobs cancel) do not take the lock: they
// share the database with a running daemon through SQLite's own locking.

// ErrInUse is matched (errors.Is) by the error LockDatabase returns when another
// daemon holds the database.
var ErrInUse = errors.New("database in use by another vpo serve")

// InUseError is LockDatabase's error when another daemon holds the database.
type InUseError struct {
	Database string // the database path
	LockFile string // the lock file's path
	PID      int    // the holder's PID; 0 when it could not be read
}

func (e *InUseError) Error() string {
	pid := "pid unknown"
	if e.PID > 0 {
		pid = "pid " + strconv.Itoa(e.PID)
	}
	return fmt.Sprintf("database %s is in use by another vpo serve (%s, lock %s)", e.Database, pid, e.LockFile)
}

// Is makes errors.Is(err, ErrInUse) true.
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

// LockPath returns the lock file of the database at dbPath: dbPath + ".lock".
func LockPath(dbPath string) string { return dbPath + ".lock" }

// Lock is a held database lock.
type Lock struct {
	f *os.File
}

// lockRetry is how long LockDatabase keeps trying when the lock is taken. Holder
// takes a shared lock for a moment to test it; a daemon starting at that moment
// must not take the test for another daemon.
const lockRetry = 250 * time.Millisecond

// LockDatabase takes the exclusive lock of the database at dbPath, creating the lock
// file (mode 0600) if needed, and writes this process's PID into it. When another
// process holds it, the error is an *InUseError naming the holder's PID. Errors
// about the database's directory are worded as catalog.Open words them.
func LockDatabase(dbPath string) (*Lock, error) {
	path := LockPath(dbPath)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, describeLockError(dbPath, err)
	}
	deadline := time.Now().Add(lockRetry)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock database %s: flock %s: %w", dbPath, path, err)
		}
		if time.Now().After(deadline) {
			pid := readPID(f)
			f.Close()
			return nil, &InUseError{Database: dbPath, LockFile: path, PID: pid}
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Owner-only, as the database: a lock file that another user could open could be
	// locked by that user, and keep every daemon out.
	if st, err := f.Stat(); err == nil && st.Mode().Perm() != 0o600 {
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return nil, fmt.Errorf("lock database %s: chmod %s: %w", dbPath, path, err)
		}
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock database %s: write %s: %w", dbPath, path, err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock database %s: write %s: %w", dbPath, path, err)
	}
	return &Lock{f: f}, nil
}

// Release releases the lock. It is idempotent. The lock file stays, with the PID of
// its last holder; only the flock tells whether a daemon runs.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the only descriptor releases the flock
	l.f = nil
	return err
}

// Holder reports whether a daemon holds the database at dbPath, and its PID (0 when
// the lock file does not say). It takes a shared lock on the lock file for a moment
// to find out, and never creates the file. A `vpo migrate` uses it to refuse to run
// beside a daemon.
func Holder(dbPath string) (pid int, held bool, err error) {
	path := LockPath(dbPath)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("database lock %s: %w", path, unwrapPath(err))
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	switch {
	case err == nil:
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, false, nil
	case errors.Is(err, syscall.EWOULDBLOCK):
		return readPID(f), true, nil
	}
	return 0, false, fmt.Errorf("database lock %s: flock: %w", path, err)
}

// readPID reads the PID the lock's holder wrote. A holder that has just taken the
// lock may not have written it yet; it is read again for a moment.
func readPID(f *os.File) int {
	for range 10 {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		if pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:n]))); err == nil && pid > 0 {
			return pid
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0
}

// describeLockError words a failure to open the lock file the way catalog.Open
// words the same failure for the database, since the lock is taken first and its
// file lives in the database's directory.
func describeLockError(dbPath string, err error) error {
	dir := filepath.Dir(dbPath)
	st, serr := os.Stat(dir)
	switch {
	case errors.Is(serr, fs.ErrNotExist):
		return fmt.Errorf("database directory %s does not exist", dir)
	case serr != nil:
		return fmt.Errorf("database directory %s: %w", dir, unwrapPath(serr))
	case !st.IsDir():
		return fmt.Errorf("database directory %s is not a directory", dir)
	}
	if _, serr := os.Stat(LockPath(dbPath)); errors.Is(serr, fs.ErrNotExist) {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("database directory %s is not writable: %w", dir, unwrapPath(err))
		}
	}
	return fmt.Errorf("lock database %s: %w", dbPath, err)
}

// unwrapPath drops the *fs.PathError's repetition of the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
