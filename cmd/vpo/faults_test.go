package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/vpo-project/vpo/internal/config"
)

// TestFaults runs the fault-injection scripts in testdata/faults: SIGKILL at random
// moments, another process holding the SQLite write lock, a full disk, a missing,
// hanging or crashing ffprobe, and a closed or broken stderr. Each script asserts that
// nothing is lost and that the daemon recovers. See docs/reliability.md.
func TestFaults(t *testing.T) {
	p := ScriptParams(t, "testdata/faults")
	setup := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if setup != nil {
			if err := setup(env); err != nil {
				return err
			}
		}
		env.Values[faultKey{}] = &faultState{procs: map[string]*spawned{}}
		return nil
	}
	for name, cmd := range map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"killrounds":     cmdKillRounds,
		"alljobsdone":    cmdAllJobsDone,
		"catalogcurrent": cmdCatalogCurrent,
		"holdlock":       cmdHoldLock,
		"waitlock":       cmdWaitLock,
		"timedhttp":      cmdTimedHTTP,
		"mounttmpfs":     cmdMountTmpfs,
		"ballast":        cmdBallast,
		"dfree":          cmdDfree,
		"spawnvpo":       cmdSpawnVPO,
		"procsignal":     cmdProcSignal,
		"procwait":       cmdProcWait,
		"dbcheck":        cmdDBCheck,
		"nologtext":      cmdNoLogText,
		"bgfd":           cmdBackgroundFD,
		"assertduration": cmdAssertDuration,
		"settimer":       cmdSetTimer,
		"mkbigmkv":       cmdMkBigMKV,
		"applyrounds":    cmdApplyRounds,
		"applyfinal":     cmdApplyFinal,
	} {
		if _, dup := p.Cmds[name]; dup {
			t.Fatalf("fault command %q is already defined by ScriptParams", name)
		}
		p.Cmds[name] = cmd
	}
	testscript.Run(t, p)
}

// faultKey is the ts.Value key of a script's *faultState.
type faultKey struct{}

// faultState is what the fault commands of one script share.
type faultState struct {
	mu     sync.Mutex
	lock   *heldLock
	procs  map[string]*spawned
	timers map[string]time.Time
}

func state(ts *testscript.TestScript) *faultState {
	return ts.Value(faultKey{}).(*faultState)
}

