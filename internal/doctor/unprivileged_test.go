package doctor

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// unprivilegedUID is the user the permission tests run as when the suite runs as
// root (as it does in CI): root passes every access(2) and open(2) check, so a
// "permission denied" can only be seen by someone else. 65534 is nobody on Debian.
const unprivilegedUID = 65534

// rerunUnprivileged runs the calling test again as an unprivileged user, in a child
// process of this test binary, when the suite runs as root, and reports whether it
// did (the caller then returns: the child's verdict is this test's verdict). Under
// a non-root user it returns false and the test runs in place.
func rerunUnprivileged(t *testing.T) bool {
	t.Helper()
	if os.Geteuid() != 0 {
		return false
	}
	// The test binary lives in go's 0700 build directory: give the child a copy it
	// can execute.
	// (t.TempDir's parent is 0700, so the copy goes in a directory of its own.)
	dir, err := os.MkdirTemp("", "vpo-doctor-unprivileged-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "doctor.test")
	copyExecutable(t, os.Args[0], bin)
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR=/tmp", "HOME=/nonexistent")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: unprivilegedUID, Gid: unprivilegedUID}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as uid %d: %v\n%s", t.Name(), unprivilegedUID, err, out)
	}
	t.Logf("ran as uid %d:\n%s", unprivilegedUID, out)
	return true
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
