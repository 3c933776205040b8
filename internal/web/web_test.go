package web

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/testmedia"
	"github.com/vpo-project/vpo/internal/watch"
)

var (
	scriptTagRE = regexp.MustCompile(`<script[^>]*>`)
	assetRE     = regexp.MustCompile(`(?:href|src)="(/ui/static/[^"]+)"`)
)

func sampleTracks(title string) []probe.Track {
	return []probe.Track{
		{Index: 0, Type: "video", Codec: "h264", Default: true, Width: 1920, Height: 1080, FrameRate: 23.976},
		{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Title: title, Default: true, Channels: 2, ChannelLayout: "stereo"},
		{Index: 2, Type: "subtitle", Codec: "subrip", Language: "fra", Forced: true},
	}
}

// TestPagesOpen loads every page of an open UI (no token) and checks what every
// page must have: HTML, the security headers, no inline script, assets that load.
func TestPagesOpen(t *testing.T) {
	b := setup(t, setupOpts{})
	fileID := b.record(t, "/lib/movies/One.mkv", "matroska,webm", sampleTracks("English")...)
	jobID, err := b.app.Jobs.Insert(context.Background(), library.ScanArgs{Path: "/lib/movies"})
	if err != nil {
		t.Fatal(err)
	}
	c := b.client(t)
	pages := []struct {
		name, path, want string
	}{
		{"dashboard", "/ui/", "Dashboard"},
		{"jobs", "/ui/jobs", "Jobs, newest first"},
		{"jobs filtered", "/ui/jobs?state=queued&type=scan", "(filtered)"},
		{"job", fmt.Sprintf("/ui/jobs/%d", jobID), "/lib/movies"},
		{"library", "/ui/library", "One.mkv"},
		{"library filtered", "/ui/library?container=matroska&codec=h264&language=eng&missing=no&path_prefix=/lib", "One.mkv"},
		{"file", fmt.Sprintf("/ui/files/%d", fileID), "subrip"},
		{"settings", "/ui/settings", "server.auth_token"},
		{"policies", "/ui/policies", "No policy files in this directory."},
		{"plans", "/ui/plans", "No plans yet"},
		{"plans filtered", "/ui/plans?state=approved&policy=x&path_prefix=/lib", "No plans match these filters"},
		{"library searched and sorted", "/ui/library?q=one&sort=size&order=desc", "One.mkv"},
		{"jobs of a plan type", "/ui/jobs?type=plan", "(filtered)"},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			r := c.get(p.path)
			mustStatus(t, p.path, r, http.StatusOK)
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			csp := r.header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers: %v", r.header)
			}
			if !strings.Contains(r.body, p.want) {
				t.Errorf("page does not contain %q:\n%s", p.want, r.body)
			}
			for _, tag := range scriptTagRE.FindAllString(r.body, -1) {
				if !strings.Contains(tag, ` src="/ui/static/`) {
					t.Errorf("inline or foreign script: %s", tag)
				}
			}
			if p.name == "settings" && !strings.Contains(r.body, "(not set)") {
				t.Errorf("settings page does not say the token is not set")
			}
			for _, m := range assetRE.FindAllStringSubmatch(r.body, -1) {
				u := strings.ReplaceAll(m[1], "&amp;", "&")
				a := c.get(u)
				mustStatus(t, u, a, http.StatusOK)
				if !strings.Contains(a.header.Get("Cache-Control"), "immutable") {
					t.Errorf("%s: Cache-Control %q", u, a.header.Get("Cache-Control"))
				}
			}
		})
	}
	if r := c.get("/ui/nope"); r.status != http.StatusNotFound || !strings.Contains(r.body, "no page at this address") {
		t.Errorf("unknown page: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/ui/files/99999", "/ui/jobs/99999", "/ui/jobs/abc", "/ui/plans/99999", "/ui/plans/abc", "/ui/policies/nope"} {
		mustStatus(t, p, c.get(p), http.StatusNotFound)
	}
	for _, p := range []string{"/ui/jobs?state=bogus", "/ui/library?missing=maybe", "/ui/library?path_prefix=relative", "/ui/library?cursor=-3"} {
		mustStatus(t, p, c.get(p), http.StatusBadRequest)
	}
}