// scriptEnv is the environment a script's `exec` would give a program: testscript's
// own variables plus every variable vpo reads, as the script has set them.
func scriptEnv(ts *testscript.TestScript) []string {
	keys := []string{"WORK", "PATH", "GOTRACEBACK", "HOME", "TMPDIR", "GORACE", "GOCOVERDIR"}
	keys = append(keys, config.EnvVars()...)
	var env []string
	for _, k := range keys {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// vpoCommand returns an *exec.Cmd that runs vpo (the test binary under that name in
// the script's PATH) in the script's directory and environment.
func vpoCommand(ts *testscript.TestScript, args ...string) *exec.Cmd {
	bin := ""
	for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
		p := filepath.Join(dir, "vpo")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			bin = p
			break
		}
	}
	if bin == "" {
		ts.Fatalf("vpo is not in the script's PATH")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = scriptEnv(ts)
	return cmd
}

// request sends one HTTP request with the script's bearer token, if any.
func request(ts *testscript.TestScript, method, url, body string, timeout time.Duration) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := ts.Getenv("VPO_TEST_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// waitHealthy polls url/health until it answers 200 or the process exits.
func waitHealthy(ts *testscript.TestScript, url string, limit time.Duration, exited <-chan struct{}) ([]byte, error) {
	deadline := time.Now().Add(limit)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return nil, errors.New("vpo exited before it was healthy")
		default:
		}
		code, body, err := request(ts, "GET", url+"/health", "", 2*time.Second)
		if err == nil && code == 200 {
			return body, nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("%d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("%s/health did not answer 200 within %s; last: %s", url, limit, last)
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// openRO opens a SQLite database read-only: a check must not checkpoint the WAL or
// otherwise tidy up what a killed vpo left behind for the next vpo to recover.
func openRO(path string) (*sql.DB, error) {
	return sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(5000)")
}

// dbReport is what checkCatalogue finds in a database.
type dbReport struct {
	files, tracks, probed int
	jobs                  map[string]int // River state -> count
}

// checkCatalogue checks a vpo database after a fault: PRAGMA integrity_check is ok,
// no foreign key is broken, no path is catalogued twice, no track lacks its file, and
// every file recorded as probed without error has exactly tracks tracks (a file is
// recorded with its tracks in one transaction, so never half).
func checkCatalogue(path string, tracks int) (dbReport, error) {
	var r dbReport
	db, err := openRO(path)
	if err != nil {
		return r, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var ic []string
	rows, err := db.Query("PRAGMA integrity_check")
	if err != nil {
		return r, fmt.Errorf("integrity_check: %w", err)
	}
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return err
			}
			ic = append(ic, s)
		}
		return rows.Err()
	}()
	if err != nil {
		return r, fmt.Errorf("integrity_check: %w", err)
	}
	if len(ic) != 1 || ic[0] != "ok" {
		return r, fmt.Errorf("PRAGMA integrity_check: %q", ic)
	}
	var fk int
	if err := db.QueryRow("SELECT count(*) FROM pragma_foreign_key_check").Scan(&fk); err != nil {
		return r, fmt.Errorf("foreign_key_check: %w", err)
	}
	if fk != 0 {
		return r, fmt.Errorf("PRAGMA foreign_key_check: %d broken references", fk)
	}
	checks := []struct {
		what, query string
	}{
		{"duplicate catalogue rows (same path)", "SELECT count(*) - count(DISTINCT path) FROM files"},
		{"tracks without a file", "SELECT count(*) FROM tracks WHERE file_id NOT IN (SELECT id FROM files)"},
		{"duplicate tracks (same file and index)", "SELECT count(*) - (SELECT count(*) FROM (SELECT DISTINCT file_id, idx FROM tracks)) FROM tracks"},
		{fmt.Sprintf("probed files without exactly %d tracks", tracks),
			fmt.Sprintf("SELECT count(*) FROM files f WHERE probed_at IS NOT NULL AND probe_error = '' AND (SELECT count(*) FROM tracks t WHERE t.file_id = f.id) <> %d", tracks)},
		{"files recorded with a probe error", "SELECT count(*) FROM files WHERE probe_error <> ''"},
	}
	for _, c := range checks {
		var n int
		if err := db.QueryRow(c.query).Scan(&n); err != nil {
			return r, fmt.Errorf("%s: %w", c.what, err)
		}
		if n != 0 {
			return r, fmt.Errorf("%s: %d", c.what, n)
		}
	}
	if err := db.QueryRow("SELECT count(*), count(probed_at), (SELECT count(*) FROM tracks) FROM files").Scan(&r.files, &r.probed, &r.tracks); err != nil {
		return r, err
	}
	r.jobs = map[string]int{}
	rows, err = db.Query("SELECT state, count(*) FROM river_job GROUP BY state")
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return r, err
		}
		r.jobs[s] = n
	}
	return r, rows.Err()
}

