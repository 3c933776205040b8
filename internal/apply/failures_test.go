package apply_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/testmedia"
	"github.com/vpo-project/vpo/internal/toolrun"
)

const (
	removeFrench = header + `phases:
  - name: filter
    keep_audio: {languages: [eng]}
`
	flagsFrench = header + `config: {audio_languages: [fra, eng]}
phases:
  - name: flags
    default_flags: {}
`
	toMP4 = header + `phases:
  - name: convert
    container: {target: mp4, on_incompatible_codec: error}
`
	toMP4Skip = header + `phases:
  - name: convert
    container: {target: mp4, on_incompatible_codec: skip}
`
)

func fakeTool(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-tool")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestApplyRefusals checks that every refusal leaves the original as it was
// (content, mtime, mode), leaves no temp file, and says what is wrong.
func TestApplyRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		mp4     bool // the rich MP4 instead of the rich MKV
		policy  string
		setup   func(t *testing.T, e *apply.Executor, path string)
		wantErr error
		errText string
	}{
		{
			name: "stale: size changed", policy: removeFrench,
			setup: func(t *testing.T, _ *apply.Executor, path string) {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = f.Write([]byte("more"))
				_ = f.Close()
			},
			wantErr: apply.ErrStale, errText: "plan is stale: size is",
		},
		{
			name: "stale: mtime changed", policy: removeFrench,
			setup: func(t *testing.T, _ *apply.Executor, path string) {
				if err := os.Chtimes(path, time.Now(), time.Now().Add(-time.Hour)); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: apply.ErrStale, errText: "plan is stale: modified at",
		},
		{
			name: "stale: content changed, size and mtime kept", policy: removeFrench,
			setup: func(t *testing.T, _ *apply.Executor, path string) {
				st, _ := os.Stat(path)
				data, _ := os.ReadFile(path)
				data[len(data)/2] ^= 0xff
				if err := os.WriteFile(path, data, 0o644); err != nil {
					t.Fatal(err)
				}
				_ = os.Chtimes(path, st.ModTime(), st.ModTime())
			},
			wantErr: apply.ErrStale, errText: "plan is stale: content fingerprint changed",
		},
		{
			name: "settling", policy: removeFrench,
			setup:   func(_ *testing.T, e *apply.Executor, _ string) { e.Settle = time.Hour },
			wantErr: apply.ErrSettling, errText: "file is still changing: modified",
		},
		{
			name: "missing mkvmerge", policy: removeFrench,
			setup: func(t *testing.T, e *apply.Executor, _ string) {
				e.Tools.MKVMerge = filepath.Join(t.TempDir(), "mkvmerge")
			},
			wantErr: toolrun.ErrNotFound, errText: "mkvmerge not found: install mkvtoolnix or set tools.mkvmerge",
		},
		{
			name: "missing mkvpropedit", policy: flagsFrench,
			setup: func(t *testing.T, e *apply.Executor, _ string) {
				e.Tools.MKVPropEdit = "no-such-mkvpropedit"
			},
			wantErr: toolrun.ErrNotFound, errText: "mkvpropedit not found: install mkvtoolnix or set tools.mkvpropedit",
		},
		{
			name: "incompatible codec, on_incompatible_codec error", policy: toMP4,
			wantErr: apply.ErrNotApplicable, errText: "incompatible track 4 (subtitle, subrip), track 5 (subtitle, subrip), track 6 (subtitle, subrip), track 7 (attachment, ttf)",
		},
		{
			name: "conversion would replace another file", policy: header + `phases:
  - name: filter
    keep_subtitles: {remove_all: true}
    filter_attachments: {remove_all: true}
  - name: convert
    container: {target: mp4}
`,
			setup: func(t *testing.T, _ *apply.Executor, path string) {
				copyTo(t, path, strings.TrimSuffix(path, ".mkv")+".mp4")
			},
			wantErr: apply.ErrUnsupported, errText: "rich.mp4, which exists",
		},
		{
			name: "verification: the tool did not do its job", policy: flagsFrench,
			setup: func(t *testing.T, e *apply.Executor, _ string) {
				e.Tools.MKVPropEdit = fakeTool(t, "exit 0")
			},
			wantErr: apply.ErrVerify, errText: "verification failed: track 1 (was 1): default true, want false; track 2 (was 2): default false, want true",
		},
		{
			name: "tool failure quotes the tool", policy: removeFrench,
			setup: func(t *testing.T, e *apply.Executor, _ string) {
				realTool, err := exec.LookPath("mkvmerge")
				if err != nil {
					t.Fatal(err)
				}
				e.Tools.MKVMerge = fakeTool(t, `case "$*" in *--identify*) exec `+realTool+` "$@";; esac
echo "Error: simulated failure"; exit 2`)
			},
			wantErr: toolrun.ErrFailed, errText: "mkvmerge failed (exit status 2): Error: simulated failure",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			media := testmedia.MakeRich(t, dir)
			path := media.MKV
			if tt.mp4 {
				path = media.MP4
			}
			// Old enough for a settle check, unless a test changes it.
			old := time.Now().Add(-10 * time.Minute)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			_, req := planFor(t, path, tt.policy)
			e := newExecutor()
			if tt.setup != nil {
				tt.setup(t, e, path)
			}
			before := stateOf(t, path)
			res, err := e.Apply(context.Background(), req)
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
				t.Fatalf("err = %v\nwant %v containing %q", err, tt.wantErr, tt.errText)
			}
			if !strings.HasPrefix(err.Error(), "apply "+path+": ") {
				t.Errorf("error does not name the file: %v", err)
			}
			if res.Changed {
				t.Error("result says changed")
			}
			assertUntouched(t, path, before)
			assertNoTemp(t, dir)
		})
	}
}

