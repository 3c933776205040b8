// Package plans turns policies into stored plans and carries approved plans out, as
// job-engine workers: a plan job evaluates a policy on the catalogued files under a
// directory and stores what would change; an apply job applies, one file at a time
// through internal/apply, the approved plans (or, with policies.require_approval
// off, what a fresh plan says), re-probes each changed file, and records the new
// catalogue entry, the plan's end and a history entry in one transaction.
//
// Two jobs never work on the same file: each file is claimed in the catalogue
// first. A file whose apply left it still not conformant is marked "does not
// converge" and is not applied again with the same policy file to the same
// version of the file: no reprocessing loops. See docs/apply.md.
package plans

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/scan"
	"github.com/vpo-project/vpo/internal/toolrun"
)

// PlanArgs are the arguments of a plan job.
type PlanArgs struct {
	Policy string `json:"policy"`
	Path   string `json:"path"`
	// Paths, when given, are the files under Path to plan instead of all of them
	// (a watched root's settled files). A path that is not catalogued, probed
	// and present is skipped.
	Paths []string `json:"paths,omitempty"`
}

// Kind is the job type "plan".
func (PlanArgs) Kind() string { return "plan" }

// ApplyArgs are the arguments of an apply job. With Approved set it applies every
// approved plan (of Policy and under Path, when given); without, the plans of
// Policy for the files under Path (a directory or one file).
type ApplyArgs struct {
	Policy   string `json:"policy,omitempty"`
	Path     string `json:"path,omitempty"`
	Approved bool   `json:"approved,omitempty"`
	// Paths, when given, are the files under Path to apply instead of all of
	// them (as PlanArgs.Paths).
	Paths []string `json:"paths,omitempty"`
	// Unattended marks the apply jobs of a watched root with mode apply: the
	// root's configuration is the owner's consent, so a fresh plan is applied
	// without waiting for approval, whatever policies.require_approval says.
	// Only the daemon sets it; the API never does.
	Unattended bool `json:"unattended,omitempty"`
}

// Kind is the job type "apply".
func (ApplyArgs) Kind() string { return "apply" }

// Kinds lists the job types of this package.
var Kinds = []string{PlanArgs{}.Kind(), ApplyArgs{}.Kind()}

// ErrBadPolicy is wrapped when a job names a policy that cannot be used.
var ErrBadPolicy = errors.New("bad policy")

// Service runs plan and apply jobs.
type Service struct {
	node     string // this node's River client ID on PostgreSQL
	store    *catalog.Store
	scanner  *library.Scanner
	prober   probe.Runner
	exec     *apply.Executor
	dir      string // the policies directory
	approval bool   // policies.require_approval
	logger   *slog.Logger
	// applyWorkers is how many files an apply job works on at once.
	applyWorkers int
	stopping     atomic.Bool
	versions     sync.Map // tool name -> version line
	observer     ApplyObserver
}

// ApplyObserver is told of each rewrite the service attempts (internal/metrics
// implements it): outcome "ok" or "error", the bytes written, the time it took.
type ApplyObserver interface {
	ObserveApply(outcome string, written int64, took time.Duration)
}

// Options configure a Service.
type Options struct {
	Store           *catalog.Store
	Scanner         *library.Scanner
	Executor        *apply.Executor
	PoliciesDir     string
	RequireApproval bool
	Logger          *slog.Logger
	// Observer, when not nil, is told of every rewrite attempted.
	Observer ApplyObserver
	// Node is this node's River client ID on PostgreSQL: Recover leaves the
	// claims of jobs running on other nodes alone.
	Node string
	// ApplyWorkers is how many files one apply job (or foreground run)
	// works on at once; 0 means 1.
	ApplyWorkers int
}

// New returns the service.
func New(o Options) *Service {
	return &Service{store: o.Store, scanner: o.Scanner, prober: o.Scanner.Prober(), exec: o.Executor,
		dir: o.PoliciesDir, approval: o.RequireApproval, logger: o.Logger, observer: o.Observer, node: o.Node,
		applyWorkers: max(o.ApplyWorkers, 1)}
}

// Register adds the plan and apply workers to River's registry.
func (s *Service) Register(ws *river.Workers) {
	river.AddWorker(ws, &planWorker{s: s})
	river.AddWorker(ws, &applyWorker{s: s})
}

