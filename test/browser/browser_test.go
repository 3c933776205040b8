// Package browser tests vpo's web UI in a real browser: headless Chromium (Debian's
// chromium package, installed by scripts/install-test-deps.sh) driven by chromedp,
// against a real `vpo serve` built in TestMain, over a catalogue of media made at
// test time with ffmpeg. A missing chromium fails the test; it is never skipped.
//
//	go test -count=1 ./test/browser                      # screenshots in a temp dir
//	go test -count=1 ./test/browser -artifacts -outputdir /tmp/ui   # screenshots kept
//
// VPO_CHROMIUM names the browser binary when it is not "chromium" in PATH.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/vpo-project/vpo/internal/testmedia"
)

const token = "browser-test-token-0123456789"

// vpoBin is the vpo binary built by TestMain.
var vpoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vpo-browser-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vpoBin = filepath.Join(dir, "vpo")
	build := exec.Command("go", "build", "-o", vpoBin, "github.com/vpo-project/vpo/cmd/vpo")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build vpo:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemon is a running `vpo serve`.
type daemon struct {
	base string
	lib  string // the library: sample files, many files, a hostile file
	many string // the directory of the many files
	odd  string // the directory of the file with hostile names
	plan string // the directory of the file the english policy changes
	logs string // the daemon's stderr
}

// englishPolicy keeps English audio only: of sample.mkv's four tracks, the French
// audio goes.
const englishPolicy = `schema_version: 13
description: Keep English audio only
phases:
  - name: audio
    keep_audio:
      languages: [eng]
`

// brokenPolicy has an unknown key on line 5, column 7.
const brokenPolicy = `schema_version: 13
phases:
  - name: audio
    keep_audio:
      languagez: [eng]
`

