package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The serve benchmark: startup, SIGTERM, RSS and /health throughput of `vpo
// serve`, against the targets and the original (Python) vpo. See
// scripts/bench-serve.sh and docs/benchmarks.md, "vpo serve".
const (
	benchBudget    = 110 * time.Second // for the whole run
	idleBeforeTerm = 250 * time.Millisecond
	idleBeforeRSS  = 2 * time.Second
	readyTimeout   = 5 * time.Second
	exitTimeout    = 10 * time.Second
)

// benchParams are the repetitions and wrk durations; BENCH_SERVE_SHORT=1 makes
// them small, to check that the benchmark runs (its figures are then not the
// documented ones).
type benchParams struct {
	runs              int
	wrkDur, pinnedDur string
}

func benchParamsFromEnv() benchParams {
	if os.Getenv("BENCH_SERVE_SHORT") == "1" {
		return benchParams{runs: 3, wrkDur: "3s", pinnedDur: "2s"}
	}
	return benchParams{runs: 15, wrkDur: "15s", pinnedDur: "10s"}
}

var healthReq = []byte("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")

// benchStart starts a daemon and returns it with the time from just before the
// spawn to the first GET /health 200, polled over a new loopback socket about
// every 0.5 ms.
func benchStart(ctx context.Context, h *harness, bin, home, logpath string) (*daemon, time.Duration, error) {
	_ = os.Remove(logpath)
	d := newDaemon(h, bin, home, logpath)
	t0 := time.Now()
	if err := d.spawn(); err != nil {
		return nil, 0, err
	}
	deadline := t0.Add(readyTimeout)
	addr := fmt.Sprintf("127.0.0.1:%d", d.port)
	buf := make([]byte, 4096)
	for {
		if !d.alive() {
			return nil, 0, fail("vpo exited with status %s before /health answered 200; log tail:\n%s", d.p.status(), d.tail(15))
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			var data []byte
			if _, err := c.Write(healthReq); err == nil {
				for !bytes.Contains(data, []byte("\r\n")) {
					n, err := c.Read(buf)
					data = append(data, buf[:n]...)
					if err != nil {
						break
					}
				}
			}
			c.Close()
			if bytes.HasPrefix(data, []byte("HTTP/1.1 200")) {
				return d, time.Since(t0), nil
			}
		}
		if time.Now().After(deadline) {
			return nil, 0, fail("vpo did not answer GET /health 200 within %s; log tail:\n%s", readyTimeout, d.tail(15))
		}
		if err := sleep(ctx, 500*time.Microsecond); err != nil {
			return nil, 0, err
		}
	}
}

// benchStop sends SIGTERM and returns the time from kill() to the exit (seen by
// the goroutine blocked in wait4) and the exit status; ok is false if it had to
// be killed.
func benchStop(d *daemon) (time.Duration, string, bool) {
	t0 := time.Now()
	_ = d.p.cmd.Process.Signal(syscall.SIGTERM)
	if !d.p.waitTimeout(exitTimeout) {
		_ = d.p.cmd.Process.Kill()
		<-d.p.done
		d.h.forget(d.p)
		return 0, "killed", false
	}
	dt := time.Since(t0)
	d.h.forget(d.p)
	return dt, d.p.status(), true
}

var reStartupMS = regexp.MustCompile(`startup_ms=([\d.]+)`)

