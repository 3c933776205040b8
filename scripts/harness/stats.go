package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// slope is the least-squares slope of ys over xs (per unit of x); 0 for fewer
// than 2 points.
func slope(xs, ys []float64) float64 {
	if len(xs) < 2 {
		return 0
	}
	mx, my := mean(xs), mean(ys)
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

// slopeStderr is the standard error of the least-squares slope; 0 for fewer
// than 3 points.
func slopeStderr(xs, ys []float64) float64 {
	if len(xs) < 3 {
		return 0
	}
	mx, my := mean(xs), mean(ys)
	var sxx float64
	for _, x := range xs {
		sxx += (x - mx) * (x - mx)
	}
	if sxx == 0 {
		return 0
	}
	b := slope(xs, ys)
	var ss float64
	for i := range xs {
		d := ys[i] - (my + b*(xs[i]-mx))
		ss += d * d
	}
	return math.Sqrt(ss / float64(len(xs)-2) / sxx)
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// median of v (NaN when empty), as Python's statistics.median.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func minMax(v []float64) (lo, hi float64) {
	if len(v) == 0 {
		return math.NaN(), math.NaN()
	}
	lo, hi = v[0], v[0]
	for _, x := range v {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// printTable prints rows under hdr as columns joined by " | ", indented by two
// spaces, with a rule under the header.
func printTable(hdr []string, rows [][]string) {
	widths := make([]int, len(hdr))
	for _, r := range append([][]string{hdr}, rows...) {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	line := func(r []string) string {
		cells := make([]string, len(r))
		for i, c := range r {
			cells[i] = c + strings.Repeat(" ", widths[i]-len(c))
		}
		return strings.TrimRight("  "+strings.Join(cells, " | "), " ")
	}
	fmt.Println(line(hdr))
	rule := make([]string, len(widths))
	for i, w := range widths {
		rule[i] = strings.Repeat("-", w)
	}
	fmt.Println("  " + strings.Join(rule, "-+-"))
	for _, r := range rows {
		fmt.Println(line(r))
	}
}

// fmtF formats v with p decimals, "?" for NaN.
func fmtF(v float64, p int) string {
	if math.IsNaN(v) {
		return "?"
	}
	return fmt.Sprintf("%.*f", p, v)
}

// commas formats n with thousands separators: 12,345.
func commas(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
