package main

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The load test: wrk against /health and GET /api/files for SECONDS while two scan
// jobs run. See scripts/load.sh and docs/reliability.md, "Load and soak".
const (
	loadWorkers   = 2   // VPO_JOBS_WORKERS: both scans run at once, sharing 2 ffprobe slots
	loadConns     = 20  // wrk -c per endpoint
	loadCatalogue = 300 // files catalogued before the measurement, so that a page has 100
	loadSafety    = 1.6 // scan trees are sized for loadSafety x the window at the calibrated rate
	loadFilesPath = "/api/files?limit=100"
)

func runLoad(ctx context.Context, h *harness, o opts) (int, error) {
	tBegin := time.Now()
	tools, err := lookTools("ffmpeg", "ffprobe", "wrk")
	if err != nil {
		return 1, err
	}
	ffprobe := tools["ffprobe"]
	info := machine(o.bin, kv{"ffprobe", shOut("sh", "-c", "ffprobe -version | head -n1 | cut -d' ' -f1-3")},
		kv{"wrk", shOut("sh", "-c", "wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2")})
	lua, err := writeStatusLua(o.work)
	if err != nil {
		return 1, err
	}

	logf("encoding the test video and timing ffprobe")
	m, err := newMedia(ctx, o.work)
	if err != nil {
		return 1, err
	}
	tProbe, err := m.probeSeconds(ctx)
	if err != nil {
		return 1, err
	}
	// Each scan gets about one ffprobe slot, so it probes about 1/tProbe files a
	// second (less while wrk competes for the CPU). Size both trees for loadSafety x
	// (window + the time from submission to the start of wrk).
	perTree := max(200, min(50000, int(math.Ceil(loadSafety*float64(o.seconds+10)/tProbe))))
	lib := filepath.Join(o.work, "library")
	logf("writing 2 x %d + %d real .mkv files (%d bytes each)", perTree, loadCatalogue, m.size())
	trees := []string{filepath.Join(lib, "scan-a"), filepath.Join(lib, "scan-b")}
	for _, t := range trees {
		if _, err := m.tree(t, perTree); err != nil {
			return 1, err
		}
	}
	catalogue := filepath.Join(lib, "catalogue")
	if _, err := m.tree(catalogue, loadCatalogue); err != nil {
		return 1, err
	}

	home := filepath.Join(o.work, "home")
	logpath := filepath.Join(o.work, "vpo.log")
	fake, err := m.fakeFFprobe(ctx, filepath.Join(o.work, "fake-ffprobe"))
	if err != nil {
		return 1, err
	}
	logf("pre-filling the catalogue with %d files (fake ffprobe)", loadCatalogue)
	if err := prefill(ctx, h, o.bin, home, logpath, catalogue, loadWorkers, fake); err != nil {
		return 1, err
	}
	logOffset, err := appendLog(logpath, "--- load test daemon ---")
	if err != nil {
		return 1, err
	}

	d := newDaemon(h, o.bin, home, logpath, "VPO_FFPROBE_PATH="+ffprobe,
		fmt.Sprintf("VPO_JOBS_WORKERS=%d", loadWorkers), "VPO_SERVER_SHUTDOWN_TIMEOUT=10")
	if err := d.start(ctx, 10*time.Second); err != nil {
		return 1, err
	}
	logf("vpo pid %d on %s; submitting two scans", d.pid(), d.base())
	code, doc, err := d.get(ctx, loadFilesPath, 10*time.Second)
	if err != nil {
		return 1, err
	}
	var page struct {
		Files []any `json:"files"`
	}
	_ = decode(doc, &page)
	if code != 200 || len(page.Files) != 100 {
		return 1, fail("GET %s before the load: HTTP %d, %d files (want 100)", loadFilesPath, code, len(page.Files))
	}
	var jobs []int64
	for _, t := range trees {
		id, err := d.submitScan(ctx, t)
		if err != nil {
			return 1, err
		}
		jobs = append(jobs, id)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		states, err := jobStates(ctx, d, jobs)
		if err != nil {
			return 1, err
		}
		running, bad := true, false
		for _, s := range states {
			running = running && s.State == "running" && s.Progress.Found > 0
			bad = bad || (s.State != "queued" && s.State != "running")
		}
		if running {
			break
		}
		if bad || time.Now().After(deadline) {
			var parts []string
			for _, s := range states {
				parts = append(parts, fmt.Sprintf("job %d %s %+v", s.ID, s.State, s.Progress))
			}
			return 1, fail("the scans did not both start: %s", strings.Join(parts, "; "))
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return 1, err
		}
	}
	before, err := jobStates(ctx, d, jobs)
	if err != nil {
		return 1, err
	}
	st0, err := procStatus(d.pid())
	if err != nil {
		return 1, err
	}
	cpu0, kids0, _ := cpuSeconds(d.pid())
	busy0 := machineBusy()
	own0, ownKids0 := selfCPU()

	paths := []string{"/health", loadFilesPath}
	cmds := map[string][]string{}
	for _, p := range paths {
		cmds[p] = wrkArgs(d.base()+p, 1, loadConns, fmt.Sprintf("%ds", o.seconds), lua)
	}
	watch := startHealthWatch(d, 100*time.Millisecond)
	logf("wrk for %d s on /health and %s (%d connections each)", o.seconds, loadFilesPath, loadConns)
	runs := map[string]*wrkRun{}
	for _, p := range paths {
		w, err := startWrk(h, cmds[p])
		if err != nil {
			watch.stop()
			return 1, err
		}
		runs[p] = w
	}

	// While wrk runs: every second, the daemon is alive and the jobs' progress.
	type tick struct {
		t    float64
		line string
	}
	var timeline []tick
	t0 := time.Now()
	died := false
	wrkRunning := func() bool {
		for _, w := range runs {
			if !w.p.exited() {
				return true
			}
		}
		return false
	}
	for wrkRunning() {
		if !d.alive() {
			died = true
		}
		el := math.Round(time.Since(t0).Seconds()*10) / 10
		if d.alive() {
			line, err := loadTick(ctx, d, jobs)
			if err != nil {
				line = "poll failed: " + err.Error()
			}
			timeline = append(timeline, tick{el, line})
		}
		if time.Since(t0).Seconds() > float64(o.seconds+30) {
			watch.stop()
			return 1, fail("wrk did not finish 30 s after its duration")
		}
		if err := sleep(ctx, time.Second); err != nil {
			watch.stop()
			return 1, err
		}
	}
	window := time.Since(t0).Seconds()
	watch.stop()
	for _, w := range runs {
		h.forget(w.p)
	}

	// Right after wrk: the state of everything.
	aliveAfter := d.alive()
	var (
		after       []job
		healthAfter int
		healthDoc   any
		st1         map[string]int
		fds         fdKinds
		cpu1, kids1 float64
	)
	if aliveAfter {
		if after, err = jobStates(ctx, d, jobs); err != nil {
			return 1, err
		}
		healthAfter, healthDoc, _ = d.get(ctx, "/health", 10*time.Second)
		st1, _ = procStatus(d.pid())
		fds, _ = readFDKinds(d.pid(), "")
		cpu1, kids1, _ = cpuSeconds(d.pid())
	}
	busy1 := machineBusy()
	own1, ownKids1 := selfCPU()

	// Stop the scans (cancel), then the daemon.
	var final []job
	if aliveAfter {
		for i, id := range jobs {
			if after[i].State == "running" {
				d.cancelJob(ctx, id)
			}
		}
		for _, id := range jobs {
			j, err := d.waitJob(ctx, id, 15*time.Second)
			if err != nil {
				return 1, err
			}
			final = append(final, j)
		}
	}
	rc, stopDur := d.stop(40 * time.Second)
	problems := d.logProblems(logOffset)

	// --- verdict ---
	res := map[string]wrkResult{}
	var fails []string
	for _, p := range paths {
		r := parseWrk(runs[p].output())
		res[p] = r
		for _, why := range r.problems() {
			fails = append(fails, fmt.Sprintf("wrk %s: %s", p, why))
		}
		if runs[p].p.exitCode() != 0 {
			fails = append(fails, fmt.Sprintf("wrk %s exited with status %s", p, runs[p].p.status()))
		}
	}
	switch {
	case !aliveAfter || died:
		fails = append(fails, fmt.Sprintf("vpo died during the load (status %s); log tail:\n%s", d.p.status(), d.tail(20)))
	case healthAfter != 200:
		fails = append(fails, fmt.Sprintf("GET /health after the load: HTTP %d %v", healthAfter, healthDoc))
	}
	if aliveAfter {
		var notRunning []string
		for _, a := range after {
			if a.State != "running" {
				notRunning = append(notRunning, fmt.Sprintf("%d (%s)", a.ID, a.State))
			}
		}
		if len(notRunning) > 0 {
			fails = append(fails, "scan(s) "+strings.Join(notRunning, ", ")+
				" were no longer running when wrk ended: the load did not overlap two scans for the whole window")
		}
	}
	if rc != "0" {
		fails = append(fails, fmt.Sprintf("vpo exited with status %s after SIGTERM (want 0)", rc))
	}
	if p := panics(problems); len(p) > 0 {
		fails = append(fails, fmt.Sprintf("panic/fatal lines in the daemon log: %q", p[:min(3, len(p))]))
	}

	// --- report ---
	fmt.Println("vpo load test")
	fmt.Println("=============")
	fmt.Println()
	fmt.Println("Machine")
	printKV(info)
	fmt.Println()
	fmt.Println("Setup")
	fmt.Printf("  daemon   env -i PATH HOME=<tmp> LANG=C.UTF-8 TZ=UTC VPO_FFPROBE_PATH=%s VPO_JOBS_WORKERS=%d\n", ffprobe, loadWorkers)
	fmt.Printf("           VPO_SERVER_SHUTDOWN_TIMEOUT=10 %s serve --bind 127.0.0.1 --port <random>\n", o.shown)
	fmt.Printf("  library  %d files catalogued beforehand (fake ffprobe, not measured); two scan trees of %d\n", loadCatalogue, perTree)
	fmt.Printf("           distinct real .mkv files (%d bytes, 1 s 160x120) each, probed by the real ffprobe\n", m.size())
	fmt.Printf("           (%.0f ms per ffprobe run at calibration; trees sized for %gx the window)\n", tProbe*1000, loadSafety)
	for _, p := range paths {
		fmt.Printf("  wrk      %s\n", shownCmd(cmds[p], d.base(), lua))
	}
	fmt.Printf("           (both at once, for %d s; wrk's default 2 s timeout)\n", o.seconds)
	fmt.Println()
	fmt.Printf("Results (%.1f s window)\n", window)
	var rows [][]string
	for _, p := range paths {
		r := res[p]
		reqs := "?"
		if r.requests >= 0 {
			reqs = commas(r.requests)
		}
		rows = append(rows, []string{p, reqs, fmtF(r.rps, 0), fmtF(r.p50, 2), fmtF(r.p90, 2), fmtF(r.p99, 2),
			fmtF(r.max, 2), fmtStatuses(r.statuses), fmt.Sprint(r.non2xx), r.sockerrText})
	}
	printTable([]string{"endpoint", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "statuses", "non-2xx", "socket errors"}, rows)
	fmt.Println()
	fmt.Println("/health seen by a separate poller (a new connection every 100 ms) during the window:")
	for _, l := range watch.report("  ") {
		fmt.Println(l)
	}
	fmt.Println()
	fmt.Println("Scans (probed+failed files; state when wrk started -> when it ended -> after cancel)")
	for i := range jobs {
		b := before[i]
		line := fmt.Sprintf("  job %d %s: %s (%d/%d)", b.ID, b.Path, b.State, b.done(), perTree)
		if i < len(after) {
			a := after[i]
			line += fmt.Sprintf(" -> %s (%d/%d, %.1f files/s during the load)", a.State, a.done(), perTree, float64(a.done()-b.done())/window)
		}
		if i < len(final) {
			line += " -> " + final[i].State
		}
		fmt.Println(line)
	}
	if aliveAfter {
		vpoSelf := (cpu1 - cpu0) / window * 100
		vpoKids := (kids1 - kids0) / window * 100
		wrkCPU := (ownKids1 - ownKids0) / window * 100
		mine := (own1 - own0) / window * 100
		other := math.Max(0, (busy1-busy0)/window*100-vpoSelf-vpoKids-wrkCPU-mine)
		fmt.Println()
		fmt.Println("Daemon")
		fmt.Printf("  VmRSS %.1f -> %.1f MiB (VmHWM %.1f), threads %d -> %d, open fds after %d (%s)\n",
			float64(st0["VmRSS"])/1024, float64(st1["VmRSS"])/1024, float64(st1["VmHWM"])/1024,
			st0["Threads"], st1["Threads"], fds.total(), fds)
		fmt.Printf("  CPU, %% of one core (%s cores): vpo %.0f%%, its ffprobe runs %.0f%%, wrk %.0f%%, this harness %.0f%%, other processes %.0f%%\n",
			info[1].v, vpoSelf, vpoKids, wrkCPU, mine, other)
		fmt.Printf("  SIGTERM -> exit %.0f ms, status %s; daemon log lines above INFO during the run: %d\n",
			float64(stopDur.Microseconds())/1000, rc, len(problems))
		for _, l := range problems[:min(8, len(problems))] {
			fmt.Printf("    %s\n", clip([]byte(l), 220))
		}
	}
	fmt.Println()
	fmt.Println("Timeline (s since wrk started: job A state/files done, job B state/files done, VmRSS KiB, threads)")
	step := max(1, len(timeline)/12)
	for i := 0; i < len(timeline); i += step {
		fmt.Printf("  [%.1f, %s]\n", timeline[i].t, timeline[i].line)
	}
	if n := len(timeline); n > 0 && (n-1)%step != 0 {
		fmt.Printf("  [%.1f, %s]\n", timeline[n-1].t, timeline[n-1].line)
	}
	for _, p := range paths {
		fmt.Println()
		fmt.Printf("  $ wrk ... %s\n", p)
		for _, l := range strings.Split(strings.TrimRight(runs[p].output(), "\n\t "), "\n") {
			fmt.Printf("    %s\n", l)
		}
	}
	fmt.Println()
	fmt.Printf("(load test took %.0f s)\n", time.Since(tBegin).Seconds())
	if len(fails) > 0 {
		fmt.Println("VERDICT: FAIL")
		for _, f := range fails {
			fmt.Printf("  - %s\n", f)
		}
		return 1, nil
	}
	fmt.Println("VERDICT: PASS (no socket errors, every response 2xx, both scans running throughout, clean exit)")
	return 0, nil
}