// startupMS is the daemon's own startup_ms log figure, NaN if absent.
func startupMS(logpath string) float64 {
	b, err := os.ReadFile(logpath)
	if err != nil {
		return math.NaN()
	}
	m := reStartupMS.FindSubmatch(b)
	if m == nil {
		return math.NaN()
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// cpuMeter measures the CPU used, in % of one core, by one daemon, by this
// program's reaped children (daemons, wrk) and by the rest of the machine.
type cpuMeter struct {
	pid                         int
	t0                          time.Time
	busy, own, children, daemon float64
}

type cpuUsage struct{ daemon, children, other float64 }

func newCPUMeter(pid int) *cpuMeter {
	m := &cpuMeter{pid: pid}
	m.t0, m.busy, m.own, m.children, m.daemon = m.snap()
	return m
}

func (m *cpuMeter) snap() (time.Time, float64, float64, float64, float64) {
	busy := machineBusy()
	own, kids := selfCPU()
	var daemon float64
	if m.pid != 0 {
		daemon, _, _ = cpuSeconds(m.pid)
	}
	return time.Now(), busy, own + kids, kids, daemon
}

func (m *cpuMeter) done() cpuUsage {
	t1, busy, own, kids, daemon := m.snap()
	wall := t1.Sub(m.t0).Seconds()
	return cpuUsage{daemon: (daemon - m.daemon) / wall * 100, children: (kids - m.children) / wall * 100,
		other: math.Max(0, (busy-m.busy)-(own-m.own)-(daemon-m.daemon)) / wall * 100}
}

var reUptime = regexp.MustCompile(`"uptime_seconds":[\d.]+,?`)

// sampler GETs /health every 100 ms during a wrk run and keeps what non-200
// answers said.
type sampler struct {
	port    int
	stopped chan struct{}
	wg      sync.WaitGroup
	bad     map[string]int
}

func startSampler(port int) *sampler {
	s := &sampler{port: port, stopped: make(chan struct{}), bad: map[string]int{}}
	s.wg.Add(1)
	go s.run()
	return s
}

func (s *sampler) run() {
	defer s.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stopped:
			return
		case <-t.C:
		}
		var data []byte
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.port), 2*time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(2 * time.Second))
			if _, err = c.Write(healthReq); err == nil {
				buf := make([]byte, 4096)
				for {
					n, rerr := c.Read(buf)
					data = append(data, buf[:n]...)
					if rerr != nil {
						break
					}
				}
			}
			c.Close()
		}
		if err != nil {
			data = []byte("HTTP/1.1 000 " + err.Error())
		}
		if !bytes.HasPrefix(data, []byte("HTTP/1.1 200")) {
			head, body, _ := strings.Cut(string(data), "\r\n\r\n")
			first, _, _ := strings.Cut(head, "\r\n")
			s.bad[first+" "+reUptime.ReplaceAllString(strings.TrimSpace(body), "")]++
		}
	}
}

func (s *sampler) stop() map[string]int {
	close(s.stopped)
	s.wg.Wait()
	return s.bad
}

// benchWrk is one measured wrk run on /health.
type benchWrk struct {
	name   string
	cmd    string
	r      wrkResult
	cpu    cpuUsage
	bad    map[string]int
	pinned bool
}

func runBenchWrk(ctx context.Context, h *harness, d *daemon, conns int, duration string, threads int, prefix ...string) (benchWrk, error) {
	argv := append(cloneStrings(prefix), wrkArgs(fmt.Sprintf("http://127.0.0.1:%d/health", d.port), threads, conns, duration, "")...)
	s := startSampler(d.port)
	cpu := newCPUMeter(d.pid())
	w, err := startWrk(h, argv)
	if err != nil {
		s.stop()
		return benchWrk{}, err
	}
	select {
	case <-w.p.done:
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
	}
	bad := s.stop()
	if !w.p.exited() {
		return benchWrk{}, context.Cause(ctx)
	}
	h.forget(w.p)
	usage := cpu.done()
	out := w.output()
	cmd := strings.Join(argv, " ")
	if w.p.exitCode() != 0 {
		return benchWrk{}, &failure{code: 2, msg: fmt.Sprintf("%s exited with status %s:\n%s", cmd, w.p.status(), out)}
	}
	r := parseWrk(out)
	if r.requests < 0 || math.IsNaN(r.rps) {
		return benchWrk{}, &failure{code: 2, msg: fmt.Sprintf("could not parse the output of %s:\n%s", cmd, out)}
	}
	return benchWrk{cmd: cmd, r: r, cpu: usage, bad: bad}, nil
}

func cloneStrings(s []string) []string { return append([]string(nil), s...) }

