package doctor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkResult fails the test unless r has the status and every fragment in its
// detail, on one line.
func checkResult(t *testing.T, r Result, name string, status Status, want ...string) {
	t.Helper()
	if r.Name != name || r.Status != status {
		t.Errorf("result = %s %q %q, want %s %q", r.Status, r.Name, r.Detail, status, name)
	}
	for _, w := range want {
		if !strings.Contains(r.Detail, w) {
			t.Errorf("%s: detail %q does not contain %q", r.Name, r.Detail, w)
		}
	}
	if strings.Contains(r.Detail, "\n") {
		t.Errorf("%s: detail %q is more than one line", r.Name, r.Detail)
	}
}

func mkdir(t *testing.T, path string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(path, mode); err != nil {
		t.Fatal(err)
	}
	// Mkdir's mode goes through the umask.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheckDataDir(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	tests := []struct {
		name   string
		dir    string
		status Status
		want   []string
	}{
		{name: "owner-only directory", dir: mkdir(t, filepath.Join(base, "private"), 0o700), status: OK, want: []string{"private: writable, mode 0700"}},
		{name: "not created yet, parent writable", dir: filepath.Join(base, "new", ".vpo"), status: OK, want: []string{"does not exist yet; vpo serve will create it"}},
		{name: "a file", dir: writeFile(t, filepath.Join(base, "file"), "x"), status: Fail, want: []string{"file is not a directory"}},
		{name: "world-writable", dir: mkdir(t, filepath.Join(base, "open"), 0o777), status: Warn, want: []string{"group- or world-writable (mode 0777)", "chmod go-w"}},
		{name: "group-writable", dir: mkdir(t, filepath.Join(base, "group"), 0o770), status: Warn, want: []string{"(mode 0770)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before, _ := os.ReadDir(tt.dir)
			checkResult(t, CheckDataDir(tt.dir), "data dir", tt.status, tt.want...)
			after, _ := os.ReadDir(tt.dir)
			if len(after) != len(before) {
				t.Errorf("CheckDataDir changed %s: %d entries, then %d", tt.dir, len(before), len(after))
			}
			if _, err := os.Stat(filepath.Join(base, "new")); err == nil {
				t.Errorf("CheckDataDir created a directory")
			}
		})
	}
}

func TestCheckDataDirNotWritable(t *testing.T) {
	if rerunUnprivileged(t) {
		return
	}
	t.Parallel()
	dir := mkdir(t, filepath.Join(t.TempDir(), "ro"), 0o500)
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	checkResult(t, CheckDataDir(dir), "data dir", Fail, "ro is not writable: permission denied")
	checkResult(t, CheckDataDir(filepath.Join(dir, ".vpo")), "data dir", Fail, "cannot be created", "is not writable")
}

func TestCheckLibraryRoots(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	full := mkdir(t, filepath.Join(base, "tv"), 0o755)
	writeFile(t, filepath.Join(full, "a.mkv"), "x")
	empty := mkdir(t, filepath.Join(base, "unmounted"), 0o755)
	file := writeFile(t, filepath.Join(base, "file"), "x")
	missing := filepath.Join(base, "missing")

	if got := CheckLibraryRoots(nil); len(got) != 1 {
		t.Fatalf("CheckLibraryRoots(nil) = %v, want one result", got)
	} else {
		checkResult(t, got[0], "library roots", OK, "none configured (library.roots)")
	}

	got := CheckLibraryRoots([]string{full, empty, file, missing})
	if len(got) != 4 {
		t.Fatalf("CheckLibraryRoots = %d results, want 4: %v", len(got), got)
	}
	checkResult(t, got[0], "library root", OK, full+": readable")
	checkResult(t, got[1], "library root", Warn, empty+" is readable, but empty (is the disk mounted?)")
	checkResult(t, got[2], "library root", Fail, file+" is not a directory")
	checkResult(t, got[3], "library root", Fail, missing+" does not exist")
}

func TestCheckLibraryRootUnreadable(t *testing.T) {
	if rerunUnprivileged(t) {
		return
	}
	t.Parallel()
	dir := mkdir(t, filepath.Join(t.TempDir(), "locked"), 0o000)
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	got := CheckLibraryRoots([]string{dir})
	checkResult(t, got[0], "library root", Fail, dir+" cannot be opened: permission denied")
}