// TestApplyConformantUntouched: a plan that changes nothing (here a
// conversion skipped for incompatible codecs) never touches the file.
func TestApplyConformantUntouched(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := testmedia.MakeRich(t, dir).MKV
	_, req := planFor(t, path, toMP4Skip)
	before := stateOf(t, path)
	// No tool is needed for it: all missing.
	e := &apply.Executor{Tools: apply.Tools{MKVMerge: "none", MKVPropEdit: "none", FFmpeg: "none", FFprobe: "none"}}
	res, err := e.Apply(context.Background(), req)
	if err != nil || res.Changed || res.Path != path {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	assertUntouched(t, path, before)
}

// TestApplyCancel cancels a rewrite while the (slow, fake) tool runs: the
// tool's process group is killed, the temp file removed, the original kept.
func TestApplyCancel(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := testmedia.MakeRich(t, dir).MKV
	_, req := planFor(t, path, removeFrench)
	realTool, err := exec.LookPath("mkvmerge")
	if err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	e := newExecutor()
	e.Tools.MKVMerge = fakeTool(t, `case "$*" in *--identify*) exec `+realTool+` "$@";; esac
echo "partial output" > "$2"
sleep 60 &
echo $! > `+pidFile+`
wait`)
	before := stateOf(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Apply(ctx, req)
		done <- err
	}()
	pid := waitPid(t, pidFile)
	// The temp file exists while the tool runs.
	if !hasTemp(t, dir) {
		t.Error("no temp file while the tool runs")
	}
	cancel()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("apply did not return after cancel")
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "mkvmerge interrupted") {
		t.Fatalf("err = %v", err)
	}
	assertGone(t, pid)
	assertUntouched(t, path, before)
	assertNoTemp(t, dir)
}

func waitPid(t *testing.T, pidFile string) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err == nil {
				return pid
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the fake tool never started its child")
	return 0
}

func hasTemp(t *testing.T, dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if apply.IsTemp(e.Name()) {
			return true
		}
	}
	return false
}