// TestEscaping puts what hostile media could carry into the catalogue: a track
// title with a script and a file name that is not UTF-8. The pages must show them
// as text.
func TestEscaping(t *testing.T) {
	b := setup(t, setupOpts{})
	evil := `<script>alert("pwned")</script>`
	path := "/lib/caf\xe9 \"<img src=x onerror=alert(1)>\".mkv"
	id := b.record(t, path, "matroska,webm", sampleTracks(evil)...)
	c := b.client(t)
	for _, page := range []string{fmt.Sprintf("/ui/files/%d", id), "/ui/library"} {
		r := c.get(page)
		mustStatus(t, page, r, http.StatusOK)
		if strings.Contains(r.body, "<script>alert") || strings.Contains(r.body, "<img src=x") {
			t.Errorf("%s: unescaped markup from the media:\n%s", page, r.body)
		}
		if !utf8.ValidString(r.body) {
			t.Errorf("%s: the page is not valid UTF-8", page)
		}
		if !strings.Contains(r.body, `caf\xe9 &#34;&lt;img src=x onerror=alert(1)&gt;&#34;.mkv`) {
			t.Errorf("%s: the non-UTF-8 name is not shown with its byte escaped:\n%s", page, r.body)
		}
	}
	r := c.get(fmt.Sprintf("/ui/files/%d", id))
	if !strings.Contains(r.body, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
		t.Errorf("the title is not shown escaped:\n%s", r.body)
	}
	// The link to the file's directory carries the raw bytes, percent-encoded.
	if !strings.Contains(r.body, `href="/ui/library?path_prefix=%2flib"`) {
		t.Errorf("no link to the directory:\n%s", r.body)
	}
	id2 := b.record(t, "/lib/\xff dir/a.mkv", "matroska,webm")
	r = c.get(fmt.Sprintf("/ui/files/%d", id2))
	if !strings.Contains(r.body, `href="/ui/library?path_prefix=%2flib%2f%ff%20dir"`) || !strings.Contains(r.body, `/lib/\xff dir</a>`) {
		t.Errorf("the link to a non-UTF-8 directory:\n%s", r.body)
	}
	r = c.get("/ui/library?path_prefix=%2flib%2f%ff%20dir")
	if !strings.Contains(r.body, fmt.Sprintf(`href="/ui/files/%d"`, id2)) || strings.Contains(r.body, fmt.Sprintf(`href="/ui/files/%d"`, id)) {
		t.Errorf("the non-UTF-8 directory filter:\n%s", r.body)
	}
}

