package main

import (
	"math"
	"testing"
)

// wrkOutput is what wrk 4.1.0 prints with --latency and status.lua.
const wrkOutput = `Running 5s test @ http://127.0.0.1:45329/health
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    26.96ms   41.22ms   1.30s    85.77%
    Req/Sec     3.67k     2.94k   14.28k    68.00%
  Latency Distribution
     50%  598.00us
     75%   41.82ms
     90%   83.24ms
     99%  183.51ms
  18355 requests in 5.03s, 7.18MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   3649.51
Transfer/sec:      1.43MB
statuses: 200=18351 503=4
`

func TestParseWrk(t *testing.T) {
	r := parseWrk(wrkOutput)
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"requests", float64(r.requests), 18355},
		{"rps", r.rps, 3649.51},
		{"p50 in us", r.p50, 0.598},
		{"p99", r.p99, 183.51},
		{"max in s", r.max, 1300},
		{"non2xx", float64(r.non2xx), 4},
		{"sockerr", float64(r.sockerr), 5},
		{"badStatus", float64(r.badStatus), 4},
		{"statuses 200", float64(r.statuses[200]), 18351},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if math.Abs(tc.got-tc.want) > 1e-9 {
				t.Errorf("got %v, want %v", tc.got, tc.want)
			}
		})
	}
	if got, want := len(r.problems()), 2; got != want {
		t.Errorf("problems = %q, want %d (socket errors, non-2xx)", r.problems(), want)
	}
	if p := parseWrk("").problems(); len(p) != 2 {
		t.Errorf("problems of empty output = %q, want unparsable + no statuses", p)
	}
}

func TestSlope(t *testing.T) {
	for _, tc := range []struct {
		name       string
		xs, ys     []float64
		slope, err float64
	}{
		{"one point", []float64{1}, []float64{5}, 0, 0},
		{"flat", []float64{0, 1, 2, 3}, []float64{7, 7, 7, 7}, 0, 0},
		{"exact line", []float64{0, 1, 2, 3}, []float64{1, 3, 5, 7}, 2, 0},
		{"same x", []float64{2, 2, 2}, []float64{1, 2, 3}, 0, 0},
		{"noisy", []float64{0, 1, 2, 3}, []float64{0, 2, 1, 3}, 0.8, math.Sqrt(1.8 / 2 / 5)}, // residuals -0.3, 0.9, -0.9, 0.3,
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := slope(tc.xs, tc.ys); math.Abs(got-tc.slope) > 1e-9 {
				t.Errorf("slope = %v, want %v", got, tc.slope)
			}
			if got := slopeStderr(tc.xs, tc.ys); math.Abs(got-tc.err) > 1e-9 {
				t.Errorf("slopeStderr = %v, want %v", got, tc.err)
			}
		})
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{commas(0), "0"},
		{commas(999), "999"},
		{commas(1000), "1,000"},
		{commas(1234567), "1,234,567"},
		{commas(-1234), "-1,234"},
		{fmtStatuses(map[int]int{503: 2, 200: 10}), "200=10 503=2"},
		{fmtStatuses(nil), "none"},
		{fdKinds{socket: 2, file: 1}.String(), "2 socket, 1 file"},
		{fmtF(math.NaN(), 2), "?"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if m := median([]float64{3, 1, 2, 10}); m != 2.5 {
		t.Errorf("median = %v, want 2.5", m)
	}
}
