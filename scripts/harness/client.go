package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// reqError is one failed request of a client.
type reqError struct {
	at   time.Time
	path string
	what string
}

func (e reqError) String() string {
	return fmt.Sprintf("(%s, %s, %s)", e.at.Format("15:04:05.000"), e.path, e.what)
}

// client is a keep-alive HTTP/1.1 client on one connection that counts answers
// by status and transport errors. It is used by one goroutine.
type client struct {
	base      string
	http      *http.Client
	requests  int
	statuses  map[int]int
	errors    []reqError
	latencies []float64 // seconds
}

func newClient(port int) *client {
	tr := &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
	return &client{base: fmt.Sprintf("http://127.0.0.1:%d", port), statuses: map[int]int{},
		http: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

// closeConn drops the idle connection, so the next request opens a new one.
func (c *client) closeConn() { c.http.CloseIdleConnections() }

// get GETs path and decodes a 2xx JSON answer; nil on any failure (counted).
func (c *client) get(path string) map[string]any {
	t0 := time.Now()
	c.requests++
	resp, err := c.http.Get(c.base + path)
	var data []byte
	if err == nil {
		data, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err != nil {
		c.closeConn()
		c.errors = append(c.errors, reqError{time.Now(), path, err.Error()})
		return nil
	}
	c.latencies = append(c.latencies, time.Since(t0).Seconds())
	c.statuses[resp.StatusCode]++
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		c.errors = append(c.errors, reqError{time.Now(), path, fmt.Sprintf("HTTP %d %q", resp.StatusCode, clip(data, 200))})
		return nil
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		c.errors = append(c.errors, reqError{time.Now(), path, fmt.Sprintf("HTTP %d body is not JSON: %q", resp.StatusCode, clip(data, 200))})
		return nil
	}
	return doc
}

func clip(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

// healthWatch GETs /health every interval on a new connection each time and
// tallies what the non-200 answers said, so that a failing run shows why.
type healthWatch struct {
	d        *daemon
	interval time.Duration
	stopped  chan struct{}
	wg       sync.WaitGroup

	mu        sync.Mutex
	n         int
	bad       map[string]int
	latencies []float64
}

func startHealthWatch(d *daemon, interval time.Duration) *healthWatch {
	w := &healthWatch{d: d, interval: interval, stopped: make(chan struct{}), bad: map[string]int{}}
	w.wg.Add(1)
	go w.run()
	return w
}

func (w *healthWatch) run() {
	defer w.wg.Done()
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-w.stopped:
			return
		case <-t.C:
		}
		t0 := time.Now()
		code, doc, err := w.d.get(context.Background(), "/health", 5*time.Second)
		lat := time.Since(t0).Seconds()
		key := ""
		switch m, _ := doc.(map[string]any); {
		case err != nil:
			key = "0 " + err.Error()
		case code == 200:
		case m != nil:
			key = fmt.Sprintf("%d status=%v database=%v database_error=%q jobs=%v", code, m["status"], m["database"], str(m["database_error"]), m["jobs"])
		default:
			key = fmt.Sprintf("%d %.200v", code, doc)
		}
		w.mu.Lock()
		w.n++
		w.latencies = append(w.latencies, lat)
		if key != "" {
			w.bad[key]++
		}
		w.mu.Unlock()
	}
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func (w *healthWatch) stop() {
	close(w.stopped)
	w.wg.Wait()
}

// report is the watch's summary, one line per kind of non-200 answer after the
// first, most frequent first.
func (w *healthWatch) report(indent string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lat := append([]float64(nil), w.latencies...)
	sort.Float64s(lat)
	p99 := math.NaN()
	if len(lat) > 0 {
		p99 = lat[min(len(lat)-1, int(float64(len(lat))*0.99))] * 1000
	}
	nbad := 0
	for _, n := range w.bad {
		nbad += n
	}
	out := []string{fmt.Sprintf("%s%d probes, %d not 200, p99 %.1f ms", indent, w.n, nbad, p99)}
	return append(out, countLines(w.bad, indent+"  ")...)
}

// countLines prints "N x KEY" lines, the most frequent first.
func countLines(m map[string]int, indent string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return strings.Compare(keys[i], keys[j]) < 0
	})
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%s%d x %s", indent, m[k], k))
	}
	return out
}