func TestLoginFlow(t *testing.T) {
	b := setup(t, setupOpts{token: testToken})
	secretPath := "/lib/secret/Private.mkv"
	fileID := b.record(t, secretPath, "matroska,webm", sampleTracks("x")...)
	c := b.client(t)

	// Anonymous: every page sends to the login form, and shows nothing of the catalogue.
	for _, p := range []string{"/ui/", "/ui/library?codec=h264", fmt.Sprintf("/ui/files/%d", fileID), "/ui/settings", "/ui/jobs"} {
		r := c.get(p)
		mustStatus(t, p, r, http.StatusSeeOther)
		want := "/ui/login?next=" + url.QueryEscape(p)
		if loc := r.header.Get("Location"); loc != want {
			t.Errorf("GET %s: Location %q, want %q", p, loc, want)
		}
		if strings.Contains(r.body, "Private") {
			t.Errorf("GET %s leaks the catalogue: %s", p, r.body)
		}
	}
	if r := c.get("/ui/events"); r.status != http.StatusUnauthorized {
		t.Errorf("anonymous event stream: %d", r.status)
	}
	login := c.get("/ui/login")
	mustStatus(t, "login form", login, http.StatusOK)
	if strings.Contains(login.body, "Private") || strings.Contains(login.body, testToken) || strings.Contains(login.body, `href="/ui/library"`) {
		t.Errorf("the login page leaks:\n%s", login.body)
	}
	// The assets are public: the login page needs them.
	for _, m := range assetRE.FindAllStringSubmatch(login.body, -1) {
		mustStatus(t, m[1], c.get(strings.ReplaceAll(m[1], "&amp;", "&")), http.StatusOK)
	}

	// A form post without the CSRF token is refused, even with the right token.
	r := c.post("/ui/login", url.Values{"token": {testToken}})
	mustStatus(t, "login without CSRF", r, http.StatusForbidden)

	// A wrong token: 401, the form again, a warning with the peer.
	r = c.post("/ui/login", url.Values{"csrf": {c.csrf("/ui/login")}, "token": {"wrong-token-wrong-token"}})
	mustStatus(t, "wrong token", r, http.StatusUnauthorized)
	if !strings.Contains(r.body, "That is not vpo&#39;s token.") {
		t.Errorf("wrong token page:\n%s", r.body)
	}
	if logs := b.logs.String(); !strings.Contains(logs, `level=WARN msg="ui login failed: wrong token" peer=127.0.0.1`) {
		t.Errorf("no warning for the failed login:\n%s", logs)
	}
	if strings.Contains(b.logs.String(), "wrong-token-wrong-token") || strings.Contains(b.logs.String(), testToken) {
		t.Errorf("a token was logged")
	}

	// The right token: a session cookie with the right attributes, then the pages.
	r = c.post("/ui/login", url.Values{"csrf": {c.csrf("/ui/login")}, "token": {testToken},
		"next": {fmt.Sprintf("/ui/files/%d", fileID)}})
	mustStatus(t, "login", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != fmt.Sprintf("/ui/files/%d", fileID) {
		t.Errorf("after login, Location %q", loc)
	}
	cookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"vpo_session=", "Path=/ui", "HttpOnly", "SameSite=Strict", "Max-Age=43200"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %q", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("cookie over plain HTTP is Secure: %q", cookie)
	}
	settings := c.get("/ui/settings")
	if !strings.Contains(settings.body, "(set, redacted)") || strings.Contains(settings.body, testToken) {
		t.Errorf("the settings page does not redact the token:\n%s", settings.body)
	}
	sessionID := strings.TrimPrefix(strings.SplitN(cookie, ";", 2)[0], "vpo_session=")
	r = c.get(fmt.Sprintf("/ui/files/%d", fileID))
	mustStatus(t, "file after login", r, http.StatusOK)
	if !strings.Contains(r.body, "Private.mkv") || !strings.Contains(r.body, "Log out") {
		t.Errorf("file page after login:\n%s", r.body)
	}

	// Logout revokes the session on the server: the old cookie no longer works.
	r = c.post("/ui/logout", url.Values{"csrf": {c.csrf("/ui/")}})
	mustStatus(t, "logout", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/ui/login?notice=logged-out" {
		t.Errorf("after logout, Location %q", loc)
	}
	mustStatus(t, "dashboard after logout", c.get("/ui/"), http.StatusSeeOther)
	req := httptest.NewRequest(http.MethodGet, "/ui/", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sessionID})
	rec := httptest.NewRecorder()
	b.ui.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Errorf("the logged-out session's cookie still works: %d", rec.Code)
	}

	// A destination outside the UI is not followed after login.
	c2 := b.client(t)
	r = c2.post("/ui/login", url.Values{"csrf": {c2.csrf("/ui/login")}, "token": {testToken}, "next": {"//evil.example/"}})
	mustStatus(t, "login with foreign next", r, http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/ui/" {
		t.Errorf("foreign next: Location %q", loc)
	}
}

