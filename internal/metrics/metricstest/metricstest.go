// Package metricstest parses a /metrics exposition for tests: scrape a real
// handler or URL, then read a series' value by name and labels.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the parsed metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Parse parses Prometheus's text exposition format.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse exposition: %w", err)
	}
	return mf, nil
}

// ScrapeHandler runs GET /metrics on h (with the given headers, "Key: value") and
// parses the answer, failing the test unless it is a 200 in the text format.
func ScrapeHandler(t testing.TB, h http.Handler, headers ...string) Families {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/metrics", nil)
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	f, err := Parse(rec.Body)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Scrape fetches url (a real server's /metrics) with client and parses it.
func Scrape(t testing.TB, client *http.Client, url string, headers ...string) Families {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range headers {
		k, v, _ := strings.Cut(kv, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	f, err := Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Value sums the series of family name whose labels include labels ("k", "v",
// ...): gauges' and counters' values, histograms' sample counts. ok is false
// when no series matches.
func (f Families) Value(name string, labels ...string) (v float64, ok bool) {
	for _, m := range f.series(name, labels) {
		switch {
		case m.Counter != nil:
			v += m.Counter.GetValue()
		case m.Gauge != nil:
			v += m.Gauge.GetValue()
		case m.Histogram != nil:
			v += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			v += m.Untyped.GetValue()
		}
		ok = true
	}
	return v, ok
}

// Series returns the label sets of family name's series, each as "k=v,k=v"
// sorted by key, for cardinality checks.
func (f Families) Series(name string) []string {
	var out []string
	for _, m := range f.series(name, nil) {
		var kv []string
		for _, l := range m.Label {
			kv = append(kv, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(kv)
		out = append(out, strings.Join(kv, ","))
	}
	sort.Strings(out)
	return out
}

func (f Families) series(name string, labels []string) []*dto.Metric {
	mf, ok := f[name]
	if !ok {
		return nil
	}
	var out []*dto.Metric
	for _, m := range mf.Metric {
		if matches(m, labels) {
			out = append(out, m)
		}
	}
	return out
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.Label {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