func (r dbReport) jobSummary() string {
	if len(r.jobs) == 0 {
		return "none"
	}
	var parts []string
	for s, n := range r.jobs {
		parts = append(parts, fmt.Sprintf("%s=%d", s, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// killrounds ROUNDS LIBDIR PORT TRACKS: ROUNDS times, touches a random third of the
// videos in LIBDIR (so that the scan has files to probe again), starts `vpo serve
// --port PORT`, waits until it is healthy, submits a scan of LIBDIR unless a job is
// already queued or running (a re-queued one), sleeps a random 0-600 ms and SIGKILLs
// vpo. After each kill the database must pass checkCatalogue (TRACKS tracks per probed
// file) and must not hold fewer files than before. The random seed is logged and
// printed; FAULT_SEED=n (in go test's environment) replays a run's choices. Each
// round's log is $WORK/round-NN.log.
func cmdKillRounds(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: killrounds ROUNDS LIBDIR PORT TRACKS")
	}
	rounds, err := strconv.Atoi(args[0])
	ts.Check(err)
	lib := ts.MkAbs(args[1])
	url := "http://127.0.0.1:" + args[2]
	tracks, err := strconv.Atoi(args[3])
	ts.Check(err)
	seed := uint64(time.Now().UnixNano())
	s := ts.Getenv("FAULT_SEED") // a script's env, else go test's
	if s == "" {
		s = os.Getenv("FAULT_SEED")
	}
	if s != "" {
		seed, err = strconv.ParseUint(s, 10, 64)
		ts.Check(err)
	}
	ts.Logf("killrounds: seed %d (FAULT_SEED=%d replays this run)", seed, seed)
	fmt.Fprintf(ts.Stdout(), "seed %d\n", seed)
	rng := rand.New(rand.NewPCG(seed, 0x76706f))

	videos, err := filepath.Glob(filepath.Join(lib, "*.mkv"))
	ts.Check(err)
	if len(videos) == 0 {
		ts.Fatalf("no videos in %s", lib)
	}
	dbPath := filepath.Join(ts.Getenv("HOME"), ".vpo", "library.db")
	body := fmt.Sprintf(`{"type":"scan","path":%q}`, lib)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	prevFiles := 0
	var delays []time.Duration
	start := time.Now()
	for round := 1; round <= rounds; round++ {
		touched := 0
		for i, v := range videos {
			if rng.IntN(3) == 0 {
				mt := base.Add(time.Duration(round)*time.Minute + time.Duration(i)*time.Millisecond)
				ts.Check(os.Chtimes(v, mt, mt))
				touched++
			}
		}
		logPath := ts.MkAbs(fmt.Sprintf("round-%02d.log", round))
		logf, err := os.Create(logPath)
		ts.Check(err)
		cmd := vpoCommand(ts, "serve", "--port", args[2])
		cmd.Stderr = logf
		started := time.Now()
		ts.Check(cmd.Start())
		exited := make(chan struct{})
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(exited) }()
		kill := func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			logf.Close()
		}

		health, err := waitHealthy(ts, url, 30*time.Second, exited)
		if err != nil {
			kill()
			ts.Fatalf("round %d: %v\nlog:\n%s", round, err, tail(logPath, 20))
		}
		ready := time.Since(started)
		var h struct {
			Jobs struct{ Queued, Running int } `json:"jobs"`
		}
		_ = json.Unmarshal(health, &h)
		submitted := "-"
		if h.Jobs.Queued+h.Jobs.Running == 0 {
			code, b, err := request(ts, "POST", url+"/api/jobs", body, 10*time.Second)
			if err != nil || code != http.StatusAccepted {
				kill()
				ts.Fatalf("round %d: POST /api/jobs: %d %s %v", round, code, b, err)
			}
			var j struct{ ID int64 }
			_ = json.Unmarshal(b, &j)
			submitted = strconv.FormatInt(j.ID, 10)
		}
		delay := time.Duration(rng.IntN(600)) * time.Millisecond
		delays = append(delays, delay)
		time.Sleep(delay)
		select {
		case <-exited:
			ts.Fatalf("round %d: vpo exited by itself (%v) before the kill\nlog:\n%s", round, waitErr, tail(logPath, 20))
		default:
		}
		kill()

		checkStart := time.Now()
		r, err := checkCatalogue(dbPath, tracks)
		checkTook := time.Since(checkStart)
		if err != nil {
			ts.Fatalf("round %d (killed %s after ready): database check failed: %v\nlog:\n%s", round, delay, err, tail(logPath, 20))
		}
		if r.files < prevFiles {
			ts.Fatalf("round %d: the catalogue lost files: %d before the kill, %d after", round, prevFiles, r.files)
		}
		prevFiles = r.files
		line := fmt.Sprintf("round %2d: touched %2d, healthy after %3d ms, submitted job %s, killed %3d ms later; then: files %d, tracks %d, jobs %s; checks ok in %d ms",
			round, touched, ready.Milliseconds(), submitted, delay.Milliseconds(), r.files, r.tracks, r.jobSummary(), checkTook.Milliseconds())
		ts.Logf("%s", line)
		fmt.Fprintln(ts.Stdout(), line)
	}
	slices.Sort(delays)
	summary := fmt.Sprintf("%d rounds survived in %s; kill delays min %d ms, median %d ms, max %d ms",
		rounds, time.Since(start).Round(100*time.Millisecond), delays[0].Milliseconds(),
		delays[len(delays)/2].Milliseconds(), delays[len(delays)-1].Milliseconds())
	ts.Logf("%s", summary)
	fmt.Fprintln(ts.Stdout(), summary)
}

// dbcheck DB TRACKS: the checks killrounds makes after each kill (see checkCatalogue).
func cmdDBCheck(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: dbcheck DB TRACKS")
	}
	tracks, err := strconv.Atoi(args[1])
	ts.Check(err)
	r, err := checkCatalogue(ts.MkAbs(args[0]), tracks)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "files %d, probed %d, tracks %d, jobs %s\n", r.files, r.probed, r.tracks, r.jobSummary())
}

