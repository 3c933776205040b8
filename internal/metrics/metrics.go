// Package metrics is vpo's Prometheus instrumentation: the metrics the daemon
// serves at GET /metrics, on a registry of its own (never the global default, so
// that nothing a library registers behind vpo's back is exposed, and tests can
// build as many as they like).
//
// Two kinds of metrics live here. Events are counted as they happen, through the
// Observe methods that the HTTP edge ([Metrics.Instrument]), the job engine, the
// scanner and the apply worker call. States (jobs by kind and state, catalogued
// files, the health probes' results) are read when Prometheus scrapes, from the
// [Sources] the daemon sets, with a short timeout; the database counts are cached
// for a few seconds so that a scrape never costs more than one pass over the
// catalogue per CacheFor.
//
// Every label value is bounded: route patterns, job kinds, job states, outcomes,
// status codes. No file name, path or ID ever becomes a label.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every vpo metric.
const namespace = "vpo"

// Defaults for Options.
const (
	// DefaultCacheFor is how long the database counts of a scrape are reused. A
	// count of 100,000 catalogued files is one pass over the files table (tens of
	// milliseconds); Prometheus scrapes every 15 s or more.
	DefaultCacheFor = 5 * time.Second
	// DefaultScrapeTimeout bounds the database counts of one scrape. A count that
	// does not answer in time is reported by vpo_scrape_collector_success = 0;
	// the rest of the scrape is served.
	DefaultScrapeTimeout = time.Second
)

// Outcomes of a job run, the "outcome" label of vpo_job_duration_seconds.
const (
	JobCompleted   = "completed"   // the worker returned nil
	JobFailed      = "failed"      // the attempt failed; River retries or fails the job
	JobCancelled   = "cancelled"   // cancelled by a client (or refused by its worker)
	JobInterrupted = "interrupted" // cancelled by the daemon's shutdown; it runs again
)

// Outcomes of a probe or an apply, their "outcome" label.
const (
	OK      = "ok"
	Error   = "error"
	Timeout = "timeout"
)

// Options configure New.
type Options struct {
	// Version is vpo's version, for vpo_build_info.
	Version string
	// JobKinds are the job kinds vpo runs, and JobStates the state words its
	// engine reports. Their series are created at zero, so that an alert on "no
	// job started" has a series to compare before the first job starts.
	JobKinds  []string
	JobStates []string
	// CacheFor is how long the database counts are reused between scrapes: 0
	// means DefaultCacheFor, a negative value no caching (tests).
	CacheFor time.Duration
	// ScrapeTimeout bounds the database counts of one scrape; 0 means
	// DefaultScrapeTimeout.
	ScrapeTimeout time.Duration
}

// JobCount is how many jobs of a kind are in a state.
type JobCount struct {
	Kind  string
	State string
	N     int64
}

// FileCounts are the catalogue's files by state; together they are all the
// catalogued files.
type FileCounts struct {
	OK, Failed, Missing int64
}

// Health is the latest round of the daemon's health probes (the ones behind
// /health).
type Health struct {
	// Status is /health's status word: starting, healthy, degraded or unhealthy.
	Status string
	// DatabaseOK: the latest database check passed.
	DatabaseOK bool
	// WorkersOK: the job workers are taking work.
	WorkersOK bool
}

// Sources are what a scrape reads. Each may be nil (that part is not reported).
// Jobs and Files query the database: they get a context bounded by
// ScrapeTimeout and are cached for CacheFor. Health must not block: it reads the
// latest probe results.
type Sources struct {
	Jobs   func(ctx context.Context) ([]JobCount, error)
	Files  func(ctx context.Context) (FileCounts, error)
	Health func() Health
}

// healthStatuses are /health's status words, each a series of vpo_health_status.
var healthStatuses = []string{"starting", "healthy", "degraded", "unhealthy"}

// Metrics holds vpo's metrics and their registry. Its methods are safe for
// concurrent use, and a nil *Metrics does nothing, so that code built without
// metrics (the CLI commands, tests) calls the same hooks.
type Metrics struct {
	reg  *prometheus.Registry
	opts Options

	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
	jobsStarted   *prometheus.CounterVec
	jobDuration   *prometheus.HistogramVec
	probeDuration *prometheus.HistogramVec
	applyDuration *prometheus.HistogramVec
	applyBytes    prometheus.Counter
	watchdog      *prometheus.CounterVec

	// watchdogLast is the latest watchdog check: 0 none yet, 1 passed, 2 failed.
	watchdogLast atomic.Int32

	sources atomic.Pointer[Sources]
	state   *stateCollector
}

