// Package doctor checks vpo's setup without changing it: the external tools, the
// data dir, the database (opened read-only, never migrated), the policies, the
// library roots and the kernel's inotify limits. Each check returns one Result per
// thing it looked at; `vpo doctor` prints one line per Result.
//
// A check never creates, writes or locks anything a running daemon uses: the
// database is opened with mode=ro and query_only, the daemon's lock is tested the
// way daemon.Holder tests it, and writability is asked of access(2).
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vpo-project/vpo/internal/config"
)

// Status is a check's verdict.
type Status int

// The verdicts, from best to worst. A warning is something an operator should look
// at that does not stop vpo from working; a failure stops it (or part of it).
const (
	OK Status = iota
	Warn
	Fail
)

// String returns "ok", "warn" or "FAIL" (upper case, so that it stands out in a
// column of "ok").
func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	case Fail:
		return "FAIL"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText writes the status in lower case: "ok", "warn" or "fail".
func (s Status) MarshalText() ([]byte, error) {
	switch s {
	case OK, Warn:
		return []byte(s.String()), nil
	case Fail:
		return []byte("fail"), nil
	}
	return nil, fmt.Errorf("doctor: unknown status %d", int(s))
}

// Result is the outcome of one check.
type Result struct {
	// Name says what was checked: "ffprobe", "data dir", "library root /srv/tv".
	Name string `json:"name"`
	// Status is the verdict.
	Status Status `json:"status"`
	// Detail is one line: what was found, and for a warning or failure what to do.
	Detail string `json:"detail"`
}

func ok(name, format string, args ...any) Result {
	return Result{Name: name, Status: OK, Detail: fmt.Sprintf(format, args...)}
}

func warn(name, format string, args ...any) Result {
	return Result{Name: name, Status: Warn, Detail: fmt.Sprintf(format, args...)}
}

func fail(name, format string, args ...any) Result {
	return Result{Name: name, Status: Fail, Detail: fmt.Sprintf(format, args...)}
}

// Report is the results of every check, in the order they ran.
type Report []Result

// Failed counts the failures. Warnings do not count: `vpo doctor` exits 0 when
// there are warnings and no failures.
func (r Report) Failed() int {
	n := 0
	for _, res := range r {
		if res.Status == Fail {
			n++
		}
	}
	return n
}

// Worst returns the worst status in the report, OK for an empty one.
func (r Report) Worst() Status {
	w := OK
	for _, res := range r {
		w = max(w, res.Status)
	}
	return w
}

// MarshalJSON writes {"status": worst, "checks": [...]}.
func (r Report) MarshalJSON() ([]byte, error) {
	checks := []Result(r)
	if checks == nil {
		checks = []Result{}
	}
	return json.Marshal(struct {
		Status Status   `json:"status"`
		Checks []Result `json:"checks"`
	}{r.Worst(), checks})
}

// Options are the inputs of Run other than the configuration.
type Options struct {
	// Policies loads and validates the policy files of a directory; nil skips the
	// validation (the files are still counted).
	Policies PolicyLoader
	// ProcSys is the root of the kernel's sysctl files; "" means /proc/sys.
	ProcSys string
	// ToolTimeout bounds each tool's version run; zero means DefaultToolTimeout.
	ToolTimeout time.Duration
	// Node is this machine's node name on PostgreSQL (whose vpo serve the
	// doctor looks for).
	Node string
}

// Run runs every check against cfg and returns their results.
func Run(ctx context.Context, cfg *config.Config, opts Options) Report {
	var r Report
	r = append(r, CheckConfig(cfg))
	for _, t := range Tools(cfg) {
		r = append(r, CheckTool(ctx, t, opts.ToolTimeout))
	}
	r = append(r, CheckDataDir(cfg.DataDir))
	if cfg.Postgres() {
		r = append(r, CheckPostgres(ctx, cfg, opts.Node)...)
	} else {
		r = append(r, CheckDatabase(ctx, cfg.DatabasePath, cfg.DataDir)...)
	}
	r = append(r, CheckPolicies(cfg.Policies.Dir, opts.Policies)...)
	r = append(r, CheckLibraryRoots(cfg.Library.Roots)...)
	r = append(r, CheckInotify(opts.ProcSys)...)
	return r
}

// CheckConfig reports which config file was read.
func CheckConfig(cfg *config.Config) Result {
	if cfg.File == "" {
		return ok("config", "no config file; built-in defaults and VPO_* environment")
	}
	return ok("config", "%s", cfg.File)
}