// jobView is the part of GET /api/jobs the fault commands look at.
type jobView struct {
	ID       int64           `json:"id"`
	State    string          `json:"state"`
	Attempt  int             `json:"attempt"`
	Errors   []string        `json:"errors"`
	Progress json.RawMessage `json:"progress"`
}

// alljobsdone BASEURL [SECONDS]: waits until no job is queued or running, then fails
// unless every job completed. Prints one line per job.
func cmdAllJobsDone(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: alljobsdone BASEURL [SECONDS]")
	}
	limit := 60 * time.Second
	if len(args) > 1 {
		s, err := strconv.Atoi(args[1])
		ts.Check(err)
		limit = time.Duration(s) * time.Second
	}
	start := time.Now()
	deadline := start.Add(limit)
	var jobs []jobView
	for {
		code, b, err := request(ts, "GET", args[0]+"/api/jobs?limit=1000", "", 5*time.Second)
		if err == nil && code == 200 {
			var resp struct{ Jobs []jobView }
			ts.Check(json.Unmarshal(b, &resp))
			jobs = resp.Jobs
			if len(jobs) > 0 && !slices.ContainsFunc(jobs, func(j jobView) bool {
				return j.State == "queued" || j.State == "running"
			}) {
				break
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("jobs still queued or running after %s: %d %s %v", limit, code, b, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	slices.SortFunc(jobs, func(a, b jobView) int { return int(a.ID - b.ID) })
	bad := 0
	for _, j := range jobs {
		fmt.Fprintf(ts.Stdout(), "job %d %s attempt=%d errors=%d progress=%s\n", j.ID, j.State, j.Attempt, len(j.Errors), j.Progress)
		if j.State != "completed" {
			bad++
			ts.Logf("job %d is %s: %q", j.ID, j.State, j.Errors)
		}
	}
	ts.Logf("all %d jobs finished (waited %s)", len(jobs), time.Since(start).Round(10*time.Millisecond))
	if bad > 0 {
		ts.Fatalf("%d of %d jobs did not complete", bad, len(jobs))
	}
}

// catalogcurrent DB DIR: every video in DIR is catalogued once, probed without
// error, with the size and mtime it has on disk: nothing a scan saw was lost.
func cmdCatalogCurrent(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: catalogcurrent DB DIR")
	}
	db, err := openRO(ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	videos, err := filepath.Glob(filepath.Join(ts.MkAbs(args[1]), "*.mkv"))
	ts.Check(err)
	for _, v := range videos {
		st, err := os.Stat(v)
		ts.Check(err)
		var size, mtime int64
		var probed bool
		var perr string
		err = db.QueryRow("SELECT size, mtime_ns, probed_at IS NOT NULL, probe_error FROM files WHERE path = ?", []byte(v)).
			Scan(&size, &mtime, &probed, &perr)
		if err != nil {
			ts.Fatalf("%s: %v", v, err)
		}
		if size != st.Size() || mtime != st.ModTime().UnixNano() || !probed || perr != "" {
			ts.Fatalf("%s: catalogued size=%d mtime_ns=%d probed=%v error=%q; on disk size=%d mtime_ns=%d",
				v, size, mtime, probed, perr, st.Size(), st.ModTime().UnixNano())
		}
	}
	fmt.Fprintf(ts.Stdout(), "%d files current\n", len(videos))
}

// heldLock is a write lock held by holdlock.
type heldLock struct {
	taken    time.Time
	released chan struct{}
	held     time.Duration
	err      error
}

// holdlock DB DURATION: as another process would, opens DB with database/sql and runs
// BEGIN IMMEDIATE and an INSERT on one connection, then returns; a goroutine rolls
// the transaction back after DURATION. waitlock waits for that.
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: holdlock DB DURATION")
	}
	d, err := time.ParseDuration(args[1])
	ts.Check(err)
	st := state(ts)
	st.mu.Lock()
	if st.lock != nil {
		select {
		case <-st.lock.released:
		default:
			st.mu.Unlock()
			ts.Fatalf("a lock is already held")
		}
	}
	st.mu.Unlock()

	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0])+"?_pragma=busy_timeout(10000)")
	ts.Check(err)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		ts.Fatalf("holdlock: %v", err)
	}
	fail := func(err error) {
		conn.Close()
		db.Close()
		ts.Fatalf("holdlock: %v", err)
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(err)
	}
	taken := time.Now()
	if _, err := conn.ExecContext(ctx, "INSERT INTO job_progress (job_id, notes, updated_at) VALUES (-4242, '[]', 'held by the holdlock test command')"); err != nil {
		fail(err)
	}
	l := &heldLock{taken: taken, released: make(chan struct{})}
	go func() {
		defer close(l.released)
		time.Sleep(time.Until(taken.Add(d)))
		_, l.err = conn.ExecContext(ctx, "ROLLBACK")
		l.held = time.Since(taken)
		conn.Close()
		db.Close()
	}()
	st.mu.Lock()
	st.lock = l
	st.mu.Unlock()
	ts.Defer(func() { <-l.released })
	ts.Logf("write lock on %s taken; it is released in %s", args[0], d)
}

