package httpapi

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/logging"
)

// decodeError decodes a JSON error body, failing the test when it is not one.
func decodeError(t *testing.T, body []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not a JSON error: %q", body)
	}
	return e
}

func TestHostPolicy(t *testing.T) {
	t.Parallel()
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8321}
	lan := &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 8321}
	tests := []struct {
		name    string
		addr    net.Addr
		allowed []string
		host    string
		want    bool
	}{
		{name: "bound address with port", addr: loopback, host: "127.0.0.1:8321", want: true},
		{name: "bound address without port", addr: lan, host: "192.0.2.10", want: true},
		{name: "bound address on another port", addr: lan, host: "192.0.2.10:9000", want: true},
		{name: "localhost", addr: lan, host: "localhost:8321", want: true},
		{name: "localhost upper case, trailing dot", addr: lan, host: "LocalHost.:8321", want: true},
		{name: "localhost without port", host: "localhost", want: true},
		{name: "127/8", addr: lan, host: "127.3.4.5:8321", want: true},
		{name: "::1", addr: lan, host: "[::1]:8321", want: true},
		{name: "::1 without port", host: "[::1]", want: true},
		{name: "::1 long form", host: "[0:0:0:0:0:0:0:1]:8321", want: true},
		{name: "no address: loopback only", host: "192.0.2.10:8321", want: false},
		{name: "rebinding name", addr: loopback, host: "evil.example:8321", want: false},
		{name: "rebinding name without port", addr: loopback, host: "evil.example", want: false},
		{name: "subdomain of localhost is not localhost", addr: loopback, host: "localhost.evil.example", want: false},
		{name: "another LAN address", addr: lan, host: "192.0.2.11:8321", want: false},
		{name: "the wildcard literal is not a host of a specific bind", addr: lan, host: "0.0.0.0:8321", want: false},
		{name: "empty", addr: loopback, host: "", want: false},
		{name: "allowed name", addr: loopback, allowed: []string{"vpo.example.com"}, host: "vpo.example.com:443", want: true},
		{name: "allowed name, any case", addr: loopback, allowed: []string{"VPO.example.com."}, host: "vpo.EXAMPLE.com", want: true},
		{name: "allowed name with port", addr: loopback, allowed: []string{"vpo.lan:8321"}, host: "vpo.lan:8321", want: true},
		{name: "allowed name with port, other port", addr: loopback, allowed: []string{"vpo.lan:8321"}, host: "vpo.lan:80", want: false},
		{name: "allowed name with port, no port", addr: loopback, allowed: []string{"vpo.lan:8321"}, host: "vpo.lan", want: false},
		{name: "allowed IPv6", addr: loopback, allowed: []string{"fd00::5"}, host: "[fd00::5]:8321", want: true},
		{name: "allowed list does not allow others", addr: loopback, allowed: []string{"vpo.lan"}, host: "evil.example", want: false},
		{name: "star disables the check", addr: loopback, allowed: []string{"vpo.lan", "*"}, host: "evil.example:8321", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := newHostPolicy(tt.addr, tt.allowed).allowed(tt.host); got != tt.want {
				t.Errorf("allowed(%q) = %v, want %v", tt.host, got, tt.want)
			}
		})
	}
}

// On a wildcard bind, the machine's own interface addresses and host name are
// vpo's names; other addresses and names are not.
func TestHostPolicyWildcard(t *testing.T) {
	t.Parallel()
	for _, bind := range []string{"0.0.0.0", "::"} {
		t.Run(bind, func(t *testing.T) {
			t.Parallel()
			p := newHostPolicy(&net.TCPAddr{IP: net.ParseIP(bind), Port: 8321}, nil)
			addrs, err := net.InterfaceAddrs()
			if err != nil || len(addrs) == 0 {
				t.Fatalf("interface addresses: %v %v", addrs, err)
			}
			for _, a := range addrs {
				ip := a.(*net.IPNet).IP
				if host := net.JoinHostPort(ip.String(), "8321"); !p.allowed(host) {
					t.Errorf("own interface address %s refused", host)
				}
			}
			name, err := os.Hostname()
			if err != nil {
				t.Fatal(err)
			}
			name = strings.TrimSuffix(name, ".local")
			for _, h := range []string{name, name + ":8321", name + ".local:8321", strings.ToUpper(name)} {
				if !p.allowed(h) {
					t.Errorf("own host name %q refused", h)
				}
			}
			for _, h := range []string{"203.0.113.7:8321", "[2001:db8::7]:8321", "evil.example:8321", name + ".evil.example"} {
				if p.allowed(h) {
					t.Errorf("foreign host %q accepted", h)
				}
			}
		})
	}
}

