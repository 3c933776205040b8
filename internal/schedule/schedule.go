// Package schedule runs the scheduled full rescans of library roots
// (`schedule = "0 3 * * *"` in a [[library.roots]] table) as River periodic
// jobs, one per root: each time a root's schedule fires, a scan job of the whole
// root is inserted, followed (by the scan's Then) by a plan or apply job of the
// root's policy in mode plan or apply. The jobs of one run carry the root's path
// in their River metadata (MetadataRun), so that a run whose jobs are still
// queued or running makes the next firing skip, with a log line, instead of
// piling up runs.
//
// River runs periodic jobs on its elected leader; with one daemon per database
// that is the daemon. The schedule starts over at each start, as River's
// periodic jobs do: a run missed while the daemon was down is not made up (the
// watcher's startup reconciliation covers what changed meanwhile).
package schedule

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/robfig/cron/v3"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
)

// MetadataRun is the River metadata key of a scheduled run's jobs; its value is
// the root's path as configured.
const MetadataRun = "vpo_run"

// RunStatuser reports on the jobs marked with a metadata value; jobs.Engine
// implements it.
type RunStatuser interface {
	RunStatus(ctx context.Context, key, value, kind string) (catalog.Run, error)
}

// Scheduler holds the schedules of the roots that have one.
type Scheduler struct {
	roots []*root
	runs  func() RunStatuser
	log   *slog.Logger
}

type root struct {
	cfg   config.Root
	sched cron.Schedule

	mu      sync.Mutex
	next    time.Time // when River will fire next, as far as vpo can tell
	skipped int       // firings skipped since the start
}

// New returns the scheduler of the roots with a schedule (validated by the
// configuration). runs gives the job engine (called only when a schedule fires
// or a state is read, after the engine exists).
func New(roots []config.Root, runs func() RunStatuser, log *slog.Logger) (*Scheduler, error) {
	s := &Scheduler{runs: runs, log: log}
	now := time.Now()
	for _, rc := range roots {
		if rc.Schedule == "" {
			continue
		}
		sc, err := config.ParseSchedule(rc.Schedule)
		if err != nil {
			return nil, err
		}
		s.roots = append(s.roots, &root{cfg: rc, sched: sc, next: sc.Next(now)})
	}
	return s, nil
}

// PeriodicJobs are River's periodic jobs, one per scheduled root, for the
// engine's configuration.
func (s *Scheduler) PeriodicJobs() []*river.PeriodicJob {
	out := make([]*river.PeriodicJob, 0, len(s.roots))
	for _, r := range s.roots {
		out = append(out, river.NewPeriodicJob(r.sched, func() (river.JobArgs, *river.InsertOpts) {
			return s.fire(r)
		}, &river.PeriodicJobOpts{ID: "rescan:" + r.cfg.Path}))
	}
	return out
}

// fire is a root's periodic job constructor: the scan job of a new run, or nil
// (no job) while the previous run's jobs are queued or running. River calls it
// from its enqueuer and wants it quick: one short query.
func (s *Scheduler) fire(r *root) (river.JobArgs, *river.InsertOpts) {
	now := time.Now()
	r.mu.Lock()
	r.next = r.sched.Next(now)
	r.mu.Unlock()
	log := s.log.With("root", r.cfg.Path, "schedule", r.cfg.Schedule)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	run, err := s.runs().RunStatus(ctx, MetadataRun, r.cfg.Path, library.ScanArgs{}.Kind())
	if err != nil {
		log.Warn("scheduled rescan skipped: cannot tell whether the previous run has finished", "error", err.Error())
		return nil, nil
	}
	if run.Active > 0 {
		r.mu.Lock()
		r.skipped++
		r.mu.Unlock()
		log.Warn("scheduled rescan skipped: the previous run for this root is still running",
			"last_job_id", run.LastID, "active_jobs", run.Active)
		return nil, nil
	}
	args := library.ScanArgs{Path: r.cfg.Path}
	if r.cfg.Mode == config.ModePlan || r.cfg.Mode == config.ModeApply {
		args.Then, args.Policy = r.cfg.Mode, r.cfg.Policy
	}
	log.Info("scheduled rescan", "mode", r.cfg.Mode)
	return args, &river.InsertOpts{Metadata: metadata(r.cfg.Path)}
}

func metadata(path string) []byte {
	b, _ := json.Marshal(map[string]string{MetadataRun: path})
	return b
}

// State is a root's schedule as GET /api/roots shows it.
type State struct {
	Schedule string `json:"schedule"`
	// NextRun is when the schedule fires next.
	NextRun time.Time `json:"next_run"`
	// LastRun is the newest scheduled run's scan job, if any is kept.
	LastRun *LastRun `json:"last_run,omitempty"`
	// Skipped counts the firings skipped since the daemon started because the
	// previous run was still running.
	Skipped int `json:"skipped,omitempty"`
}

// LastRun is a scheduled run's scan job.
type LastRun struct {
	JobID   int64      `json:"job_id"`
	State   string     `json:"state"` // vpo's job state word (queued, running, completed, ...)
	Started time.Time  `json:"started_at"`
	Ended   *time.Time `json:"finished_at,omitempty"`
	// Running is set while the run's jobs (the scan, and the plan or apply job
	// that follows it) are queued or running.
	Running bool `json:"running"`
}

// State returns the schedule of the root at path (as configured), false when it
// has none.
func (s *Scheduler) State(ctx context.Context, path string) (State, bool, error) {
	for _, r := range s.roots {
		if r.cfg.Path != path {
			continue
		}
		r.mu.Lock()
		st := State{Schedule: r.cfg.Schedule, NextRun: r.next, Skipped: r.skipped}
		r.mu.Unlock()
		if now := time.Now(); st.NextRun.Before(now) {
			st.NextRun = r.sched.Next(now) // firing now; River is about to insert it
		}
		run, err := s.runs().RunStatus(ctx, MetadataRun, path, library.ScanArgs{}.Kind())
		if err != nil {
			return st, true, err
		}
		if run.LastID != 0 {
			lr := &LastRun{JobID: run.LastID, State: jobs.StateOf(rivertype.JobState(run.LastState)), Started: run.LastCreated, Running: run.Active > 0}
			if !run.LastEnded.IsZero() {
				t := run.LastEnded
				lr.Ended = &t
			}
			st.LastRun = lr
		}
		return st, true, nil
	}
	return State{}, false, nil
}
