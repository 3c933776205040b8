package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The soak test: SECONDS of periodic scans and steady API traffic against one
// `vpo serve`, sampling its RSS, threads, goroutines and open file descriptors,
// then a least-squares trend of each after a warm-up. See scripts/soak.sh and
// docs/reliability.md, "Load and soak".
const (
	soakWorkers  = 2
	soakLibFiles = 1000                  // files in the scanned library (10 directories of 100)
	mutateN      = 10                    // files touched, removed and added at each mutation
	clientPeriod = 50 * time.Millisecond // between the steady client's requests (about 20 requests/s)
	warmup       = 0.2                   // share of the run (by time) left out of the trend
	warmConns    = 16                    // wrk -c of the warm-up burst at the start
	reads        = 3                     // fds and goroutines: the floor of this many reads 20 ms apart per sample

	// dbFDsMax bounds the fds on the database files: the daemon's SQLite pools,
	// catalog.maxOpenConns (8) plus the health probe's one connection, each holding
	// the database and its WAL open, plus one -shm for all. The pools grow with peak
	// concurrency and drop a connection when a request is cancelled mid-query, so
	// their fds move by 2 at a time but stay within this bound.
	dbFDsMax = 2*(8+1) + 1
)

// soakLimits are the thresholds on the growth projected over the measured
// (post-warm-up) window from the least-squares slope: growth = slope x window.
func soakLimits(meanRSSKiB float64) map[string]float64 {
	return map[string]float64{
		"rss_kib":    math.Min(5*1024, 0.10*meanRSSKiB), // more than 10% or more than 5 MiB fails
		"fds_other":  2,
		"goroutines": 3,
		"threads":    5,
	}
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

// traffic is steady API traffic, about one request per clientPeriod over
// keep-alive connections (a new one every 200 requests), cycling through /health,
// pages of /api/files (following next_cursor through the whole catalogue), single
// files, the job list and single jobs.
type traffic struct {
	c       *client
	stopped chan struct{}
	wg      sync.WaitGroup
	pages   int
}

func startTraffic(port int) *traffic {
	t := &traffic{c: newClient(port), stopped: make(chan struct{})}
	t.wg.Add(1)
	go t.run()
	return t
}

func (t *traffic) run() {
	defer t.wg.Done()
	rnd := rand.New(rand.NewPCG(7, 7))
	var cursor string
	var fileIDs, jobIDs []string
	tick := time.NewTicker(clientPeriod)
	defer tick.Stop()
	for i := 1; ; i++ {
		select {
		case <-t.stopped:
			t.c.closeConn()
			return
		case <-tick.C:
		}
		if i%200 == 0 {
			t.c.closeConn()
		}
		switch i % 6 {
		case 0:
			t.c.get("/health")
		case 1, 4:
			path := "/api/files?limit=100"
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			if doc := t.c.get(path); doc != nil {
				t.pages++
				cursor = str(doc["next_cursor"])
				if ids := ids(doc["files"]); len(ids) > 0 {
					fileIDs = ids
				}
			}
		case 2:
			if len(fileIDs) > 0 {
				t.c.get("/api/files/" + fileIDs[rnd.IntN(len(fileIDs))])
			}
		case 3:
			if doc := t.c.get("/api/jobs?limit=10"); doc != nil {
				jobIDs = ids(doc["jobs"])
			}
		case 5:
			if len(jobIDs) > 0 {
				t.c.get("/api/jobs/" + jobIDs[rnd.IntN(len(jobIDs))])
			}
		}
	}
}

// ids are the "id" fields of a JSON list of objects.
func ids(list any) []string {
	l, _ := list.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if m, ok := e.(map[string]any); ok {
			if f, ok := m["id"].(float64); ok {
				out = append(out, strconv.FormatInt(int64(f), 10))
			}
		}
	}
	return out
}

// stop ends the traffic and waits for the last request.
func (t *traffic) stop() {
	close(t.stopped)
	t.wg.Wait()
}

