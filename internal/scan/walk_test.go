//go:build unix

package scan

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// walkResult is what one Walk call produced.
type walkResult struct {
	entries []Entry
	errs    map[string]error // onError calls by path
	err     error            // Walk's result
}

// rels returns the entries' paths relative to root, sorted.
func (r walkResult) rels(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for _, e := range r.entries {
		rel, err := filepath.Rel(root, e.Path)
		if err != nil || strings.HasPrefix(rel, "..") {
			t.Fatalf("entry %q is not under %q", e.Path, root)
		}
		out = append(out, rel)
	}
	slices.Sort(out)
	return out
}

// errRels returns the paths passed to onError relative to root, sorted.
func (r walkResult) errRels(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	for p := range r.errs {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rel)
	}
	slices.Sort(out)
	return out
}

// walk runs Walk with the default extensions and fails the test if it takes
// longer than a generous deadline, so that a hang (a loop, a blocking open of a
// FIFO) is reported instead of stalling the test binary. hook, if not nil, runs
// inside visit before the entry is recorded; its error is returned to Walk.
func walk(t *testing.T, ctx context.Context, root string, hook func(Entry) error) walkResult {
	t.Helper()
	exts, err := NewExtSet(DefaultExtensions)
	if err != nil {
		t.Fatal(err)
	}
	res := walkResult{errs: map[string]error{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		res.err = Walk(ctx, root, exts, func(e Entry) error {
			if hook != nil {
				if err := hook(e); err != nil {
					return err
				}
			}
			res.entries = append(res.entries, e)
			return nil
		}, func(path string, err error) {
			if _, dup := res.errs[path]; dup {
				t.Errorf("onError called twice for %q", path)
			}
			res.errs[path] = err
		})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Walk did not return within 30s")
	}
	return res
}

// resolvedTempDir returns a new temporary directory with symlinks resolved, as
// Walk reports paths under the resolved root.
func resolvedTempDir(t *testing.T) string {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// writeFiles creates each relative path under root with a little content,
// creating parent directories as needed.
func writeFiles(t *testing.T, root string, rels ...string) {
	t.Helper()
	for _, rel := range rels {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("data:"+rel), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestWalkFindsNestedFiles(t *testing.T) {
	root := resolvedTempDir(t)
	writeFiles(t, root,
		"top.mkv",
		"top.nfo",
		"Movies/A (2020)/A.2020.1080p.MKV",
		"Movies/A (2020)/A.2020.srt",
		"Movies/A (2020)/poster.jpg",
		"Movies/B/B.mp4.part",
		"Movies/B/B.avi",
		"TV/Show/Season 01/S01E01.m2ts",
		"TV/Show/Season 01/S01E02.ts",
		"TV/Show/Season 01/S01E03",
		"TV/Show/Season 02/deep/er/still/x.webm",
		"empty.mkv.d/README",
	)
	if err := os.MkdirAll(filepath.Join(root, "Empty/Dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "top.mkv"), mtime, mtime); err != nil {
		t.Fatal(err)
	}

	res := walk(t, context.Background(), root, nil)
	if res.err != nil {
		t.Fatalf("Walk: %v", res.err)
	}
	if len(res.errs) != 0 {
		t.Errorf("unexpected onError calls: %v", res.errs)
	}
	want := []string{
		"Movies/A (2020)/A.2020.1080p.MKV",
		"Movies/B/B.avi",
		"TV/Show/Season 01/S01E01.m2ts",
		"TV/Show/Season 01/S01E02.ts",
		"TV/Show/Season 02/deep/er/still/x.webm",
		"top.mkv",
	}
	if got := res.rels(t, root); !slices.Equal(got, want) {
		t.Errorf("entries:\n got %q\nwant %q", got, want)
	}
	for _, e := range res.entries {
		if e.Path == filepath.Join(root, "top.mkv") {
			if e.Size != int64(len("data:top.mkv")) || !e.ModTime.Equal(mtime) {
				t.Errorf("top.mkv entry = %+v, want size %d and mtime %v", e, len("data:top.mkv"), mtime)
			}
		}
	}
}

func TestWalkRelativeRootGivesAbsolutePaths(t *testing.T) {
	root := resolvedTempDir(t)
	writeFiles(t, root, "lib/a.mkv")
	t.Chdir(root)
	res := walk(t, context.Background(), "lib", nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.entries) != 1 || res.entries[0].Path != filepath.Join(root, "lib", "a.mkv") {
		t.Errorf("entries = %+v, want the absolute path of lib/a.mkv", res.entries)
	}
}

func TestWalkRootErrors(t *testing.T) {
	root := resolvedTempDir(t)
	writeFiles(t, root, "file.mkv")
	symlink(t, "nowhere", filepath.Join(root, "dangling"))
	tests := []struct {
		name string
		root string
	}{
		{name: "missing", root: filepath.Join(root, "missing")},
		{name: "regular file", root: filepath.Join(root, "file.mkv")},
		{name: "dangling symlink", root: filepath.Join(root, "dangling")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := walk(t, context.Background(), tt.root, nil)
			if res.err == nil {
				t.Fatalf("Walk(%q) succeeded, want an error", tt.root)
			}
			if len(res.entries) != 0 {
				t.Errorf("entries = %v, want none", res.entries)
			}
		})
	}
}

// chmodDenies reports whether a directory with mode 000 really cannot be read
// by this process. It can as root (CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH).
func chmodDenies(t *testing.T) bool {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "probe")
	if err := os.Mkdir(dir, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755) //nolint:errcheck // best effort, for TempDir's cleanup
	_, err := os.ReadDir(dir)
	return err != nil
}

// TestWalkUnreadableDirectory checks that a directory that cannot be read is
// reported through onError and skipped while the walk goes on.
//
// Tests run as root here, and root reads a chmod 000 directory regardless of
// its mode, so chmod alone cannot make a directory unreadable. These cases fail
// for root just as for anyone else:
//
//   - the directory is removed after its parent was listed but before it is
//     read (a library being reorganised during a scan): open fails with ENOENT;
//   - it is replaced by a FIFO in that window: Walk opens directories with
//     O_DIRECTORY, so open fails at once with ENOTDIR instead of blocking until
//     a writer turns up;
//   - its path is longer than PATH_MAX (4096 bytes): the kernel refuses the
//     path with ENAMETOOLONG, whoever asks (a file listed in the last readable
//     directory whose own path crosses the limit fails the same way when it is
//     stat'ed). The tree is built past the limit with os.Root, which creates
//     each level relative to the one above.
//
// The window in the first two cases is opened deterministically from visit:
// the root holds two directories with one video each, and the first visit of
// one of those (whichever directory Walk read first) removes or replaces the
// other one, which by then has been listed but not read. The chmod 000 case runs as well
// whenever the process is not privileged.
func TestWalkUnreadableDirectory(t *testing.T) {
	// A case's setup builds the tree under root and returns the visit hook to
	// use (or nil) and a function that, after the walk, says which paths must
	// have been reported through onError, with the error each must wrap, and
	// which entries must have been found regardless.
	type expect func() (errs map[string]error, want []string)
	type testCase struct {
		name  string
		setup func(t *testing.T, root string) (hook func(Entry) error, after expect)
	}

	// swapOther builds root/d1/a.mkv, root/d2/b.mkv and root/top.mkv, and
	// returns a hook that, on the first visit of a file in d1 or d2, applies
	// replace to the other one of the two, which has been listed but not read.
	swapOther := func(t *testing.T, root string, replace func(dir string) error, wantErr error) (func(Entry) error, expect) {
		writeFiles(t, root, "d1/a.mkv", "d2/b.mkv", "top.mkv")
		var other string
		hook := func(e Entry) error {
			if other != "" || filepath.Base(e.Path) == "top.mkv" {
				return nil
			}
			other = "d1"
			if filepath.Base(filepath.Dir(e.Path)) == "d1" {
				other = "d2"
			}
			return replace(filepath.Join(root, other))
		}
		after := func() (map[string]error, []string) {
			if other == "" {
				t.Fatal("visit hook never ran")
			}
			kept := map[string]string{"d1": "d2/b.mkv", "d2": "d1/a.mkv"}[other]
			return map[string]error{other: wantErr}, []string{kept, "top.mkv"}
		}
		return hook, after
	}

	tests := []testCase{
		{
			name: "removed between listing and reading",
			setup: func(t *testing.T, root string) (func(Entry) error, expect) {
				return swapOther(t, root, os.RemoveAll, fs.ErrNotExist)
			},
		},
		{
			name: "replaced by a FIFO between listing and reading",
			setup: func(t *testing.T, root string) (func(Entry) error, expect) {
				return swapOther(t, root, func(dir string) error {
					if err := os.RemoveAll(dir); err != nil {
						return err
					}
					return syscall.Mkfifo(dir, 0o644)
				}, syscall.ENOTDIR)
			},
		},
		{
			name: "path longer than PATH_MAX",
			setup: func(t *testing.T, root string) (func(Entry) error, expect) {
				// A chain of 200-byte directory names, each holding level.mkv,
				// until the path is well past the limit. os.Root creates each
				// level relative to the one above, so no call sees a long path.
				writeFiles(t, root, "shallow.mkv")
				r, err := os.OpenRoot(root)
				if err != nil {
					t.Fatal(err)
				}
				const limit = 4096 // PATH_MAX on Linux, counting the NUL
				errs := map[string]error{}
				want := []string{"shallow.mkv"}
				rel := ""
				for level := 0; len(root)+len(rel) < limit+400; level++ {
					name := strings.Repeat(string(rune('a'+level%26)), 200)
					if err := r.Mkdir(name, 0o755); err != nil {
						t.Fatal(err)
					}
					sub, err := r.OpenRoot(name)
					r.Close()
					if err != nil {
						t.Fatal(err)
					}
					r = sub
					f, err := r.Create("level.mkv")
					if err != nil {
						t.Fatal(err)
					}
					f.Close()

					parentOK := len(root)+1+len(rel) < limit
					rel = filepath.Join(rel, name)
					dirOK := len(root)+1+len(rel) < limit
					fileOK := len(root)+1+len(rel)+len("/level.mkv") < limit
					switch {
					case !parentOK:
						// Never listed.
					case !dirOK:
						errs[rel] = syscall.ENAMETOOLONG // the directory cannot be opened
					case !fileOK:
						errs[filepath.Join(rel, "level.mkv")] = syscall.ENAMETOOLONG // listed, cannot be stat'ed
					default:
						want = append(want, filepath.Join(rel, "level.mkv"))
					}
				}
				r.Close()
				return nil, func() (map[string]error, []string) { return errs, want }
			},
		},
	}
	if chmodDenies(t) {
		tests = append(tests, testCase{
			name: "chmod 000",
			setup: func(t *testing.T, root string) (func(Entry) error, expect) {
				writeFiles(t, root, "ok/a.mkv", "locked/b.mkv")
				locked := filepath.Join(root, "locked")
				if err := os.Chmod(locked, 0); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(locked, 0o755) }) //nolint:errcheck // for TempDir's cleanup
				return nil, func() (map[string]error, []string) {
					return map[string]error{"locked": fs.ErrPermission}, []string{"ok/a.mkv"}
				}
			},
		})
	} else {
		t.Log("privileged: chmod 000 does not deny reads, so that case is not added; the other cases fail for root too")
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := resolvedTempDir(t)
			hook, after := tt.setup(t, root)
			res := walk(t, context.Background(), root, hook)
			if res.err != nil {
				t.Fatalf("Walk: %v", res.err)
			}
			wantErrs, want := after()
			var wantErrPaths []string
			for p := range wantErrs {
				wantErrPaths = append(wantErrPaths, p)
			}
			slices.Sort(wantErrPaths)
			if got := res.errRels(t, root); !slices.Equal(got, wantErrPaths) {
				t.Fatalf("onError paths = %s, want %s", short(got), short(wantErrPaths))
			}
			for p, wantErr := range wantErrs {
				if err := res.errs[filepath.Join(root, p)]; !errors.Is(err, wantErr) {
					t.Errorf("onError(%s) error wraps %v? got %s", short([]string{p}), wantErr, short([]string{err.Error()}))
				}
			}
			slices.Sort(want)
			if got := res.rels(t, root); !slices.Equal(got, want) {
				t.Errorf("entries:\n got %s\nwant %s", short(got), short(want))
			}
		})
	}
}

