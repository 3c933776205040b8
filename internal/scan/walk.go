package scan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrOutsideRoot is wrapped by the error Walk reports through onError for a
// symlink whose target lies outside the library root.
var ErrOutsideRoot = errors.New("symlink points outside the library root")

// Entry is a video file found by Walk.
type Entry struct {
	// Path is the file's absolute path under the resolved library root, byte for
	// byte as the file system returned the names (not necessarily UTF-8). For a
	// followed symlink it is the path of the link, not of its target.
	Path string
	// Size is the file's size in bytes (the target's, for a symlink).
	Size int64
	// ModTime is the file's modification time (the target's, for a symlink).
	ModTime time.Time
}

// Walk calls visit for every regular file under root whose name matches exts.
//
// root must be a directory. It is made absolute and resolved with
// filepath.EvalSymlinks first, and every Entry.Path lies under that resolved
// root. Walk is single-threaded and calls visit and onError from the calling
// goroutine, in directory order (which is not sorted).
//
// Problems below the root do not stop the walk: a directory that cannot be read,
// a matching file that vanished before it could be stat'ed, or a symlink that
// cannot be resolved is passed to onError with its path and the walk goes on
// without it. onError may be nil, in which case such problems are ignored.
//
// A symlink is followed only if its fully resolved target lies inside the
// resolved root. A link that would be followed (its target is a directory, or
// a regular file and the link's name matches exts) but points outside the root
// is reported through onError with an error wrapping ErrOutsideRoot, and
// skipped. A link to a regular file inside the root is reported as an Entry
// under the link's own path, so the same content can appear under two paths;
// Fingerprint tells them apart from distinct files. Directories are remembered
// by device and inode, so no directory is read twice: this stops symlink (and
// bind-mount) loops, and since real directories are walked before any
// symlinked one, a file below a symlinked directory is reported once, under its
// real path. The inside-root check happens when the link is met; a link that is
// retargeted while the walk runs can escape it.
//
// Walk checks ctx before every directory entry and returns an error wrapping
// ctx.Err() once it is done. If visit returns an error, Walk stops and returns
// that error unchanged.
//
// Directories are read by path, so one whose path exceeds the system's limit
// (PATH_MAX, 4096 bytes on Linux) cannot be read and is reported like any
// other unreadable directory.
func Walk(ctx context.Context, root string, exts ExtSet, visit func(Entry) error, onError func(path string, err error)) error {
	if visit == nil {
		return errors.New("walk library: visit callback is nil")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return fmt.Errorf("resolve library root %q: %w", root, err)
	}
	resolved, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return fmt.Errorf("resolve library root %q: %w", root, err)
	}
	fi, err := os.Stat(resolved)
	if err != nil {
		return fmt.Errorf("stat library root %q: %w", root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("library root %q is not a directory", root)
	}
	if onError == nil {
		onError = func(string, error) {}
	}
	w := &walker{
		ctx:     ctx,
		done:    ctx.Done(),
		root:    resolved,
		rootDir: withSep(resolved),
		exts:    exts,
		visit:   visit,
		onError: onError,
		visited: make(map[dirKey]struct{}),
		stack:   []string{resolved},
	}
	return w.run()
}

type walker struct {
	ctx     context.Context
	done    <-chan struct{}
	root    string // resolved library root
	rootDir string // root with a trailing separator, for prefix tests
	exts    ExtSet
	visit   func(Entry) error
	onError func(string, error)
	visited map[dirKey]struct{}
	stack   []string // directories still to read, depth first
	linked  []string // symlinks to directories inside the root, read last
}

func (w *walker) run() error {
	for {
		for len(w.stack) > 0 {
			if err := w.checkCtx(); err != nil {
				return err
			}
			dir := w.stack[len(w.stack)-1]
			w.stack = w.stack[:len(w.stack)-1]
			if err := w.readDir(dir); err != nil {
				return err
			}
		}
		// Symlinked directories come after every real directory has been read,
		// so that files are reported under their real paths. Most are then
		// already visited and skipped in readDir.
		if len(w.linked) == 0 {
			return nil
		}
		for i := len(w.linked) - 1; i >= 0; i-- {
			w.stack = append(w.stack, w.linked[i])
		}
		w.linked = w.linked[:0]
	}
}

func (w *walker) checkCtx() error {
	select {
	case <-w.done:
		return fmt.Errorf("walk library %q: %w", w.root, w.ctx.Err())
	default:
		return nil
	}
}

// readDir lists one directory, visits its matching files and queues its
// subdirectories.
func (w *walker) readDir(dir string) error {
	f, err := os.OpenFile(dir, os.O_RDONLY|openDirFlags, 0)
	if err != nil {
		w.onError(dir, fmt.Errorf("read directory: %w", err))
		return nil
	}
	entries, err := w.list(dir, f)
	if cerr := f.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		w.onError(dir, fmt.Errorf("read directory: %w", err))
		// Entries read before the error are still worth visiting.
	}
	for _, e := range entries {
		if err := w.checkCtx(); err != nil {
			return err
		}
		name := e.Name()
		switch t := e.Type(); {
		case t.IsDir():
			w.stack = append(w.stack, join(dir, name))
		case t.IsRegular():
			if !w.exts.Match(name) {
				continue // the common case: no path built, no stat
			}
			path := join(dir, name)
			fi, err := e.Info()
			if err != nil {
				w.onError(path, fmt.Errorf("stat file: %w", err))
				continue
			}
			if !fi.Mode().IsRegular() {
				continue // replaced since it was listed
			}
			if err := w.visit(Entry{Path: path, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return err
			}
		case t&fs.ModeSymlink != 0:
			if err := w.symlink(join(dir, name), name); err != nil {
				return err
			}
		}
	}
	return nil
}

// list reads the open directory f unless it was read before. Reading
// everything at once keeps a single file descriptor open at a time.
func (w *walker) list(dir string, f *os.File) ([]os.DirEntry, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	key, err := keyOf(dir, fi)
	if err != nil {
		return nil, err
	}
	if _, seen := w.visited[key]; seen {
		return nil, nil
	}
	w.visited[key] = struct{}{}
	return f.ReadDir(-1)
}

// symlink decides whether to follow the link at path.
func (w *walker) symlink(path, name string) error {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		w.onError(path, fmt.Errorf("resolve symlink: %w", err))
		return nil
	}
	fi, err := os.Stat(target)
	if err != nil {
		w.onError(path, fmt.Errorf("stat symlink target: %w", err))
		return nil
	}
	isDir := fi.IsDir()
	isVideo := fi.Mode().IsRegular() && w.exts.Match(name)
	if !isDir && !isVideo {
		return nil
	}
	if target != w.root && !strings.HasPrefix(target, w.rootDir) {
		w.onError(path, fmt.Errorf("symlink target %q: %w", target, ErrOutsideRoot))
		return nil
	}
	if isDir {
		w.linked = append(w.linked, path)
		return nil
	}
	return w.visit(Entry{Path: path, Size: fi.Size(), ModTime: fi.ModTime()})
}

// join appends a name to a directory path without filepath.Join's cleaning:
// dir is clean and name is a single element.
func join(dir, name string) string {
	if strings.HasSuffix(dir, string(filepath.Separator)) {
		return dir + name
	}
	return dir + string(filepath.Separator) + name
}

func withSep(dir string) string {
	if strings.HasSuffix(dir, string(filepath.Separator)) {
		return dir
	}
	return dir + string(filepath.Separator)
}