func startDaemon(t *testing.T) *daemon {
	t.Helper()
	work := t.TempDir()
	home := filepath.Join(work, "home")
	lib := filepath.Join(work, "lib")
	d := &daemon{lib: lib, many: filepath.Join(lib, "many"), odd: filepath.Join(lib, "odd"), plan: filepath.Join(lib, "plan"),
		logs: filepath.Join(work, "vpo.log")}
	files := testmedia.Make(t, lib)
	// A copy of sample.mkv alone in its directory, for the policy's preview
	// and the apply.
	testmedia.Make(t, filepath.Join(work, "plan-src"))
	if err := os.MkdirAll(d.plan, 0o755); err != nil {
		t.Fatal(err)
	}
	film := filepath.Join(d.plan, "Film.mkv")
	if err := os.Rename(filepath.Join(work, "plan-src", "sample.mkv"), film); err != nil {
		t.Fatal(err)
	}
	// Settled: an apply leaves alone a file changed in the last minute.
	hourAgo := time.Now().Add(-time.Hour)
	if err := os.Chtimes(film, hourAgo, hourAgo); err != nil {
		t.Fatal(err)
	}
	policies := filepath.Join(work, "policies")
	if err := os.MkdirAll(policies, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"english": englishPolicy, "broken": brokenPolicy} {
		if err := os.WriteFile(filepath.Join(policies, name+".yaml"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testmedia.MakeMany(t, d.many, 200)
	// A real file whose name is not UTF-8 and whose audio title is a script.
	if err := os.MkdirAll(d.odd, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ffmpeg", "-loglevel", "error", "-y", "-i", files.MKV, "-map", "0", "-c", "copy",
		"-metadata:s:a:0", `title=<script>alert("vpo")</script>`,
		filepath.Join(d.odd, "caf\xe9 <b>.mkv")).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	logf, err := os.Create(d.logs)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(vpoBin, "serve", "--port", strconv.Itoa(port))
	cmd.Env = append(os.Environ(), "HOME="+home, "VPO_AUTH_TOKEN="+token, "VPO_JOBS_WORKERS=1", "VPO_POLICIES_DIR="+policies,
		"VPO_LOG_LEVEL=debug", "VPO_LOG_JOURNAL=off")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("vpo serve exited with %v; log in %s", err, d.logs)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("vpo serve did not stop within 30 s of SIGTERM")
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(d.logs)
			t.Logf("vpo log:\n%s", b)
		}
	})
	d.base = "http://127.0.0.1:" + strconv.Itoa(port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(d.base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(d.logs)
			t.Fatalf("vpo serve did not become healthy: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return d
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// apiJobs lists the jobs through the API.
func (d *daemon) apiJobs(t *testing.T) []map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.base+"/api/jobs?limit=1000", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Jobs []map[string]any `json:"jobs"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Jobs
}

// waitIdle waits until no job is queued or running: the dashboard reloads
// itself when a job finishes, which would pull the page from under a check.
func (d *daemon) waitIdle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var busy []string
		for _, j := range d.apiJobs(t) {
			switch st, _ := j["state"].(string); st {
			case "queued", "running", "scheduled", "retryable", "pending", "available":
				busy = append(busy, fmt.Sprintf("%v:%s", j["id"], st))
			}
		}
		if len(busy) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still busy after 60 s: %v", busy)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watcher records what a page must not do: console errors, uncaught exceptions,
// failed requests, responses with an error status, dialogs.
type watcher struct {
	mu       sync.Mutex
	problems []string
	urls     map[network.RequestID]string
}

func (w *watcher) listen(ev any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		w.urls[ev.RequestID] = ev.Request.URL
	case *network.EventLoadingFailed:
		// Leaving a page cancels its event stream; that is not a failure.
		if ev.Canceled || ev.ErrorText == "net::ERR_ABORTED" {
			return
		}
		w.problems = append(w.problems, fmt.Sprintf("request failed: %s: %s %s", w.urls[ev.RequestID], ev.ErrorText, ev.BlockedReason))
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			w.problems = append(w.problems, fmt.Sprintf("HTTP %d: %s", ev.Response.Status, ev.Response.URL))
		}
	case *runtime.EventExceptionThrown:
		w.problems = append(w.problems, "exception: "+ev.ExceptionDetails.Text+" "+exceptionDesc(ev))
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range ev.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			w.problems = append(w.problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
		}
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			w.problems = append(w.problems, fmt.Sprintf("browser log %s: %s (%s)", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL))
		}
	case *page.EventJavascriptDialogOpening:
		w.problems = append(w.problems, "dialog opened: "+ev.Message)
	}
}

func exceptionDesc(ev *runtime.EventExceptionThrown) string {
	if ev.ExceptionDetails.Exception != nil {
		return ev.ExceptionDetails.Exception.Description
	}
	return ""
}

// check fails the test for every problem recorded since the last check, except
// those that contain one of the expected strings.
func (w *watcher) check(t *testing.T, step string, expected ...string) {
	t.Helper()
	w.mu.Lock()
	problems := w.problems
	w.problems = nil
	w.mu.Unlock()
next:
	for _, p := range problems {
		for _, e := range expected {
			if strings.Contains(p, e) {
				continue next
			}
		}
		t.Errorf("%s: %s", step, p)
	}
}

// browser is one headless Chromium tab.
type browser struct {
	t     *testing.T
	ctx   context.Context
	w     *watcher
	shots string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := os.Getenv("VPO_CHROMIUM")
	if path == "" {
		var err error
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatalf("chromium is not installed (apt-get install chromium, or run scripts/install-test-deps.sh; VPO_CHROMIUM names another binary): %v", err)
		}
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 800),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, w: &watcher{urls: map[network.RequestID]string{}}, shots: t.ArtifactDir()}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium %s: %v", path, err)
	}
	if err := chromedp.Listen(ctx, b.w.listen); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1100, 800)); err != nil {
		t.Fatal(err)
	}
	// Forms that rewrite files ask for confirmation (window.confirm): accept,
	// as a user would. The watcher still reports each dialog, so a step that
	// expects one says so.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	t.Logf("screenshots in %s", b.shots)
	return b
}

// step bounds one group of actions.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func run[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

func (b *browser) location() string {
	b.t.Helper()
	return run(b, "location", chromedp.Location())
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return run(b, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	return run(b, "count "+sel, chromedp.Evaluate[int](`document.querySelectorAll(`+strconv.Quote(sel)+`).length`))
}

func (b *browser) shot(name string) {
	b.t.Helper()
	png := run(b, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// noInlineScript fails the test for a script element without src: the
// Content-Security-Policy forbids inline script, and the pages carry none.
func (b *browser) noInlineScript(page string) {
	b.t.Helper()
	if n := b.count("script:not([src])"); n != 0 {
		b.t.Errorf("%s: %d inline scripts", page, n)
	}
	if csp := run(b, "CSP", chromedp.Evaluate[string](`fetch(location.href).then(r => r.headers.get("Content-Security-Policy"))`, chromedp.EvalAwaitPromise)); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		b.t.Errorf("%s: Content-Security-Policy %q", page, csp)
	}
}

// scrollTo scrolls the element with this id to the top of the window, for a
// screenshot of what is below the fold.
func (b *browser) scrollTo(id string) {
	b.t.Helper()
	b.do("scroll to "+id, chromedp.Evaluate[chromedp.Void](`document.getElementById(`+strconv.Quote(id)+`).scrollIntoView()`))
}

// waitJS evaluates expr until it returns a non-empty string, for up to a
// minute, across the page's reloads (an evaluation during one fails; it is
// tried again).
func (b *browser) waitJS(what, expr string) string {
	b.t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		cancel()
		if err == nil && v != "" {
			return v
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Fatalf("%s: timed out (last error %v)", what, last)
	return ""
}

// submit sends the form of sel and waits for the page it leads to.
func (b *browser) submit(what, sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Submit(chromedp.CSS(sel)))); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// click clicks sel and waits for the page it leads to.
func (b *browser) click(what, sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.t.Fatalf("%s: %v (at %s)", what, err, loc)
	}
}

func TestBrowser(t *testing.T) {
	d := startDaemon(t)
	b := newBrowser(t)
	ui := d.base + "/ui/"

	t.Run("root redirects to the UI, which asks for the token", func(t *testing.T) {
		b.t = t
		b.do("open /", chromedp.Navigate(d.base+"/"))
		if loc := b.location(); loc != d.base+"/ui/login?next=%2Fui%2F" {
			t.Errorf("location %q", loc)
		}
		if n := b.count("header nav ul"); n != 0 {
			t.Errorf("the login page shows the navigation")
		}
		b.shot("login")
		b.w.check(t, "login page")
	})

	t.Run("a wrong token is refused", func(t *testing.T) {
		b.t = t
		b.do("type a wrong token", chromedp.SendKeys(chromedp.ID("token"), "not-the-token-at-all"))
		b.submit("log in", "#token")
		if msg := b.text("#login-error"); msg != "That is not vpo's token." {
			t.Errorf("error %q", msg)
		}
		b.w.check(t, "wrong token", "HTTP 401", "status of 401")
		logs, _ := os.ReadFile(d.logs)
		if !strings.Contains(string(logs), `level=WARNING message="ui login failed: wrong token" logger=vpo.ui peer=127.0.0.1`) {
			t.Errorf("the failed login was not logged with the peer")
		}
	})

	t.Run("login", func(t *testing.T) {
		b.t = t
		b.do("type the token", chromedp.Navigate(d.base+"/ui/login"), chromedp.SendKeys(chromedp.ID("token"), token))
		b.submit("log in", "#token")
		if loc := b.location(); loc != ui {
			t.Errorf("after login: %q", loc)
		}
		if h := b.text("main h1"); h != "Dashboard" {
			t.Errorf("heading %q", h)
		}
		cookies := run(b, "cookies", chromedp.Evaluate[string](`document.cookie`))
		if strings.Contains(cookies, "vpo_session") {
			t.Errorf("the session cookie is readable by scripts: %q", cookies)
		}
		b.w.check(t, "dashboard")
	})

	t.Run("a scan started from the UI shows live progress and completes", func(t *testing.T) {
		b.t = t
		b.do("type the directory", chromedp.SendKeys(chromedp.ID("scan-path"), d.lib))
		b.submit("start scan", "#scan-path")
		loc := b.location()
		if !strings.Contains(loc, "/ui/jobs/") || !strings.Contains(loc, "notice=scan-started") {
			t.Fatalf("after starting the scan: %q", loc)
		}
		// The page stays loaded while the job runs (the marker survives): the
		// counts change through the event stream, not by reloading.
		b.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.vpoMarker = 1`))
		type probe struct {
			Marker bool   `json:"marker"`
			State  string `json:"state"`
			Counts string `json:"counts"`
		}
		live := map[string]bool{}
		sawRunning := false
		deadline := time.Now().Add(3 * time.Minute)
		for {
			p := run(b, "read progress", chromedp.Evaluate[probe](`({
				marker: window.vpoMarker === 1,
				state: (document.querySelector('[data-field="state"]') || {}).textContent || "",
				counts: (document.querySelector('[data-field="counts"]') || {}).textContent || ""})`))
			if p.Marker {
				live[p.Counts] = true
				if p.State == "running" {
					sawRunning = true
				}
			}
			if p.State == "completed" && !p.Marker {
				break // the page reloaded once at the end, as the script does
			}
			if time.Now().After(deadline) {
				t.Fatalf("the scan did not complete; last %+v", p)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !sawRunning || len(live) < 3 {
			t.Errorf("no live progress: running seen %v, counts seen without reload %v", sawRunning, live)
		}
		if found := b.text(`[data-field="found"]`); found != "207" {
			t.Errorf("found %q files, want 207", found)
		}
		b.shot("job")
		b.w.check(t, "scan")
	})

	t.Run("jobs", func(t *testing.T) {
		b.t = t
		b.do("open jobs", chromedp.Navigate(ui+"jobs"))
		if n := b.count("#jobs tbody tr[data-job]"); n != 1 {
			t.Errorf("%d jobs listed, want 1", n)
		}
		if st := b.text(`#jobs [data-field="state"]`); st != "completed" {
			t.Errorf("state %q", st)
		}
		b.do("filter failed", chromedp.SetValue(chromedp.ID("f-state"), "failed"))
		b.submit("filter", "#f-state")
		if n := b.count("#jobs tbody tr[data-job]"); n != 0 {
			t.Errorf("%d failed jobs listed, want 0", n)
		}
		b.do("open jobs", chromedp.Navigate(ui+"jobs"))
		b.shot("jobs")
		b.w.check(t, "jobs")
	})

	t.Run("filters narrow the library", func(t *testing.T) {
		b.t = t
		b.do("open library", chromedp.Navigate(ui+"library"))
		all := b.count("#files tbody a")
		if all != 50 {
			t.Errorf("the first page lists %d files, want 50", all)
		}
		if b.count(`a[rel="next"]`) != 1 {
			t.Errorf("no next page link")
		}
		b.shot("library")
		b.do("filter mp4", chromedp.SendKeys(chromedp.ID("f-container"), "mp4"))
		b.submit("filter", "#f-container")
		if n := b.count("#files tbody a"); n != 1 {
			t.Errorf("container mp4: %d files, want 1", n)
		}
		b.do("filter odd dir", chromedp.Navigate(ui+"library"), chromedp.SendKeys(chromedp.ID("f-prefix"), d.odd))
		b.submit("filter", "#f-prefix")
		if n := b.count("#files tbody a"); n != 1 {
			t.Errorf("directory %s: %d files, want 1", d.odd, n)
		}
		b.do("filter language", chromedp.Navigate(ui+"library?language=fra&path_prefix="+url.QueryEscape(d.lib)))
		if n := b.count("#files tbody a"); n != 3 {
			t.Errorf("language fra: %d files, want 3 (sample.mkv and its two copies)", n)
		}
		b.do("next page", chromedp.Navigate(ui+"library"))
		b.click("next page", `a[rel="next"]`)
		if n := b.count("#files tbody a"); n != 50 {
			t.Errorf("the second page lists %d files, want 50", n)
		}
		b.w.check(t, "library")
	})

	t.Run("search and sort narrow and order the library", func(t *testing.T) {
		b.t = t
		b.do("search", chromedp.Navigate(ui+"library"), chromedp.SendKeys(chromedp.ID("f-q"), "FILM"))
		b.submit("search", "#f-q")
		if n := b.count("#files tbody a"); n != 1 || !strings.HasSuffix(b.text("#files tbody a"), "/plan/Film.mkv") {
			t.Errorf("search FILM: %d files, first %q", n, b.text("#files tbody a"))
		}
		paths := func() []string {
			return run(b, "paths", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#files tbody a")).map(a => a.textContent)`))
		}
		b.do("many files", chromedp.Navigate(ui+"library?path_prefix="+url.QueryEscape(d.many)))
		b.click("sort by path", `th a[href*="sort=path"]`)
		asc := paths()
		b.click("sort by path, descending", `th a[href*="sort=path"]`)
		desc := paths()
		if len(asc) != 50 || len(desc) != 50 || !(asc[0] < asc[49]) || !(desc[0] > desc[49]) || asc[0] == desc[0] {
			t.Errorf("path sort: ascending %d files %q…%q, descending %d files %q…%q", len(asc), first(asc), last(asc), len(desc), first(desc), last(desc))
		}
		if mark := run(b, "aria-sort", chromedp.Evaluate[string](`document.querySelector('th[aria-sort="descending"]').textContent`)); mark != "Path" {
			t.Errorf("the descending column is %q", mark)
		}
		b.click("next page of the sort", `a[rel="next"]`)
		if next := paths(); len(next) != 50 || !(next[0] < desc[49]) {
			t.Errorf("second page of the descending sort starts with %q after %q", first(next), last(desc))
		}
		b.do("sort by size", chromedp.Navigate(ui+"library?sort=size&order=desc&path_prefix="+url.QueryEscape(d.lib)))
		sizes := run(b, "sizes", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#files tbody tr td:nth-child(4)")).map(td => td.textContent)`))
		if len(sizes) == 0 || b.count("#files tbody a") != 50 {
			t.Errorf("size sort: %d rows", len(sizes))
		}
		b.noInlineScript("library")
		b.shot("library-sorted")
		b.w.check(t, "search and sort")
	})

	var planURL string
	t.Run("policies and a preview over a directory", func(t *testing.T) {
		b.t = t
		b.do("open policies", chromedp.Navigate(ui+"policies"))
		if n := b.count("#policies tbody tr"); n != 2 {
			t.Errorf("%d policies listed, want 2", n)
		}
		if txt := b.text("#policies"); !strings.Contains(txt, "line 5, column 7") || !strings.Contains(txt, "invalid") {
			t.Errorf("the broken policy's problem is not shown with its position: %q", txt)
		}
		b.noInlineScript("policies")
		b.shot("policies")
		b.click("open english", `#policies a[href="/ui/policies/english"]`)
		if ph := b.text("#phases"); !strings.Contains(ph, "keep_audio") {
			t.Errorf("phases %q", ph)
		}
		b.do("type the directory", chromedp.SendKeys(chromedp.ID("preview-path"), d.plan))
		b.submit("preview", "#preview-path")
		if loc := b.location(); !strings.Contains(loc, "/ui/policies/english?job=") {
			t.Fatalf("after the preview: %q", loc)
		}
		// The page reloads when the plan job finishes.
		st := b.waitJS("preview finished", `(() => { const s = document.querySelector('#preview [data-field="state"]');
			return s && s.textContent === "completed" && document.querySelectorAll("#preview-plans a[href^='/ui/plans/']").length > 0 ? s.textContent : "" })()`)
		if st != "completed" {
			t.Errorf("preview state %q", st)
		}
		if got := b.text(`#preview [data-field="planned"]`); got != "1" {
			t.Errorf("%s files would change, want 1", got)
		}
		planURL = run(b, "plan link", chromedp.Evaluate[string](`document.querySelector("#preview-plans a[href^='/ui/plans/']").href`))
		b.noInlineScript("policy")
		b.scrollTo("h-preview")
		b.shot("policy-preview")
		b.w.check(t, "policies")
	})

	t.Run("a plan is reviewed, approved and applied; the file shows its new tracks and history", func(t *testing.T) {
		b.t = t
		if planURL == "" {
			t.Fatal("no plan from the preview")
		}
		b.do("open the plan", chromedp.Navigate(planURL))
		if n := b.count(".tracks-before tbody tr"); n != 4 {
			t.Errorf("before: %d tracks, want 4", n)
		}
		if n := b.count(".tracks-after tbody tr"); n != 3 {
			t.Errorf("after: %d tracks, want 3", n)
		}
		if n := b.count(".tracks-before tr.removed"); n != 1 {
			t.Errorf("%d removed tracks highlighted, want 1", n)
		}
		b.noInlineScript("plan")
		b.scrollTo("h-ba")
		b.shot("plan")
		b.click("approve", "#approve")
		if msg := b.text(".notice"); !strings.Contains(msg, "Plan approved") {
			t.Errorf("notice %q", msg)
		}
		fileURL := run(b, "file link", chromedp.Evaluate[string](`document.querySelector("main dl a[href^='/ui/files/']").href`))
		b.do("plans list", chromedp.Navigate(ui+"plans?state=approved"))
		if n := b.count("#plans tbody a[href^='/ui/plans/']"); n != 1 {
			t.Errorf("%d approved plans listed, want 1", n)
		}
		b.do("select all", chromedp.Click(chromedp.ID("select-all")))
		if n := b.count(`#plans input[name="id"]:checked`); n != 1 {
			t.Errorf("select all checked %d plans, want 1", n)
		}
		b.do("unselect all", chromedp.Click(chromedp.ID("select-all")))
		b.noInlineScript("plans")
		b.shot("plans")
		b.click("apply approved", "#apply-approved")
		if loc := b.location(); !strings.Contains(loc, "/ui/jobs/") || !strings.Contains(loc, "notice=apply-started") {
			t.Fatalf("after apply approved: %q", loc)
		}
		st := b.waitJS("apply finished", `(() => { const s = document.querySelector('[data-field="state"]');
			return s && (s.textContent === "completed" || s.textContent === "failed") ? s.textContent : "" })()`)
		if st != "completed" {
			t.Errorf("apply job %s", st)
		}
		if changed := b.waitJS("apply counters", `document.querySelector('[data-field="changed"]').textContent`); changed != "1" {
			t.Errorf("the apply job changed %s files, want 1", changed)
		}
		b.do("open the file", chromedp.Navigate(fileURL))
		if n := b.count("#tracks tbody tr"); n != 3 {
			t.Errorf("the file has %d tracks after the apply, want 3", n)
		}
		if tr := b.text("#tracks"); strings.Contains(tr, "fra") {
			t.Errorf("the French track is still listed: %q", tr)
		}
		if h := b.text("#file-history"); !strings.Contains(h, "applied") || !strings.Contains(h, "4 → 3 tracks") {
			t.Errorf("history %q", h)
		}
		if p := b.text("#file-policies"); !strings.Contains(p, "conformant") {
			t.Errorf("under the policy the file is not conformant now: %q", p)
		}
		b.noInlineScript("file")
		b.scrollTo("h-tracks")
		b.shot("file-history")
		b.w.check(t, "apply", "dialog opened: Apply every approved plan")
	})

	t.Run("hostile names are shown as text", func(t *testing.T) {
		b.t = t
		b.do("open the odd file", chromedp.Navigate(ui+"library?path_prefix="+url.QueryEscape(d.odd)))
		b.click("open the file", "#files tbody a")
		if h := b.text("main h1"); !strings.HasSuffix(h, `/odd/caf\xe9 <b>.mkv`) {
			t.Errorf("heading %q", h)
		}
		if title := b.text("#tracks tbody tr:nth-child(2) td:nth-child(5)"); title != `<script>alert("vpo")</script>` {
			t.Errorf("audio title %q", title)
		}
		if n := b.count("main script, main b"); n != 0 {
			t.Errorf("%d elements came from the media's names", n)
		}
		b.shot("file")
		b.w.check(t, "file")
	})

	t.Run("settings", func(t *testing.T) {
		b.t = t
		b.do("open settings", chromedp.Navigate(ui+"settings"))
		body := b.text("#settings")
		if !strings.Contains(body, "(set, redacted)") || strings.Contains(body, token) {
			t.Errorf("the token is not redacted")
		}
		b.shot("settings")
		b.w.check(t, "settings")
	})

	t.Run("phone", func(t *testing.T) {
		b.t = t
		b.do("phone viewport", chromedp.EmulateViewport(390, 844), chromedp.Navigate(ui))
		wide := run(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if wide > 390 {
			t.Errorf("the dashboard is %d px wide on a 390 px phone", wide)
		}
		b.shot("dashboard-phone")
		b.do("desktop viewport", chromedp.EmulateViewport(1100, 800), chromedp.Navigate(ui))
		b.shot("dashboard")
		b.w.check(t, "phone")
	})

	t.Run("forged form posts are refused", func(t *testing.T) {
		b.t = t
		before := len(d.apiJobs(t))
		// Another site's page that posts a form to vpo as soon as it loads.
		evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprintf(w, `<!doctype html><title>evil</title>
<form id="f" method="post" action="%s/ui/jobs"><input name="path" value="%s"><input name="csrf" value="forged"></form>
<script>document.getElementById("f").submit()</script>`, d.base, d.lib)
		}))
		defer evil.Close()
		evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1) // another site than 127.0.0.1
		ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
		resp, err := chromedp.Run(ctx, chromedp.WaitEvent(network.ResponseReceived, func(ev network.EventResponseReceived) bool {
			return strings.HasPrefix(ev.Response.URL, d.base)
		}, chromedp.Navigate(evilURL)))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if resp.Response.Status != http.StatusForbidden {
			t.Errorf("the forged post got %d, want 403", resp.Response.Status)
		}
		time.Sleep(200 * time.Millisecond)
		// The same from vpo's own page, without the CSRF token: a script that
		// slipped in could do this.
		b.do("open dashboard", chromedp.Navigate(ui))
		status := run(b, "post without the CSRF token", chromedp.Evaluate[int](`fetch("/ui/jobs", {method: "POST",
			headers: {"Content-Type": "application/x-www-form-urlencoded"},
			body: "path=" + encodeURIComponent(`+strconv.Quote(d.lib)+`)}).then(r => r.status)`, chromedp.EvalAwaitPromise))
		if status != http.StatusForbidden {
			t.Errorf("a post without the CSRF token got %d, want 403", status)
		}
		if after := len(d.apiJobs(t)); after != before {
			t.Errorf("forged posts created %d jobs", after-before)
		}
		b.w.check(t, "forged posts", "HTTP 403", "status of 403")
	})

	t.Run("logout", func(t *testing.T) {
		b.t = t
		d.waitIdle(t)
		b.do("open dashboard", chromedp.Navigate(ui))
		// The event stream is connected.
		if st := run(b, "live status", chromedp.Poll[string](`(() => { const s = document.getElementById("live-status").textContent; return s === "Live" ? s : null })()`)); st != "Live" {
			t.Errorf("live status %q", st)
		}
		b.click("log out", "form.logout button")
		if loc := b.location(); loc != d.base+"/ui/login?notice=logged-out" {
			t.Errorf("after logout: %q", loc)
		}
		if msg := b.text(".notice"); msg != "You are logged out." {
			t.Errorf("notice %q", msg)
		}
		b.do("open library", chromedp.Navigate(ui+"library"))
		if loc := b.location(); !strings.HasPrefix(loc, d.base+"/ui/login?next=") {
			t.Errorf("the library after logout: %q", loc)
		}
		b.w.check(t, "logout")
	})
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}