// short abbreviates long strings for failure messages.
func short(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		if len(s) > 80 {
			s = s[:30] + "…(" + strconv.Itoa(len(s)) + " bytes)…" + s[len(s)-30:]
		}
		out[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(out, " ") + "]"
}

func TestWalkVanishedFileReported(t *testing.T) {
	root := resolvedTempDir(t)
	writeFiles(t, root, "d1/a.mkv", "d1/b.mkv")
	var removed string
	res := walk(t, context.Background(), root, func(e Entry) error {
		if removed == "" {
			removed = "a.mkv"
			if filepath.Base(e.Path) == "a.mkv" {
				removed = "b.mkv"
			}
			return os.Remove(filepath.Join(root, "d1", removed))
		}
		return nil
	})
	if res.err != nil {
		t.Fatal(res.err)
	}
	// The directory was read before the first visit, so the removed file was
	// listed; its stat fails and is reported.
	err, ok := res.errs[filepath.Join(root, "d1", removed)]
	if !ok || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("onError = %v, want ErrNotExist for d1/%s", res.errs, removed)
	}
	if len(res.entries) != 1 {
		t.Errorf("entries = %v, want 1", res.entries)
	}
}

func TestWalkSymlinks(t *testing.T) {
	tests := []struct {
		name string
		// setup creates links; root already holds real/a.mkv and real/sub/b.mkv,
		// outside holds o.mkv and odir/c.mkv.
		setup    func(t *testing.T, root, outside string)
		want     []string // entries besides real/a.mkv and real/sub/b.mkv
		wantErrs []string // paths reported through onError
		outside  bool     // whether those errors must wrap ErrOutsideRoot
	}{
		{
			name: "relative link to a file inside the root is followed",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, "../real/a.mkv", filepath.Join(root, "links/a-link.mkv"))
			},
			want: []string{"links/a-link.mkv"},
		},
		{
			name: "absolute link to a file inside the root is followed",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, filepath.Join(root, "real/sub/b.mkv"), filepath.Join(root, "b-link.MKV"))
			},
			want: []string{"b-link.MKV"},
		},
		{
			name: "link chain inside the root is followed",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, "real/a.mkv", filepath.Join(root, "hop1.mkv"))
				symlink(t, "hop1.mkv", filepath.Join(root, "hop2.mkv"))
			},
			want: []string{"hop1.mkv", "hop2.mkv"},
		},
		{
			name: "link with a non-video name to a video is not reported",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, "real/a.mkv", filepath.Join(root, "a-link.txt"))
			},
		},
		{
			name: "link to a directory inside the root adds no duplicates",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, "real", filepath.Join(root, "aaa-first-in-order"))
				symlink(t, "real/sub", filepath.Join(root, "zzz"))
			},
		},
		{
			name: "link to a file outside the root is skipped and reported",
			setup: func(t *testing.T, root, outside string) {
				symlink(t, filepath.Join(outside, "o.mkv"), filepath.Join(root, "out.mkv"))
			},
			wantErrs: []string{"out.mkv"},
			outside:  true,
		},
		{
			name: "relative link escaping with .. is skipped and reported",
			setup: func(t *testing.T, root, outside string) {
				rel, err := filepath.Rel(filepath.Join(root, "real"), filepath.Join(outside, "o.mkv"))
				if err != nil {
					t.Fatal(err)
				}
				symlink(t, rel, filepath.Join(root, "real/escape.mkv"))
			},
			wantErrs: []string{"real/escape.mkv"},
			outside:  true,
		},
		{
			name: "link to a directory outside the root is skipped and reported",
			setup: func(t *testing.T, root, outside string) {
				symlink(t, filepath.Join(outside, "odir"), filepath.Join(root, "odir"))
			},
			wantErrs: []string{"odir"},
			outside:  true,
		},
		{
			name: "link to / is skipped and reported",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, "/", filepath.Join(root, "slash"))
			},
			wantErrs: []string{"slash"},
			outside:  true,
		},
		{
			name: "link to the root's sibling with a shared name prefix is outside",
			setup: func(t *testing.T, root, _ string) {
				sib := root + "-sibling"
				writeFiles(t, sib, "s.mkv")
				t.Cleanup(func() { os.RemoveAll(sib) }) //nolint:errcheck // best effort
				symlink(t, sib, filepath.Join(root, "sib"))
			},
			wantErrs: []string{"sib"},
			outside:  true,
		},
		{
			name: "link to a non-video file outside the root is ignored",
			setup: func(t *testing.T, root, outside string) {
				writeFiles(t, outside, "notes.txt")
				symlink(t, filepath.Join(outside, "notes.txt"), filepath.Join(root, "notes.txt"))
			},
		},
		{
			name: "loop to an ancestor does not hang",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, "..", filepath.Join(root, "real/sub/up"))
				symlink(t, ".", filepath.Join(root, "real/self"))
				symlink(t, root, filepath.Join(root, "rootlink"))
			},
		},
		{
			name: "mutual directory links do not hang",
			setup: func(t *testing.T, root, _ string) {
				writeFiles(t, root, "x/x.mkv", "y/y.mkv")
				symlink(t, "../y", filepath.Join(root, "x/to-y"))
				symlink(t, "../x", filepath.Join(root, "y/to-x"))
			},
			want: []string{"x/x.mkv", "y/y.mkv"},
		},
		{
			name: "symlink cycle is reported",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, "l2", filepath.Join(root, "l1.mkv"))
				symlink(t, "l1.mkv", filepath.Join(root, "l2"))
				symlink(t, "self.mkv", filepath.Join(root, "self.mkv"))
			},
			wantErrs: []string{"l1.mkv", "l2", "self.mkv"},
		},
		{
			name: "dangling link is reported",
			setup: func(t *testing.T, root, _ string) {
				symlink(t, "gone.mkv", filepath.Join(root, "dangling.mkv"))
			},
			wantErrs: []string{"dangling.mkv"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := resolvedTempDir(t)
			root, outside := filepath.Join(base, "lib"), filepath.Join(base, "outside")
			writeFiles(t, root, "real/a.mkv", "real/sub/b.mkv")
			writeFiles(t, outside, "o.mkv", "odir/c.mkv")
			tt.setup(t, root, outside)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res := walk(t, ctx, root, nil)
			if res.err != nil {
				t.Fatalf("Walk: %v", res.err)
			}
			want := append([]string{"real/a.mkv", "real/sub/b.mkv"}, tt.want...)
			slices.Sort(want)
			if got := res.rels(t, root); !slices.Equal(got, want) {
				t.Errorf("entries:\n got %q\nwant %q", got, want)
			}
			if got := res.errRels(t, root); !slices.Equal(got, tt.wantErrs) {
				t.Errorf("onError paths = %q, want %q (errors: %v)", got, tt.wantErrs, res.errs)
			}
			for p, err := range res.errs {
				if got := errors.Is(err, ErrOutsideRoot); got != tt.outside {
					t.Errorf("onError(%q, %v): wraps ErrOutsideRoot = %v, want %v", p, err, got, tt.outside)
				}
				if tt.outside && !strings.Contains(err.Error(), "outside the library root") {
					t.Errorf("onError(%q, %v): message does not say it points outside the library root", p, err)
				}
			}
		})
	}
}

