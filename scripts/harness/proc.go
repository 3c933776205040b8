package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc (100 on every Linux
// architecture Go supports).
const clockTicks = 100

// harness starts and stops child processes, recording "PID ARGV0" lines in its
// pidfile.
type harness struct {
	pidfile string

	mu   sync.Mutex
	live map[int]*proc
}

// proc is one child process. Wait it through done, never through cmd.Wait.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited
	err  error         // cmd.Wait's error, set before done is closed
}

// start starts cmd and records it.
func (h *harness) start(cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	h.mu.Lock()
	if h.live == nil {
		h.live = map[int]*proc{}
	}
	h.live[cmd.Process.Pid] = p
	h.mu.Unlock()
	f, err := os.OpenFile(h.pidfile, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return p, fmt.Errorf("record pid: %w", err)
	}
	_, err = fmt.Fprintf(f, "%d %s\n", cmd.Process.Pid, argv0(cmd.Args))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return p, fmt.Errorf("record pid: %w", err)
	}
	return p, nil
}

// argv0 is the argv[0] that /proc/PID/cmdline shows once the process runs:
// "taskset -c 1 wrk ..." execs wrk.
func argv0(args []string) string {
	if args[0] == "taskset" && len(args) > 3 {
		return args[3]
	}
	return args[0]
}

// forget drops p from the processes stopAll stops.
func (h *harness) forget(p *proc) {
	h.mu.Lock()
	delete(h.live, p.pid())
	h.mu.Unlock()
}

// stopAll sends SIGTERM to every live child, and SIGKILL to those still running
// 5 s later.
func (h *harness) stopAll() {
	h.mu.Lock()
	ps := make([]*proc, 0, len(h.live))
	for _, p := range h.live {
		ps = append(ps, p)
	}
	h.live = nil
	h.mu.Unlock()
	for _, p := range ps {
		if p.exited() {
			continue
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		if !p.waitTimeout(5 * time.Second) {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitTimeout waits up to d for p to exit and reports whether it did.
func (p *proc) waitTimeout(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

// exitCode is p's exit status once it exited (-1 if a signal ended it).
func (p *proc) exitCode() int { return p.cmd.ProcessState.ExitCode() }

// status describes how p ended, for messages: "0", "1", "killed by SIGKILL".
func (p *proc) status() string {
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return strconv.Itoa(p.exitCode())
}

// sleep waits d or until ctx ends, and returns ctx's cause then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// procStatus reads VmRSS, VmHWM (KiB) and Threads from /proc/PID/status.
func procStatus(pid int) (map[string]int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, fmt.Errorf("read status of pid %d: %w", pid, err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM" && k != "Threads") {
			continue
		}
		f := strings.Fields(v)
		if len(f) > 0 {
			out[k], _ = strconv.Atoi(f[0])
		}
	}
	return out, nil
}

// fdKinds are the open file descriptors of a process by kind.
type fdKinds struct {
	socket, pipe, anon, db, file int
}

func (k fdKinds) total() int { return k.socket + k.pipe + k.anon + k.db + k.file }

// String lists the non-zero kinds: "3 socket, 2 pipe".
func (k fdKinds) String() string {
	var parts []string
	for _, e := range []struct {
		n    int
		name string
	}{{k.socket, "socket"}, {k.pipe, "pipe"}, {k.anon, "anon"}, {k.db, "db"}, {k.file, "file"}} {
		if e.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", e.n, e.name))
		}
	}
	return strings.Join(parts, ", ")
}

// readFDKinds counts pid's open descriptors: sockets, pipes, anon inodes, the
// database file db and its -wal, -shm and -journal (when db is not empty), and
// other files.
func readFDKinds(pid int, db string) (fdKinds, error) {
	var k fdKinds
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return k, fmt.Errorf("list fds of pid %d: %w", pid, err)
	}
	for _, e := range ents {
		t, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		switch {
		case strings.HasPrefix(t, "socket:"):
			k.socket++
		case strings.HasPrefix(t, "pipe:"):
			k.pipe++
		case strings.HasPrefix(t, "anon_inode:"):
			k.anon++
		case db != "" && (t == db || t == db+"-wal" || t == db+"-shm" || t == db+"-journal"):
			k.db++
		default:
			k.file++
		}
	}
	return k, nil
}

// cpuSeconds returns pid's own user+system CPU seconds and those of its reaped
// children.
func cpuSeconds(pid int) (own, children float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("read stat of pid %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	n := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v }
	return (n(11) + n(12)) / clockTicks, (n(13) + n(14)) / clockTicks, nil
}

// machineBusy returns the busy CPU seconds of the whole machine: user, nice,
// system, irq, softirq and steal. irq and softirq must be counted: loopback
// traffic's softirq time is charged to wrk's and vpo's stime too.
func machineBusy() float64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	fields := strings.Fields(sc.Text())[1:]
	var v [8]float64
	for i := 0; i < len(v) && i < len(fields); i++ {
		v[i], _ = strconv.ParseFloat(fields[i], 64)
	}
	return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / clockTicks
}

// selfCPU returns this process's own CPU seconds and those of its reaped
// children (the daemons and wrk runs it waited for).
func selfCPU() (own, children float64) {
	var s, c syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &s)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &c)
	sec := func(r *syscall.Rusage) float64 {
		return float64(r.Utime.Sec+r.Stime.Sec) + float64(r.Utime.Usec+r.Stime.Usec)/1e6
	}
	return sec(&s), sec(&c)
}

// shOut runs argv and returns its trimmed stdout, "?" when empty and
// "unavailable" when it could not run.
func shOut(argv ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil && len(out) == 0 {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return "unavailable"
		}
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		return s
	}
	return "?"
}

var modelName = regexp.MustCompile(`(?m)^model name\s*:\s*(.*)$`)

// kv is one line of a report's key/value block.
type kv struct{ k, v string }

// machine describes this machine and the tools, for the report.
func machine(bin string, extra ...kv) []kv {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := modelName.FindSubmatch(b); m != nil {
			cpu = strings.TrimSpace(string(m[1]))
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 1 {
			kib, _ := strconv.ParseFloat(f[1], 64)
			mem = fmt.Sprintf("%.1f GiB", kib/1024/1024)
		}
	}
	load := "?"
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = strings.Join(f[:3], " ")
		}
	}
	out := []kv{
		{"date", time.Now().Format("2006-01-02 15:04:05 MST")},
		{"nproc", shOut("nproc")},
		{"cpu", cpu},
		{"memory", mem},
		{"kernel", shOut("uname", "-sr")},
		{"vpo", shOut(bin, "--version")},
	}
	out = append(out, extra...)
	return append(out, kv{"loadavg", load + "  (1, 5, 15 min, at start)"})
}

// printKV prints a key/value block indented by two spaces.
func printKV(rows []kv) {
	for _, r := range rows {
		fmt.Printf("  %-8s %s\n", r.k, r.v)
	}
}

// logf prints a timestamped progress line to stderr.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
