package library

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/logging"
)

// FuzzResolveDir feeds arbitrary paths to the scan-path check, with a library root
// that contains a symlink pointing out of it: whatever it accepts must resolve to a
// directory inside the root, and it must never panic.
func FuzzResolveDir(f *testing.F) {
	base := f.TempDir()
	root := filepath.Join(base, "root")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "tv", "show"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "tv"), filepath.Join(root, "inside")); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bad\xffname.mkv"), nil, 0o644); err != nil {
		f.Fatal(err)
	}
	s, err := NewScanner(Options{Roots: []string{root}, Extensions: []string{"mkv"}, Workers: 1, Logger: logging.Discard()})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		root, root + "/tv", root + "/tv/show/..", root + "/../outside", root + "/escape", root + "/inside/show",
		"relative/dir", "", "/", "/nonexistent", root + "/bad\xffname.mkv", root + "\x00/tv",
		root + "/" + strings.Repeat("a", 300), root + "/./tv//show/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := s.ResolveDir(p)
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n") && !strings.Contains(p, "\n") {
				t.Fatalf("multi-line error: %q", err)
			}
			return
		}
		if got != root && !strings.HasPrefix(got, root+"/") {
			t.Fatalf("ResolveDir(%q) = %q, outside the root %s", p, got, root)
		}
		if st, err := os.Stat(got); err != nil || !st.IsDir() {
			t.Fatalf("ResolveDir(%q) = %q, not a directory", p, got)
		}
	})
}
