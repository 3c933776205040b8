package library

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/riverqueue/river"

	"github.com/vpo-project/vpo/internal/catalog"
)

// ScanArgs are the arguments of a scan job. A scan job with Changed or Gone (the
// watcher's) scans only those paths under Path; one without walks all of Path.
type ScanArgs struct {
	Path string `json:"path"`
	// Changed are files under Path that are new or changed and have settled.
	Changed []string `json:"changed,omitempty"`
	// Gone are paths under Path that were removed or moved away.
	Gone []string `json:"gone,omitempty"`
	// Then is what follows a successful scan: "" (nothing), "plan" or "apply"
	// of Policy, for the Changed files (or all of Path after a full scan). A
	// watched root in mode plan or apply submits its scans with it.
	Then string `json:"then,omitempty"`
	// Policy is the policy of Then.
	Policy string `json:"policy,omitempty"`
}

// FollowUp submits what a scan job's Then asks for, once the scan succeeded;
// metadata is the scan job's River metadata, to carry over. internal/app sets it
// (the plan and apply jobs are internal/plans', which imports this package).
type FollowUp func(ctx context.Context, args ScanArgs, metadata []byte) error

// Kind is the job type "scan".
func (ScanArgs) Kind() string { return "scan" }

// ProbeArgs are the arguments of a probe job.
type ProbeArgs struct {
	Path string `json:"path"`
}

// Kind is the job type "probe".
func (ProbeArgs) Kind() string { return "probe" }

// Kinds lists the job types vpo accepts.
var Kinds = []string{ScanArgs{}.Kind(), ProbeArgs{}.Kind()}

// Workers runs scan and probe jobs for the job engine.
type Workers struct {
	scanner *Scanner
	store   *catalog.Store
	logger  *slog.Logger
	// stopping is set when the daemon's shutdown has begun, so that a worker whose
	// context is cancelled can tell an interruption by shutdown from a cancel.
	stopping atomic.Bool
	followUp FollowUp
}

// SetFollowUp sets what submits a scan's Then. Call it before the engine starts.
func (w *Workers) SetFollowUp(f FollowUp) { w.followUp = f }

// NewWorkers returns the job workers.
func NewWorkers(scanner *Scanner, store *catalog.Store, logger *slog.Logger) *Workers {
	return &Workers{scanner: scanner, store: store, logger: logger}
}

// Register adds the workers to River's registry.
func (w *Workers) Register(ws *river.Workers) {
	river.AddWorker(ws, &scanWorker{w: w})
	river.AddWorker(ws, &probeWorker{w: w})
}

// ShutdownBegun tells running workers that cancellation from now on means shutdown.
func (w *Workers) ShutdownBegun() { w.stopping.Store(true) }

// interrupted records why a job's context was cancelled and returns an error
// wrapping ctx.Err(), so that River puts a job interrupted by shutdown back in the
// queue instead of counting a failed attempt.
func (w *Workers) interrupted(ctx context.Context, jobID int64, log *slog.Logger, err error) error {
	if w.stopping.Load() {
		note := "interrupted by shutdown; re-queued to run again at the next start"
		if nerr := w.store.AddNote(context.WithoutCancel(ctx), jobID, note); nerr != nil {
			log.Error("cannot record the interruption", "error", nerr.Error())
		}
		log.Warn("job interrupted by shutdown; it will run again at the next start")
	} else {
		log.Info("job cancelled")
	}
	return fmt.Errorf("%w (%w)", ctx.Err(), err)
}

type scanWorker struct {
	river.WorkerDefaults[ScanArgs]
	w *Workers
}

func (sw *scanWorker) Work(ctx context.Context, job *river.Job[ScanArgs]) error {
	w := sw.w
	log := w.logger.With("job_id", job.ID)
	dir, err := w.scanner.ResolveDir(job.Args.Path)
	if err != nil {
		log.Error("scan refused", "error", err.Error())
		return river.JobCancel(err) // a bad path will not get better with retries
	}
	report := func(c catalog.Counts) {
		if err := w.store.SaveProgress(context.WithoutCancel(ctx), job.ID, c); err != nil {
			log.Warn("cannot record progress", "error", err.Error())
		}
	}
	if len(job.Args.Changed) > 0 || len(job.Args.Gone) > 0 {
		_, err = w.scanner.ScanPaths(ctx, dir, job.Args.Changed, job.Args.Gone, log, report)
	} else {
		_, err = w.scanner.Scan(ctx, dir, log, report)
	}
	if err != nil {
		if ctx.Err() != nil {
			return w.interrupted(ctx, job.ID, log, err)
		}
		log.Error("scan failed", "error", err.Error())
		return err
	}
	if job.Args.Then != "" {
		if w.followUp == nil {
			return river.JobCancel(fmt.Errorf("scan job asks for a %s job, which this process cannot submit", job.Args.Then))
		}
		// A failure fails this attempt: the retry scans again (unchanged files
		// cost a stat) and submits again, so the follow-up is not lost.
		if err := w.followUp(ctx, job.Args, job.Metadata); err != nil {
			log.Error("cannot submit the job that follows the scan", "then", job.Args.Then, "error", err.Error())
			return fmt.Errorf("submit the %s job: %w", job.Args.Then, err)
		}
	}
	return nil
}

type probeWorker struct {
	river.WorkerDefaults[ProbeArgs]
	w *Workers
}

func (pw *probeWorker) Work(ctx context.Context, job *river.Job[ProbeArgs]) error {
	w := pw.w
	log := w.logger.With("job_id", job.ID)
	path, err := w.scanner.ResolveFile(job.Args.Path)
	if err != nil {
		log.Error("probe refused", "error", err.Error())
		return river.JobCancel(err)
	}
	f, err := w.scanner.ProbeFile(ctx, path, log)
	if err != nil {
		if ctx.Err() != nil {
			return w.interrupted(ctx, job.ID, log, err)
		}
		log.Error("probe failed", "file_path", path, "error", err.Error())
		return err
	}
	c := catalog.Counts{Found: 1, Probed: 1}
	if f.ProbeError != "" {
		c = catalog.Counts{Found: 1, Failed: 1}
	}
	if err := w.store.SaveProgress(context.WithoutCancel(ctx), job.ID, c); err != nil {
		log.Warn("cannot record progress", "error", err.Error())
	}
	return nil
}