// ShutdownBegun tells running workers that cancellation from now on means shutdown.
func (s *Service) ShutdownBegun() { s.stopping.Store(true) }

// RequireApproval reports whether apply jobs run only approved plans.
func (s *Service) RequireApproval() bool { return s.approval }

// Executor returns the executor (for the CLI's foreground runs).
func (s *Service) Executor() *apply.Executor { return s.exec }

// CheckPolicyName refuses a policy name that is a path: jobs name policies of the
// policies directory only.
func CheckPolicyName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: a policy name is required", ErrBadPolicy)
	case strings.ContainsAny(name, "/\\\x00") || name == "." || name == "..":
		return fmt.Errorf("%w: %q is not a policy name (a file name in the policies directory, without .yaml)", ErrBadPolicy, name)
	}
	return nil
}

// Loaded is a policy of the policies directory, compiled.
type Loaded struct {
	name string
	pol  *policy.Policy
	ev   *policy.Evaluator
}

// LoadPolicy loads and compiles the policy NAME of the policies directory.
func (s *Service) LoadPolicy(name string) (*Loaded, error) {
	return LoadPolicy(s.dir, name)
}

// LoadPolicy loads and compiles the policy NAME of the policies directory dir.
func LoadPolicy(dir, name string) (*Loaded, error) {
	if err := CheckPolicyName(name); err != nil {
		return nil, err
	}
	pol, err := policy.Resolve(dir, name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadPolicy, err)
	}
	ev, err := policy.Compile(pol)
	if err != nil {
		return nil, fmt.Errorf("%w: policy %s: %w", ErrBadPolicy, name, err)
	}
	return &Loaded{name: name, pol: pol, ev: ev}, nil
}

// Name is the policy's name.
func (l *Loaded) Name() string { return l.name }

// evaluate evaluates the policy on a catalogued file.
func (l *Loaded) evaluate(f catalog.File) policy.Plan {
	info := policy.FileInfoFromProbe(f.Path, f.Size, probe.Result{Container: f.Container, Duration: f.Duration, Tracks: f.Tracks})
	p := l.ev.Evaluate(info)
	p.Policy = l.name
	return p
}

// ResolvePath resolves a job's path: a directory or, when dirOnly is false, a
// file, inside the library roots. It returns the path and whether it is a
// directory.
func (s *Service) ResolvePath(p string, dirOnly bool) (string, bool, error) {
	if dirOnly {
		d, err := s.scanner.ResolveDir(p)
		return d, true, err
	}
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		d, err := s.scanner.ResolveDir(p)
		return d, true, err
	}
	f, err := s.scanner.ResolveFile(p)
	return f, false, err
}