// waitlock: waits until the lock taken by holdlock is released; prints how long it was
// held.
func cmdWaitLock(ts *testscript.TestScript, neg bool, args []string) {
	st := state(ts)
	st.mu.Lock()
	l := st.lock
	st.mu.Unlock()
	if l == nil {
		ts.Fatalf("no lock held")
	}
	select {
	case <-l.released:
	case <-time.After(5 * time.Minute):
		ts.Fatalf("the lock was not released")
	}
	ts.Check(l.err)
	fmt.Fprintf(ts.Stdout(), "lock held %s\n", l.held.Round(time.Millisecond))
	ts.Logf("write lock released after %s", l.held.Round(time.Millisecond))
}

// settimer NAME: starts a stopwatch; assertduration NAME MIN MAX checks it.
func cmdSetTimer(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: settimer NAME")
	}
	st := state(ts)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.timers == nil {
		st.timers = map[string]time.Time{}
	}
	st.timers[args[0]] = time.Now()
}

// assertduration NAME MIN MAX: the time since settimer NAME is within [MIN, MAX].
func cmdAssertDuration(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: assertduration NAME MIN MAX")
	}
	st := state(ts)
	st.mu.Lock()
	t0, ok := st.timers[args[0]]
	st.mu.Unlock()
	if !ok {
		ts.Fatalf("no timer %s", args[0])
	}
	lo, err := time.ParseDuration(args[1])
	ts.Check(err)
	hi, err := time.ParseDuration(args[2])
	ts.Check(err)
	d := time.Since(t0)
	ts.Logf("timer %s: %s", args[0], d.Round(time.Millisecond))
	if d < lo || d > hi {
		ts.Fatalf("timer %s: %s is not within [%s, %s]", args[0], d.Round(time.Millisecond), lo, hi)
	}
}

// timedhttp MAX METHOD URL [BODYFILE]: like http, with a client timeout of MAX plus
// 30 s, and fails if the answer took longer than MAX. The time taken is logged.
func cmdTimedHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: timedhttp MAX METHOD URL [BODYFILE]")
	}
	limit, err := time.ParseDuration(args[0])
	ts.Check(err)
	body := ""
	if len(args) > 3 {
		body = os.Expand(ts.ReadFile(args[3]), ts.Getenv)
	}
	start := time.Now()
	code, b, err := request(ts, args[1], args[2], body, limit+30*time.Second)
	took := time.Since(start)
	ts.Check(err)
	ts.Logf("%s %s: %d in %s", args[1], args[2], code, took.Round(time.Millisecond))
	fmt.Fprintf(ts.Stdout(), "HTTP %d\n%s", code, b)
	if took > limit {
		ts.Fatalf("%s %s took %s, more than %s", args[1], args[2], took.Round(time.Millisecond), limit)
	}
}