func TestSessionExpires(t *testing.T) {
	b := setup(t, setupOpts{token: testToken})
	b.ui.sessions.lifetime = 50 * time.Millisecond
	c := b.client(t)
	mustStatus(t, "login", c.login(testToken), http.StatusSeeOther)
	mustStatus(t, "dashboard", c.get("/ui/"), http.StatusOK)
	time.Sleep(80 * time.Millisecond)
	mustStatus(t, "dashboard after expiry", c.get("/ui/"), http.StatusSeeOther)
}

func TestLoginRateLimit(t *testing.T) {
	b := setup(t, setupOpts{token: testToken})
	c := b.client(t)
	for i := range loginBurst {
		r := c.post("/ui/login", url.Values{"csrf": {c.csrf("/ui/login")}, "token": {"guess-" + strconv.Itoa(i)}})
		mustStatus(t, "guess", r, http.StatusUnauthorized)
	}
	for range 2 {
		r := c.post("/ui/login", url.Values{"csrf": {c.csrf("/ui/login")}, "token": {testToken}})
		mustStatus(t, "login while limited", r, http.StatusTooManyRequests)
		if r.header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After")
		}
	}
	if n := strings.Count(b.logs.String(), "too many failed logins"); n != 1 {
		t.Errorf("the limit was logged %d times, want once", n)
	}
	// Another peer (behind a proxy on loopback) is not limited.
	req := httptest.NewRequest(http.MethodGet, "/ui/login", nil)
	req.RemoteAddr = "127.0.0.1:5555"
	req.Header.Set("X-Forwarded-For", "192.0.2.7")
	if p := peerOf(req); p != "192.0.2.7" {
		t.Errorf("peer behind a loopback proxy: %q", p)
	}
	req.RemoteAddr = "198.51.100.1:5555"
	if p := peerOf(req); p != "198.51.100.1" {
		t.Errorf("X-Forwarded-For from a non-loopback peer was trusted: %q", p)
	}
}

