package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/systemd"
	"github.com/vpo-project/vpo/internal/testmedia"
	"github.com/vpo-project/vpo/internal/watch"
)

// watchSettle is library.settle in these tests.
const watchSettle = time.Second

// watchConfig loads the configuration of a daemon that watches root, with a
// config file under home.
func watchConfig(t *testing.T, home, root, roots string) *config.Config {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(home, ".vpo"), 0o700); err != nil {
		t.Fatal(err)
	}
	if roots == "" {
		roots = "[[library.roots]]\npath = " + strconv.Quote(root) + "\nwatch = true\n"
	}
	file := "[library]\nsettle = 1\n\n" + roots
	if err := os.WriteFile(filepath.Join(home, ".vpo", "config.toml"), []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"VPO_SERVER_PORT": strconv.Itoa(freePort(t)), "VPO_JOBS_WORKERS": "2",
		"VPO_SERVER_SHUTDOWN_TIMEOUT": "2"}
	cfg, err := config.Load(config.Flags{}, config.Options{Home: home,
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startDaemon starts the daemon's components, as run does, and returns the
// daemon and a function that stops it (also called at cleanup).
func startDaemon(t *testing.T, cfg *config.Config) (*daemon, func()) {
	t.Helper()
	logger := logging.Discard()
	d := &daemon{cfg: cfg, logger: logger, log: logger, opts: Options{Signals: make(chan os.Signal), Started: time.Now()},
		notifier: systemd.NewNotifier(logger)}
	cs := d.components()
	if err := startAll(context.Background(), d.shutdownContext, cs); err != nil {
		t.Fatal(err)
	}
	stop := func() {
		ctx, cancel := d.shutdownContext()
		stopAll(ctx, cs)
		cancel()
	}
	t.Cleanup(stop)
	return d, stop
}

// catalogued waits until the catalogue has p probed, and returns it.
func catalogued(t *testing.T, d *daemon, p string, timeout time.Duration) catalog.File {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		f, err := d.app.Store.GetFileByPath(context.Background(), p)
		if err == nil && f.ProbedAt != nil {
			return f
		}
		if err != nil && !errors.Is(err, catalog.ErrNotFound) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not catalogued within %v", p, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeSlowly writes from's bytes to to in pieces, one every 250 ms, over about
// d, calling during (if not nil) after each piece but the last.
func writeSlowly(t *testing.T, from, to string, d time.Duration, during func()) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pieces := int(d / (250 * time.Millisecond))
	step := len(data)/pieces + 1
	for off := 0; off < len(data); off += step {
		if _, err := f.Write(data[off:min(off+step, len(data))]); err != nil {
			t.Fatal(err)
		}
		if off+step < len(data) {
			time.Sleep(250 * time.Millisecond)
			if during != nil {
				during()
			}
		}
	}
}

func scanJobs(t *testing.T, d *daemon) []jobs.Job {
	t.Helper()
	js, err := d.app.Jobs.List(context.Background(), jobs.ListParams{Kind: "scan", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestWatchedRootCatalogues runs the real daemon on a watched root (real inotify,
// real scan jobs, real ffprobe on media made here) and changes the root the way
// people and Sonarr do, with no API call: a copied file, a slowly written file, a
// directory moved in, a deleted file, a burst of 2,000 files.
func TestWatchedRootCatalogues(t *testing.T) {
	media := testmedia.Make(t, t.TempDir())
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := startDaemon(t, watchConfig(t, t.TempDir(), root, ""))
	if st := d.WatchStates(); len(st) != 1 || st[0].Watch != watch.StateOK || st[0].Path != root {
		t.Fatalf("watch states = %+v, want one ok root %s", st, root)
	}

	copied := filepath.Join(root, "copied.mkv")
	t.Run("copied file", func(t *testing.T) {
		start := time.Now()
		copyFile(t, media.MKV, copied)
		f := catalogued(t, d, copied, watchSettle+5*time.Second)
		if !strings.Contains(f.Container, "matroska") || f.ProbeError != "" {
			t.Errorf("catalogued as %q (error %q), want matroska", f.Container, f.ProbeError)
		}
		t.Logf("catalogued %v after the copy", time.Since(start).Round(time.Millisecond))
	})

	t.Run("slowly written file", func(t *testing.T) {
		slow := filepath.Join(root, "slow.mkv")
		writeSlowly(t, media.MKV, slow, 5*time.Second, func() {
			if _, err := d.app.Store.GetFileByPath(context.Background(), slow); !errors.Is(err, catalog.ErrNotFound) {
				t.Fatalf("the file was catalogued (or failed: %v) while still being written", err)
			}
		})
		f := catalogued(t, d, slow, watchSettle+5*time.Second)
		st, _ := os.Stat(media.MKV)
		if f.Size != st.Size() || f.ProbeError != "" {
			t.Errorf("catalogued with size %d (error %q), want the whole file, %d bytes", f.Size, f.ProbeError, st.Size())
		}
	})

	t.Run("directory moved in", func(t *testing.T) {
		outside := t.TempDir()
		copyFile(t, media.MP4, filepath.Join(outside, "Film (2020)", "film.mp4"))
		if err := os.Rename(filepath.Join(outside, "Film (2020)"), filepath.Join(root, "Film (2020)")); err != nil {
			t.Fatal(err)
		}
		catalogued(t, d, filepath.Join(root, "Film (2020)", "film.mp4"), watchSettle+5*time.Second)
	})

	t.Run("deleted file", func(t *testing.T) {
		if err := os.Remove(copied); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(watchSettle + 5*time.Second)
		for {
			f, err := d.app.Store.GetFileByPath(context.Background(), copied)
			if err != nil {
				t.Fatal(err)
			}
			if f.Missing {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the deleted file is not marked missing")
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("burst of 2000 files", func(t *testing.T) {
		before := len(scanJobs(t, d))
		testmedia.MakeMany(t, filepath.Join(root, "burst"), 2000)
		deadline := time.Now().Add(watchSettle + 15*time.Second)
		var jobsFor, paths int
		for {
			js := scanJobs(t, d)
			jobsFor, paths = len(js)-before, 0
			for _, j := range js[:len(js)-before] { // newest first
				var a library.ScanArgs
				if err := json.Unmarshal(j.Args, &a); err != nil {
					t.Fatal(err)
				}
				paths += len(a.Changed)
			}
			if paths >= 2000 || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if paths != 2000 || jobsFor > 3 {
			t.Errorf("2,000 new files became %d scan jobs of %d paths, want at most 3 jobs of 2,000", jobsFor, paths)
		}
		t.Logf("2,000 files: %d scan jobs", jobsFor)
	})
}

// TestWatchRestartWhileSettling: files that were still being written when the
// daemon stopped are catalogued after the restart (the startup reconciliation),
// once they have settled, and not before.
func TestWatchRestartWhileSettling(t *testing.T) {
	media := testmedia.Make(t, t.TempDir())
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := watchConfig(t, t.TempDir(), root, "")
	d, stop := startDaemon(t, cfg)
	p := filepath.Join(root, "during-restart.mkv")
	var d2 *daemon
	pieces := 0
	writeSlowly(t, media.MKV, p, 5*time.Second, func() {
		pieces++
		switch pieces {
		case 4: // 1 s in: the daemon stops while the file settles
			stop()
		case 8: // 2 s in: a new daemon starts while the file is still written
			d2, _ = startDaemon(t, cfg)
		}
		if d2 != nil {
			if _, err := d2.app.Store.GetFileByPath(context.Background(), p); !errors.Is(err, catalog.ErrNotFound) {
				t.Fatalf("catalogued (or failed: %v) while still being written", err)
			}
		}
	})
	_ = d
	f := catalogued(t, d2, p, watchSettle+5*time.Second)
	st, _ := os.Stat(media.MKV)
	if f.Size != st.Size() || f.ProbeError != "" {
		t.Errorf("catalogued with size %d (error %q), want %d", f.Size, f.ProbeError, st.Size())
	}
}

// TestWatchUnknownPolicy: a root in mode apply whose policy does not exist fails
// the startup with a configuration error (exit 78) naming the entry, before
// anything starts.
func TestWatchUnknownPolicy(t *testing.T) {
	root := t.TempDir()
	cfg := watchConfig(t, t.TempDir(), root,
		"[apply]\nsettle = 1\n[[library.roots]]\npath = "+strconv.Quote(root)+"\nmode = \"apply\"\npolicy = \"movies\"\nwatch = true\n")
	err := Run(context.Background(), cfg, logging.Discard(), Options{Signals: make(chan os.Signal), Started: time.Now()})
	if !config.IsConfigError(err) || !strings.Contains(err.Error(), "library.roots: entry 1 ("+root+"): policy \"movies\": no movies.yaml in") {
		t.Fatalf("Run with an unknown policy = %v, want the config error", err)
	}
	if _, err := os.Stat(cfg.DatabasePath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the database was created before the configuration error: %v", err)
	}
}

// TestSelfWritten: of a batch's changed files, the daemon's handler keeps a new
// file, drops one the catalogue already has as it is (the final rename of an
// apply, recorded in the same step), hands one an apply has claimed back to
// settle again (watch.Later), and drops gone paths the catalogue does not have.
// With the real daemon, catalogue and ffprobe.
func TestSelfWritten(t *testing.T) {
	home, root := t.TempDir(), t.TempDir()
	root, _ = filepath.EvalSymlinks(root)
	media, err := testmedia.Write(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := watchConfig(t, home, root, "[[library.roots]]\npath = "+strconv.Quote(root)+"\n")
	d, _ := startDaemon(t, cfg)
	ctx := context.Background()
	same, claimed, fresh := filepath.Join(root, "same.mkv"), filepath.Join(root, "claimed.mkv"), filepath.Join(root, "new.mkv")
	for _, p := range []string{same, claimed, fresh} {
		copyFile(t, media.MKV, p)
	}
	for _, p := range []string{same, claimed} {
		if _, err := d.app.Scanner.ProbeFile(ctx, p, logging.Discard()); err != nil {
			t.Fatal(err)
		}
	}
	f, err := d.app.Store.GetFileByPath(ctx, claimed)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.app.Store.ClaimFile(ctx, f.ID, claimed, 99); err != nil {
		t.Fatal(err)
	}
	changed, busy, err := d.selfWritten(ctx, []string{claimed, fresh, same})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changed, []string{fresh}) || !slices.Equal(busy, []string{claimed}) {
		t.Fatalf("changed %q, busy %q; want [new.mkv] and [claimed.mkv]", changed, busy)
	}
	gone, err := d.catalogued(ctx, []string{same, filepath.Join(root, "never.mkv"), root, filepath.Join(root, "nodir")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gone, []string{same, root}) {
		t.Fatalf("gone kept %q, want same.mkv and the root (files under it)", gone)
	}
	err = rootHandler{d: d}.Handle(ctx, root, watch.Batch{Changed: []string{claimed, same}})
	var later *watch.Later
	if !errors.As(err, &later) || !slices.Equal(later.Paths, []string{claimed}) {
		t.Fatalf("Handle = %v, want Later for claimed.mkv", err)
	}
	if q, r, _ := d.app.Jobs.Counts(ctx); q+r != 0 {
		t.Errorf("%d jobs submitted for vpo's own writes, want none", q+r)
	}
}

// TestWatchStateInHealthAndRoots: a watched root that cannot be read is off, with
// the reason, in GET /api/roots' list, and makes /health's watch degraded without
// making the daemon unhealthy; a root with watch = false is off as not watched.
func TestWatchStateInHealthAndRoots(t *testing.T) {
	home, good := t.TempDir(), t.TempDir()
	gone := filepath.Join(t.TempDir(), "unmounted")
	cfg := watchConfig(t, home, good, "[[library.roots]]\npath = "+strconv.Quote(good)+"\nwatch = true\n"+
		"[[library.roots]]\npath = "+strconv.Quote(gone)+"\nwatch = true\n"+
		"[[library.roots]]\npath = "+strconv.Quote(filepath.Join(home, "plain"))+"\n")
	d, _ := startDaemon(t, cfg)
	h, code := d.api.Health(context.Background())
	if h.Watch != "degraded" || code != 200 || h.Status != "healthy" {
		t.Errorf("health %d %q with watch %q, want 200 healthy with watch degraded", code, h.Status, h.Watch)
	}
	roots, err := d.roots(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(roots) != 3 || roots[0].Watch != "ok" || roots[1].Watch != "off" || !strings.Contains(roots[1].WatchReason, "no such file") ||
		roots[2].Watch != "off" || roots[2].WatchReason != "not watched (watch = false)" {
		t.Fatalf("roots %+v, want ok, off (no such file), off (not watched)", roots)
	}
}
