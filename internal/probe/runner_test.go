package probe_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/testmedia"
)

func TestProbe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	media := testmedia.Make(t, dir)
	odd := filepath.Join(dir, "-odd: name?.mkv")
	copyFile(t, media.MKV, odd)
	subdir := filepath.Join(dir, "subdir")
	if err := os.Mkdir(subdir, 0o755); err != nil {
		t.Fatal(err)
	}

	mkvTracks := []probe.Track{
		{Index: 0, Type: "video", Title: testmedia.VideoTitle, Default: true, Width: 160, Height: 120, FrameRate: 25},
		{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Title: testmedia.AudioEngTitle, Default: true, Channels: 2, ChannelLayout: "stereo"},
		{Index: 2, Type: "audio", Codec: "ac3", Language: "fra", Title: testmedia.AudioFraTitle, Channels: 6, ChannelLayout: "5.1(side)"},
		{Index: 3, Type: "subtitle", Codec: "subrip", Language: "eng", Title: testmedia.SubtitleTitle, Forced: true},
	}
	mp4Tracks := []probe.Track{
		{Index: 0, Type: "video", Language: "und", Default: true, Width: 160, Height: 120, FrameRate: 25},
		{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Default: true, Channels: 2, ChannelLayout: "stereo"},
	}

	tests := []struct {
		name      string
		file      string
		container string
		tracks    []probe.Track
		wantErr   error  // for failures: errors.Is target
		errSubstr string // for failures: substring of the message
	}{
		{name: "mkv", file: media.MKV, container: "matroska,webm", tracks: mkvTracks},
		{name: "mp4", file: media.MP4, container: "mov,mp4,m4a,3gp,3g2,mj2", tracks: mp4Tracks},
		{name: "name with dash and colon", file: odd, container: "matroska,webm", tracks: mkvTracks},
		{name: "truncated", file: media.Truncated, wantErr: probe.ErrFailed, errSubstr: "ffprobe failed (exit status 1): "},
		{name: "empty", file: media.Empty, wantErr: probe.ErrFailed, errSubstr: "Invalid data found when processing input"},
		{name: "not video", file: media.NotVideo, wantErr: probe.ErrFailed, errSubstr: "Invalid data found when processing input"},
		{name: "missing file", file: filepath.Join(dir, "nope.mkv"), wantErr: fs.ErrNotExist, errSubstr: "nope.mkv"},
		{name: "directory", file: subdir, errSubstr: "not a regular file"},
		{name: "empty name", file: "", errSubstr: "empty file name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := probe.Runner{}.Probe(t.Context(), tt.file)
			if tt.tracks == nil {
				if err == nil {
					t.Fatalf("Probe = %+v, want error", res)
				}
				t.Logf("error: %v", err)
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("error %q does not wrap %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.errSubstr) {
					t.Errorf("error %q does not contain %q", err, tt.errSubstr)
				}
				if strings.Contains(err.Error(), "0x") {
					t.Errorf("error %q contains an address", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			if res.Container != tt.container {
				t.Errorf("Container = %q, want %q", res.Container, tt.container)
			}
			if res.Duration < 0.9 || res.Duration > 1.5 {
				t.Errorf("Duration = %v, want about 1s", res.Duration)
			}
			if res.BitRate <= 0 {
				t.Errorf("BitRate = %d, want > 0", res.BitRate)
			}
			if len(res.Tracks) != len(tt.tracks) {
				t.Fatalf("got %d tracks %+v, want %d", len(res.Tracks), res.Tracks, len(tt.tracks))
			}
			for i, got := range res.Tracks {
				want := tt.tracks[i]
				if want.Type == "video" {
					// libx264 when available, else mpeg4.
					if got.Codec != "h264" && got.Codec != "mpeg4" {
						t.Errorf("track %d codec = %q, want h264 or mpeg4", i, got.Codec)
					}
					want.Codec = got.Codec
				}
				if math.Abs(got.FrameRate-want.FrameRate) < 1e-9 {
					want.FrameRate = got.FrameRate
				}
				if got != want {
					t.Errorf("track %d =\n%+v\nwant\n%+v", i, got, want)
				}
			}
		})
	}
}

// TestProbeRelativePath checks that a relative name containing a colon is
// read as a file, not as a protocol URL.
func TestProbeRelativePath(t *testing.T) {
	dir := t.TempDir()
	media := testmedia.Make(t, dir)
	copyFile(t, media.MP4, filepath.Join(dir, "concat:weird.mp4"))
	t.Chdir(dir)
	res, err := probe.Runner{}.Probe(t.Context(), "concat:weird.mp4")
	if err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if len(res.Tracks) != 2 {
		t.Errorf("got %d tracks, want 2", len(res.Tracks))
	}
}

// slowScript writes a fake ffprobe that starts a "sleep 60" child, records
// the child's pid in the returned pid file, and then sleeps itself.
func slowScript(t *testing.T) (script, pidFile string) {
	t.Helper()
	dir := t.TempDir()
	script = filepath.Join(dir, "ffprobe")
	pidFile = filepath.Join(dir, "child.pid")
	body := fmt.Sprintf("#!/bin/sh\nsleep 60 &\necho $! > %[1]q.tmp && mv %[1]q.tmp %[1]q\nsleep 60\n", pidFile)
	if err := os.WriteFile(script, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return script, pidFile
}

// readPid waits up to 10 s for pidFile and returns the pid in it.
func readPid(t *testing.T, pidFile string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(pidFile)
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatalf("bad pid file: %q", data)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid file %s never appeared: %v", pidFile, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// processGone reports whether pid no longer runs: it does not exist or is a
// zombie waiting for a (possibly non-reaping) init to collect it.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state == 'Z' || state == 'X'
}

// assertGone fails unless pid is gone within 5 s.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("child process %d still running after Probe returned", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProbeKillsProcessGroup(t *testing.T) {
	t.Parallel()
	media := testmedia.Make(t, t.TempDir())

	tests := []struct {
		name    string
		timeout time.Duration
		// ctx returns the context for Probe; it may cancel it once the
		// child's pid file exists.
		ctx     func(t *testing.T, pidFile string) context.Context
		wantErr error
		notErr  error
		msg     string
	}{
		{
			name:    "timeout",
			timeout: 300 * time.Millisecond,
			ctx:     func(t *testing.T, _ string) context.Context { return t.Context() },
			wantErr: probe.ErrTimeout,
			notErr:  context.DeadlineExceeded,
			msg:     "ffprobe timed out after 300ms",
		},
		{
			name: "cancel",
			ctx: func(t *testing.T, pidFile string) context.Context {
				ctx, cancel := context.WithCancel(t.Context())
				go func() {
					defer cancel()
					for ctx.Err() == nil {
						if _, err := os.Stat(pidFile); err == nil {
							return
						}
						time.Sleep(5 * time.Millisecond)
					}
				}()
				t.Cleanup(cancel)
				return ctx
			},
			wantErr: context.Canceled,
			notErr:  probe.ErrTimeout,
			msg:     "ffprobe interrupted: context canceled",
		},
		{
			name: "caller deadline",
			ctx: func(t *testing.T, _ string) context.Context {
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				t.Cleanup(cancel)
				return ctx
			},
			wantErr: context.DeadlineExceeded,
			notErr:  probe.ErrTimeout,
			msg:     "ffprobe interrupted: context deadline exceeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			script, pidFile := slowScript(t)
			r := probe.Runner{Path: script, Timeout: tt.timeout}
			start := time.Now()
			res, err := r.Probe(tt.ctx(t, pidFile), media.MKV)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatalf("Probe = %+v, want error", res)
			}
			if !errors.Is(err, tt.wantErr) || errors.Is(err, tt.notErr) {
				t.Errorf("error %q: want errors.Is %v and not %v", err, tt.wantErr, tt.notErr)
			}
			if err.Error() != tt.msg {
				t.Errorf("error = %q, want %q", err, tt.msg)
			}
			if elapsed > 20*time.Second {
				t.Errorf("Probe took %v", elapsed)
			}
			assertGone(t, readPid(t, pidFile))
		})
	}
}

func TestProbeAlreadyCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := probe.Runner{Path: "/nonexistent/ffprobe"}.Probe(ctx, "x.mkv")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}

// fakeScript writes an executable shell script with the given body.
func fakeScript(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fakeprobe")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProbeFakeOutputs(t *testing.T) {
	t.Parallel()
	media := testmedia.Make(t, t.TempDir())
	tests := []struct {
		name    string
		body    string
		wantErr error
		msg     string // exact error message
	}{
		{
			name:    "exit status and last stderr line",
			body:    "echo '[matroska,webm @ 0xdeadbeef] first' >&2\necho \"$8: Something bad\" >&2\nexit 3\n",
			wantErr: probe.ErrFailed,
			msg:     "ffprobe failed (exit status 3): Something bad",
		},
		{
			name:    "exit status without stderr",
			body:    "exit 1\n",
			wantErr: probe.ErrFailed,
			msg:     "ffprobe failed (exit status 1)",
		},
		{
			name:    "invalid JSON",
			body:    "echo 'not json'\n",
			wantErr: probe.ErrInvalidOutput,
			msg:     "ffprobe output: not a JSON object",
		},
		{
			name:    "oversized output",
			body:    "head -c 17000000 /dev/zero\n",
			wantErr: probe.ErrInvalidOutput,
			msg:     "ffprobe output: larger than 16777216 bytes",
		},
		{
			name: "arguments",
			body: `[ "$*" = "-v error -print_format json -show_format -show_streams -- file:` + media.MP4 + `" ] || { echo "bad args: $*" >&2; exit 1; }
echo '{"format":{"format_name":"fake"}}'
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := probe.Runner{Path: fakeScript(t, tt.body)}
			res, err := r.Probe(t.Context(), media.MP4)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Probe: %v", err)
				}
				if res.Container != "fake" {
					t.Errorf("Container = %q", res.Container)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tt.wantErr)
			}
			if err == nil || err.Error() != tt.msg {
				t.Errorf("error = %v, want %q", err, tt.msg)
			}
			if errors.Is(tt.wantErr, probe.ErrFailed) {
				var exitErr *exec.ExitError
				if !errors.As(err, &exitErr) {
					t.Errorf("error %v does not wrap *exec.ExitError", err)
				}
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	media := testmedia.Make(t, t.TempDir())
	notExec := filepath.Join(t.TempDir(), "ffprobe")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
	}{
		{name: "absolute path", path: "/nonexistent/dir/ffprobe"},
		{name: "name not in PATH", path: "vpo-no-such-ffprobe"},
		{name: "not executable", path: notExec},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := probe.Runner{Path: tt.path}
			for op, err := range map[string]error{
				"Check": r.Check(),
				"Probe": func() error { _, err := r.Probe(t.Context(), media.MKV); return err }(),
			} {
				if !errors.Is(err, probe.ErrNotFound) {
					t.Errorf("%s error %v does not wrap ErrNotFound", op, err)
				}
				if err != nil && !strings.Contains(err.Error(), tt.path) {
					t.Errorf("%s error %q does not name %s", op, err, tt.path)
				}
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	if err := (probe.Runner{}).Check(); err != nil {
		t.Errorf("Check with ffprobe in PATH: %v", err)
	}
	abs, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Fatalf("ffprobe is required: %v", err)
	}
	if err := (probe.Runner{Path: abs}).Check(); err != nil {
		t.Errorf("Check(%s): %v", abs, err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