// An address added after startup is accepted once the interface list is re-read.
func TestHostPolicyWildcardRefresh(t *testing.T) {
	t.Parallel()
	p := newHostPolicy(&net.TCPAddr{IP: net.IPv4zero, Port: 8321}, nil)
	addrs := []net.Addr{&net.IPNet{IP: net.ParseIP("192.0.2.2"), Mask: net.CIDRMask(24, 32)}}
	p.interfaceAddrs = func() ([]net.Addr, error) { return addrs, nil }
	if !p.allowed("192.0.2.2:8321") || p.allowed("192.0.2.3:8321") {
		t.Fatal("first interface list not applied")
	}
	addrs = append(addrs, &net.IPNet{IP: net.ParseIP("192.0.2.3"), Mask: net.CIDRMask(24, 32)})
	if p.allowed("192.0.2.3:8321") {
		t.Fatal("interface list re-read before ifaceRefresh")
	}
	time.Sleep(ifaceRefresh + 50*time.Millisecond)
	if !p.allowed("192.0.2.3:8321") {
		t.Fatal("new interface address refused after ifaceRefresh")
	}
}

// A DNS-rebinding Host is refused on every route, /health included, with a JSON
// error that names the host and the setting.
func TestForeignHostRefused(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(d *Deps) { d.Addr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8321} })
	h := b.api.Handler()
	for _, target := range []string{"/health", "/api/files", "/api/jobs", "/nope"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", target, nil)
		req.Host = "evil.example:8321"
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("GET %s with a foreign Host: %d %s", target, rec.Code, rec.Body)
		}
		e := decodeError(t, rec.Body.Bytes())
		want := `host "evil.example:8321" is not allowed: vpo answers only to its own address, loopback names and ` +
			`server.allowed_hosts (a guard against DNS rebinding); to reach vpo by this name, add "evil.example" to server.allowed_hosts`
		if e.Error.Code != "forbidden_host" || e.Error.Message != want {
			t.Fatalf("GET %s: %+v", target, e.Error)
		}
	}
	// Also a POST: refused before it is queued.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("POST", "/api/jobs", strings.NewReader(`{"type":"scan","path":"`+b.root+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Host = "evil.example"
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || b.queued(t) != 0 {
		t.Fatalf("POST with a foreign Host: %d %s; %d queued", rec.Code, rec.Body, b.queued(t))
	}
	// The same request names vpo in its allowed hosts: accepted.
	b = newBundle(t, func(d *Deps) { d.AllowedHosts = []string{"evil.example"} })
	rec = httptest.NewRecorder()
	req = httptest.NewRequest("GET", "/api/files", nil)
	req.Host = "evil.example:8321"
	b.api.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET with an allowed Host: %d %s", rec.Code, rec.Body)
	}
}

// Over real loopback: a browser-like request with a foreign Host is refused; an
// HTTP/1.0 request without any Host header is answered (no browser sends one).
func TestHostCheckOverLoopback(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	srv := httptest.NewServer(b.api.Handler())
	t.Cleanup(srv.Close)

	req, err := http.NewRequest("GET", srv.URL+"/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "evil.example:8321"
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign Host over loopback: %d", resp.StatusCode)
	}

	for _, tt := range []struct {
		request string
		want    string
	}{
		{"GET /api/jobs HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK"},
		{"GET /api/jobs HTTP/1.0\r\nHost: evil.example\r\n\r\n", "HTTP/1.0 403 Forbidden"},
		{"GET /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK"},
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(conn, tt.request); err != nil {
			t.Fatal(err)
		}
		status, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if err != nil || strings.TrimSpace(status) != tt.want {
			t.Errorf("%q: status line %q (%v), want %q", tt.request, status, err, tt.want)
		}
	}
}