// mounttmpfs DIR SIZE: mounts a tmpfs of SIZE (e.g. 4m) on DIR until the script ends.
// Needs root.
func cmdMountTmpfs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mounttmpfs DIR SIZE")
	}
	if os.Geteuid() != 0 {
		ts.Fatalf("mounttmpfs needs root (to mount a small tmpfs as a disk that fills up); run the fault tests as root, as CI does")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o700))
	ts.Check(syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, "size="+args[1]+",mode=0700"))
	ts.Defer(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
}

func statfs(ts *testscript.TestScript, dir string) (size, free int64) {
	var s syscall.Statfs_t
	ts.Check(syscall.Statfs(dir, &s))
	return int64(s.Blocks) * s.Bsize, int64(s.Bavail) * s.Bsize
}

// dfree DIR: prints the size, used and free space of DIR's file system, in KiB.
func cmdDfree(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: dfree DIR")
	}
	size, free := statfs(ts, ts.MkAbs(args[0]))
	line := fmt.Sprintf("size %d KiB, used %d KiB, free %d KiB", size>>10, (size-free)>>10, free>>10)
	ts.Logf("%s: %s", args[0], line)
	fmt.Fprintln(ts.Stdout(), line)
}

// ballast FILE LEAVE: writes FILE so large that LEAVE (e.g. 256k) stays free on its
// file system.
func cmdBallast(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: ballast FILE LEAVE")
	}
	leave, err := parseSize(args[1])
	ts.Check(err)
	path := ts.MkAbs(args[0])
	_, free := statfs(ts, filepath.Dir(path))
	n := free - leave
	if n <= 0 {
		ts.Fatalf("only %d bytes free, less than %d", free, leave)
	}
	f, err := os.Create(path)
	ts.Check(err)
	buf := make([]byte, 64<<10)
	for left := n; left > 0; {
		w := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:w]); err != nil {
			f.Close()
			ts.Fatalf("ballast: %v", err)
		}
		left -= w
	}
	ts.Check(f.Close())
	_, after := statfs(ts, filepath.Dir(path))
	ts.Logf("ballast %s: %d KiB; %d KiB left free", args[0], n>>10, after>>10)
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "k"):
		mult, s = 1<<10, strings.TrimSuffix(s, "k")
	case strings.HasSuffix(s, "m"):
		mult, s = 1<<20, strings.TrimSuffix(s, "m")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n * mult, err
}

