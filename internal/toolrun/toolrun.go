// Package toolrun runs the external media tools (mkvmerge, mkvpropedit,
// ffmpeg, ffprobe) the way vpo needs them run: in their own process group,
// with stdin closed, a UTF-8 locale, a time limit, the whole group killed
// with SIGKILL when the caller's context ends, and the tail of stderr quoted
// in errors.
//
// It generalises internal/probe's runner, which keeps its own copy so that
// the catalogue's probing is unchanged.
package toolrun

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

const (
	// maxStdout caps the stdout kept in memory (mkvmerge -J of a file with
	// many tracks and tags is well below this).
	maxStdout = 16 << 20
	// maxStderr caps the diagnostics kept (the tail is kept).
	maxStderr = 4 << 10
	// maxMessage caps the stderr text quoted in errors.
	maxMessage = 512
	// waitDelay bounds how long Run waits for the process group to go away
	// (and for its output pipes to close) after killing it.
	waitDelay = 5 * time.Second
	// startAttempts bounds the tries to start a binary that is busy
	// (ETXTBSY).
	startAttempts = 5
)

var (
	// ErrNotFound is wrapped by errors reporting that a tool's binary does
	// not exist or is not executable.
	ErrNotFound = errors.New("not found")
	// ErrTimeout is wrapped by errors reporting that a tool ran longer than
	// its time limit and was killed.
	ErrTimeout = errors.New("timed out")
	// ErrFailed is wrapped by errors reporting that a tool exited
	// unsuccessfully; the error also wraps the *exec.ExitError and quotes
	// the end of the tool's diagnostics.
	ErrFailed = errors.New("failed")
)

// Tool is one external program.
type Tool struct {
	// Name is the tool's name in messages ("mkvmerge").
	Name string
	// Path is the binary: a path, or a name looked up in PATH. Empty means
	// Name.
	Path string
	// Hint says how to get the tool, appended to not-found errors
	// ("install mkvtoolnix or set tools.mkvmerge").
	Hint string
}

// Cmd is one run of a tool.
type Cmd struct {
	// Args are the arguments, without the program name.
	Args []string
	// Timeout bounds the run; zero or negative means no limit other than
	// the context.
	Timeout time.Duration
	// OKExit lists non-zero exit codes that count as success (mkvmerge and
	// mkvpropedit exit 1 on warnings, with their output complete).
	OKExit []int
}

// Output is what a successful run produced.
type Output struct {
	// Stdout is the standard output, up to 16 MiB.
	Stdout []byte
	// Stderr is the last 4 KiB of the diagnostics.
	Stderr []byte
	// ExitCode is 0 or one of [Cmd.OKExit].
	ExitCode int
}

// Resolve returns the path of the tool's binary, or an error wrapping
// [ErrNotFound] that names the tool and says how to get it.
func (t Tool) Resolve() (string, error) {
	name := t.Path
	if name == "" {
		name = t.Name
	}
	p, err := exec.LookPath(name)
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) && ee.Err != nil {
			err = ee.Err
		}
		return "", t.notFound(name, err)
	}
	return p, nil
}

func (t Tool) notFound(name string, err error) error {
	hint := ""
	if t.Hint != "" {
		hint = ": " + t.Hint
	}
	// "mkvmerge not found: install mkvtoolnix or set tools.mkvmerge (/x/mkvmerge: no such file or directory)"
	return fmt.Errorf("%s %w%s (%s: %w)", t.Name, ErrNotFound, hint, name, err)
}