func TestSecureCookie(t *testing.T) {
	b := setup(t, setupOpts{token: testToken})
	cases := []struct {
		name, remote, proto string
		secure              bool
	}{
		{"plain", "127.0.0.1:4000", "", false},
		{"loopback proxy says https", "127.0.0.1:4000", "https", true},
		{"foreign peer says https", "192.0.2.1:4000", "https", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/ui/login", nil)
			req.RemoteAddr = tc.remote
			if tc.proto != "" {
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			rec := httptest.NewRecorder()
			b.ui.ServeHTTP(rec, req)
			cookie := rec.Header().Get("Set-Cookie")
			if got := strings.Contains(cookie, "; Secure"); got != tc.secure {
				t.Errorf("Set-Cookie %q: Secure %v, want %v", cookie, got, tc.secure)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	b := setup(t, setupOpts{})
	ctx := context.Background()
	id, err := b.app.Jobs.Insert(ctx, library.ScanArgs{Path: "/lib"})
	if err != nil {
		t.Fatal(err)
	}
	cancelPath := fmt.Sprintf("/ui/jobs/%d/cancel", id)
	c, other := b.client(t), b.client(t)
	cases := []struct {
		name string
		form url.Values
	}{
		{"no token", url.Values{}},
		{"empty token", url.Values{"csrf": {""}}},
		{"another visitor's token", url.Values{"csrf": {other.csrf("/ui/")}}},
		{"garbage", url.Values{"csrf": {"AAAA"}}},
	}
	c.get("/ui/") // c gets its cookie
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post(cancelPath, tc.form)
			mustStatus(t, "forged cancel", r, http.StatusForbidden)
			if !strings.Contains(r.body, "CSRF token is missing or wrong") {
				t.Errorf("body:\n%s", r.body)
			}
		})
	}
	if j, _ := b.app.Jobs.Get(ctx, id); j.State != jobs.StateQueued {
		t.Fatalf("a forged post changed the job: %s", j.State)
	}
	if !strings.Contains(b.logs.String(), "missing or wrong CSRF token") {
		t.Errorf("the refusal was not logged")
	}
	r := c.post(cancelPath, url.Values{"csrf": {c.csrf(fmt.Sprintf("/ui/jobs/%d", id))}})
	mustStatus(t, "cancel", r, http.StatusSeeOther)
	if j, _ := b.app.Jobs.Get(ctx, id); j.State != jobs.StateCancelled {
		t.Fatalf("after cancel the job is %s", j.State)
	}
	r = c.get(r.header.Get("Location"))
	if !strings.Contains(r.body, "Cancellation requested") || !strings.Contains(r.body, "cancelled") {
		t.Errorf("job page after cancel:\n%s", r.body)
	}
	// The header works as well as the field (for scripts).
	req, _ := http.NewRequest(http.MethodPost, b.srv.URL+cancelPath, nil)
	req.Header.Set("X-CSRF-Token", c.csrf("/ui/"))
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "already-finished") {
		t.Errorf("cancel with the header: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestStartScan(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, "lib")
	testmedia.Make(t, lib)
	b := setup(t, setupOpts{start: true, roots: []string{root}})
	c := b.client(t)
	bad := []struct {
		name, path, want string
	}{
		{"empty", "", "Give the directory to scan."},
		{"relative", "lib", "is not absolute"},
		{"missing", filepath.Join(root, "nope"), "does not exist"},
		{"outside the roots", os.TempDir(), "is outside the library roots"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			r := c.post("/ui/jobs", url.Values{"csrf": {c.csrf("/ui/")}, "path": {tc.path}})
			mustStatus(t, "bad scan", r, http.StatusUnprocessableEntity)
			if !strings.Contains(r.body, tc.want) || !strings.Contains(r.body, `role="alert"`) {
				t.Errorf("refusal does not say %q:\n%s", tc.want, r.body)
			}
		})
	}
	r := c.post("/ui/jobs", url.Values{"csrf": {c.csrf("/ui/")}, "path": {lib}})
	mustStatus(t, "scan", r, http.StatusSeeOther)
	loc := r.header.Get("Location")
	id, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(loc, "/ui/jobs/"), "?notice=scan-started"), 10, 64)
	if err != nil {
		t.Fatalf("Location %q", loc)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		j, err := b.app.Jobs.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == jobs.StateCompleted {
			break
		}
		if j.State == jobs.StateFailed || time.Now().After(deadline) {
			t.Fatalf("scan job %d is %s: %v", id, j.State, j.Errors)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = c.get(loc)
	for _, want := range []string{"Scan queued.", "completed", `data-field="found">5<`, `data-field="failed">3<`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("job page lacks %q:\n%s", want, r.body)
		}
	}
	// The library now lists the scanned files and filters them.
	r = c.get("/ui/library?container=matroska")
	if !strings.Contains(r.body, "sample.mkv") || strings.Contains(r.body, "sample.mp4") {
		t.Errorf("container filter:\n%s", r.body)
	}
	r = c.get("/ui/library?language=fra")
	if !strings.Contains(r.body, "sample.mkv") || strings.Contains(r.body, "sample.mp4") {
		t.Errorf("language filter:\n%s", r.body)
	}
}