func runBenchServe(ctx context.Context, h *harness, o opts) (int, error) {
	tBegin := time.Now()
	if _, err := lookTools("wrk"); err != nil {
		return 1, err
	}
	bp := benchParamsFromEnv()
	goVersion := "unavailable"
	if g, err := exec.LookPath("go"); err == nil {
		goVersion = shOut(g, "version")
	} else if _, err := os.Stat("/usr/local/go/bin/go"); err == nil {
		goVersion = shOut("/usr/local/go/bin/go", "version")
	}
	info := machine(o.bin, kv{"go", goVersion}, kv{"wrk", shOut("sh", "-c", "wrk -v 2>&1 | head -n1")})
	nproc := kvGet(info, "nproc")

	// 1 + 2: startup (fresh vs existing, interleaved) and idle SIGTERM -> exit.
	existing := filepath.Join(o.work, "existing")
	d, _, err := benchStart(ctx, h, o.bin, existing, filepath.Join(o.work, "prime.log")) // creates the database
	if err != nil {
		return 1, err
	}
	benchStop(d)
	startupCPU := newCPUMeter(0)
	var freshMS, existMS, termMS, selfMS []float64
	var statuses []string
	for i := range bp.runs {
		d, dt, err := benchStart(ctx, h, o.bin, filepath.Join(o.work, fmt.Sprintf("fresh-%d", i)), filepath.Join(o.work, fmt.Sprintf("fresh-%d.log", i)))
		if err != nil {
			return 1, err
		}
		freshMS = append(freshMS, ms(dt))
		_, rc, _ := benchStop(d)
		statuses = append(statuses, rc)
		logpath := filepath.Join(o.work, fmt.Sprintf("existing-%d.log", i))
		d, dt, err = benchStart(ctx, h, o.bin, existing, logpath)
		if err != nil {
			return 1, err
		}
		existMS = append(existMS, ms(dt))
		if s := startupMS(logpath); !math.IsNaN(s) {
			selfMS = append(selfMS, s)
		}
		if err := sleep(ctx, idleBeforeTerm); err != nil {
			return 1, err
		}
		tdt, rc, ok := benchStop(d)
		statuses = append(statuses, rc)
		if ok {
			termMS = append(termMS, ms(tdt))
		}
	}
	startupUse := startupCPU.done()

	// 3 + 4: idle RSS, then wrk on the same daemon, then RSS after load.
	loadLog := filepath.Join(o.work, "load.log")
	d, _, err = benchStart(ctx, h, o.bin, existing, loadLog)
	if err != nil {
		return 1, err
	}
	if err := sleep(ctx, idleBeforeRSS); err != nil {
		return 1, err
	}
	idle, err := procStatus(d.pid())
	if err != nil {
		return 1, err
	}
	if _, err := runBenchWrk(ctx, h, d, 50, "2s", 2); err != nil { // warm-up, not reported
		return 1, err
	}
	var runs []benchWrk
	for _, c := range []int{50, 10} {
		w, err := runBenchWrk(ctx, h, d, c, bp.wrkDur, 2)
		if err != nil {
			return 1, err
		}
		w.name = fmt.Sprintf("-t2 -c%d", c)
		runs = append(runs, w)
	}
	// For comparison only: the same load with wrk on a core of its own, which shows
	// how much of the tail above comes from wrk and vpo sharing the cores. vpo stays
	// pinned to CPU 0 from here on.
	if runtime.NumCPU() >= 2 && exec.Command("taskset", "-apc", "0", strconv.Itoa(d.pid())).Run() == nil {
		w, err := runBenchWrk(ctx, h, d, 50, bp.pinnedDur, 1, "taskset", "-c", "1")
		if err != nil {
			return 1, err
		}
		w.name, w.pinned = "-t1 -c50, own core", true
		runs = append(runs, w)
	}
	after, err := procStatus(d.pid())
	if err != nil {
		return 1, err
	}
	loadedTerm, rc, loadedOK := benchStop(d)
	statuses = append(statuses, rc)

	// Report.
	port := strconv.Itoa(d.port)
	shown := func(cmd string) string { return strings.ReplaceAll(cmd, port, "PORT") }
	fmt.Println("vpo serve benchmark")
	fmt.Println("===================")
	fmt.Println()
	fmt.Println("Machine")
	printKV(info)
	fmt.Println()
	fmt.Println("Commands")
	fmt.Printf("  daemon   HOME=<temp dir> %s serve --port <random free port>   (clean env: PATH, HOME, LANG, TZ only)\n", o.shown)
	fmt.Printf("  startup  harness poller: exec, then GET /health over a new loopback socket every ~0.5 ms until 200;\n")
	fmt.Printf("           %d runs with a fresh data dir (new HOME each) and %d on an existing database, interleaved\n", bp.runs, bp.runs)
	fmt.Printf("  sigterm  harness: kill(pid, SIGTERM) after %.0f ms idle, exit seen by wait4; %d runs (the existing-database runs)\n", ms(idleBeforeTerm), bp.runs)
	fmt.Printf("  rss      /proc/PID/status VmRSS and VmHWM after startup + %.0f s idle, and after both wrk runs\n", idleBeforeRSS.Seconds())
	fmt.Printf("  warm-up  wrk -t2 -c50 -d2s --latency http://127.0.0.1:PORT/health   (not reported)\n")
	fmt.Printf("  load     %s\n", shown(runs[0].cmd))
	fmt.Printf("           %s\n", shown(runs[1].cmd))
	if len(runs) > 2 {
		fmt.Printf("  compare  taskset -apc 0 <vpo pid>; %s\n", shown(runs[2].cmd))
		fmt.Printf("           (vpo on CPU 0, wrk on CPU 1: the same target without wrk sharing vpo's cores)\n")
	}
	fmt.Println()

	fm, em, tm := median(freshMS), median(existMS), median(termMS)
	fmin, fmax := minMax(freshMS)
	emin, emax := minMax(existMS)
	tmin, tmax := minMax(termMS)
	clean := 0
	for _, s := range statuses {
		if s == "0" {
			clean++
		}
	}
	mark := func(ok bool) string {
		if ok {
			return "ok"
		}
		return "MISSED"
	}
	idleRSS, idleHWM := float64(idle["VmRSS"])/1024, float64(idle["VmHWM"])/1024
	afterRSS, afterHWM := float64(after["VmRSS"])/1024, float64(after["VmHWM"])/1024
	rows := [][]string{
		{"exec -> first /health 200, fresh data dir", fmt.Sprintf("%.1f ms (min %.1f, max %.1f)", fm, fmin, fmax), "<= 30 ms", mark(fm <= 30), "409-477 ms"},
		{"exec -> first /health 200, existing db", fmt.Sprintf("%.1f ms (min %.1f, max %.1f)", em, emin, emax), "<= 30 ms", mark(em <= 30), "409-477 ms"},
		{"SIGTERM -> exit, idle", fmt.Sprintf("%.1f ms (min %.1f, max %.1f)", tm, tmin, tmax), "<= 50 ms", mark(len(termMS) == bp.runs && tm <= 50), "616-670 ms"},
		{"exit status 0 after SIGTERM", fmt.Sprintf("%d/%d runs", clean, len(statuses)), "all", mark(clean == len(statuses)), ""},
		{"idle RSS (VmRSS) after 2 s", fmt.Sprintf("%.1f MiB (VmHWM %.1f)", idleRSS, idleHWM), "<= 25 MB", mark(idleRSS <= 25), "47 MB"},
		{"RSS after wrk runs", fmt.Sprintf("%.1f MiB (VmHWM %.1f)", afterRSS, afterHWM), "", "", ""},
	}
	worstOther := startupUse.other
	for _, w := range runs {
		py := [2]string{"3,300-3,800", "p99 8-11 ms"}
		if w.pinned {
			py = [2]string{}
		}
		rows = append(rows,
			[]string{"/health wrk " + w.name + ": requests/s", commas(int(math.Round(w.r.rps))), ">= 20,000", mark(w.r.rps >= 20000), py[0]},
			[]string{"/health wrk " + w.name + ": p50 / p99", fmt.Sprintf("%.2f ms / %.2f ms", w.r.p50, w.r.p99), "p99 <= 2 ms", mark(w.r.p99 <= 2), py[1]},
			[]string{"/health wrk " + w.name + ": non-2xx / socket errors", fmt.Sprintf("%d / %d", w.r.non2xx, w.r.sockerr), "0 / 0", mark(w.r.non2xx == 0 && w.r.sockerr == 0), ""})
		worstOther = math.Max(worstOther, w.cpu.other)
	}
	quiet := "NOISY"
	if worstOther < 15 {
		quiet = "quiet"
	}
	rows = append(rows, []string{"other CPU load on the machine (max)", fmt.Sprintf("%.0f%% of one core", worstOther), "~0%", quiet, ""})
	fmt.Println("Results")
	printTable([]string{"metric", fmt.Sprintf("measured (median of %d where repeated)", bp.runs), "target", "status", "Python vpo"}, rows)
	fmt.Println()
	fmt.Println("Details")
	fmt.Printf("  fresh    ms: %s\n", joinMS(freshMS))
	fmt.Printf("  existing ms: %s\n", joinMS(existMS))
	fmt.Printf("  sigterm  ms: %s\n", joinMS(termMS))
	if len(selfMS) > 0 {
		fmt.Printf("  daemon's own startup_ms log (existing db): median %.1f ms\n", median(selfMS))
	}
	if loadedOK {
		fmt.Printf("  SIGTERM -> exit right after the wrk runs: %.1f ms\n", ms(loadedTerm))
	}
	fmt.Printf("  threads: %d idle, %d after load\n", idle["Threads"], after["Threads"])
	cores := "?"
	if n, err := strconv.Atoi(nproc); err == nil {
		cores = strconv.Itoa(n * 100)
	}
	fmt.Printf("  CPU, in %% of one core (%s cores = %s%%):\n", nproc, cores)
	fmt.Printf("    startup/SIGTERM runs: other processes %.0f%%\n", startupUse.other)
	for _, w := range runs {
		fmt.Printf("    wrk %s: vpo %.0f%%, wrk %.0f%%, other processes %.0f%%\n", w.name, w.cpu.daemon, w.cpu.children, w.cpu.other)
	}
	if noisy := d.logProblems(0); len(noisy) > 0 {
		fmt.Printf("  daemon log lines above INFO during the load runs (%d):\n", len(noisy))
		for _, l := range noisy[:min(10, len(noisy))] {
			fmt.Printf("    %s\n", l)
		}
	}
	for _, w := range runs {
		fmt.Println()
		fmt.Printf("  $ %s\n", shown(w.cmd))
		for _, l := range strings.Split(strings.TrimRight(w.r.text, "\n\t "), "\n") {
			fmt.Printf("    %s\n", l)
		}
		if len(w.bad) > 0 {
			fmt.Println("    non-200 answers seen by a 10/s /health sampler during this run:")
			for _, l := range countLines(w.bad, "      ") {
				fmt.Println(l)
			}
		}
	}
	fmt.Println()
	if worstOther >= 15 {
		fmt.Printf("WARNING: other processes used up to %.0f%% of a core during the measurements;\n", worstOther)
		fmt.Println("         the figures are not representative of an idle machine. Re-run when it is quiet.")
	}
	fmt.Printf("(benchmark took %.0f s)\n", time.Since(tBegin).Seconds())
	for _, w := range runs {
		if w.r.non2xx > 0 || w.r.sockerr > 0 {
			fmt.Fprintln(os.Stderr, "bench-serve: wrk reported non-2xx responses or socket errors")
			return 2, nil
		}
	}
	return 0, nil
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

func joinMS(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.1f", x)
	}
	return strings.Join(parts, " ")
}

// kvGet is the value of key k in a key/value block, "?" if absent.
func kvGet(rows []kv, k string) string {
	for _, r := range rows {
		if r.k == k {
			return r.v
		}
	}
	return "?"
}
