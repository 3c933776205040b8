package daemon

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestLockDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "library.db")

	pid, held, err := Holder(db)
	if err != nil || held || pid != 0 {
		t.Fatalf("Holder before any lock = %d, %v, %v; want 0, false, nil", pid, held, err)
	}
	if _, err := os.Stat(LockPath(db)); !os.IsNotExist(err) {
		t.Fatalf("Holder created the lock file: %v", err)
	}

	l, err := LockDatabase(db)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(db + ".lock")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("lock file mode = %v, want 0600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(db + ".lock"); string(b) != strconv.Itoa(os.Getpid())+"\n" {
		t.Errorf("lock file holds %q, want this PID", b)
	}
	if pid, held, err := Holder(db); err != nil || !held || pid != os.Getpid() {
		t.Errorf("Holder while locked = %d, %v, %v; want %d, true, nil", pid, held, err, os.Getpid())
	}

	// A second lock fails, even in the same process: flock locks belong to the open
	// file, not to the process.
	_, err = LockDatabase(db)
	want := fmt.Sprintf("database %s is in use by another vpo serve (pid %d, lock %s.lock)", db, os.Getpid(), db)
	if err == nil || err.Error() != want {
		t.Fatalf("second LockDatabase: %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrInUse) {
		t.Errorf("errors.Is(%v, ErrInUse) = false", err)
	}

	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if pid, held, err := Holder(db); err != nil || held {
		t.Errorf("Holder after Release = %d, %v, %v; want not held", pid, held, err)
	}
	l2, err := LockDatabase(db)
	if err != nil {
		t.Fatalf("LockDatabase after Release: %v", err)
	}
	if err := l2.Release(); err != nil {
		t.Fatal(err)
	}
}

func TestLockDatabaseDirectoryErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, db, want string
	}{
		{"missing directory", filepath.Join(dir, "nowhere", "library.db"),
			"database directory " + filepath.Join(dir, "nowhere") + " does not exist"},
		{"directory is a file", filepath.Join(file, "library.db"),
			"database directory " + file + " is not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LockDatabase(tc.db)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("LockDatabase(%s) = %v, want %s", tc.db, err, tc.want)
			}
		})
	}
}

// TestLockReleasedOnSIGKILL holds the lock in a child process, kills it with SIGKILL
// and takes the lock: the kernel releases a flock with its last descriptor, so a
// daemon restarted after a crash starts.
func TestLockReleasedOnSIGKILL(t *testing.T) {
	db := filepath.Join(t.TempDir(), "library.db")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "VPO_TEST_HOLD_LOCK="+db)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "locked" {
		t.Fatalf("child: %q, %v", line, err)
	}

	_, err = LockDatabase(db)
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.PID != cmd.Process.Pid {
		t.Fatalf("LockDatabase beside the child (pid %d): %v", cmd.Process.Pid, err)
	}
	if pid, held, _ := Holder(db); !held || pid != cmd.Process.Pid {
		t.Fatalf("Holder = %d, %v; want %d, true", pid, held, cmd.Process.Pid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	l, err := LockDatabase(db)
	if err != nil {
		t.Fatalf("LockDatabase after the holder was killed: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
}

// TestMain runs the lock-holding child of TestLockReleasedOnSIGKILL when asked to:
// it takes the lock, says so, and waits to be killed.
func TestMain(m *testing.M) {
	if db := os.Getenv("VPO_TEST_HOLD_LOCK"); db != "" {
		if _, err := LockDatabase(db); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