func TestLibraryPages(t *testing.T) {
	b := setup(t, setupOpts{})
	for i := range 120 {
		container, lang := "matroska,webm", "eng"
		if i%3 == 0 {
			container, lang = "mov,mp4,m4a,3gp,3g2,mj2", "jpn"
		}
		b.record(t, fmt.Sprintf("/lib/d%d/f%03d.mkv", i%2, i), container,
			probe.Track{Index: 0, Type: "audio", Codec: "aac", Language: lang})
	}
	c := b.client(t)
	rowRE := regexp.MustCompile(`<a href="/ui/files/\d+">`)
	nextRE := regexp.MustCompile(`<a href="([^"]+)" rel="next">`)
	seen := 0
	page := "/ui/library"
	for n := 0; ; n++ {
		r := c.get(page)
		mustStatus(t, page, r, http.StatusOK)
		rows := len(rowRE.FindAllString(r.body, -1))
		seen += rows
		m := nextRE.FindStringSubmatch(r.body)
		if m == nil {
			if rows != 20 {
				t.Errorf("last page has %d rows, want 20", rows)
			}
			break
		}
		if rows != pageSize {
			t.Errorf("page %d has %d rows, want %d", n, rows, pageSize)
		}
		page = "/ui/library" + strings.ReplaceAll(m[1], "&amp;", "&")
	}
	if seen != 120 {
		t.Errorf("the pages listed %d files, want 120", seen)
	}
	filters := []struct {
		name, query string
		want        int
	}{
		{"container", "container=mp4", 40},
		{"language", "language=jpn", 40},
		{"directory", "path_prefix=/lib/d1", 50}, // 60 match: one full page
		{"directory and language", "path_prefix=/lib/d1&language=jpn", 20},
		{"missing", "missing=yes", 0},
	}
	for _, f := range filters {
		t.Run(f.name, func(t *testing.T) {
			r := c.get("/ui/library?" + f.query)
			mustStatus(t, f.query, r, http.StatusOK)
			if n := len(rowRE.FindAllString(r.body, -1)); n != f.want {
				t.Errorf("%s: %d rows, want %d", f.query, n, f.want)
			}
			if !strings.Contains(r.body, "(filtered)") {
				t.Errorf("the page does not say it is filtered")
			}
		})
	}
	// The dashboard shows the totals, counted in the background.
	r := c.get("/ui/")
	for _, want := range []string{`<a href="/ui/library">120</a>`, `<a href="/ui/library?language=jpn">jpn</a>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("dashboard lacks %q:\n%s", want, r.body)
		}
	}
}

// TestEvents reads the live stream: the summary and the followed jobs, and the end
// of the stream when the UI closes.
func TestEvents(t *testing.T) {
	b := setup(t, setupOpts{})
	id, err := b.app.Jobs.Insert(context.Background(), library.ScanArgs{Path: "/lib"})
	if err != nil {
		t.Fatal(err)
	}
	c := b.client(t)
	mustStatus(t, "bad ids", c.get("/ui/events?jobs=1,x"), http.StatusBadRequest)

	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/ui/events?jobs=%d,999999", b.srv.URL, id), nil)
	resp, err := (&http.Client{}).Do(req) //nolint:bodyclose // closed by the defer below; the linter loses it in the goroutine
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var got []string
	timeout := time.After(10 * time.Second)
	for len(got) < 6 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended early: %q", got)
			}
			if l != "" {
				got = append(got, l)
			}
		case <-timeout:
			t.Fatalf("no events: %q", got)
		}
	}
	want := []string{
		"retry: 3000",
		"event: summary",
		fmt.Sprintf(`data: {"queued":1,"running":0,"active":[{"id":%d,"type":"scan","state":"queued","path":"/lib",`, id),
		"event: jobs",
		`data: [{"id":999999,"type":"","state":"gone",`,
		"",
	}
	for i, w := range want[:5] {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("line %d: %q, want prefix %q", i, got[i], w)
		}
	}
	if !strings.Contains(got[4], fmt.Sprintf(`{"id":%d,"type":"scan","state":"queued"`, id)) {
		t.Errorf("the followed job is missing: %s", got[4])
	}
	done := make(chan struct{})
	go func() { b.ui.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the stream")
	}
	for l := range lines {
		got = append(got, l)
	}
	if !strings.Contains(strings.Join(got, "\n"), "event: bye") {
		t.Errorf("no bye event at close: %q", got)
	}
	// After Close, new streams are refused.
	mustStatus(t, "stream after close", c.get("/ui/events"), http.StatusServiceUnavailable)
}

// TestEventsEndWithSession checks that a stream ends when its session does.
func TestEventsEndWithSession(t *testing.T) {
	b := setup(t, setupOpts{token: testToken})
	c := b.client(t)
	mustStatus(t, "login", c.login(testToken), http.StatusSeeOther)
	req, _ := http.NewRequest(http.MethodGet, b.srv.URL+"/ui/events", nil)
	resp, err := c.hc.Do(req) //nolint:bodyclose // closed by the defer below; the linter loses it in the goroutine
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	mustStatus(t, "logout", c.post("/ui/logout", url.Values{"csrf": {c.csrf("/ui/")}}), http.StatusSeeOther)
	all := make(chan string)
	go func() {
		var sb strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
		}
		all <- sb.String()
	}()
	select {
	case s := <-all:
		if !strings.Contains(s, "event: logout") {
			t.Errorf("stream ended without a logout event:\n%s", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream outlived its session")
	}
}

func TestDisplayPath(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"ascii", "/a/b.mkv", "/a/b.mkv"},
		{"utf-8", "/a/Amélie.mkv", "/a/Amélie.mkv"},
		{"latin-1 byte", "/a/caf\xe9.mkv", `/a/caf\xe9.mkv`},
		{"truncated sequence", "/a/\xe2\x82.mkv", `/a/\xe2\x82.mkv`},
		{"mixed", "é\xffé", `é\xffé`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := displayPath(tc.in); got != tc.want {
				t.Errorf("displayPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestSafeNext(t *testing.T) {
	cases := []struct{ in, want string }{
		{"/ui/jobs?state=failed", "/ui/jobs?state=failed"},
		{"", "/ui/"},
		{"//evil.example/ui/", "/ui/"},
		{"https://evil.example/ui/", "/ui/"},
		{"/api/jobs", "/ui/"},
		{"/ui/\\evil", "/ui/"},
		{"/ui/\r\nSet-Cookie: x", "/ui/"},
	}
	for _, tc := range cases {
		if got := safeNext(tc.in); got != tc.want {
			t.Errorf("safeNext(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHumanFormats(t *testing.T) {
	cases := []struct{ got, want string }{
		{humanBytes(0), "0 B"},
		{humanBytes(1023), "1023 B"},
		{humanBytes(1536), "1.5 KiB"},
		{humanBytes(5 << 30), "5.0 GiB"},
		{humanDuration(0), ""},
		{humanDuration(83.5), "1:24"},
		{humanDuration(7322), "2:02:02"},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// TestCrossSiteRequestsKeepTheSession checks that requests arriving without the
// session cookie (SameSite=Strict withholds it from requests other sites start)
// never replace it: a forged cross-site post must not log the visitor out.
func TestCrossSiteRequestsKeepTheSession(t *testing.T) {
	b := setup(t, setupOpts{token: testToken})
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req := httptest.NewRequest(method, "/ui/jobs", strings.NewReader("path=/x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		b.ui.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			if c.Name == sessionCookie {
				t.Errorf("%s without cookies set the session cookie: %v", method, c)
			}
			if method == http.MethodPost {
				t.Errorf("a POST without cookies set a cookie: %v", c)
			}
		}
	}
}

func TestDashboardWatchedRoots(t *testing.T) {
	b := setup(t, setupOpts{})
	b.ui.deps.WatchStates = func() []watch.RootState {
		return []watch.RootState{
			{Path: "/srv/media", Watch: watch.StateOK, Directories: 12},
			{Path: "/srv/big", Watch: watch.StateDegraded, Directories: 8192, Pending: 3, Reason: "inotify watch limit reached"},
		}
	}
	r := b.client(t).get("/ui/")
	for _, want := range []string{
		`<strong class="path">/srv/media</strong>: <span class="status status-healthy">ok</span>, 12 directories</li>`,
		`<span class="status status-degraded">degraded</span>, 8192 directories, 3 files settling (inotify watch limit reached)`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("dashboard lacks %q:\n%s", want, r.body)
		}
	}
}
