package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/metrics/metricstest"
	"github.com/vpo-project/vpo/internal/testmedia"
	"github.com/vpo-project/vpo/internal/web"
)

// TestMetricsOfARealDaemon runs the daemon in-process on a real SQLite file and a
// loopback listener, makes real requests and a real scan (real ffprobe on media
// made now), scrapes GET /metrics and checks that the values moved, and that 1,000
// requests for distinct file IDs are one route series.
func TestMetricsOfARealDaemon(t *testing.T) {
	home := t.TempDir()
	media := filepath.Join(t.TempDir(), "lib")
	testmedia.Make(t, media)
	port := freePort(t)
	cfg := testConfig(t, home, port)

	signals := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), cfg, logging.Discard(), Options{Signals: signals, Started: time.Now()})
	}()
	t.Cleanup(func() {
		signals <- syscall.SIGTERM
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after SIGTERM", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("daemon did not stop")
		}
	})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) int {
		t.Helper()
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitUntil(t, 20*time.Second, "the daemon to be healthy", func() bool {
		resp, err := client.Get(base + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// Before: no scan has run.
	f := metricstest.Scrape(t, client, base+"/metrics")
	if v, _ := f.Value("vpo_jobs_started_total", "kind", "scan"); v != 0 {
		t.Fatalf("vpo_jobs_started_total{kind=scan} = %v before any job", v)
	}
	if _, ok := f.Value("vpo_jobs_started_total", "kind", "probe"); !ok {
		t.Error("vpo_jobs_started_total{kind=probe} is not created at zero")
	}

	body, _ := json.Marshal(map[string]string{"type": "scan", "path": media})
	resp, err := client.Post(base+"/api/jobs", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit scan: %v %v", resp, err)
	}
	var job struct{ ID int64 }
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitUntil(t, 30*time.Second, "the scan to complete", func() bool {
		resp, err := client.Get(base + "/api/jobs/" + strconv.FormatInt(job.ID, 10))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var j struct{ State string }
		if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
			t.Fatal(err)
		}
		return j.State == "completed"
	})

	for id := 1; id <= 1000; id++ {
		get("/api/files/" + strconv.Itoa(id+1_000_000))
	}
	if code := get("/api/files/1"); code != http.StatusOK {
		t.Fatalf("GET /api/files/1: %d", code)
	}

	// The database counts are cached for a few seconds: poll until they show the scan.
	waitUntil(t, 15*time.Second, "vpo_jobs{kind=scan,state=completed} = 1", func() bool {
		f = metricstest.Scrape(t, client, base+"/metrics")
		v, _ := f.Value("vpo_jobs", "kind", "scan", "state", "completed")
		return v == 1
	})
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"vpo_http_requests_total", []string{"route", "GET /api/files/{id}", "code", "404"}, 1000},
		{"vpo_http_requests_total", []string{"route", "GET /api/files/{id}", "code", "200"}, 1},
		{"vpo_http_requests_total", []string{"route", "POST /api/jobs", "code", "202"}, 1},
		{"vpo_http_request_duration_seconds", []string{"route", "GET /api/files/{id}"}, 1001},
		{"vpo_jobs_started_total", []string{"kind", "scan"}, 1},
		{"vpo_job_duration_seconds", []string{"kind", "scan", "outcome", "completed"}, 1},
		{"vpo_jobs", []string{"kind", "scan", "state", "queued"}, 0},
		{"vpo_catalog_files", []string{"state", "ok"}, 2},
		{"vpo_catalog_files", []string{"state", "failed"}, 3},
		{"vpo_catalog_files", []string{"state", "missing"}, 0},
		{"vpo_probe_duration_seconds", []string{"outcome", "ok"}, 2},
		{"vpo_probe_duration_seconds", []string{"outcome", "error"}, 3},
		{"vpo_health_status", []string{"status", "healthy"}, 1},
		{"vpo_database_up", nil, 1},
		{"vpo_job_workers_up", nil, 1},
		{"vpo_scrape_collector_success", []string{"collector", "files"}, 1},
	} {
		if got, ok := f.Value(c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%q = %v (present %v), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// One series for the file route however many IDs were asked for; no path is a label.
	var fileRoutes []string
	for _, s := range f.Series("vpo_http_request_duration_seconds") {
		if strings.Contains(s, "/api/files/") {
			fileRoutes = append(fileRoutes, s)
		}
	}
	if len(fileRoutes) != 1 || fileRoutes[0] != "route=GET /api/files/{id}" {
		t.Errorf("file route series %q, want exactly [route=GET /api/files/{id}]", fileRoutes)
	}
	if _, ok := f.Value("vpo_build_info", "version"); !ok {
		t.Error("no vpo_build_info")
	}
}

// TestMetricsRoute: GET /metrics on the real router is open on a loopback bind,
// behind the token beyond loopback (the same 401 as /api/), open again with
// server.metrics_public, and always behind the Host check.
func TestMetricsRoute(t *testing.T) {
	t.Parallel()
	const token = "a-token-of-16-chars-or-more"
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8321}
	wildcard := &net.TCPAddr{IP: net.IPv4zero, Port: 8321}
	tests := []struct {
		name     string
		addr     *net.TCPAddr
		public   bool
		token    string // sent
		host     string
		wantCode int
	}{
		{"loopback bind, no token sent", loopback, false, "", "127.0.0.1:8321", 200},
		{"beyond loopback, no token", wildcard, false, "", "127.0.0.1:8321", 401},
		{"beyond loopback, wrong token", wildcard, false, "not-the-token-at-all", "127.0.0.1:8321", 401},
		{"beyond loopback, the token", wildcard, false, token, "127.0.0.1:8321", 200},
		{"beyond loopback, metrics_public", wildcard, true, "", "127.0.0.1:8321", 200},
		{"foreign host, loopback bind", loopback, false, "", "evil.example:8321", 403},
		{"foreign host, metrics_public", wildcard, true, "", "evil.example", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := &config.Config{}
			cfg.Server.MetricsPublic = tt.public
			api := httpapi.New(httpapi.Deps{Logger: logging.Discard(), AuthToken: token, Addr: tt.addr})
			ui, err := web.New(web.Deps{Logger: logging.Discard(), Health: api, Token: token})
			if err != nil {
				t.Fatal(err)
			}
			h := routes(api, ui, newMetrics(), metricsOpen(cfg, tt.addr))
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Host = tt.host
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantCode {
				t.Fatalf("GET /metrics: %d %s, want %d", rec.Code, rec.Body, tt.wantCode)
			}
			switch rec.Code {
			case 200:
				if _, err := metricstest.Parse(rec.Body); err != nil {
					t.Fatal(err)
				}
			case 401:
				if !strings.Contains(rec.Body.String(), `"code":"unauthorized"`) {
					t.Fatalf("401 body %s", rec.Body)
				}
			}
		})
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