// library is the scanned tree and its mutations: touch (new mtime: reprobed),
// remove (marked missing), add (new names, or earlier removed names that
// reappear).
type library struct {
	m         *media
	root      string
	present   []string
	removed   []string
	rnd       *rand.Rand
	next      int
	mutations int
}

func newLibrary(m *media, root string, n int) (*library, error) {
	present, err := m.tree(root, n)
	if err != nil {
		return nil, err
	}
	return &library{m: m, root: root, present: present, rnd: rand.New(rand.NewPCG(42, 42)), next: n}, nil
}

// sample picks k distinct elements of s.
func (l *library) sample(s []string, k int) []string {
	out := make([]string, 0, k)
	for _, i := range l.rnd.Perm(len(s))[:k] {
		out = append(out, s[i])
	}
	return out
}

func (l *library) mutate() error {
	l.mutations++
	now := time.Now()
	for _, p := range l.sample(l.present, mutateN) {
		if err := os.Chtimes(p, now, now); err != nil {
			return fmt.Errorf("touch %s: %w", p, err)
		}
	}
	gone := l.sample(l.present, mutateN)
	for _, p := range gone {
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("mutate the library: %w", err)
		}
		l.present = slices.DeleteFunc(l.present, func(q string) bool { return q == p })
	}
	var back []string
	if l.mutations%2 == 0 && len(l.removed) >= mutateN {
		back = l.sample(l.removed, mutateN/2)
		l.removed = slices.DeleteFunc(l.removed, func(q string) bool { return slices.Contains(back, q) })
	}
	add := slices.Clone(back)
	for i := range mutateN - len(back) {
		add = append(add, filepath.Join(l.root, fmt.Sprintf("d%03d", l.rnd.IntN(10)), fmt.Sprintf("n%05d.mkv", l.next+i)))
	}
	l.next += mutateN - len(back)
	for _, p := range add {
		if err := l.m.write(p); err != nil {
			return err
		}
		l.present = append(l.present, p)
	}
	l.removed = append(l.removed, gone...)
	return nil
}

// soakSample is one sample of the daemon; its fields are the CSV's columns.
type soakSample struct {
	tS                                     float64
	rssKiB, hwmKiB, threads                int
	goroutines                             int // -1: not measured
	fds, fdsOther                          int
	fdDB, fdSocket, fdPipe, fdAnon, fdFile int
	health                                 int
	cpuS, ffprobeCPUS                      float64
	scanRunning                            int
}

var soakColumns = []string{"t_s", "rss_kib", "hwm_kib", "threads", "goroutines", "fds", "fds_other", "fd_db",
	"fd_socket", "fd_pipe", "fd_anon", "fd_file", "health", "cpu_s", "ffprobe_cpu_s", "scan_running"}

func (s soakSample) csv() []string {
	g := ""
	if s.goroutines >= 0 {
		g = strconv.Itoa(s.goroutines)
	}
	i := strconv.Itoa
	return []string{fmt.Sprintf("%.1f", s.tS), i(s.rssKiB), i(s.hwmKiB), i(s.threads), g, i(s.fds), i(s.fdsOther),
		i(s.fdDB), i(s.fdSocket), i(s.fdPipe), i(s.fdAnon), i(s.fdFile), i(s.health),
		fmt.Sprintf("%.2f", s.cpuS), fmt.Sprintf("%.2f", s.ffprobeCPUS), i(s.scanRunning)}
}

// metric is one trended column of a sample.
func (s soakSample) metric(m string) float64 {
	switch m {
	case "rss_kib":
		return float64(s.rssKiB)
	case "threads":
		return float64(s.threads)
	case "goroutines":
		return float64(s.goroutines)
	case "fds_other":
		return float64(s.fdsOther)
	default: // "fds"
		return float64(s.fds)
	}
}