// filesUnder calls fn for each catalogued, probed, present file under path (a
// directory) or at path (a file), in id order.
func (s *Service) filesUnder(ctx context.Context, path string, isDir bool, fn func(catalog.File) error) error {
	if !isDir {
		f, err := s.store.GetFileByPath(ctx, path)
		if errors.Is(err, catalog.ErrNotFound) {
			return fmt.Errorf("%s is not in the catalogue: scan it first", path)
		}
		if err != nil {
			return err
		}
		return fn(f)
	}
	no := false
	var after int64
	for {
		page, err := s.store.ListFiles(ctx, catalog.FileFilter{PathPrefix: path, Missing: &no, After: after, Limit: 200})
		if err != nil {
			return err
		}
		for _, f := range page {
			if f.ProbeError != "" || f.ProbedAt == nil {
				continue
			}
			full, err := s.store.GetFile(ctx, f.ID)
			if err != nil {
				return err
			}
			if err := fn(full); err != nil {
				return err
			}
		}
		if len(page) < 200 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

// filesAt calls fn for each of paths (files under dir) that is catalogued, probed
// and present; the others are skipped (a file that vanished, or failed to probe,
// since the watcher saw it).
func (s *Service) filesAt(ctx context.Context, dir string, paths []string, fn func(catalog.File) error) error {
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p != dir && !strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/") {
			continue // not under the job's directory: not this job's to touch
		}
		f, err := s.store.GetFileByPath(ctx, p)
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if f.Missing || f.ProbeError != "" || f.ProbedAt == nil {
			continue
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// PlanFile evaluates the policy on one catalogued file and stores the plan when it
// would change something; conformant files supersede their open plan instead. It
// returns the stored plan (nil when conformant or skipped) and the counters to add.
func (s *Service) PlanFile(ctx context.Context, l *Loaded, f catalog.File, state string, jobID int64) (*catalog.StoredPlan, catalog.Counts, error) {
	c := catalog.Counts{Found: 1, Done: 1}
	nc, err := s.store.DoesNotConverge(ctx, f.ID, l.pol.SHA256, f.Fingerprint)
	if err != nil {
		return nil, c, err
	}
	if nc {
		c.Skipped = 1
		return nil, c, nil
	}
	p := l.evaluate(f)
	sp, err := s.StorePlan(ctx, l, f, p, state, jobID)
	switch {
	case err != nil:
		return nil, c, err
	case sp == nil:
		c.Conformant = 1
	case p.HasErrors() || p.HasUnsupported():
		c.Failed = 1
	default:
		c.Planned = 1
	}
	return sp, c, nil
}

// DoesNotConverge reports whether an earlier apply of the policy left this
// version of the file not conformant: such a file gets no plan.
func (s *Service) DoesNotConverge(ctx context.Context, l *Loaded, f catalog.File) (bool, error) {
	return s.store.DoesNotConverge(ctx, f.ID, l.pol.SHA256, f.Fingerprint)
}

// StorePlan (also used by the CLI's dry run, which evaluates the files itself)
// stores p, the policy's plan of the catalogued file f, in state
// (pending or approved), superseding the file's open plan of the policy unless
// that one says the same of the same file version (then it is kept, with its
// approval, and returned). A conformant plan stores nothing: it supersedes the
// open plan, if any, and returns nil. The plan's Policy is set to the policy's
// name (as plans are stored and applied by name).
func (s *Service) StorePlan(ctx context.Context, l *Loaded, f catalog.File, p policy.Plan, state string, jobID int64) (*catalog.StoredPlan, error) {
	if p.Conformant() {
		// Most files are conformant: read before taking the write lock.
		if _, err := s.store.OpenPlan(ctx, f.ID, l.name); errors.Is(err, catalog.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		return nil, s.store.SupersedeOpenPlan(ctx, f.ID, l.name)
	}
	p.Policy = l.name
	data, err := json.Marshal(&p)
	if err != nil {
		return nil, fmt.Errorf("encode plan of %s: %w", f.Path, err)
	}
	sp, _, err := s.store.SavePlan(ctx, catalog.NewPlan{FileID: f.ID, Path: f.Path, Policy: l.name, PolicyHash: l.pol.SHA256,
		Size: f.Size, ModTime: f.ModTime, Fingerprint: f.Fingerprint, Plan: data, State: state, JobID: jobID})
	if err != nil {
		return nil, err
	}
	return &sp, nil
}

// SHA256 is the sha256 of the policy file.
func (l *Loaded) SHA256() string { return l.pol.SHA256 }

func add(c *catalog.Counts, d catalog.Counts) {
	c.Found += d.Found
	c.Done += d.Done
	c.Planned += d.Planned
	c.Changed += d.Changed
	c.Conformant += d.Conformant
	c.Skipped += d.Skipped
	c.Failed += d.Failed
	c.Bytes += d.Bytes
}

// Outcome is what ApplyFile did to one file.
type Outcome struct {
	// Result is "changed", "conformant", "skipped" or "failed".
	Result string
	// Reason says why a file was skipped or failed.
	Reason string
	// Plan is the plan applied, if any.
	Plan *catalog.StoredPlan
	// Bytes is the size of the new version.
	Bytes int64
	// Converges is false when the policy still wanted changes right after.
	Converges bool
}

// Outcome results.
const (
	ResultChanged    = "changed"
	ResultConformant = "conformant"
	ResultSkipped    = "skipped"
	ResultFailed     = "failed"
)

func (o Outcome) counts() catalog.Counts {
	c := catalog.Counts{Found: 1, Done: 1}
	switch o.Result {
	case ResultChanged:
		c.Changed, c.Bytes = 1, o.Bytes
	case ResultConformant:
		c.Conformant = 1
	case ResultSkipped:
		c.Skipped = 1
	case ResultFailed:
		c.Failed = 1
	}
	return c
}

// ApplyFile applies one file's plan: sp when given (an approved plan), else, when
// approval is required, the file's approved plan, else a fresh one. The file is
// claimed for jobID while it works. An error is returned only for what stops the
// job (cancellation, the catalogue failing); a file that could not be applied is
// an Outcome.
func (s *Service) ApplyFile(ctx context.Context, l *Loaded, f catalog.File, sp *catalog.StoredPlan, requireApproval bool, jobID int64, log *slog.Logger) (Outcome, error) {
	log = log.With("file_path", f.Path, "policy", l.name)
	if err := s.store.ClaimFile(ctx, f.ID, f.Path, jobID); err != nil {
		if errors.Is(err, catalog.ErrClaimed) {
			log.Info("file skipped: another job is working on it")
			return Outcome{Result: ResultSkipped, Reason: "another job is working on the file"}, nil
		}
		return Outcome{}, err
	}
	defer func() {
		if err := s.store.ReleaseFile(context.WithoutCancel(ctx), f.ID, jobID); err != nil {
			log.Warn("cannot release the file's claim", "error", err.Error())
		}
	}()
	nc, err := s.store.DoesNotConverge(ctx, f.ID, l.pol.SHA256, f.Fingerprint)
	if err != nil {
		return Outcome{}, err
	}
	if nc {
		log.Info("file skipped: this policy does not converge on it")
		return Outcome{Result: ResultSkipped, Reason: "does not converge: an earlier apply of this policy left it still not conformant"}, nil
	}
	if sp == nil {
		if requireApproval {
			open, err := s.store.OpenPlan(ctx, f.ID, l.name)
			if errors.Is(err, catalog.ErrNotFound) {
				// No open plan: the file may be conformant; say which.
				if p := l.evaluate(f); p.Conformant() {
					return Outcome{Result: ResultConformant}, nil
				}
				return Outcome{Result: ResultSkipped, Reason: "no approved plan"}, nil
			}
			if err != nil {
				return Outcome{}, err
			}
			if open.State != catalog.PlanApproved {
				return Outcome{Result: ResultSkipped, Reason: "plan " + fmt.Sprint(open.ID) + " is not approved"}, nil
			}
			sp = &open
		} else {
			made, c, err := s.PlanFile(ctx, l, f, catalog.PlanApproved, jobID)
			if err != nil {
				return Outcome{}, err
			}
			if made == nil {
				if c.Conformant == 1 {
					return Outcome{Result: ResultConformant}, nil
				}
				return Outcome{Result: ResultSkipped, Reason: "does not converge"}, nil
			}
			sp = made
		}
	}
	if sp.PolicyHash != l.pol.SHA256 {
		reason := "the policy file changed since the plan was made: plan again"
		if _, err := s.store.SetPlanState(ctx, sp.ID, []string{catalog.PlanApproved, catalog.PlanPending}, catalog.PlanStale, reason); err != nil {
			return Outcome{}, err
		}
		return Outcome{Result: ResultSkipped, Reason: reason, Plan: sp}, nil
	}
	var plan policy.Plan
	if err := json.Unmarshal(sp.Plan, &plan); err != nil {
		return Outcome{}, fmt.Errorf("plan %d is not valid JSON: %w", sp.ID, err)
	}
	start := time.Now()
	req := apply.Request{Plan: &plan, Size: sp.Size, ModTime: sp.ModTime, Fingerprint: sp.Fingerprint}
	if f.Fingerprint != "" && f.Fingerprint == sp.Fingerprint && f.Size == sp.Size && f.ModTime.Equal(sp.ModTime) {
		// The catalogue still describes the planned version.
		req.Source = &probe.Result{Container: f.Container, Duration: f.Duration, BitRate: f.BitRate, Tracks: f.Tracks}
	}
	res, err := s.exec.Apply(ctx, req)
	dur := time.Since(start)
	s.observeApply(err, res, dur, ctx.Err() != nil)
	if err != nil {
		if ctx.Err() != nil {
			return Outcome{}, fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		return s.applyFailed(ctx, l, f, sp, &plan, err, dur, jobID, log)
	}
	if !res.Changed {
		log.Info("file already as planned; nothing written")
		err := s.store.RecordApply(ctx, catalog.ApplyRecord{PlanID: sp.ID, JobID: jobID, State: catalog.PlanApplied,
			Converges: true, FileID: f.ID})
		return Outcome{Result: ResultConformant, Plan: sp, Converges: true}, err
	}
	return s.applied(ctx, l, f, sp, &plan, res, dur, jobID, log)
}

// observeApply reports one rewrite to the observer: refusals that wrote nothing
// (stale, settling) and cancellations are not rewrites and are not reported.
func (s *Service) observeApply(err error, res apply.Result, took time.Duration, cancelled bool) {
	switch {
	case s.observer == nil || cancelled || errors.Is(err, apply.ErrStale) || errors.Is(err, apply.ErrSettling):
	case err != nil:
		s.observer.ObserveApply("error", 0, took)
	case res.Changed:
		s.observer.ObserveApply("ok", res.Size, took)
	}
}

func (s *Service) applyFailed(ctx context.Context, l *Loaded, f catalog.File, sp *catalog.StoredPlan, plan *policy.Plan,
	err error, dur time.Duration, jobID int64, log *slog.Logger) (Outcome, error) {
	switch {
	case errors.Is(err, apply.ErrStale):
		log.Info("file skipped: plan is stale", "error", err.Error())
		if _, serr := s.store.SetPlanState(ctx, sp.ID, []string{catalog.PlanApproved, catalog.PlanPending}, catalog.PlanStale, err.Error()); serr != nil {
			return Outcome{}, serr
		}
		return Outcome{Result: ResultSkipped, Reason: err.Error(), Plan: sp}, nil
	case errors.Is(err, apply.ErrSettling):
		log.Info("file skipped: still changing", "error", err.Error())
		return Outcome{Result: ResultSkipped, Reason: err.Error(), Plan: sp}, nil
	}
	log.Warn("apply failed; the file is untouched", "error", err.Error())
	phases, _ := json.Marshal(plan.Phases)
	before, _ := json.Marshal(plan.File.Tracks)
	rerr := s.store.RecordApply(ctx, catalog.ApplyRecord{PlanID: sp.ID, JobID: jobID, State: catalog.PlanFailed, Error: err.Error(),
		Converges: true, FileID: f.ID, History: &catalog.HistoryEntry{Path: f.Path, NewPath: f.Path, Policy: l.name,
			PolicyHash: l.pol.SHA256, Phases: phases, TracksBefore: before, TracksAfter: before,
			DurationMS: dur.Milliseconds(), Result: catalog.HistoryFailed, Error: err.Error()}})
	return Outcome{Result: ResultFailed, Reason: err.Error(), Plan: sp}, rerr
}

// applied re-probes the new version, checks that the policy now has nothing to
// change (else the plan does not converge), and records it all in one transaction.
func (s *Service) applied(ctx context.Context, l *Loaded, f catalog.File, sp *catalog.StoredPlan, plan *policy.Plan,
	res apply.Result, dur time.Duration, jobID int64, log *slog.Logger) (Outcome, error) {
	// The file is written: what follows must be recorded even if a shutdown
	// began meanwhile.
	ctx = context.WithoutCancel(ctx)
	st, err := os.Stat(res.Path)
	if err != nil {
		return Outcome{}, fmt.Errorf("stat the new version of %s: %w", f.Path, err)
	}
	obs := catalog.Observation{Path: res.Path, Size: st.Size(), ModTime: st.ModTime()}
	obs.Fingerprint, err = scan.Fingerprint(res.Path, st.Size())
	if err != nil {
		return Outcome{}, fmt.Errorf("fingerprint the new version of %s: %w", f.Path, err)
	}
	// The verification's ffprobe report is of these very bytes; probe again
	// only if the executor had none.
	r, perr := res.Probe, error(nil)
	if r == nil {
		r, perr = s.prober.Probe(ctx, res.Path)
	}
	if perr != nil {
		obs.ProbeError = perr.Error()
	} else {
		obs.Result = r
	}
	converges, diff := true, ""
	if r != nil {
		next := l.evaluate(catalog.File{Path: res.Path, Size: st.Size(), Container: r.Container, Duration: r.Duration, Tracks: r.Tracks})
		if !next.Conformant() {
			converges = false
			var b strings.Builder
			_ = next.WriteText(&b)
			diff = "does not converge: right after the apply the policy still wants: " + strings.TrimSpace(b.String())
			log.Warn("policy does not converge on this file; it will not be applied to it again", "plan_id", sp.ID)
		}
	}
	phases, _ := json.Marshal(plan.Phases)
	before, _ := json.Marshal(plan.File.Tracks)
	after, _ := json.Marshal(res.Tracks)
	err = s.store.RecordApply(ctx, catalog.ApplyRecord{PlanID: sp.ID, JobID: jobID, State: catalog.PlanApplied, Error: diff,
		Converges: converges, ResultFingerprint: obs.Fingerprint, FileID: f.ID, File: &obs,
		History: &catalog.HistoryEntry{Path: f.Path, NewPath: res.Path, Policy: l.name, PolicyHash: l.pol.SHA256,
			Phases: phases, TracksBefore: before, TracksAfter: after, Tool: res.Tool, ToolVersion: s.toolVersion(ctx, res.Tool),
			Bytes: res.Size, DurationMS: dur.Milliseconds(), Result: catalog.HistoryApplied, Error: diff}})
	if err != nil {
		return Outcome{}, err
	}
	log.Info("file applied", "tool", res.Tool, "in_place", res.InPlace, "backup", res.Backup, "bytes", res.Size,
		"duration_ms", dur.Milliseconds(), "new_path", res.Path)
	return Outcome{Result: ResultChanged, Plan: sp, Bytes: res.Size, Converges: converges}, nil
}

// toolVersion returns the first line of `TOOL -version` (ffmpeg) or `TOOL
// --version` (mkvtoolnix), cached.
func (s *Service) toolVersion(ctx context.Context, name string) string {
	if v, ok := s.versions.Load(name); ok {
		return v.(string)
	}
	t := toolrun.Tool{Name: name}
	arg := "--version"
	switch name {
	case apply.ToolMKVMerge:
		t.Path = s.exec.Tools.MKVMerge
	case apply.ToolMKVPropEdit:
		t.Path = s.exec.Tools.MKVPropEdit
	case apply.ToolFFmpeg:
		t.Path, arg = s.exec.Tools.FFmpeg, "-version"
	}
	out, err := t.Run(ctx, toolrun.Cmd{Args: []string{arg}, Timeout: 10 * time.Second})
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out.Stdout)), "\n")
	s.versions.Store(name, line)
	return line
}

// Recover cleans up after applies a killed daemon left running: the temp files in
// the directories of claimed files are removed, the claimed files re-probed (the
// catalogue may still hold the version before the apply) and the claims dropped,
// each logged. Journals are replayed by the caller (apply.ReplayJournals) first.
func (s *Service) Recover(ctx context.Context, log *slog.Logger) error {
	claims, err := s.store.StaleClaims(ctx, s.node)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, c := range claims {
		dir := filepath.Dir(c.Path)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		removed, err := apply.CleanTemp(dir, log)
		if err != nil {
			log.Warn("cannot clean the temp files of an interrupted apply", "dir", dir, "error", err.Error())
			continue
		}
		log.Info("cleaned the directory of an interrupted apply", "dir", dir, "job_id", c.JobID, "removed", len(removed))
	}
	// A crash after a file was written but before the catalogue recorded it
	// leaves the catalogue with the old version: re-probe each claimed file,
	// so that the re-queued job plans from what is on disk instead of
	// refusing a stale plan.
	for _, c := range claims {
		if _, err := os.Stat(c.Path); err != nil {
			continue // a conversion's old name, or gone: the next scan sees it
		}
		if _, err := s.scanner.ProbeFile(ctx, c.Path, log); err != nil {
			log.Warn("cannot re-probe the file of an interrupted apply", "path", c.Path, "error", err.Error())
			continue
		}
		log.Info("re-probed the file of an interrupted apply", "path", c.Path, "job_id", c.JobID)
	}
	if len(claims) > 0 {
		log.Info("dropped the file claims of interrupted applies", "claims", len(claims))
	}
	if !s.store.Postgres() {
		return s.store.ClearClaims(ctx)
	}
	// Other nodes' claims are theirs.
	for _, c := range claims {
		if err := s.store.ReleaseFile(ctx, c.FileID, c.JobID); err != nil {
			return err
		}
	}
	return nil
}