func TestWalkSymlinkedRoot(t *testing.T) {
	base := resolvedTempDir(t)
	realRoot := filepath.Join(base, "real-lib")
	writeFiles(t, realRoot, "m/a.mkv")
	symlink(t, "inside.mkv", filepath.Join(realRoot, "link.mkv"))
	writeFiles(t, realRoot, "inside.mkv")
	link := filepath.Join(base, "lib-link")
	symlink(t, "real-lib", link)

	res := walk(t, context.Background(), link, nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if len(res.errs) != 0 {
		t.Errorf("unexpected onError calls: %v", res.errs)
	}
	want := []string{"inside.mkv", "link.mkv", "m/a.mkv"}
	if got := res.rels(t, realRoot); !slices.Equal(got, want) {
		t.Errorf("entries relative to the resolved root:\n got %q\nwant %q", got, want)
	}
}

func TestWalkSkipsNonRegularFiles(t *testing.T) {
	root := resolvedTempDir(t)
	writeFiles(t, root, "real.mkv")
	if err := syscall.Mkfifo(filepath.Join(root, "fifo.mkv"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "dir.mkv"), 0o755); err != nil {
		t.Fatal(err)
	}
	symlink(t, "fifo.mkv", filepath.Join(root, "fifo-link.mkv"))
	res := walk(t, context.Background(), root, nil)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if got := res.rels(t, root); !slices.Equal(got, []string{"real.mkv"}) {
		t.Errorf("entries = %q, want only real.mkv", got)
	}
	if len(res.errs) != 0 {
		t.Errorf("unexpected onError calls: %v", res.errs)
	}
}

func TestWalkUnusualNames(t *testing.T) {
	long := strings.Repeat("x", 255-len(".mkv")) + ".mkv"
	tests := []struct {
		name string
		rel  string // relative path of a file that must be found byte-exact
	}{
		{name: "non-UTF-8 byte", rel: "bad\xffname.mkv"},
		{name: "newline", rel: "line\nbreak.mkv"},
		{name: "carriage return and tab", rel: "cr\r\ttab.MKV"},
		{name: "255-byte name", rel: long},
		{name: "255-byte name in non-UTF-8 directory with newline", rel: "dir\xfe\nname/" + long},
		{name: "leading and trailing spaces", rel: " spaced .mp4"},
		{name: "backslash and quotes", rel: `back\slash"'.avi`},
		{name: "leading dash", rel: "-rf.mkv"},
		{name: "Unicode NFD", rel: "Cafe\u0301.mkv"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := resolvedTempDir(t)
			writeFiles(t, root, tt.rel, "plain.mkv")
			res := walk(t, context.Background(), root, nil)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if len(res.errs) != 0 {
				t.Errorf("unexpected onError calls: %q", res.errs)
			}
			want := root + "/" + tt.rel
			var found bool
			for _, e := range res.entries {
				if e.Path == want {
					found = true
					if _, err := os.Lstat(e.Path); err != nil {
						t.Errorf("Lstat of reported path: %v", err)
					}
				}
			}
			if !found || len(res.entries) != 2 {
				t.Errorf("entries = %q, want %q and plain.mkv", res.rels(t, root), tt.rel)
			}
		})
	}
}

