package apply

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Backup modes for [Executor.Backup].
const (
	// BackupNone: the replaced version is gone once the new one is in
	// place. The zero value.
	BackupNone = "none"
	// BackupKeep: the replaced version stays as NAME.vpo-backup.
	BackupKeep = "keep"
)

// BackupSuffix ends the name of a backup: NAME.vpo-backup.
const BackupSuffix = ".vpo-backup"

// BackupPath is the backup name of path.
func BackupPath(path string) string { return path + BackupSuffix }

// backup makes the backup of the original when the executor keeps them: a
// hard link NAME.vpo-backup to the original file, made before the new
// version replaces it (no copy: the old inode simply keeps a name). When a
// backup exists already it is left alone and reported (made false): the
// first backup is the oldest version vpo replaced, and a second apply must
// not replace it with an intermediate one. A file that cannot be linked
// (a filesystem without hard links) fails the apply: nothing is written.
func (j *job) backup() (path string, made bool, err error) {
	if j.e.Backup != BackupKeep {
		return "", false, nil
	}
	b := BackupPath(j.path)
	err = os.Link(j.path, b)
	switch {
	case err == nil:
		j.e.log().Debug("apply: backup made", "path", j.path, "backup", b)
		return b, true, nil
	case errors.Is(err, os.ErrExist):
		j.e.log().Info("apply: a backup exists already; it is kept as it is", "path", j.path, "backup", b)
		return b, false, nil
	}
	return "", false, fmt.Errorf("keep a backup: %w", err)
}

// inPlaceAllowed reports whether mkvpropedit may edit the file itself: not
// when backups are kept, nor when the file has other hard links (an
// existing backup among them), since an in-place edit changes every name
// of the inode.
func (j *job) inPlaceAllowed() bool {
	if j.e.Backup == BackupKeep {
		return false
	}
	if st, ok := j.st.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		j.e.log().Debug("apply: the file has other hard links; editing a copy", "path", j.path, "links", st.Nlink)
		return false
	}
	return true
}

// tempMarker is in the name of every temp file: .NAME.vpo-tmp-RANDOM.
const tempMarker = ".vpo-tmp-"

// createTemp creates an empty temp file for the new version of final, in
// final's directory (so the rename never crosses a filesystem), and
// returns its path. The file is created exclusively, readable only by its
// owner until finishTemp gives it the original's mode.
func createTemp(final string) (string, error) {
	dir, base := filepath.Split(final)
	for range 10 {
		var b [6]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", fmt.Errorf("temp file name: %w", err)
		}
		p := filepath.Join(dir, "."+base+tempMarker+hex.EncodeToString(b[:]))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create temp file: %w", err)
		}
		if err := f.Close(); err != nil {
			_ = os.Remove(p)
			return "", fmt.Errorf("create temp file: %w", err)
		}
		return p, nil
	}
	return "", errors.New("create temp file: no free name")
}

// copyInto copies src over the (empty) file dst. On Linux io.Copy between
// two files uses copy_file_range, which shares extents (a reflink) where
// the filesystem can.
func copyInto(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("copy: %w", err)
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return fmt.Errorf("copy to temp file: %w", err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy to temp file: %w", err)
	}
	return nil
}

// finishTemp fsyncs the new version and gives it the original's mode,
// owner and group.
func finishTemp(tmp string, orig os.FileInfo) error {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open new version: %w", err)
	}
	defer f.Close()
	if st, ok := orig.Sys().(*syscall.Stat_t); ok && !sameOwner(f, st) {
		if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("keep owner %d:%d: %w", st.Uid, st.Gid, err)
		}
	}
	if err := f.Chmod(orig.Mode().Perm() | orig.Mode()&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
		return fmt.Errorf("keep mode %s: %w", orig.Mode().Perm(), err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync new version: %w", err)
	}
	return f.Close()
}

// sameOwner reports whether f already has st's owner and group, as the new
// version of a file the service's own user and group own does. Then no chown
// is made: the shipped unit's seccomp filter (~@privileged) refuses chown
// calls, even those that change nothing.
func sameOwner(f *os.File, st *syscall.Stat_t) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	cur, ok := fi.Sys().(*syscall.Stat_t)
	return ok && cur.Uid == st.Uid && cur.Gid == st.Gid
}

// install puts the verified temp file in place. When final is orig it is
// one rename (atomic: every reader sees the old or the new file). When a
// container conversion changes the name, the new file is hard-linked to
// final (which fails rather than replace a file that appeared meanwhile),
// the directory fsynced, and only then are the temp name and the original
// removed. The directory is fsynced last either way.
func install(tmp, orig, final string) error {
	dir := filepath.Dir(orig)
	if final == orig {
		if err := os.Rename(tmp, orig); err != nil {
			return fmt.Errorf("rename new version into place: %w", err)
		}
		return syncDir(dir)
	}
	if err := os.Link(tmp, final); err != nil {
		return fmt.Errorf("link new version to %s: %w", final, err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	if err := os.Remove(tmp); err != nil {
		return fmt.Errorf("remove temp name: %w", err)
	}
	if err := os.Remove(orig); err != nil {
		return fmt.Errorf("remove the original after conversion: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("fsync directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// IsTemp reports whether name (a base name) is an apply temp file.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempMarker)
}

// CleanTemp removes the leftover apply temp files (.NAME.vpo-tmp-*) in dir,
// logging each, and returns their paths. Call it only when no apply is
// running in dir: at startup, or before touching a directory. A missing
// directory is not an error.
func CleanTemp(dir string, log *slog.Logger) ([]string, error) {
	if log == nil {
		log = slog.Default()
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("clean temp files: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.Type().IsRegular() || !IsTemp(e.Name()) {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil {
			errs = append(errs, fmt.Errorf("remove leftover temp file: %w", err))
			continue
		}
		log.Warn("removed leftover temp file of an interrupted apply", "path", p)
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}