// takeSample reads the daemon's /proc and /health; fds and goroutines are the
// lowest of `reads` readings 20 ms apart (fds: the reading with the fewest fds
// other than the database's).
func takeSample(ctx context.Context, d *daemon, t0 time.Time, db string) (soakSample, error) {
	st, err := procStatus(d.pid())
	if err != nil {
		return soakSample{}, err
	}
	s := soakSample{tS: math.Round(time.Since(t0).Seconds()*10) / 10, rssKiB: st["VmRSS"], hwmKiB: st["VmHWM"],
		threads: st["Threads"], goroutines: -1, fdsOther: -1}
	var kinds fdKinds
	for i := range reads {
		if i > 0 {
			if err := sleep(ctx, 20*time.Millisecond); err != nil {
				return s, err
			}
		}
		k, err := readFDKinds(d.pid(), db)
		if err != nil {
			return s, err
		}
		if n := k.total() - k.db; s.fdsOther < 0 || n < s.fdsOther {
			s.fdsOther, kinds = n, k
		}
		code, doc, err := d.get(ctx, "/health", 5*time.Second)
		if err != nil {
			code = 0
		}
		if s.health == 0 || s.health == 200 {
			s.health = code
		}
		if m, ok := doc.(map[string]any); ok {
			if g, ok := m["goroutines"].(float64); ok && (s.goroutines < 0 || int(g) < s.goroutines) {
				s.goroutines = int(g)
			}
		}
	}
	s.fds = s.fdsOther + kinds.db
	s.fdDB, s.fdSocket, s.fdPipe, s.fdAnon, s.fdFile = kinds.db, kinds.socket, kinds.pipe, kinds.anon, kinds.file
	own, kids, err := cpuSeconds(d.pid())
	if err != nil {
		return s, err
	}
	s.cpuS, s.ffprobeCPUS = own, kids
	return s, nil
}

// trendRow is the trend of one metric after the warm-up.
type trendRow struct {
	name                               string
	n                                  int
	first, last, lo, hi, mean          float64
	slopePerMin, growth, stderr, limit float64 // limit NaN: shown, not judged
	ok                                 *bool
}

