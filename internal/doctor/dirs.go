package doctor

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// access(2) modes.
const (
	accessR = 4
	accessW = 2
	accessX = 1
)

// CheckDataDir checks vpo's data dir: a directory, writable, not group- or
// world-writable. A data dir that does not exist yet is fine when `vpo serve` can
// create it. Writability is asked of access(2): nothing is created in it.
func CheckDataDir(dir string) Result {
	const name = "data dir"
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		parent := existingParent(dir)
		if err := syscall.Access(parent, accessW|accessX); err != nil {
			return fail(name, "%s does not exist and cannot be created: %s is not writable (%v)", dir, parent, err)
		}
		return ok(name, "%s does not exist yet; vpo serve will create it (mode 0700)", dir)
	case err != nil:
		return fail(name, "%s: %v", dir, unwrapPath(err))
	case !st.IsDir():
		return fail(name, "%s is not a directory", dir)
	}
	if err := syscall.Access(dir, accessW|accessX); err != nil {
		return fail(name, "%s is not writable: %v", dir, err)
	}
	mode := st.Mode().Perm()
	if mode&0o022 != 0 {
		return warn(name, "%s is group- or world-writable (mode %04o): others can replace the database; chmod go-w %s", dir, mode, dir)
	}
	return ok(name, "%s: writable, mode %04o", dir, mode)
}

// existingParent returns the nearest ancestor of path that exists.
func existingParent(path string) string {
	for p := filepath.Dir(path); ; p = filepath.Dir(p) {
		if _, err := os.Stat(p); err == nil || p == filepath.Dir(p) {
			return p
		}
	}
}

// CheckLibraryRoots checks that each library root is a directory vpo can list.
// Without roots, scans may read any directory, which is reported as ok.
func CheckLibraryRoots(roots []string) []Result {
	if len(roots) == 0 {
		return []Result{ok("library roots", "none configured (library.roots): scans may read any directory")}
	}
	out := make([]Result, 0, len(roots))
	for _, root := range roots {
		out = append(out, checkRoot(root))
	}
	return out
}

func checkRoot(root string) Result {
	const name = "library root"
	st, err := os.Stat(root)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(name, "%s does not exist (is the disk mounted?)", root)
	case err != nil:
		return fail(name, "%s: %v", root, unwrapPath(err))
	case !st.IsDir():
		return fail(name, "%s is not a directory", root)
	}
	f, err := os.Open(root)
	if err != nil {
		return fail(name, "%s cannot be opened: %v", root, unwrapPath(err))
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	switch {
	case errors.Is(err, io.EOF):
		return warn(name, "%s is readable, but empty (is the disk mounted?)", root)
	case err != nil:
		return fail(name, "%s cannot be read: %v", root, unwrapPath(err))
	}
	return ok(name, "%s: readable", root)
}

// unwrapPath drops the *fs.PathError's repetition of the path.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