func TestWalkContextCancel(t *testing.T) {
	root := resolvedTempDir(t)
	var rels []string
	for i := range 50 {
		rels = append(rels, filepath.Join("d", string(rune('a'+i%5)), strings.Repeat("f", i+1)+".mkv"))
	}
	writeFiles(t, root, rels...)

	tests := []struct {
		name       string
		cancelAt   int // cancel during this visit; 0 cancels before Walk
		wantVisits int
	}{
		{name: "cancelled before the walk", cancelAt: 0, wantVisits: 0},
		{name: "cancelled in the first visit", cancelAt: 1, wantVisits: 1},
		{name: "cancelled in the tenth visit", cancelAt: 10, wantVisits: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.cancelAt == 0 {
				cancel()
			}
			visits := 0
			res := walk(t, ctx, root, func(Entry) error {
				visits++
				if visits == tt.cancelAt {
					cancel()
				}
				return nil
			})
			if !errors.Is(res.err, context.Canceled) {
				t.Fatalf("Walk error = %v, want context.Canceled", res.err)
			}
			if visits != tt.wantVisits {
				t.Errorf("visits = %d, want %d", visits, tt.wantVisits)
			}
		})
	}
}

func TestWalkVisitErrorStops(t *testing.T) {
	root := resolvedTempDir(t)
	writeFiles(t, root, "a/1.mkv", "a/2.mkv", "b/3.mkv", "b/4.mkv")
	sentinel := errors.New("stop here")
	visits := 0
	res := walk(t, context.Background(), root, func(Entry) error {
		visits++
		if visits == 2 {
			return sentinel
		}
		return nil
	})
	if res.err != sentinel { //nolint:errorlint // the visit error must come back as it is, not wrapped
		t.Errorf("Walk error = %v, want the visit error unchanged", res.err)
	}
	if visits != 2 {
		t.Errorf("visits = %d, want 2", visits)
	}
}

func TestWalkNilCallbacks(t *testing.T) {
	root := resolvedTempDir(t)
	writeFiles(t, root, "a.mkv")
	symlink(t, "/", filepath.Join(root, "out"))
	exts, err := NewExtSet(DefaultExtensions)
	if err != nil {
		t.Fatal(err)
	}
	if err := Walk(context.Background(), root, exts, nil, nil); err == nil {
		t.Error("Walk with a nil visit succeeded, want an error")
	}
	n := 0
	if err := Walk(context.Background(), root, exts, func(Entry) error { n++; return nil }, nil); err != nil || n != 1 {
		t.Errorf("Walk with a nil onError = %v after %d visits, want nil after 1", err, n)
	}
}