// waitlog FILE REGEXP [SECONDS]: polls FILE (a log that a background vpo appends to)
// until a line matches REGEXP, then prints that line.
func cmdWaitLog(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waitlog FILE REGEXP [SECONDS]")
	}
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	limit := 30 * time.Second
	if len(args) > 2 {
		s, err := strconv.Atoi(args[2])
		ts.Check(err)
		limit = time.Duration(s) * time.Second
	}
	path := ts.MkAbs(args[0])
	deadline := time.Now().Add(limit)
	for {
		b, _ := os.ReadFile(path)
		for _, line := range strings.Split(string(b), "\n") {
			if re.MatchString(line) {
				fmt.Fprintln(ts.Stdout(), line)
				return
			}
		}
		if time.Now().After(deadline) {
			ts.Fatalf("no line of %s matched %s within %s; last lines:\n%s", args[0], args[1], limit, tail(path, 10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// spawned is a vpo process started by spawnvpo.
type spawned struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// spawnvpo NAME MODE ARGS...: starts vpo ARGS in the background with its stderr
// broken in one of two ways, as testscript's `exec ... &` cannot:
//
//	closedpipe  stderr is a pipe whose read end is closed before vpo starts: every
//	            write fails with EPIPE (and raises SIGPIPE);
//	readerdies  stderr is a pipe whose reader copies the lines into $WORK/NAME.log
//	            until "vpo is ready", then closes its end (a log reader going away).
//
// spawnvpo returns once vpo has started (for readerdies: once the reader is gone).
func cmdSpawnVPO(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: spawnvpo NAME closedpipe|readerdies ARGS...")
	}
	name, mode := args[0], args[1]
	st := state(ts)
	cmd := vpoCommand(ts, args[2:]...)
	r, w, err := os.Pipe()
	ts.Check(err)
	cmd.Stderr = w
	readerGone := make(chan error, 1)
	switch mode {
	case "closedpipe":
		ts.Check(r.Close())
		readerGone <- nil
	case "readerdies":
		logf, err := os.Create(ts.MkAbs(name + ".log"))
		ts.Check(err)
		go func() {
			defer logf.Close()
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				fmt.Fprintln(logf, sc.Text())
				if strings.Contains(sc.Text(), `message="vpo is ready"`) {
					readerGone <- r.Close()
					return
				}
			}
			r.Close()
			readerGone <- errors.New("vpo's stderr ended before \"vpo is ready\"")
		}()
	default:
		ts.Fatalf("unknown stderr mode %q", mode)
	}
	if err := cmd.Start(); err != nil {
		w.Close()
		ts.Fatalf("start vpo: %v", err)
	}
	w.Close() // vpo has its own copy
	p := &spawned{cmd: cmd, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	st.mu.Lock()
	st.procs[name] = p
	st.mu.Unlock()
	ts.Defer(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	select {
	case err := <-readerGone:
		ts.Check(err)
	case <-p.done:
		ts.Fatalf("vpo exited: %v", p.err)
	case <-time.After(30 * time.Second):
		ts.Fatalf("vpo did not get ready within 30s")
	}
}

func spawnedProc(ts *testscript.TestScript, name string) *spawned {
	st := state(ts)
	st.mu.Lock()
	defer st.mu.Unlock()
	p := st.procs[name]
	if p == nil {
		ts.Fatalf("no process %s started by spawnvpo", name)
	}
	return p
}

// procsignal NAME TERM|INT|KILL: signals a process started by spawnvpo.
func cmdProcSignal(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: procsignal NAME TERM|INT|KILL")
	}
	sig := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL}[args[1]]
	if sig == 0 {
		ts.Fatalf("unknown signal %s", args[1])
	}
	ts.Check(spawnedProc(ts, args[0]).cmd.Process.Signal(sig))
}

// procwait NAME CODE [SECONDS]: waits for a process started by spawnvpo, which must
// exit with CODE (not by a signal).
func cmdProcWait(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: procwait NAME CODE [SECONDS]")
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	limit := 60 * time.Second
	if len(args) > 2 {
		s, err := strconv.Atoi(args[2])
		ts.Check(err)
		limit = time.Duration(s) * time.Second
	}
	p := spawnedProc(ts, args[0])
	select {
	case <-p.done:
	case <-time.After(limit):
		ts.Fatalf("%s did not exit within %s", args[0], limit)
	}
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		ts.Fatalf("%s was killed by %s", args[0], ws.Signal())
	}
	if got := p.cmd.ProcessState.ExitCode(); got != want {
		ts.Fatalf("%s exited with %d, want %d", args[0], got, want)
	}
}

// nologtext FILE...: none of the files (if they exist) contains a log record
// ("level=" or "\"level\":").
func cmdNoLogText(ts *testscript.TestScript, neg bool, args []string) {
	for _, f := range args {
		b, err := os.ReadFile(ts.MkAbs(f))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		ts.Check(err)
		for _, needle := range []string{"level=", `"level":`, "vpo is ready"} {
			if i := strings.Index(string(b), needle); i >= 0 {
				ts.Fatalf("%s contains log text %q at offset %d", f, needle, i)
			}
		}
	}
}

// bgfd FD: prints what file descriptor FD of each running background command refers
// to, as "fd FD -> TARGET".
func cmdBackgroundFD(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: bgfd FD")
	}
	n := 0
	for _, c := range ts.BackgroundCmds() {
		if c.Process == nil || c.ProcessState != nil {
			continue
		}
		target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", c.Process.Pid, args[0]))
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "fd %s -> %s\n", args[0], target)
		n++
	}
	if n == 0 {
		ts.Fatalf("no running background command")
	}
}
