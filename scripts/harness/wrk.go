package main

import (
	_ "embed"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// statusLua is the wrk script that counts responses by HTTP status in every
// thread and prints them after the run as one line, "statuses: 200=123 503=2"
// (wrk's own "Non-2xx or 3xx responses" counts only statuses above 399).
//
//go:embed status.lua
var statusLua []byte

// statusLuaShown is how reports name the script.
const statusLuaShown = "scripts/harness/status.lua"

// writeStatusLua writes status.lua into dir and returns its path.
func writeStatusLua(dir string) (string, error) {
	p := filepath.Join(dir, "status.lua")
	if err := os.WriteFile(p, statusLua, 0o644); err != nil {
		return "", fmt.Errorf("write status.lua: %w", err)
	}
	return p, nil
}

// wrkArgs is a wrk command line with wrk's default 2 s request timeout (a slower
// answer is a socket error); lua, when not empty, is the -s script.
func wrkArgs(url string, threads, conns int, duration, lua string) []string {
	a := []string{"wrk", fmt.Sprintf("-t%d", threads), fmt.Sprintf("-c%d", conns), "-d" + duration, "--latency"}
	if lua != "" {
		a = append(a, "-s", lua)
	}
	return append(a, url)
}

// wrkResult is what wrk printed, parsed. Durations are in ms; NaN when absent.
type wrkResult struct {
	text                    string
	requests                int // -1 when absent
	rps                     float64
	p50, p75, p90, p99, max float64
	non2xx, sockerr         int
	sockerrText             string
	statuses                map[int]int // from status.lua
	badStatus               int         // responses that are not 2xx, 3xx included
}

var (
	reRequests = regexp.MustCompile(`(\d+) requests in`)
	reRPS      = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reMax      = regexp.MustCompile(`(?m)^\s*Latency\s+\S+\s+\S+\s+(\S+)`)
	reNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses:\s+(\d+)`)
	reSockErr  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	reStatuses = regexp.MustCompile(`(?m)^statuses: (.*)$`)
	reDur      = regexp.MustCompile(`^([\d.]+)(us|ms|s|m)$`)
	units      = map[string]float64{"us": 1e-3, "ms": 1, "s": 1e3, "m": 60e3}
)

// parseDur turns one of wrk's durations ("1.23ms") into ms, NaN if it is none.
func parseDur(s string) float64 {
	m := reDur.FindStringSubmatch(s)
	if m == nil {
		return math.NaN()
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v * units[m[2]]
}

func parseWrk(text string) wrkResult {
	r := wrkResult{text: text, requests: -1, rps: math.NaN(), max: math.NaN(), sockerrText: "none", statuses: map[int]int{}}
	lat := func(pct int) float64 {
		m := regexp.MustCompile(fmt.Sprintf(`(?m)^\s*%d%%\s+(\S+)\s*$`, pct)).FindStringSubmatch(text)
		if m == nil {
			return math.NaN()
		}
		return parseDur(m[1])
	}
	r.p50, r.p75, r.p90, r.p99 = lat(50), lat(75), lat(90), lat(99)
	if m := reRequests.FindStringSubmatch(text); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if m := reRPS.FindStringSubmatch(text); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reMax.FindStringSubmatch(text); m != nil {
		r.max = parseDur(m[1])
	}
	if m := reNon2xx.FindStringSubmatch(text); m != nil {
		r.non2xx, _ = strconv.Atoi(m[1])
	}
	if m := reSockErr.FindStringSubmatch(text); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.Atoi(s)
			r.sockerr += n
		}
		r.sockerrText = fmt.Sprintf("connect %s, read %s, write %s, timeout %s", m[1], m[2], m[3], m[4])
	}
	if m := reStatuses.FindStringSubmatch(text); m != nil {
		for _, part := range strings.Fields(m[1]) {
			c, n, _ := strings.Cut(part, "=")
			code, err1 := strconv.Atoi(c)
			cnt, err2 := strconv.Atoi(n)
			if err1 == nil && err2 == nil {
				r.statuses[code] = cnt
			}
		}
	}
	for c, n := range r.statuses {
		if c < 200 || c >= 300 {
			r.badStatus += n
		}
	}
	return r
}

// problems are the reasons a wrk run (with status.lua) failed, empty when clean.
func (r wrkResult) problems() []string {
	var out []string
	if r.requests < 0 || math.IsNaN(r.rps) {
		out = append(out, "could not parse wrk's output")
	}
	if r.sockerr > 0 {
		out = append(out, fmt.Sprintf("socket errors (%s)", r.sockerrText))
	}
	if r.non2xx > 0 || r.badStatus > 0 {
		out = append(out, fmt.Sprintf("non-2xx responses (wrk: %d; by status: %s)", r.non2xx, fmtStatuses(r.statuses)))
	}
	if len(r.statuses) == 0 {
		out = append(out, "status.lua reported no statuses")
	}
	return out
}

// fmtStatuses prints "200=12 503=1", or "none".
func fmtStatuses(st map[int]int) string {
	codes := make([]int, 0, len(st))
	for c := range st {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d=%d", c, st[c]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// wrkRun is one wrk process whose output is collected.
type wrkRun struct {
	args []string
	p    *proc
	out  *strings.Builder
}

// startWrk starts argv (a wrk command, maybe behind taskset) with its output
// collected.
func startWrk(h *harness, argv []string) (*wrkRun, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out // exec copies both through one pipe, until Wait returns
	p, err := h.start(cmd)
	if err != nil {
		return nil, err
	}
	return &wrkRun{args: argv, p: p, out: out}, nil
}

// output is what wrk printed; only call it once wrk exited.
func (w *wrkRun) output() string { return w.out.String() }
