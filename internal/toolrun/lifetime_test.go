package toolrun_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/toolrun"
)

// TestMain lets the test binary double as a small program that runs one tool
// through toolrun (TOOLRUN_HELPER_TOOL), so that a test can SIGKILL a real
// parent process.
func TestMain(m *testing.M) {
	if bin := os.Getenv("TOOLRUN_HELPER_TOOL"); bin != "" {
		_, err := toolrun.Tool{Name: "helper-tool", Path: bin}.Run(context.Background(), toolrun.Cmd{})
		fmt.Fprintln(os.Stderr, "tool ended:", err)
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// TestToolDiesWithParent: SIGKILL of the process that runs a tool (vpo) kills
// the tool too (Pdeathsig), so that no orphan goes on writing a temp file or
// editing a file in place while the next daemon recovers it.
func TestToolDiesWithParent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	tool := script(t, "echo $$ >"+pidFile+".tmp && mv "+pidFile+".tmp "+pidFile+"\nexec sleep 60")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	helper := exec.Command(self, "-test.run=^$")
	helper.Env = append(os.Environ(), "TOOLRUN_HELPER_TOOL="+tool)
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
	pid := 0
	for deadline := time.Now().Add(20 * time.Second); pid == 0; {
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the tool did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Let the helper's goroutines move around a bit before the kill.
	time.Sleep(100 * time.Millisecond)
	if !alive(pid) {
		t.Fatalf("tool %d is not running before the kill", pid)
	}
	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	for deadline := time.Now().Add(5 * time.Second); alive(pid); {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("tool %d outlived its parent's SIGKILL by 5 s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestToolOutlivesEndingThreads: Pdeathsig fires when the thread that forked
// the tool ends, and the Go runtime ends the threads of goroutines that
// return while locked to them. Run must keep its tool's parent thread alive
// until the tool is done, whatever other goroutines do with theirs.
func TestToolOutlivesEndingThreads(t *testing.T) {
	t.Parallel()
	tool := toolrun.Tool{Name: "fake", Path: script(t, "sleep 0.3; echo survived")}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// A goroutine that returns locked ends its thread.
				done := make(chan struct{})
				go func() {
					defer close(done)
					runtime.LockOSThread()
				}()
				<-done
				// Stop-the-world pauses move goroutines between threads.
				runtime.GC()
			}
		})
	}
	var runs sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		runs.Go(func() {
			for range 5 {
				out, err := tool.Run(context.Background(), toolrun.Cmd{})
				if err == nil && string(out.Stdout) != "survived\n" {
					err = fmt.Errorf("stdout %q", out.Stdout)
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	runs.Wait()
	close(stop)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("run %d: %v (the tool was killed when an unrelated thread ended)", i, err)
		}
	}
}

// alive reports whether pid is a process that has not exited (a zombie
// waiting to be reaped by init counts as exited).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}