// API request bodies must be declared as JSON: a text/plain POST, which a web page
// can send without a CORS preflight, gets 415 and queues nothing.
func TestContentTypeRequired(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string // "-": no header
		body        string // "ROOT" is replaced by the library root
		wantCode    int
		wantQueued  int
	}{
		{name: "text/plain", method: "POST", target: "/api/jobs", contentType: "text/plain",
			body: `{"type":"scan","path":"ROOT"}`, wantCode: 415},
		{name: "form", method: "POST", target: "/api/jobs", contentType: "application/x-www-form-urlencoded",
			body: `{"type":"scan","path":"ROOT"}`, wantCode: 415},
		{name: "multipart", method: "POST", target: "/api/jobs", contentType: "multipart/form-data; boundary=x",
			body: `{"type":"scan","path":"ROOT"}`, wantCode: 415},
		{name: "no content type", method: "POST", target: "/api/jobs", contentType: "-",
			body: `{"type":"scan","path":"ROOT"}`, wantCode: 415},
		{name: "malformed content type", method: "POST", target: "/api/jobs", contentType: "application/json; =",
			body: `{"type":"scan","path":"ROOT"}`, wantCode: 415},
		{name: "json lookalike", method: "POST", target: "/api/jobs", contentType: "application/jsonx",
			body: `{"type":"scan","path":"ROOT"}`, wantCode: 415},
		{name: "json", method: "POST", target: "/api/jobs", contentType: "application/json",
			body: `{"type":"scan","path":"ROOT"}`, wantCode: 202, wantQueued: 1},
		{name: "json with charset", method: "POST", target: "/api/jobs", contentType: "Application/JSON; charset=utf-8",
			body: `{"type":"scan","path":"ROOT"}`, wantCode: 202, wantQueued: 1},
		{name: "no body needs no content type", method: "POST", target: "/api/jobs/999/cancel", contentType: "-",
			wantCode: 404},
		{name: "PUT with a text body", method: "PUT", target: "/api/jobs", contentType: "text/plain",
			body: "x", wantCode: 415},
		{name: "GET with a body is not checked", method: "GET", target: "/api/jobs", contentType: "text/plain",
			body: "x", wantCode: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, nil)
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(strings.ReplaceAll(tt.body, "ROOT", b.root))
			}
			req := newRequest(tt.method, tt.target, body)
			if tt.contentType != "-" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			b.api.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.target, rec.Code, rec.Body, tt.wantCode)
			}
			if tt.wantCode == 415 {
				e := decodeError(t, rec.Body.Bytes())
				if e.Error.Code != "unsupported_media_type" || !strings.Contains(e.Error.Message, "send Content-Type: application/json") {
					t.Fatalf("415 body: %+v", e.Error)
				}
			}
			if n := b.queued(t); n != tt.wantQueued {
				t.Fatalf("%d jobs queued, want %d", n, tt.wantQueued)
			}
		})
	}
}

// A chunked text/plain body (no Content-Length) is refused too, over real loopback.
func TestContentTypeChunked(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	srv := httptest.NewServer(b.api.Handler())
	t.Cleanup(srv.Close)
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprintf(pw, `{"type":"scan","path":%q}`, b.root)
		pw.Close()
	}()
	req, err := http.NewRequest("POST", srv.URL+"/api/jobs", pr) // unknown length: chunked
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("chunked text/plain: %d %s", resp.StatusCode, body)
	}
	if n := b.queued(t); n != 0 {
		t.Fatalf("%d jobs queued", n)
	}
}

// Mutating requests from other sites are refused; same-origin and non-browser
// requests pass; safe methods are never refused for their origin.
func TestCrossOriginRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		host     string // default testHost
		headers  map[string]string
		allowed  []string
		wantCode int
	}{
		{name: "no browser headers (curl)", method: "POST", wantCode: 202},
		{name: "same origin", method: "POST", headers: map[string]string{"Origin": "http://localhost:8321"}, wantCode: 202},
		{name: "same origin, Sec-Fetch-Site", method: "POST",
			headers: map[string]string{"Origin": "http://localhost:8321", "Sec-Fetch-Site": "same-origin"}, wantCode: 202},
		{name: "typed in the address bar", method: "POST", headers: map[string]string{"Sec-Fetch-Site": "none"}, wantCode: 202},
		{name: "foreign origin", method: "POST", headers: map[string]string{"Origin": "http://evil.example"}, wantCode: 403},
		{name: "foreign origin on vpo's port", method: "POST",
			headers: map[string]string{"Origin": "http://evil.example:8321"}, wantCode: 403},
		{name: "sandboxed page", method: "POST", headers: map[string]string{"Origin": "null"}, wantCode: 403},
		{name: "cross-site", method: "POST", headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantCode: 403},
		{name: "same-site (another port of localhost)", method: "POST",
			headers: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "http://localhost:3000"}, wantCode: 403},
		{name: "same-origin claim with a foreign Origin", method: "POST",
			headers: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://evil.example"}, wantCode: 403},
		{name: "another loopback name, no Sec-Fetch-Site", method: "POST",
			headers: map[string]string{"Origin": "http://127.0.0.1:8321"}, wantCode: 403},
		{name: "GET from a foreign origin", method: "GET",
			headers: map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, wantCode: 200},
		{name: "allowed host behind a proxy that rewrites Host", method: "POST", host: "127.0.0.1:8321",
			allowed: []string{"vpo.example.com"},
			headers: map[string]string{"Origin": "https://vpo.example.com", "Sec-Fetch-Site": "cross-site"}, wantCode: 202},
		{name: "allowed host, same origin through a proxy", method: "POST", host: "127.0.0.1:8321",
			allowed: []string{"vpo.example.com"},
			headers: map[string]string{"Origin": "https://vpo.example.com", "Sec-Fetch-Site": "same-origin"}, wantCode: 202},
		{name: "star does not allow foreign origins", method: "POST", allowed: []string{"*"},
			headers: map[string]string{"Origin": "http://evil.example"}, wantCode: 403},
		{name: "star does not allow cross-site", method: "POST", allowed: []string{"*"},
			headers: map[string]string{"Sec-Fetch-Site": "cross-site"}, wantCode: 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, func(d *Deps) { d.AllowedHosts = tt.allowed })
			var body io.Reader
			target := "/api/jobs"
			if tt.method == "POST" {
				body = strings.NewReader(`{"type":"scan","path":"` + b.root + `"}`)
			}
			req := newRequest(tt.method, target, body)
			if tt.host != "" {
				req.Host = tt.host
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			b.api.Handler().ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tt.wantCode)
			}
			wantQueued := 0
			if tt.wantCode == 202 {
				wantQueued = 1
			}
			if n := b.queued(t); n != wantQueued {
				t.Fatalf("%d jobs queued, want %d", n, wantQueued)
			}
			if tt.wantCode != 403 {
				return
			}
			e := decodeError(t, rec.Body.Bytes())
			if e.Error.Code != "cross_origin" || !strings.HasPrefix(e.Error.Message, "cross-origin request refused: ") {
				t.Fatalf("403 body: %+v", e.Error)
			}
		})
	}
}

