package toolrun_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/toolrun"
)

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tool.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		body    string
		okExit  []int
		timeout time.Duration
		wantOut string
		wantErr error
		errText string
	}{
		{name: "success", body: `echo hello "$1"`, wantOut: "hello arg\n"},
		{name: "utf-8 locale", body: `echo "$LC_ALL $LANG"`, wantOut: "C.UTF-8 C.UTF-8\n"},
		{name: "stdin closed", body: `cat; echo done`, wantOut: "done\n"},
		{name: "failure quotes stderr tail", body: `echo noise >&2; echo "[mov @ 0x55d0c0ffee00] bad thing" >&2; exit 3`,
			wantErr: toolrun.ErrFailed, errText: "fake failed (exit status 3): [mov] bad thing"},
		{name: "failure quotes mkvmerge stdout error", body: `echo "Error: The file could not be opened"; echo "more"; exit 2`,
			wantErr: toolrun.ErrFailed, errText: "fake failed (exit status 2): Error: The file could not be opened"},
		{name: "warning exit accepted", body: `echo "Warning: odd"; exit 1`, okExit: []int{1}, wantOut: "Warning: odd\n"},
		{name: "timeout", body: `sleep 30`, timeout: 200 * time.Millisecond, wantErr: toolrun.ErrTimeout, errText: "fake: timed out after 200ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tool := toolrun.Tool{Name: "fake", Path: script(t, tt.body)}
			out, err := tool.Run(context.Background(), toolrun.Cmd{Args: []string{"arg"}, OKExit: tt.okExit, Timeout: tt.timeout})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want %v containing %q", err, tt.wantErr, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(out.Stdout) != tt.wantOut {
				t.Fatalf("stdout = %q, want %q", out.Stdout, tt.wantOut)
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	tool := toolrun.Tool{Name: "mkvmerge", Path: filepath.Join(t.TempDir(), "mkvmerge"), Hint: "install mkvtoolnix or set tools.mkvmerge"}
	for _, f := range []func() error{
		func() error { _, err := tool.Resolve(); return err },
		func() error { _, err := tool.Run(context.Background(), toolrun.Cmd{}); return err },
	} {
		err := f()
		if !errors.Is(err, toolrun.ErrNotFound) || !strings.HasPrefix(err.Error(), "mkvmerge not found: install mkvtoolnix or set tools.mkvmerge (") {
			t.Fatalf("err = %v", err)
		}
	}
}

// TestCancelKillsProcessGroup starts a tool that starts a child, cancels,
// and checks that both are gone when Run returns.
func TestCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "child.pid")
	tool := toolrun.Tool{Name: "slow", Path: script(t, `sleep 60 & echo $! > `+pidFile+`; wait`)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := tool.Run(ctx, toolrun.Cmd{})
		done <- err
	}()
	var pid int
	deadline := time.Now().Add(10 * time.Second)
	for pid == 0 && time.Now().Before(deadline) {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if pid == 0 {
		t.Fatal("child never started")
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "slow interrupted") {
		t.Fatalf("err = %v", err)
	}
	// The child may linger a moment as a zombie of init; wait briefly.
	for range 100 {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(b), ") Z ") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("child %d still running after cancel", pid)
}

func TestMessage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400)
	tests := []struct {
		name, in, want string
	}{
		{name: "empty", in: "", want: ""},
		{name: "last line", in: "a\nb\n\n", want: "b"},
		{name: "progress skipped", in: "oops\nProgress: 50%\rProgress: 100%\n", want: "oops"},
		{name: "error preferred", in: "Error: bad\nMultiplexing aborted.\n", want: "Error: bad"},
		{name: "truncated", in: long, want: strings.Repeat("é", 256) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := toolrun.Message([]byte(tt.in)); got != tt.want {
				t.Fatalf("Message = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRunRetriesBusyBinary: a binary still open for writing (ETXTBSY) is
// started once it is closed.
func TestRunRetriesBusyBinary(t *testing.T) {
	t.Parallel()
	p := script(t, "echo started")
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(50*time.Millisecond, func() { f.Close() })
	out, err := toolrun.Tool{Name: "busy", Path: p}.Run(context.Background(), toolrun.Cmd{})
	if err != nil || string(out.Stdout) != "started\n" {
		t.Fatalf("out = %q, err = %v", out.Stdout, err)
	}
}