// Run runs the tool and waits for it.
//
// The tool runs in its own process group with stdin closed and LC_ALL and
// LANG set to C.UTF-8 (mkvmerge cannot open non-ASCII file names under the
// C locale, which is what a systemd service gets). When ctx ends or the
// timeout elapses the whole group is killed with SIGKILL and reaped before
// Run returns; the process also gets SIGKILL if vpo dies. The error wraps
// ctx.Err() if ctx ended first, [ErrTimeout] on timeout, [ErrNotFound] if
// the binary is missing, or [ErrFailed] (with the *exec.ExitError and the
// end of stderr) if the tool exited with a code not in [Cmd.OKExit].
func (t Tool) Run(ctx context.Context, c Cmd) (Output, error) {
	if err := ctx.Err(); err != nil {
		return Output{}, fmt.Errorf("%s not started: %w", t.Name, err)
	}
	bin, err := t.Resolve()
	if err != nil {
		return Output{}, err
	}
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if c.Timeout > 0 {
		rctx, cancel = context.WithTimeout(ctx, c.Timeout)
	}
	defer cancel()

	stdout := &limitedBuffer{max: maxStdout}
	stderr := &tailBuffer{max: maxStderr}
	// Pdeathsig is tied to the thread that forked, not to the process: Linux
	// signals the child when that thread exits, and the Go runtime does end
	// threads (one whose goroutine locked it and returned without unlocking
	// is destroyed). A tool started from a thread that dies later would be
	// killed mid-run by mistake, or, with a looser design, outlive vpo. So
	// the goroutine keeps its thread from before the fork until the tool has
	// been reaped: no other goroutine runs on it meanwhile, and it cannot
	// end while we hold it (we unlock it, never return locked). The thread
	// then dies only with vpo, which is exactly when the tool must die too.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cmd *exec.Cmd
	var runErr error
	for attempt := 1; ; attempt++ {
		stdout.buf, stderr.buf = stdout.buf[:0], stderr.buf[:0]
		cmd = exec.CommandContext(rctx, bin, c.Args...)
		cmd.Stdout = stdout
		cmd.Stderr = stderr
		cmd.Env = toolEnv(os.Environ())
		// Its own process group, so that cancel kills the tool and anything
		// it started; and SIGKILL when vpo itself dies (even by SIGKILL), so
		// no tool outlives it.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		started := cmd
		cmd.Cancel = func() error { return killGroup(started.Process.Pid) }
		cmd.WaitDelay = waitDelay
		runErr = cmd.Start()
		// ETXTBSY: the binary is open for writing somewhere (being
		// installed, or, in tests, a script just written while another
		// goroutine forked). It passes; try again briefly.
		if errors.Is(runErr, syscall.ETXTBSY) && attempt < startAttempts && rctx.Err() == nil {
			time.Sleep(time.Duration(attempt) * 20 * time.Millisecond)
			continue
		}
		break
	}
	if runErr == nil {
		runErr = cmd.Wait()
	}
	if cmd.Process != nil {
		// Reap stragglers that a wrapper script may have left behind.
		_ = killGroup(cmd.Process.Pid)
	}
	out := Output{Stdout: stdout.buf, Stderr: stderr.buf}
	if cmd.ProcessState != nil {
		out.ExitCode = cmd.ProcessState.ExitCode()
	}
	if runErr != nil && errors.Is(runErr, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Exited() {
		runErr = nil
		if out.ExitCode != 0 {
			runErr = &exec.ExitError{ProcessState: cmd.ProcessState}
		}
	}
	if runErr != nil {
		if err := ctx.Err(); err != nil {
			return Output{}, fmt.Errorf("%s interrupted: %w", t.Name, err)
		}
		if errors.Is(rctx.Err(), context.DeadlineExceeded) {
			return Output{}, fmt.Errorf("%s: %w after %s", t.Name, ErrTimeout, c.Timeout)
		}
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) {
			if slices.Contains(c.OKExit, exitErr.ExitCode()) {
				return out, nil
			}
			if msg := Message(stderr.buf); msg != "" {
				return Output{}, fmt.Errorf("%s %w (%w): %s", t.Name, ErrFailed, exitErr, msg)
			}
			if msg := Message(stdout.buf); msg != "" {
				// mkvmerge and mkvpropedit print their errors on stdout.
				return Output{}, fmt.Errorf("%s %w (%w): %s", t.Name, ErrFailed, exitErr, msg)
			}
			return Output{}, fmt.Errorf("%s %w (%w)", t.Name, ErrFailed, exitErr)
		}
		if errors.Is(runErr, fs.ErrNotExist) || errors.Is(runErr, fs.ErrPermission) {
			return Output{}, t.notFound(bin, runErr)
		}
		return Output{}, fmt.Errorf("run %s: %w", t.Name, runErr)
	}
	return out, nil
}

// toolEnv returns env with the locale forced to C.UTF-8.
func toolEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		if strings.HasPrefix(kv, "LC_ALL=") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LC_ALL=C.UTF-8", "LANG=C.UTF-8")
}

// killGroup sends SIGKILL to the process group led by pid.
func killGroup(pid int) error {
	err := syscall.Kill(-pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// ffmpegAddr matches the context address in log prefixes such as
// "[matroska,webm @ 0x55d0c0ffee00] ".
var ffmpegAddr = regexp.MustCompile(` @ 0x[0-9a-fA-F]+\]`)

// Message returns the tool's final diagnostic: the last line that is not
// blank or progress, with "Error: " lines preferred (mkvmerge prints its
// error and then more lines), log context addresses removed, truncated to
// 512 bytes; "" if there is none.
func Message(out []byte) string {
	lines := strings.Split(strings.ReplaceAll(string(out), "\r", "\n"), "\n")
	pick := ""
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "Last message repeated") || strings.HasPrefix(line, "Progress:") {
			continue
		}
		if strings.HasPrefix(line, "Error: ") {
			pick = line
			break
		}
		if pick == "" {
			pick = line
		}
	}
	pick = ffmpegAddr.ReplaceAllString(pick, "]")
	if len(pick) > maxMessage {
		cut := maxMessage
		for cut > 0 && !utf8.RuneStart(pick[cut]) {
			cut--
		}
		pick = pick[:cut] + "…"
	}
	return strings.ToValidUTF8(pick, "\uFFFD")
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest.
type limitedBuffer struct {
	buf []byte
	max int
}

// Write implements io.Writer; it never fails so the writer is drained.
func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - len(b.buf); len(p) > room {
		b.buf = append(b.buf, p[:max(room, 0)]...)
	} else {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	buf []byte
	max int
}

// Write implements io.Writer; it never fails so the writer is drained.
func (b *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= b.max {
		b.buf = append(b.buf[:0], p[len(p)-b.max:]...)
		return n, nil
	}
	if over := len(b.buf) + len(p) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	b.buf = append(b.buf, p...)
	return n, nil
}
