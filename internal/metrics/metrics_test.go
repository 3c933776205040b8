package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/metrics"
	"github.com/vpo-project/vpo/internal/metrics/metricstest"
)

func newMetrics(cacheFor time.Duration) *metrics.Metrics {
	return metrics.New(metrics.Options{Version: "1.2.3", JobKinds: []string{"scan", "probe"},
		JobStates: []string{"queued", "running"}, CacheFor: cacheFor})
}

func want(t *testing.T, f metricstest.Families, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := f.Value(name, labels...)
	if !ok {
		t.Errorf("%s%v: no such series", name, labels)
		return
	}
	if got != v {
		t.Errorf("%s%v = %v, want %v", name, labels, got, v)
	}
}

func TestEventsAndBuildInfo(t *testing.T) {
	m := newMetrics(-1)
	m.ObserveJobStart("scan")
	m.ObserveJob("scan", metrics.JobCompleted, 2*time.Second)
	m.ObserveJob("scan", metrics.JobFailed, time.Second)
	m.ObserveProbe(metrics.OK, 30*time.Millisecond)
	m.ObserveProbe(metrics.Timeout, time.Minute)
	m.ObserveApply(metrics.OK, 1000, time.Second)
	m.ObserveApply(metrics.Error, 0, time.Second)
	f := metricstest.ScrapeHandler(t, m.Handler())

	want(t, f, 1, "vpo_build_info", "version", "1.2.3", "goversion", runtime.Version())
	want(t, f, 1, "vpo_jobs_started_total", "kind", "scan")
	want(t, f, 0, "vpo_jobs_started_total", "kind", "probe") // created at zero
	want(t, f, 1, "vpo_job_duration_seconds", "kind", "scan", "outcome", "completed")
	want(t, f, 1, "vpo_job_duration_seconds", "kind", "scan", "outcome", "failed")
	want(t, f, 2, "vpo_probe_duration_seconds")
	want(t, f, 1, "vpo_probe_duration_seconds", "outcome", "timeout")
	want(t, f, 2, "vpo_apply_duration_seconds")
	want(t, f, 1000, "vpo_apply_written_bytes_total")
	if _, ok := f.Value("go_goroutines"); !ok {
		t.Error("no Go runtime metrics")
	}
	if _, ok := f.Value("vpo_watchdog_last_check_success"); ok {
		t.Error("vpo_watchdog_last_check_success reported before any watchdog check")
	}

	m.ObserveWatchdog(nil)
	m.ObserveWatchdog(errors.New("database is locked"))
	f = metricstest.ScrapeHandler(t, m.Handler())
	want(t, f, 0, "vpo_watchdog_last_check_success")
	want(t, f, 1, "vpo_watchdog_checks_total", "result", "ok")
	want(t, f, 1, "vpo_watchdog_checks_total", "result", "failed")
}

func TestNilMetricsIsANoOp(t *testing.T) {
	var m *metrics.Metrics
	m.ObserveRequest("GET /x", 200, time.Millisecond)
	m.ObserveJobStart("scan")
	m.ObserveJob("scan", metrics.JobCompleted, time.Second)
	m.ObserveProbe(metrics.OK, time.Second)
	m.ObserveApply(metrics.OK, 1, time.Second)
	m.ObserveWatchdog(nil)
	m.SetSources(metrics.Sources{})
	h := http.NotFoundHandler()
	if m.Instrument(h) == nil {
		t.Fatal("Instrument on nil returned nil")
	}
}