func runSoak(ctx context.Context, h *harness, o opts) (int, error) {
	tBegin := time.Now()
	if o.seconds < 20 {
		return 2, &failure{code: 2, msg: "SECONDS must be an integer >= 20"}
	}
	tools, err := lookTools("ffmpeg", "ffprobe", "wrk")
	if err != nil {
		return 1, err
	}
	ffprobe := tools["ffprobe"]
	selftestLeak := os.Getenv("LOADSOAK_SELFTEST_LEAK") == "1"
	info := machine(o.bin, kv{"ffprobe", shOut("sh", "-c", "ffprobe -version | head -n1 | cut -d' ' -f1-3")},
		kv{"wrk", shOut("sh", "-c", "wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2")})
	lua, err := writeStatusLua(o.work)
	if err != nil {
		return 1, err
	}
	secs := float64(o.seconds)
	everySample := clamp(secs/60, 1, 10)
	everyScan := clamp(secs/20, 3, 30)
	everyMutate := clamp(secs/10, 6, 60)
	burst := clamp(everyScan/10, 1, 3)
	burstPaths := []string{"/api/files?limit=100", "/health", "/api/jobs?limit=20"}

	logf("encoding the test video")
	m, err := newMedia(ctx, o.work)
	if err != nil {
		return 1, err
	}
	root := filepath.Join(o.work, "library")
	lib, err := newLibrary(m, root, soakLibFiles)
	if err != nil {
		return 1, err
	}
	home := filepath.Join(o.work, "home")
	logpath := filepath.Join(o.work, "vpo.log")
	fake, err := m.fakeFFprobe(ctx, filepath.Join(o.work, "fake-ffprobe"))
	if err != nil {
		return 1, err
	}
	logf("pre-filling the catalogue with the %d-file library (fake ffprobe)", soakLibFiles)
	if err := prefill(ctx, h, o.bin, home, logpath, root, soakWorkers, fake); err != nil {
		return 1, err
	}
	logOffset, err := appendLog(logpath, "--- soak daemon ---")
	if err != nil {
		return 1, err
	}
	dbPath, err := filepath.EvalSymlinks(filepath.Join(home, ".vpo", "library.db"))
	if err != nil {
		return 1, fmt.Errorf("find the database: %w", err)
	}
	d := newDaemon(h, o.bin, home, logpath, "VPO_FFPROBE_PATH="+ffprobe,
		fmt.Sprintf("VPO_JOBS_WORKERS=%d", soakWorkers), "VPO_SERVER_SHUTDOWN_TIMEOUT=10")
	if err := d.start(ctx, 10*time.Second); err != nil {
		return 1, err
	}
	logf("vpo pid %d on %s; soaking for %d s (samples every %g s, scans every %g s, mutations every %g s, wrk bursts of %g s)",
		d.pid(), d.base(), o.seconds, everySample, everyScan, everyMutate, burst)
	tr := startTraffic(d.port)

	t0 := time.Now()
	var (
		samples   []soakSample
		leaked    []net.Conn
		scans     []int64
		skipped   int
		bursts    []wrkResult
		burstFail []string
		burstI    int
		current   int64 // 0: none
		wrkP      *wrkRun
		wrkPath   string
	)
	nextSample, nextScan, nextMutate := 0.0, 0.0, everyMutate
	nextBurst := everyScan / 2
	running := func(id int64) (bool, error) {
		if id == 0 {
			return false, nil
		}
		j, err := d.job(ctx, id)
		return err == nil && (j.State == "queued" || j.State == "running"), err
	}
	// Warm-up burst: enough concurrent requests to open every connection of the
	// daemon's database pool (2 fds each) and the threads that peak load needs, so
	// that the pool filling up later is not mistaken for growth.
	if wrkP, err = startWrk(h, wrkArgs(d.base()+"/api/files?limit=100", 1, warmConns, "2s", lua)); err != nil {
		tr.stop()
		return 1, err
	}
	wrkPath = "/api/files?limit=100 (warm-up)"
	loopErr := func() error {
		for {
			now := time.Since(t0).Seconds()
			if err := d.checkAlive(); err != nil {
				return err
			}
			if wrkP != nil && wrkP.p.exited() {
				out := wrkP.output()
				h.forget(wrkP.p)
				r := parseWrk(out)
				bursts = append(bursts, r)
				for _, why := range r.problems() {
					burstFail = append(burstFail, fmt.Sprintf("wrk burst on %s at %.0f s: %s", wrkPath, now, why))
				}
				if wrkP.p.exitCode() != 0 {
					burstFail = append(burstFail, fmt.Sprintf("wrk burst on %s exited with status %s: %s", wrkPath, wrkP.p.status(), out[max(0, len(out)-300):]))
				}
				wrkP = nil
			}
			// Samples are taken between wrk bursts and, if it ends within 80% of the
			// sampling interval, after the running scan: leaked goroutines and fds
			// stay, while those of a request or an ffprobe run in flight come and go.
			if now >= nextSample && wrkP == nil {
				busy, err := running(current)
				if err != nil {
					return err
				}
				if !busy || now-nextSample >= 0.8*everySample {
					if selftestLeak { // a fake leak: one more idle keep-alive connection per sample
						c, err := leakConn(d.port)
						if err != nil {
							return err
						}
						leaked = append(leaked, c)
					}
					s, err := takeSample(ctx, d, t0, dbPath)
					if err != nil {
						return err
					}
					if busy {
						s.scanRunning = 1
					}
					samples = append(samples, s)
					// After a late sample, the next one at least half an interval later.
					nextSample = math.Max(nextSample+everySample, time.Since(t0).Seconds()+everySample/2)
					if now >= secs {
						return nil
					}
				}
			}
			if now >= nextScan && now < secs {
				nextScan += everyScan
				busy, err := running(current)
				if err != nil {
					return err
				}
				if busy {
					skipped++
				} else {
					if current, err = d.submitScan(ctx, root); err != nil {
						return err
					}
					scans = append(scans, current)
				}
			}
			if now >= nextMutate && now < secs {
				nextMutate += everyMutate
				if err := lib.mutate(); err != nil {
					return err
				}
			}
			if now >= nextBurst && wrkP == nil && now+burst < secs && now < nextSample {
				nextBurst += everyScan
				wrkPath = burstPaths[burstI%len(burstPaths)]
				burstI++
				if wrkP, err = startWrk(h, wrkArgs(d.base()+wrkPath, 1, 4, fmt.Sprintf("%ds", int(burst)), lua)); err != nil {
					return err
				}
			}
			if err := sleep(ctx, 50*time.Millisecond); err != nil {
				return err
			}
		}
	}()
	tr.stop()
	if wrkP != nil {
		wrkP.p.waitTimeout(15 * time.Second)
		h.forget(wrkP.p)
	}
	if loopErr != nil {
		return 1, loopErr
	}
	window := time.Since(t0).Seconds()
	for _, c := range leaked {
		c.Close()
	}

	// The scans: every one finished cleanly (the last may still be running: cancel it).
	states := make([]job, 0, len(scans))
	for _, id := range scans {
		j, err := d.job(ctx, id)
		if err != nil {
			return 1, err
		}
		if !j.finished() {
			d.cancelJob(ctx, id)
			if j, err = d.waitJob(ctx, id, 15*time.Second); err != nil {
				return 1, err
			}
			j.cancelledAtEnd = true
		}
		states = append(states, j)
	}
	codeAfter, _, _ := d.get(ctx, "/health", 10*time.Second)
	rc, stopDur := d.stop(40 * time.Second)
	problems := d.logProblems(logOffset)

	// --- CSV ---
	if err := writeCSV(o.csv, samples); err != nil {
		return 1, err
	}

	// --- trend ---
	cut := warmup * secs
	var post []soakSample
	for _, s := range samples {
		if s.tS >= cut {
			post = append(post, s)
		}
	}
	if len(post) == 0 {
		return 1, fail("no sample after the warm-up")
	}
	span := post[len(post)-1].tS - post[0].tS
	dbMax, haveGor := 0, true
	var rssSum float64
	var quiet []soakSample
	for _, s := range samples {
		dbMax = max(dbMax, s.fdDB)
	}
	for _, s := range post {
		haveGor = haveGor && s.goroutines >= 0
		rssSum += float64(s.rssKiB)
		if s.scanRunning == 0 {
			quiet = append(quiet, s)
		}
	}
	lim := soakLimits(rssSum / float64(len(post)))
	var trend []trendRow
	for _, mname := range []string{"rss_kib", "threads", "goroutines", "fds_other", "fds"} {
		if mname == "goroutines" && !haveGor {
			continue
		}
		// Goroutines and fds: the samples taken with no scan running, when they are
		// at least half (a leak stays in them; an ffprobe run in flight does not).
		use := post
		if mname != "rss_kib" && mname != "threads" && len(quiet)*2 >= len(post) {
			use = quiet
		}
		xs, ys := make([]float64, len(use)), make([]float64, len(use))
		for i, s := range use {
			xs[i], ys[i] = s.tS, s.metric(mname)
		}
		sl, se := slope(xs, ys), slopeStderr(xs, ys)
		lo, hi := minMax(ys)
		r := trendRow{name: mname, n: len(use), first: ys[0], last: ys[len(ys)-1], lo: lo, hi: hi, mean: mean(ys),
			slopePerMin: sl * 60, growth: sl * span, stderr: se * span, limit: math.NaN()}
		if l, ok := lim[mname]; ok {
			r.limit = l
			v := r.growth <= l
			r.ok = &v
		}
		trend = append(trend, r)
	}

	var growth []string
	for _, t := range trend {
		if t.ok != nil && !*t.ok {
			growth = append(growth, fmt.Sprintf("%s grows %+.1f over the %.0f s after warm-up (limit %.1f)", t.name, t.growth, span, t.limit))
		}
	}
	if dbMax > dbFDsMax {
		growth = append(growth, fmt.Sprintf("%d fds on the database files (more than the pools allow: %d)", dbMax, dbFDsMax))
	}
	var fails []string
	c := tr.c
	if len(c.errors) > 0 {
		fails = append(fails, fmt.Sprintf("%d of %d steady API requests failed, first: %v", len(c.errors), c.requests, c.errors[:min(3, len(c.errors))]))
	}
	fails = append(fails, burstFail...)
	var badHealth []string
	for _, s := range samples {
		if s.health != 200 {
			badHealth = append(badHealth, fmt.Sprintf("(%.1f, %d)", s.tS, s.health))
		}
	}
	if len(badHealth) > 0 {
		fails = append(fails, fmt.Sprintf("%d samples saw /health not 200: %v", len(badHealth), badHealth[:min(5, len(badHealth))]))
	}
	var badScans []string
	var completed []job
	cancelledAtEnd := 0
	for _, j := range states {
		switch {
		case j.State == "completed":
			completed = append(completed, j)
		case !j.cancelledAtEnd:
			badScans = append(badScans, fmt.Sprintf("(%d, %s, %q)", j.ID, j.State, j.Errors))
		}
		if j.cancelledAtEnd {
			cancelledAtEnd++
		}
	}
	if len(badScans) > 0 {
		fails = append(fails, fmt.Sprintf("%d scans did not complete: %v", len(badScans), badScans[:min(3, len(badScans))]))
	}
	if len(completed) < 3 {
		fails = append(fails, fmt.Sprintf("only %d scans completed", len(completed)))
	}
	if codeAfter != 200 {
		fails = append(fails, fmt.Sprintf("GET /health after the soak: HTTP %d", codeAfter))
	}
	if rc != "0" {
		fails = append(fails, fmt.Sprintf("vpo exited with status %s after SIGTERM (want 0)", rc))
	}
	if p := panics(problems); len(p) > 0 {
		fails = append(fails, fmt.Sprintf("panic/fatal lines in the daemon log: %q", p[:min(3, len(p))]))
	}

	// --- report ---
	fmt.Println("vpo soak test")
	fmt.Println("=============")
	fmt.Println()
	fmt.Println("Machine")
	printKV(info)
	fmt.Println()
	fmt.Println("Setup")
	fmt.Printf("  daemon    env -i PATH HOME=<tmp> LANG=C.UTF-8 TZ=UTC VPO_FFPROBE_PATH=%s VPO_JOBS_WORKERS=%d\n", ffprobe, soakWorkers)
	fmt.Printf("            VPO_SERVER_SHUTDOWN_TIMEOUT=10 %s serve --bind 127.0.0.1 --port <random>\n", o.shown)
	fmt.Printf("  library   %d distinct real .mkv files (%d bytes) in 10 directories, catalogued beforehand\n", soakLibFiles, m.size())
	fmt.Printf("            with a fake ffprobe (not measured); the soak daemon uses the real ffprobe\n")
	fmt.Printf("  scans     a scan job of the library every %g s (skipped while the previous one runs)\n", everyScan)
	fmt.Printf("  mutations every %g s: touch %d files (reprobed), remove %d (missing), add %d\n", everyMutate, mutateN, mutateN, mutateN)
	fmt.Printf("            (every other time half of them earlier removed names that reappear)\n")
	fmt.Printf("  traffic   ~%.0f requests/s from one keep-alive client (new connection every 200):\n", float64(time.Second)/float64(clientPeriod))
	fmt.Printf("            /health, /api/files pages (cursor through the catalogue), /api/files/ID, /api/jobs, /api/jobs/ID;\n")
	fmt.Printf("            plus wrk -t1 -c4 -d%ds every %g s, in turn on %s;\n", int(burst), everyScan, strings.Join(burstPaths, ", "))
	fmt.Printf("            at the start, wrk -t1 -c%d -d2s on /api/files?limit=100 (fills the database pool)\n", warmConns)
	fmt.Printf("  samples   every %g s: VmRSS and Threads (/proc/PID/status), open fds (/proc/PID/fd) and\n", everySample)
	fmt.Printf("            goroutines (GET /health \"goroutines\"); fds and goroutines as the lowest of %d reads 20 ms apart\n", reads)
	fmt.Printf("            (fds: the reading with the fewest fds other than the database's);\n")
	fmt.Printf("            a sample waits for the end of a wrk burst, and for the end of a running scan if that comes\n")
	fmt.Printf("            within 80%% of the interval (the steady client goes on)\n")
	fmt.Printf("  trend     least-squares slope over the samples after the first %.0f%% (%.0f s of warm-up; for goroutines\n", warmup*100, cut)
	fmt.Printf("            and fds only those taken with no scan running, if they are at least half),\n")
	fmt.Printf("            projected over the %.0f s measured; limits: RSS %.1f MiB (10%% or 5 MiB, the smaller), fds other than the\n", span, lim["rss_kib"]/1024)
	fmt.Printf("            database's %g, goroutines %g, threads %g; the database's fds (pooled connections)\n", lim["fds_other"], lim["goroutines"], lim["threads"])
	fmt.Printf("            must stay within the pools' bound of %d; total fds are shown, not judged\n", dbFDsMax)
	fmt.Println()
	fmt.Printf("Samples (%d; CSV: %s)\n", len(samples), o.csv)
	var rows [][]string
	for _, s := range samples {
		t := fmt.Sprintf("%.1f", s.tS)
		if s.tS < cut {
			t += " w"
		}
		if s.scanRunning == 1 {
			t += " s"
		}
		g := "n/a"
		if s.goroutines >= 0 {
			g = strconv.Itoa(s.goroutines)
		}
		rows = append(rows, []string{t, fmt.Sprintf("%.1f", float64(s.rssKiB)/1024), fmt.Sprintf("%.1f", float64(s.hwmKiB)/1024),
			strconv.Itoa(s.threads), g, fmt.Sprintf("%d (%d/%d/%d/%d/%d)", s.fds, s.fdDB, s.fdSocket, s.fdPipe, s.fdAnon, s.fdFile),
			strconv.Itoa(s.health), fmt.Sprintf("%.1f", s.cpuS), fmt.Sprintf("%.1f", s.ffprobeCPUS)})
	}
	printTable([]string{"t s", "RSS MiB", "HWM MiB", "threads", "goroutines", "fds (db/sock/pipe/anon/file)", "health", "vpo CPU s", "ffprobe CPU s"}, rows)
	fmt.Println("  (w: warm-up, left out of the trend; s: taken while a scan ran, as none ended within 80% of the interval)")
	fmt.Println()
	fmt.Println("Trend after warm-up")
	rows = nil
	for _, t := range trend {
		sc := 1.0
		if t.name == "rss_kib" {
			sc = 1024
		}
		name := map[string]string{"rss_kib": "RSS MiB", "fds_other": "fds (not db)", "fds": "fds (total)"}[t.name]
		if name == "" {
			name = t.name
		}
		limit, verdict := "-", "(shown)"
		if t.ok != nil {
			limit, verdict = fmt.Sprintf("%.1f", t.limit/sc), map[bool]string{true: "flat", false: "GROWS"}[*t.ok]
		}
		f1 := func(v float64) string { return fmt.Sprintf("%.1f", v/sc) }
		rows = append(rows, []string{name, strconv.Itoa(t.n), f1(t.first), f1(t.last), f1(t.lo), f1(t.hi), f1(t.mean),
			fmt.Sprintf("%+.3f", t.slopePerMin/sc), fmt.Sprintf("%+.2f (+- %.2f)", t.growth/sc, t.stderr/sc), limit, verdict})
	}
	printTable([]string{"metric", "samples", "first", "last", "min", "max", "mean", "slope /min", "projected growth (+- 1 s.e.)", "limit", "verdict"}, rows)
	dbVerdict := "ok"
	if dbMax > dbFDsMax {
		dbVerdict = "OVER"
	}
	fmt.Printf("  database fds: at most %d (bound %d); %s\n", dbMax, dbFDsMax, dbVerdict)
	if !haveGor {
		fmt.Println("  goroutines: not measured (this vpo's /health has no \"goroutines\" field)")
	}
	fmt.Println()
	fmt.Println("Activity")
	var probed, missing int64
	for _, j := range completed {
		probed += j.Progress.Probed
		missing += j.Progress.Missing
	}
	fmt.Printf("  scans: %d submitted, %d completed, %d skipped (previous still running), %d cancelled at the end; "+
		"%d files probed, %d marked missing in total; %d mutations\n",
		len(scans), len(completed), skipped, cancelledAtEnd, probed, missing, lib.mutations)
	fmt.Printf("  steady client: %d requests (%.1f/s), statuses %s, %d errors, %d pages of /api/files\n",
		c.requests, float64(c.requests)/window, fmtStatuses(c.statuses), len(c.errors), tr.pages)
	if len(c.latencies) > 0 {
		lat := slices.Clone(c.latencies)
		sort.Float64s(lat)
		fmt.Printf("                 latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			lat[len(lat)/2]*1000, lat[int(float64(len(lat))*0.99)]*1000, lat[len(lat)-1]*1000)
	}
	tot, sockerr := 0, 0
	st := map[int]int{}
	worstP99 := math.NaN()
	for _, r := range bursts {
		tot += max(0, r.requests)
		sockerr += r.sockerr
		for k, n := range r.statuses {
			st[k] += n
		}
		if !math.IsNaN(r.p99) && (math.IsNaN(worstP99) || r.p99 > worstP99) {
			worstP99 = r.p99
		}
	}
	fmt.Printf("  wrk bursts: %d, %d requests, statuses %s, %d socket errors, worst p99 %.1f ms\n",
		len(bursts), tot, fmtStatuses(st), sockerr, worstP99)
	fmt.Printf("  SIGTERM -> exit %.0f ms, status %s; daemon log lines above INFO: %d\n", float64(stopDur.Microseconds())/1000, rc, len(problems))
	for _, l := range problems[:min(8, len(problems))] {
		fmt.Printf("    %s\n", clip([]byte(l), 220))
	}
	fmt.Println()
	fmt.Printf("(soak took %.0f s)\n", time.Since(tBegin).Seconds())
	if len(growth) > 0 {
		fmt.Println("trend:  FAIL")
	} else if haveGor {
		fmt.Println("trend:  PASS (RSS, threads, goroutines, fds flat after warm-up)")
	} else {
		fmt.Println("trend:  PASS (RSS, threads, fds flat after warm-up)")
	}
	for _, f := range growth {
		fmt.Printf("  - %s\n", f)
	}
	if len(fails) > 0 {
		fmt.Println("errors: FAIL")
	} else {
		fmt.Println("errors: PASS (no failed request, every scan completed, /health 200, clean exit)")
	}
	for _, f := range fails {
		fmt.Printf("  - %s\n", f)
	}
	if len(fails) > 0 || len(growth) > 0 {
		fmt.Println("VERDICT: FAIL")
		return 1, nil
	}
	fmt.Println("VERDICT: PASS")
	return 0, nil
}

// leakConn opens a keep-alive connection to the daemon, makes one request on it
// and leaves it open and idle (LOADSOAK_SELFTEST_LEAK).
func leakConn(port int) (net.Conn, error) {
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return nil, fmt.Errorf("open a leaked connection: %w", err)
	}
	if _, err := c.Write([]byte("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")); err != nil {
		c.Close()
		return nil, fmt.Errorf("write on the leaked connection: %w", err)
	}
	buf := make([]byte, 65536)
	if _, err := c.Read(buf); err != nil {
		c.Close()
		return nil, fmt.Errorf("read on the leaked connection: %w", err)
	}
	return c, nil
}

// writeCSV writes the samples to path, one row each under a header.
func writeCSV(path string, samples []soakSample) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	w := csv.NewWriter(f)
	_ = w.Write(soakColumns)
	for _, s := range samples {
		_ = w.Write(s.csv())
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("write CSV: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write CSV: %w", err)
	}
	return nil
}