// loadTick is one timeline entry: each job's state and files done, VmRSS, threads.
func loadTick(ctx context.Context, d *daemon, jobs []int64) (string, error) {
	var parts []string
	for _, id := range jobs {
		j, err := d.job(ctx, id)
		if err != nil {
			return "", err
		}
		parts = append(parts, fmt.Sprintf("(%s, %d)", j.State, j.done()))
	}
	st, err := procStatus(d.pid())
	if err != nil {
		return "", err
	}
	return strings.Join(append(parts, fmt.Sprint(st["VmRSS"]), fmt.Sprint(st["Threads"])), ", "), nil
}

func jobStates(ctx context.Context, d *daemon, ids []int64) ([]job, error) {
	out := make([]job, 0, len(ids))
	for _, id := range ids {
		j, err := d.job(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, nil
}

// shownCmd is a wrk command line as the report shows it: the port and the temporary
// path of status.lua replaced.
func shownCmd(argv []string, base, lua string) string {
	s := strings.Join(argv, " ")
	s = strings.ReplaceAll(s, base, "http://127.0.0.1:PORT")
	if lua != "" {
		s = strings.ReplaceAll(s, lua, statusLuaShown)
	}
	return s
}

// lookTools fails unless every tool is on PATH, and returns their paths.
func lookTools(tools ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, t := range tools {
		p, err := exec.LookPath(t)
		if err != nil {
			return nil, fail("%s is not installed (scripts/install-test-deps.sh)", t)
		}
		out[t] = p
	}
	return out, nil
}