func TestSources(t *testing.T) {
	var jobReads, fileReads atomic.Int32
	m := newMetrics(time.Hour)
	m.SetSources(metrics.Sources{
		Jobs: func(context.Context) ([]metrics.JobCount, error) {
			jobReads.Add(1)
			return []metrics.JobCount{{Kind: "scan", State: "queued", N: 3}, {Kind: "plan", State: "completed", N: 2}}, nil
		},
		Files: func(context.Context) (metrics.FileCounts, error) {
			fileReads.Add(1)
			return metrics.FileCounts{OK: 7, Failed: 2, Missing: 1}, nil
		},
		Health: func() metrics.Health { return metrics.Health{Status: "degraded", DatabaseOK: false, WorkersOK: true} },
	})
	f := metricstest.ScrapeHandler(t, m.Handler())
	want(t, f, 3, "vpo_jobs", "kind", "scan", "state", "queued")
	want(t, f, 0, "vpo_jobs", "kind", "scan", "state", "running")
	want(t, f, 0, "vpo_jobs", "kind", "probe", "state", "queued")
	want(t, f, 2, "vpo_jobs", "kind", "plan", "state", "completed") // a kind not in JobKinds
	want(t, f, 7, "vpo_catalog_files", "state", "ok")
	want(t, f, 2, "vpo_catalog_files", "state", "failed")
	want(t, f, 1, "vpo_catalog_files", "state", "missing")
	want(t, f, 1, "vpo_health_status", "status", "degraded")
	want(t, f, 0, "vpo_health_status", "status", "healthy")
	want(t, f, 0, "vpo_database_up")
	want(t, f, 1, "vpo_job_workers_up")
	want(t, f, 1, "vpo_scrape_collector_success", "collector", "jobs")
	want(t, f, 1, "vpo_scrape_collector_success", "collector", "files")

	// Cached: a second scrape within CacheFor does not query again.
	metricstest.ScrapeHandler(t, m.Handler())
	if jobReads.Load() != 1 || fileReads.Load() != 1 {
		t.Errorf("reads: jobs %d, files %d; want 1 each (cached)", jobReads.Load(), fileReads.Load())
	}
}

func TestSourceFailureAndTimeout(t *testing.T) {
	var calls atomic.Int32
	m := metrics.New(metrics.Options{CacheFor: time.Hour, ScrapeTimeout: 50 * time.Millisecond})
	m.SetSources(metrics.Sources{
		Jobs: func(ctx context.Context) ([]metrics.JobCount, error) {
			calls.Add(1)
			<-ctx.Done() // a database that does not answer
			return nil, ctx.Err()
		},
		Files: func(context.Context) (metrics.FileCounts, error) {
			return metrics.FileCounts{}, errors.New("database is locked")
		},
	})
	start := time.Now()
	f := metricstest.ScrapeHandler(t, m.Handler())
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("scrape took %s despite a 50 ms scrape timeout", took)
	}
	want(t, f, 0, "vpo_scrape_collector_success", "collector", "jobs")
	want(t, f, 0, "vpo_scrape_collector_success", "collector", "files")
	if _, ok := f.Value("vpo_jobs"); ok {
		t.Error("vpo_jobs reported although its count failed")
	}
	if _, ok := f.Value("vpo_build_info"); !ok {
		t.Error("a failed count took the rest of the scrape with it")
	}
	// A failure is not cached: the next scrape tries again.
	metricstest.ScrapeHandler(t, m.Handler())
	if calls.Load() != 2 {
		t.Errorf("jobs count called %d times, want 2 (failures are not cached)", calls.Load())
	}
}

// TestInstrument: requests are counted by the matched pattern of the innermost
// mux, never by path, including requests refused before any inner mux ran.
func TestInstrument(t *testing.T) {
	m := newMetrics(-1)
	inner := http.NewServeMux()
	inner.HandleFunc("GET /api/files/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "0" {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, "ok")
	})
	outer := http.NewServeMux()
	outer.Handle("/api/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		inner.ServeHTTP(w, r)
	}))
	edge := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "evil.example" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		outer.ServeHTTP(w, r)
	})
	h := m.Instrument(edge)
	do := func(host, path string, auth bool) {
		req := httptest.NewRequest(http.MethodGet, "http://"+host+path, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer x")
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	for i := 1; i <= 1000; i++ {
		do("127.0.0.1", fmt.Sprintf("/api/files/%d", i), true)
	}
	do("127.0.0.1", "/api/files/0", true)
	do("127.0.0.1", "/api/files/5", false)
	do("evil.example", "/api/files/5", true)

	f := metricstest.ScrapeHandler(t, m.Handler())
	want(t, f, 1000, "vpo_http_requests_total", "route", "GET /api/files/{id}", "code", "200")
	want(t, f, 1, "vpo_http_requests_total", "route", "GET /api/files/{id}", "code", "404")
	want(t, f, 1, "vpo_http_requests_total", "route", "/api/", "code", "401")
	want(t, f, 1, "vpo_http_requests_total", "route", metrics.Unmatched, "code", "403")
	wantSeries := []string{"code=200,route=GET /api/files/{id}", "code=401,route=/api/", "code=403,route=unmatched",
		"code=404,route=GET /api/files/{id}"}
	if got := f.Series("vpo_http_requests_total"); fmt.Sprint(got) != fmt.Sprint(wantSeries) {
		t.Errorf("series %q, want %q", got, wantSeries)
	}
	want(t, f, 1001, "vpo_http_request_duration_seconds", "route", "GET /api/files/{id}")
}