// New builds the metrics on a new registry, with Go runtime and process
// metrics (go_*, process_*) beside vpo's.
func New(o Options) *Metrics {
	if o.CacheFor == 0 {
		o.CacheFor = DefaultCacheFor
	}
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = DefaultScrapeTimeout
	}
	m := &Metrics{reg: prometheus.NewRegistry(), opts: o}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "http", Name: "requests_total",
		Help: "HTTP requests answered, by route pattern and status code.",
	}, []string{"route", "code"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"route"})
	m.jobsStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "jobs", Name: "started_total",
		Help: "Job attempts started by this process's workers, by kind.",
	}, []string{"kind"})
	m.jobDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "job", Name: "duration_seconds",
		Help:    "Time a job attempt ran, by kind and outcome (completed, failed, cancelled, interrupted).",
		Buckets: []float64{.01, .05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600},
	}, []string{"kind", "outcome"})
	m.probeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "probe", Name: "duration_seconds",
		Help:    "Time one ffprobe run took, by outcome (ok, error, timeout).",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"outcome"})
	m.applyDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "apply", Name: "duration_seconds",
		Help:    "Time one apply of a plan to a file took, by outcome (ok, error).",
		Buckets: []float64{.05, .1, .5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600},
	}, []string{"outcome"})
	m.applyBytes = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "apply", Name: "written_bytes_total",
		Help: "Bytes written to users' files by applies (the new versions' sizes; in-place edits count what they rewrote).",
	})
	m.watchdog = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "watchdog", Name: "checks_total",
		Help: "systemd watchdog checks (database and job workers), by result (ok, failed); none without WatchdogSec.",
	}, []string{"result"})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help: "Always 1; the labels say which vpo runs, built with which Go.",
	}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(o.Version, runtime.Version()).Set(1)

	for _, k := range o.JobKinds {
		m.jobsStarted.WithLabelValues(k)
	}
	for _, outcome := range []string{OK, Error} {
		m.applyDuration.WithLabelValues(outcome)
	}
	m.state = &stateCollector{m: m}
	m.reg.MustRegister(m.httpRequests, m.httpDuration, m.jobsStarted, m.jobDuration, m.probeDuration,
		m.applyDuration, m.applyBytes, m.watchdog, buildInfo, m.state,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the metrics' registry, for tests and for exporters that gather it
// themselves.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetSources sets what a scrape reads. The daemon calls it once the store, the
// job engine and the health probes exist; until then a scrape reports only the
// counted events.
func (m *Metrics) SetSources(s Sources) {
	if m == nil {
		return
	}
	m.sources.Store(&s)
}

// Handler serves the metrics in Prometheus's text format (or OpenMetrics, when
// the scraper asks for it). A source that fails is reported by
// vpo_scrape_collector_success, not by failing the scrape.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		EnableOpenMetrics: true,
	})
}

// ObserveRequest counts one answered HTTP request. route must be a pattern (the
// ServeMux's), never a raw path.
func (m *Metrics) ObserveRequest(route string, code int, took time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpDuration.WithLabelValues(route).Observe(took.Seconds())
}

// ObserveJobStart counts a job attempt that a worker begins.
func (m *Metrics) ObserveJobStart(kind string) {
	if m == nil {
		return
	}
	m.jobsStarted.WithLabelValues(kind).Inc()
}

// ObserveJob records a job attempt that ended, with one of the Job* outcomes.
func (m *Metrics) ObserveJob(kind, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.jobDuration.WithLabelValues(kind, outcome).Observe(took.Seconds())
}

// ObserveProbe records one ffprobe run, with outcome OK, Error or Timeout.
func (m *Metrics) ObserveProbe(outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.probeDuration.WithLabelValues(outcome).Observe(took.Seconds())
}

// ObserveApply records one apply of a plan to a file (apply.Executor.Apply), with
// outcome OK or Error, and the bytes it wrote to the user's file system: the new
// version's size when a tool wrote a copy, the rewritten part for an in-place
// edit, 0 when nothing changed or it failed before writing.
func (m *Metrics) ObserveApply(outcome string, written int64, took time.Duration) {
	if m == nil {
		return
	}
	m.applyDuration.WithLabelValues(outcome).Observe(took.Seconds())
	if written > 0 {
		m.applyBytes.Add(float64(written))
	}
}

// ObserveWatchdog records one systemd watchdog check; err is its failure.
func (m *Metrics) ObserveWatchdog(err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.watchdog.WithLabelValues("failed").Inc()
		m.watchdogLast.Store(2)
		return
	}
	m.watchdog.WithLabelValues("ok").Inc()
	m.watchdogLast.Store(1)
}

// stateCollector reads the Sources at scrape time.
type stateCollector struct {
	m *Metrics

	mu    sync.Mutex // one database count at a time; guards the cache
	jobs  cached[[]JobCount]
	files cached[FileCounts]
}

