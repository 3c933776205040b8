package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemon is one `vpo serve` on 127.0.0.1:<random port> with a private HOME.
type daemon struct {
	h       *harness
	bin     string
	home    string
	logpath string
	env     []string
	p       *proc
	port    int
	http    *http.Client // a new connection per request
}

// cleanEnv is the daemon's whole environment: no VPO_* settings but extra, no
// journald stream, no config file.
func cleanEnv(home string, extra ...string) []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/bin:/bin"
	}
	return append([]string{"PATH=" + path, "HOME=" + home, "LANG=C.UTF-8", "TZ=UTC"}, extra...)
}

func newDaemon(h *harness, bin, home, logpath string, env ...string) *daemon {
	return &daemon{h: h, bin: bin, home: home, logpath: logpath, env: cleanEnv(home, env...),
		http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
}

func (d *daemon) pid() int { return d.p.pid() }

func (d *daemon) base() string { return fmt.Sprintf("http://127.0.0.1:%d", d.port) }

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	return port, l.Close()
}

// spawn starts the daemon with its output appended to the log.
func (d *daemon) spawn(args ...string) error {
	if err := os.MkdirAll(d.home, 0o755); err != nil {
		return fmt.Errorf("create home: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	d.port = port
	logf, err := os.OpenFile(d.logpath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	argv := append([]string{"serve"}, args...)
	argv = append(argv, "--port", strconv.Itoa(port))
	cmd := exec.Command(d.bin, argv...)
	cmd.Env, cmd.Stdout, cmd.Stderr = d.env, logf, logf
	d.p, err = d.h.start(cmd)
	return err
}

// start spawns the daemon on 127.0.0.1 and waits up to timeout for GET /health 200.
func (d *daemon) start(ctx context.Context, timeout time.Duration) error {
	if err := d.spawn("--bind", "127.0.0.1"); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		if err := d.checkAlive(); err != nil {
			return err
		}
		if code, _, err := d.get(ctx, "/health", time.Second); err == nil && code == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			return fail("vpo did not answer GET /health 200 within %s; log tail:\n%s", timeout, d.tail(20))
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

func (d *daemon) alive() bool { return d.p != nil && !d.p.exited() }

func (d *daemon) checkAlive() error {
	if !d.alive() {
		return fail("vpo (pid %d) died with status %s; log tail:\n%s", d.p.pid(), d.p.status(), d.tail(20))
	}
	return nil
}

// stop sends SIGTERM and waits up to timeout (then SIGKILL); it returns the exit
// status ("killed" after SIGKILL) and how long the exit took.
func (d *daemon) stop(timeout time.Duration) (string, time.Duration) {
	if !d.alive() {
		return d.p.status(), 0
	}
	t0 := time.Now()
	_ = d.p.cmd.Process.Signal(syscall.SIGTERM)
	rc := ""
	if d.p.waitTimeout(timeout) {
		rc = d.p.status()
	} else {
		_ = d.p.cmd.Process.Kill()
		<-d.p.done
		rc = "killed"
	}
	d.h.forget(d.p)
	return rc, time.Since(t0)
}

// tail is the last n lines of the daemon's log.
func (d *daemon) tail(n int) string {
	b, err := os.ReadFile(d.logpath)
	if err != nil {
		return "(no log)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// logProblems are the log lines after offset that are not INFO or DEBUG.
func (d *daemon) logProblems(offset int64) []string {
	f, err := os.Open(d.logpath)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), " \t\r")
		if strings.TrimSpace(l) == "" || strings.Contains(l, "level=INFO") || strings.Contains(l, "level=DEBUG") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// request makes one HTTP request on a new connection and decodes a JSON answer
// into a generic value (the raw text when it is not JSON).
func (d *daemon) request(ctx context.Context, method, path string, body any, timeout time.Duration) (int, any, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base()+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	var doc any
	if len(data) > 0 && json.Unmarshal(data, &doc) != nil {
		doc = string(data)
	}
	return resp.StatusCode, doc, nil
}

func (d *daemon) get(ctx context.Context, path string, timeout time.Duration) (int, any, error) {
	return d.request(ctx, http.MethodGet, path, nil, timeout)
}

// job is a job as GET /api/jobs/ID shows it (the fields the harness reads).
type job struct {
	ID       int64    `json:"id"`
	State    string   `json:"state"`
	Path     string   `json:"path"`
	Errors   []string `json:"errors"`
	Progress struct {
		Found   int64 `json:"found"`
		Probed  int64 `json:"probed"`
		Failed  int64 `json:"failed"`
		Missing int64 `json:"missing"`
	} `json:"progress"`
	// cancelledAtEnd is set by the soak for the scan it cancels when it ends.
	cancelledAtEnd bool
}

// done is how many files the scan probed or failed to probe.
func (j job) done() int64 { return j.Progress.Probed + j.Progress.Failed }

func (j job) finished() bool {
	return j.State == "completed" || j.State == "failed" || j.State == "cancelled"
}

// decode re-decodes a generic JSON value into v.
func decode(doc, v any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// submitScan submits a scan job of path and returns its id.
func (d *daemon) submitScan(ctx context.Context, path string) (int64, error) {
	code, doc, err := d.request(ctx, http.MethodPost, "/api/jobs", map[string]string{"type": "scan", "path": path}, 10*time.Second)
	if err != nil {
		return 0, err
	}
	var j job
	if code != 202 || decode(doc, &j) != nil {
		return 0, fail("POST /api/jobs scan %s: HTTP %d %v", path, code, doc)
	}
	return j.ID, nil
}

func (d *daemon) job(ctx context.Context, id int64) (job, error) {
	var j job
	code, doc, err := d.get(ctx, fmt.Sprintf("/api/jobs/%d", id), 10*time.Second)
	if err != nil {
		return j, err
	}
	if code != 200 || decode(doc, &j) != nil {
		return j, fail("GET /api/jobs/%d: HTTP %d %v", id, code, doc)
	}
	return j, nil
}

// cancelJob asks the daemon to cancel a job.
func (d *daemon) cancelJob(ctx context.Context, id int64) {
	_, _, _ = d.request(ctx, http.MethodPost, fmt.Sprintf("/api/jobs/%d/cancel", id), nil, 10*time.Second)
}

// waitJob polls a job every 100 ms until it ends or timeout passes, and returns
// its last state.
func (d *daemon) waitJob(ctx context.Context, id int64, timeout time.Duration) (job, error) {
	deadline := time.Now().Add(timeout)
	for {
		j, err := d.job(ctx, id)
		if err != nil || j.finished() || time.Now().After(deadline) {
			return j, err
		}
		if err := d.checkAlive(); err != nil {
			return j, err
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return j, err
		}
	}
}

// prefill catalogues tree with a daemon that uses the fake ffprobe, then stops
// it; the measured daemon then starts on this existing database with the real
// ffprobe.
func prefill(ctx context.Context, h *harness, bin, home, logpath, tree string, workers int, fake string) error {
	d := newDaemon(h, bin, home, logpath, "VPO_FFPROBE_PATH="+fake, fmt.Sprintf("VPO_JOBS_WORKERS=%d", workers))
	if err := d.start(ctx, 10*time.Second); err != nil {
		return err
	}
	err := func() error {
		id, err := d.submitScan(ctx, tree)
		if err != nil {
			return err
		}
		j, err := d.waitJob(ctx, id, 300*time.Second)
		if err != nil {
			return err
		}
		if j.State != "completed" {
			return fail("pre-fill scan of %s ended %s: %+v", tree, j.State, j)
		}
		return nil
	}()
	if rc, _ := d.stop(40 * time.Second); rc != "0" {
		err = errors.Join(err, fail("pre-fill daemon exited with status %s; log tail:\n%s", rc, d.tail(20)))
	}
	return err
}

// appendLog appends a marker line to the daemon log and returns the log's size
// after it.
func appendLog(path, line string) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return 0, fmt.Errorf("open daemon log: %w", err)
	}
	if _, err := fmt.Fprintln(f, line); err != nil {
		f.Close()
		return 0, fmt.Errorf("write daemon log: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("close daemon log: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("stat daemon log: %w", err)
	}
	return st.Size(), nil
}

// panics are the lines that mention a panic or a fatal error.
func panics(lines []string) []string {
	return slices.DeleteFunc(slices.Clone(lines), func(l string) bool {
		l = strings.ToLower(l)
		return !strings.Contains(l, "panic") && !strings.Contains(l, "fatal")
	})
}