// The 405 table is computed once: every method of a path is listed, sorted.
func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	tests := []struct {
		method, target, wantAllow string
	}{
		{"POST", "/health", "GET"},
		{"DELETE", "/api/jobs", "GET, POST"},
		{"PUT", "/api/jobs/7", "GET"},
		{"GET", "/api/jobs/7/cancel", "POST"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		b.api.Handler().ServeHTTP(rec, newRequest(tt.method, tt.target, nil))
		if rec.Code != 405 || rec.Header().Get("Allow") != tt.wantAllow {
			t.Errorf("%s %s: %d Allow %q, want 405 %q", tt.method, tt.target, rec.Code, rec.Header().Get("Allow"), tt.wantAllow)
		}
		if e := decodeError(t, rec.Body.Bytes()); e.Error.Code != "method_not_allowed" {
			t.Errorf("%s %s: %+v", tt.method, tt.target, e.Error)
		}
	}
}

func TestHandleAfterNewPanics(t *testing.T) {
	t.Parallel()
	a := New(Deps{Logger: logging.Discard()})
	defer func() {
		if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), "registered after New") {
			t.Fatalf("recovered %v", v)
		}
	}()
	a.handle("GET /late", func(http.ResponseWriter, *http.Request) error { return nil })
}

// A streaming route outlives the write timeout (and the server's read timeout,
// whose expiry would cancel the request's context), while a slow normal route is
// cut by its write deadline.
func TestStreamingRouteHasNoWriteDeadline(t *testing.T) {
	t.Parallel()
	const timeout = 300 * time.Millisecond
	slowErr := make(chan error, 4)
	a := newAPI(Deps{Logger: logging.Discard(), WriteTimeout: timeout}, func(a *API) {
		a.handle("GET /api/test/stream", func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Content-Type", "text/event-stream")
			rc := http.NewResponseController(w)
			for i := range 8 {
				if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
					return err
				}
				if err := rc.Flush(); err != nil {
					return err
				}
				time.Sleep(timeout / 3)
			}
			// The read deadline had passed long ago; it must not have cancelled us.
			return r.Context().Err()
		}, streaming())
		a.handle("GET /api/test/slow", func(w http.ResponseWriter, r *http.Request) error {
			time.Sleep(2 * timeout)
			_, _ = io.WriteString(w, "too late")
			slowErr <- http.NewResponseController(w).Flush()
			return nil
		})
	})
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Config.ReadTimeout = timeout
	srv.Start()
	t.Cleanup(srv.Close)

	start := time.Now()
	resp, err := srv.Client().Get(srv.URL + "/api/test/stream")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || strings.Count(string(body), "data: ") != 8 || !strings.HasSuffix(string(body), "data: 7\n\n") {
		t.Fatalf("stream after %s: %q %v", time.Since(start), body, err)
	}
	if took := time.Since(start); took < 2*timeout {
		t.Fatalf("stream took %s; the test needs it to outlast the %s timeout", took, timeout)
	}

	// A fresh connection: on a reused one the client would retry the GET.
	fresh := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err = fresh.Get(srv.URL + "/api/test/slow")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("slow normal route answered %d %q; want its connection cut", resp.StatusCode, body)
	}
	if err := <-slowErr; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("slow route's flush: %v, want the write deadline", err)
	}

	// A normal route within its deadline is answered, after the others.
	resp, err = srv.Client().Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable { // not ready: "starting"
		t.Fatalf("/health: %d", resp.StatusCode)
	}
}