func TestCheckPolicies(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	dir := mkdir(t, filepath.Join(base, "policies"), 0o755)
	writeFile(t, filepath.Join(dir, "movies.yaml"), "schema_version: 13\n")
	writeFile(t, filepath.Join(dir, "tv.yml"), "schema_version: 13\n")
	writeFile(t, filepath.Join(dir, "notes.txt"), "not a policy")
	mkdir(t, filepath.Join(dir, "old.yaml"), 0o755) // a directory, not a policy
	emptyDir := mkdir(t, filepath.Join(base, "empty"), 0o755)

	t.Run("without a loader, the files are counted", func(t *testing.T) {
		t.Parallel()
		got := CheckPolicies(dir, nil)
		if len(got) != 1 {
			t.Fatalf("got %v, want one result", got)
		}
		checkResult(t, got[0], "policies dir", OK, dir+": 2 policy files (not validated")
	})
	t.Run("each policy with its first error", func(t *testing.T) {
		t.Parallel()
		var loadedFrom string
		load := func(d string) ([]PolicyStatus, error) {
			loadedFrom = d
			return []PolicyStatus{
				{Name: "movies", File: filepath.Join(d, "movies.yaml")},
				{Name: "tv", File: filepath.Join(d, "tv.yml"), Err: errString(filepath.Join(d, "tv.yml") + ":1:1: phases: required\nsecond line")},
			}, nil
		}
		got := CheckPolicies(dir, load)
		if loadedFrom != dir {
			t.Errorf("loader called with %q, want %q", loadedFrom, dir)
		}
		if len(got) != 3 {
			t.Fatalf("got %v, want 3 results", got)
		}
		checkResult(t, got[0], "policies dir", OK, dir+": 2 policies, 1 invalid")
		checkResult(t, got[1], "policy movies", OK, "movies.yaml: valid")
		checkResult(t, got[2], "policy tv", Fail, "tv.yml:1:1: phases: required")
	})
	t.Run("the loader cannot read the dir", func(t *testing.T) {
		t.Parallel()
		got := CheckPolicies(dir, func(string) ([]PolicyStatus, error) { return nil, errString("read policies dir: boom") })
		checkResult(t, got[0], "policies dir", Fail, "read policies dir: boom")
	})
	t.Run("no policy files", func(t *testing.T) {
		t.Parallel()
		got := CheckPolicies(emptyDir, func(string) ([]PolicyStatus, error) { return nil, nil })
		checkResult(t, got[0], "policies dir", Warn, "no policy files")
	})
	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		got := CheckPolicies(filepath.Join(base, "missing"), nil)
		checkResult(t, got[0], "policies dir", Warn, "does not exist", "policies.dir", "VPO_POLICIES_DIR")
	})
	t.Run("a file", func(t *testing.T) {
		t.Parallel()
		got := CheckPolicies(filepath.Join(dir, "notes.txt"), nil)
		checkResult(t, got[0], "policies dir", Fail, "is not a directory")
	})
}

type errString string

func (e errString) Error() string { return string(e) }

func TestCheckInotify(t *testing.T) {
	t.Parallel()
	fake := func(t *testing.T, watches, instances string) string {
		root := t.TempDir()
		d := filepath.Join(root, "fs", "inotify")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if watches != "" {
			writeFile(t, filepath.Join(d, "max_user_watches"), watches)
		}
		if instances != "" {
			writeFile(t, filepath.Join(d, "max_user_instances"), instances)
		}
		return root
	}
	tests := []struct {
		name                string
		watches, instances  string
		watchStatus         Status
		watchWant, instWant string
		instStatus          Status
	}{
		{name: "a large limit", watches: "524288\n", instances: "128\n", watchStatus: OK, watchWant: "524288", instStatus: OK, instWant: "128"},
		{name: "below the floor names the sysctl", watches: "8192\n", instances: "128\n", watchStatus: Warn, watchWant: "8192, below 65536", instStatus: OK, instWant: "128"},
		{name: "the floor itself", watches: "65536\n", instances: "1024\n", watchStatus: OK, watchWant: "65536", instStatus: OK, instWant: "1024"},
		{name: "unreadable and garbage", watches: "", instances: "lots\n", watchStatus: Warn, watchWant: "cannot be read", instStatus: Warn, instWant: `not a number: "lots"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := CheckInotify(fake(t, tt.watches, tt.instances))
			if len(got) != 2 {
				t.Fatalf("got %v, want 2 results", got)
			}
			checkResult(t, got[0], "fs.inotify.max_user_watches", tt.watchStatus, tt.watchWant)
			if tt.watchStatus == Warn && tt.watches != "" && !strings.Contains(got[0].Detail, "sysctl -w fs.inotify.max_user_watches=") {
				t.Errorf("warning %q does not say how to raise the limit", got[0].Detail)
			}
			checkResult(t, got[1], "fs.inotify.max_user_instances", tt.instStatus, tt.instWant)
		})
	}
	t.Run("the real kernel", func(t *testing.T) {
		t.Parallel()
		for _, r := range CheckInotify("") {
			if r.Status == Warn && strings.Contains(r.Detail, "cannot be read") {
				t.Errorf("%s: %s", r.Name, r.Detail)
			}
		}
	})
}