func assertGone(t *testing.T, pid int) {
	t.Helper()
	for range 200 {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the tool's child %d still runs", pid)
}

// TestApplyKeepsOwnerAndMode: the new version has the original's mode and,
// when the test runs as root (who can give files away), owner and group.
func TestApplyKeepsOwnerAndMode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := testmedia.MakeRich(t, dir).MKV
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 4321, 8765
		if err := os.Chown(path, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	_, req := planFor(t, path, removeFrench)
	if _, err := newExecutor().Apply(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode() != 0o640 || int(sys.Uid) != uid || int(sys.Gid) != gid {
		t.Errorf("mode %s owner %d:%d, want -rw-r----- %d:%d", st.Mode(), sys.Uid, sys.Gid, uid, gid)
	}
}

// mountTmpfs mounts a tmpfs of the given size on a new directory; it needs
// root.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	return dir
}

// TestApplyDiskFull: on a 2 MiB filesystem the space check refuses before
// anything is written (the default margin alone is larger).
func TestApplyDiskFull(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	path := testmedia.MakeRich(t, dir).MKV
	_, req := planFor(t, path, removeFrench)
	before := stateOf(t, path)
	_, err := newExecutor().Apply(context.Background(), req)
	if !errors.Is(err, apply.ErrNoSpace) || !strings.Contains(err.Error(), "not enough free space in "+dir) {
		t.Fatalf("err = %v", err)
	}
	assertUntouched(t, path, before)
	assertNoTemp(t, dir)

	// Without the margin but with the disk filled up to less than the
	// file's size, the same.
	e := newExecutor()
	e.SpaceMargin = -1
	fill(t, filepath.Join(dir, "filler"), before)
	_, err = e.Apply(context.Background(), req)
	if !errors.Is(err, apply.ErrNoSpace) {
		t.Fatalf("err = %v", err)
	}
	assertUntouched(t, path, before)
	assertNoTemp(t, dir)
}

// fill writes to name until the filesystem is full.
func fill(t *testing.T, name string, _ fileState) {
	t.Helper()
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// TestApplyReadOnlyDirectory: the temp file cannot be created; the error
// says so and the original stays.
func TestApplyReadOnlyDirectory(t *testing.T) {
	dir := mountTmpfs(t, "16m")
	path := testmedia.MakeRich(t, dir).MKV
	_, req := planFor(t, path, removeFrench)
	before := stateOf(t, path)
	if out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput(); err != nil {
		t.Fatalf("remount ro: %v: %s", err, out)
	}
	e := newExecutor()
	e.SpaceMargin = -1
	_, err := e.Apply(context.Background(), req)
	if !errors.Is(err, syscall.EROFS) || !strings.Contains(err.Error(), "create temp file") {
		t.Fatalf("err = %v", err)
	}
	assertUntouched(t, path, before)
	assertNoTemp(t, dir)
}

func TestCleanTemp(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	names := []string{".film.mkv.vpo-tmp-0a1b2c3d4e5f", ".other.mp4.vpo-tmp-ffffffffffff", "film.mkv", ".hidden", "vpo-tmp-not-hidden"}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := apply.CleanTemp(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 {
		t.Errorf("removed %q, want the two temp files", removed)
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if strings.Join(left, ",") != ".hidden,film.mkv,vpo-tmp-not-hidden" {
		t.Errorf("left %q", left)
	}
	if removed, err := apply.CleanTemp(filepath.Join(dir, "missing"), nil); err != nil || removed != nil {
		t.Errorf("missing dir: %q, %v", removed, err)
	}
}

// TestApplyAttachmentMoveOnly: the evaluator never moves an attachment of a
// Matroska file among its tracks (it finds the file conformant and warns);
// and a plan that does (stored by an older vpo) changes nothing Matroska
// can store: the file is not touched.
func TestApplyAttachmentMoveOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := testmedia.MakeRich(t, dir).MKV
	_, req := planFor(t, path, header+`phases:
  - name: arrange
    track_order: [video, audio_main, audio_alternate, audio_commentary, attachment, subtitle_forced, subtitle_main]
`)
	if w := strings.Join(req.Plan.Phases[0].Warnings, "\n"); !req.Plan.Conformant() || !strings.Contains(w, "Matroska stores attachments after every track") {
		t.Fatalf("want conformant, with the attachment warning; warnings %q:\n%s", w, planText(req.Plan))
	}
	req.Plan.Phases[0].Order = []int{0, 1, 2, 3, 7, 4, 5, 6} // the font before the subtitles
	if !req.Plan.Changed() {
		t.Fatalf("the hand-made plan changes nothing:\n%s", planText(req.Plan))
	}
	before := stateOf(t, path)
	res, err := newExecutor().Apply(context.Background(), req)
	if err != nil || res.Changed || len(res.Notes) != 1 {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	assertUntouched(t, path, before)
}

// TestApplyToolHitsFullDisk: the disk fills up while the tool writes (here
// a fake mkvmerge that writes until ENOSPC, as the real one would on a
// disk another process fills): the error quotes the tool, the temp file is
// removed (the space is free again), the original is untouched.
func TestApplyToolHitsFullDisk(t *testing.T) {
	dir := mountTmpfs(t, "2m")
	path := testmedia.MakeRich(t, dir).MKV
	_, req := planFor(t, path, removeFrench)
	realTool, err := exec.LookPath("mkvmerge")
	if err != nil {
		t.Fatal(err)
	}
	e := newExecutor()
	e.SpaceMargin = -1
	e.Tools.MKVMerge = fakeTool(t, `case "$*" in *--identify*) exec `+realTool+` "$@";; esac
if ! head -c 100000000 /dev/zero > "$2" 2>/dev/null; then
	echo "Error: Could not write to the output file: No space left on device"; exit 2
fi`)
	before := stateOf(t, path)
	var fs syscall.Statfs_t
	_ = syscall.Statfs(dir, &fs)
	freeBefore := fs.Bavail
	_, err = e.Apply(context.Background(), req)
	if !errors.Is(err, toolrun.ErrFailed) || !strings.Contains(err.Error(), "No space left on device") {
		t.Fatalf("err = %v", err)
	}
	assertUntouched(t, path, before)
	assertNoTemp(t, dir)
	_ = syscall.Statfs(dir, &fs)
	if fs.Bavail != freeBefore {
		t.Errorf("free blocks %d, were %d before", fs.Bavail, freeBefore)
	}
}

// TestApplyNonASCIIUnderCLocale runs vpo as a systemd service would, under
// the C locale: mkvmerge can open a non-ASCII name only because the tools
// run with LC_ALL=C.UTF-8.
func TestApplyNonASCIIUnderCLocale(t *testing.T) {
	t.Setenv("LANG", "C")
	t.Setenv("LC_ALL", "C")
	dir := t.TempDir()
	path := filepath.Join(dir, "Amélie – 日本語.mkv")
	copyTo(t, testmedia.MakeRich(t, dir).MKV, path)
	// The premise: under the C locale mkvmerge cannot open the file.
	if out, err := exec.Command("mkvmerge", "-J", path).CombinedOutput(); err == nil && !strings.Contains(string(out), "could not be opened") {
		t.Fatalf("mkvmerge opened a non-ASCII name under LC_ALL=C; the test proves nothing:\n%s", out)
	}
	_, req := planFor(t, path, removeFrench)
	res, err := newExecutor().Apply(context.Background(), req)
	if err != nil || res.Tool != apply.ToolMKVMerge {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	assertNoTemp(t, dir)
}
