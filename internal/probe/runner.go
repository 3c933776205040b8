package probe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// DefaultTimeout is the per-file time limit used when [Runner.Timeout] is
// not positive.
const DefaultTimeout = 2 * time.Minute

const (
	// maxStdout caps the ffprobe output kept in memory.
	maxStdout = 16 << 20
	// maxStderr caps the ffprobe diagnostics kept (the tail is kept).
	maxStderr = 4 << 10
	// maxMessage caps the stderr line quoted in errors.
	maxMessage = 512
	// waitDelay bounds how long Probe waits for the process group to go
	// away (and for its output pipes to close) after killing it.
	waitDelay = 5 * time.Second
)

var (
	// ErrNotFound is wrapped by errors reporting that the ffprobe binary
	// does not exist or is not executable.
	ErrNotFound = errors.New("ffprobe not found")
	// ErrTimeout is wrapped by errors reporting that ffprobe ran longer
	// than [Runner.Timeout] and was killed.
	ErrTimeout = errors.New("ffprobe timed out")
	// ErrFailed is wrapped by errors reporting that ffprobe exited
	// unsuccessfully, typically because the file is not a readable media
	// file. The error also wraps the *exec.ExitError and quotes
	// ffprobe's final diagnostic line.
	ErrFailed = errors.New("ffprobe failed")
)

// Runner runs ffprobe. The zero value is ready to use.
type Runner struct {
	// Path is the ffprobe binary: a path, or a name looked up in PATH.
	// Empty means "ffprobe".
	Path string
	// Timeout bounds each Probe call; zero or negative means
	// DefaultTimeout.
	Timeout time.Duration
}

// Check reports whether the ffprobe binary resolves to an executable file.
// It returns nil if so, else an error wrapping [ErrNotFound] that names the
// configured binary.
func (r Runner) Check() error {
	_, err := r.resolve()
	return err
}

// Probe runs ffprobe on file and parses its output.
//
// ffprobe runs in its own process group with stdin closed; when ctx is
// done or the timeout elapses the whole group is killed with SIGKILL and
// reaped before Probe returns. The returned error wraps ctx.Err() if ctx
// ended first, [ErrTimeout] on timeout, [ErrNotFound] if the binary is
// missing, [ErrFailed] if ffprobe exited unsuccessfully, [ErrInvalidOutput]
// if its output cannot be parsed, and the *fs.PathError from os.Stat if
// file does not exist or cannot be stat'ed. Files that are not regular
// files (directories, FIFOs, devices) are rejected without running
// ffprobe.
func (r Runner) Probe(ctx context.Context, file string) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ffprobe not started: %w", err)
	}
	bin, err := r.resolve()
	if err != nil {
		return nil, err
	}
	if file == "" {
		return nil, errors.New("probe: empty file name")
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("probe: resolve %s: %w", file, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("probe: %s: not a regular file", abs)
	}

	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	// The file: protocol prefix keeps names containing ':' from being
	// read as other protocols; "--" ends option parsing.
	input := "file:" + abs
	cmd := exec.CommandContext(tctx, bin,
		"-v", "error", "-print_format", "json", "-show_format", "-show_streams", "--", input)
	stdout := &limitedBuffer{max: maxStdout}
	stderr := &tailBuffer{max: maxStderr}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	// Its own process group, so that cancel kills ffprobe and anything it started;
	// and SIGKILL when vpo itself dies (even by SIGKILL), so no ffprobe outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return killGroup(cmd.Process.Pid) }
	cmd.WaitDelay = waitDelay

	// Pdeathsig follows the thread that forked (see internal/toolrun): keep
	// it, locked to this goroutine, until ffprobe has been reaped, so that
	// the runtime ending an unrelated thread cannot kill ffprobe mid-run.
	runtime.LockOSThread()
	runErr := cmd.Run()
	runtime.UnlockOSThread()
	if cmd.Process != nil {
		// Reap stragglers that a wrapper script may have left behind.
		_ = killGroup(cmd.Process.Pid)
	}
	if runErr != nil && !(errors.Is(runErr, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success()) {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("ffprobe interrupted: %w", err)
		}
		if errors.Is(tctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w after %s", ErrTimeout, timeout)
		}
		var exitErr *exec.ExitError
		if errors.As(runErr, &exitErr) {
			if msg := stderrMessage(stderr.Bytes(), input); msg != "" {
				return nil, fmt.Errorf("%w (%w): %s", ErrFailed, exitErr, msg)
			}
			return nil, fmt.Errorf("%w (%w)", ErrFailed, exitErr)
		}
		if errors.Is(runErr, fs.ErrNotExist) || errors.Is(runErr, fs.ErrPermission) {
			return nil, fmt.Errorf("%w: %s (%w)", ErrNotFound, bin, runErr)
		}
		return nil, fmt.Errorf("run ffprobe: %w", runErr)
	}
	if stdout.overflow {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrInvalidOutput, maxStdout)
	}
	return Parse(stdout.buf)
}

// resolve returns the path of the ffprobe binary.
func (r Runner) resolve() (string, error) {
	name := r.Path
	if name == "" {
		name = "ffprobe"
	}
	p, err := exec.LookPath(name)
	if err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) && ee.Err != nil {
			return "", fmt.Errorf("%w: %s (%w)", ErrNotFound, name, ee.Err)
		}
		return "", fmt.Errorf("%w: %s (%w)", ErrNotFound, name, err)
	}
	return p, nil
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

// stderrMessage returns ffprobe's final diagnostic line (the fatal error,
// such as "<input>: Invalid data found when processing input") without
// the input name prefix, with log context addresses removed and truncated
// to maxMessage bytes; "" if there is none.
func stderrMessage(stderr []byte, input string) string {
	lines := strings.Split(string(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "Last message repeated") {
			continue
		}
		line = strings.TrimPrefix(line, input+": ")
		line = ffmpegAddr.ReplaceAllString(line, "]")
		if len(line) > maxMessage {
			cut := maxMessage
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			line = line[:cut] + "…"
		}
		return strings.ToValidUTF8(line, "\uFFFD")
	}
	return ""
}

// limitedBuffer keeps the first max bytes written to it and discards the
// rest, recording that it did.
type limitedBuffer struct {
	buf      []byte
	max      int
	overflow bool
}

// Write implements io.Writer; it never fails so the writer is drained.
func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - len(b.buf); len(p) > room {
		b.buf = append(b.buf, p[:max(room, 0)]...)
		b.overflow = true
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

// Bytes returns the kept bytes.
func (b *tailBuffer) Bytes() []byte { return b.buf }