// cached is a count and when it was taken.
type cached[T any] struct {
	v   T
	err error
	at  time.Time
}

var (
	descJobs = prometheus.NewDesc(namespace+"_jobs", "Jobs in the queue and kept after they finished, by kind and state (queued, running, completed, failed, cancelled).",
		[]string{"kind", "state"}, nil)
	descFiles = prometheus.NewDesc(namespace+"_catalog_files", "Catalogued files by state: ok (probed), failed (ffprobe could not read it), missing (gone from disk).",
		[]string{"state"}, nil)
	descHealth = prometheus.NewDesc(namespace+"_health_status", "1 for /health's current status, 0 for the others.",
		[]string{"status"}, nil)
	descDatabaseUp = prometheus.NewDesc(namespace+"_database_up", "1 when the latest database check of the health probes passed.", nil, nil)
	descWorkersUp  = prometheus.NewDesc(namespace+"_job_workers_up", "1 when the latest health probe found the job workers taking work.", nil, nil)
	descWatchdogOK = prometheus.NewDesc(namespace+"_watchdog_last_check_success", "1 when the latest systemd watchdog check passed; absent without WatchdogSec.", nil, nil)
	descScrapeOK   = prometheus.NewDesc(namespace+"_scrape_collector_success", "1 when a scrape-time count (jobs, files) was read in time.",
		[]string{"collector"}, nil)
)

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descJobs, descFiles, descHealth, descDatabaseUp, descWorkersUp, descWatchdogOK, descScrapeOK} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	switch c.m.watchdogLast.Load() {
	case 1:
		ch <- prometheus.MustNewConstMetric(descWatchdogOK, prometheus.GaugeValue, 1)
	case 2:
		ch <- prometheus.MustNewConstMetric(descWatchdogOK, prometheus.GaugeValue, 0)
	}
	s := c.m.sources.Load()
	if s == nil {
		return
	}
	if s.Health != nil {
		h := s.Health()
		for _, st := range healthStatuses {
			ch <- prometheus.MustNewConstMetric(descHealth, prometheus.GaugeValue, b2f(h.Status == st), st)
		}
		ch <- prometheus.MustNewConstMetric(descDatabaseUp, prometheus.GaugeValue, b2f(h.DatabaseOK))
		ch <- prometheus.MustNewConstMetric(descWorkersUp, prometheus.GaugeValue, b2f(h.WorkersOK))
	}
	if s.Jobs == nil && s.Files == nil {
		return
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if s.Jobs != nil {
		load(c, &c.jobs, s.Jobs)
		ok := c.jobs.err == nil
		ch <- prometheus.MustNewConstMetric(descScrapeOK, prometheus.GaugeValue, b2f(ok), "jobs")
		if ok {
			c.collectJobs(ch, c.jobs.v)
		}
	}
	if s.Files != nil {
		load(c, &c.files, s.Files)
		ok := c.files.err == nil
		ch <- prometheus.MustNewConstMetric(descScrapeOK, prometheus.GaugeValue, b2f(ok), "files")
		if ok {
			f := c.files.v
			ch <- prometheus.MustNewConstMetric(descFiles, prometheus.GaugeValue, float64(f.OK), "ok")
			ch <- prometheus.MustNewConstMetric(descFiles, prometheus.GaugeValue, float64(f.Failed), "failed")
			ch <- prometheus.MustNewConstMetric(descFiles, prometheus.GaugeValue, float64(f.Missing), "missing")
		}
	}
}

// collectJobs reports every known kind in every known state (0 when none), and
// any other kind or state the queue holds (a job kind of an older or newer vpo).
func (c *stateCollector) collectJobs(ch chan<- prometheus.Metric, counts []JobCount) {
	type key struct{ kind, state string }
	n := map[key]int64{}
	for _, k := range c.m.opts.JobKinds {
		for _, st := range c.m.opts.JobStates {
			n[key{k, st}] = 0
		}
	}
	for _, jc := range counts {
		n[key{jc.Kind, jc.State}] += jc.N
	}
	for k, v := range n {
		ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(v), k.kind, k.state)
	}
}

// load refreshes a cached count when it is older than CacheFor (or failed). The
// caller holds c.mu, so concurrent scrapes share one count.
func load[T any](c *stateCollector, slot *cached[T], read func(context.Context) (T, error)) {
	now := time.Now()
	if slot.err == nil && !slot.at.IsZero() && now.Sub(slot.at) < c.m.opts.CacheFor {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.m.opts.ScrapeTimeout)
	defer cancel()
	v, err := read(ctx)
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		err = errScrapeTimeout
	}
	*slot = cached[T]{v: v, err: err, at: now}
}

var errScrapeTimeout = errors.New("metrics: count did not answer within the scrape timeout")

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
