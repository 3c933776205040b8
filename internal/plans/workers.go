package plans

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/riverqueue/river"

	"github.com/vpo-project/vpo/internal/catalog"
)

// interrupted records why a job's context was cancelled and returns an error
// wrapping ctx.Err(), so that River puts a job interrupted by shutdown back in the
// queue (as the scan worker does).
func (s *Service) interrupted(ctx context.Context, jobID int64, log *slog.Logger, err error) error {
	if s.stopping.Load() {
		note := "interrupted by shutdown; re-queued to run again at the next start"
		if nerr := s.store.AddNote(context.WithoutCancel(ctx), jobID, note); nerr != nil {
			log.Error("cannot record the interruption", "error", nerr.Error())
		}
		log.Warn("job interrupted by shutdown; it will run again at the next start")
	} else {
		log.Info("job cancelled")
	}
	return fmt.Errorf("%w (%w)", ctx.Err(), err)
}

func (s *Service) report(ctx context.Context, jobID int64, c catalog.Counts, log *slog.Logger) {
	if err := s.store.SaveProgress(context.WithoutCancel(ctx), jobID, c); err != nil {
		log.Warn("cannot record progress", "error", err.Error())
	}
}

func (s *Service) note(ctx context.Context, jobID int64, text string, log *slog.Logger) {
	if err := s.store.AddNote(context.WithoutCancel(ctx), jobID, text); err != nil {
		log.Warn("cannot record a note", "error", err.Error())
	}
}

type planWorker struct {
	river.WorkerDefaults[PlanArgs]
	s *Service
}

func (pw *planWorker) Work(ctx context.Context, job *river.Job[PlanArgs]) error {
	s := pw.s
	log := s.logger.With("job_id", job.ID, "policy", job.Args.Policy)
	l, err := s.LoadPolicy(job.Args.Policy)
	if err != nil {
		log.Error("plan refused", "error", err.Error())
		return river.JobCancel(err) // a bad policy will not get better with retries
	}
	dir, isDir, err := s.ResolvePath(job.Args.Path, false)
	if err != nil {
		log.Error("plan refused", "error", err.Error())
		return river.JobCancel(err)
	}
	var c catalog.Counts
	plan := func(f catalog.File) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, d, err := s.PlanFile(ctx, l, f, catalog.PlanPending, job.ID)
		if err != nil {
			return err
		}
		add(&c, d)
		s.report(ctx, job.ID, c, log)
		return nil
	}
	if len(job.Args.Paths) > 0 && isDir {
		err = s.filesAt(ctx, dir, job.Args.Paths, plan)
	} else {
		err = s.filesUnder(ctx, dir, isDir, plan)
	}
	s.report(ctx, job.ID, c, log)
	if err != nil {
		if ctx.Err() != nil {
			return s.interrupted(ctx, job.ID, log, err)
		}
		log.Error("plan failed", "error", err.Error())
		return err
	}
	log.Info("plan finished", "files", c.Done, "planned", c.Planned, "conformant", c.Conformant, "skipped", c.Skipped, "failed", c.Failed)
	return nil
}

type applyWorker struct {
	river.WorkerDefaults[ApplyArgs]
	s *Service
}

func (aw *applyWorker) Work(ctx context.Context, job *river.Job[ApplyArgs]) error {
	s := aw.s
	log := s.logger.With("job_id", job.ID)
	defer func() {
		if err := s.store.ReleaseJobClaims(context.WithoutCancel(ctx), job.ID); err != nil {
			log.Warn("cannot release the job's file claims", "error", err.Error())
		}
	}()
	// The counters are this attempt's: after an interruption the files already
	// applied count as conformant.
	var c catalog.Counts
	var err error
	if job.Args.Approved {
		err = s.applyApproved(ctx, job.ID, job.Args, &c, log)
	} else {
		err = s.applyPath(ctx, job.ID, job.Args, &c, log)
	}
	s.report(ctx, job.ID, c, log)
	if err != nil {
		var cancel *river.JobCancelError
		if errors.As(err, &cancel) {
			return err
		}
		if ctx.Err() != nil {
			return s.interrupted(ctx, job.ID, log, err)
		}
		log.Error("apply failed", "error", err.Error())
		return err
	}
	log.Info("apply finished", "files", c.Done, "changed", c.Changed, "conformant", c.Conformant,
		"skipped", c.Skipped, "failed", c.Failed, "bytes_written", c.Bytes)
	return nil
}

// applyPath applies the policy's plans to the files under args.Path.
func (s *Service) applyPath(ctx context.Context, jobID int64, args ApplyArgs, c *catalog.Counts, log *slog.Logger) error {
	log = log.With("policy", args.Policy)
	l, err := s.LoadPolicy(args.Policy)
	if err != nil {
		log.Error("apply refused", "error", err.Error())
		return river.JobCancel(err)
	}
	path, isDir, err := s.ResolvePath(args.Path, false)
	if err != nil {
		log.Error("apply refused", "error", err.Error())
		return river.JobCancel(err)
	}
	approval := s.approval && !args.Unattended
	pool, t := newFilePool(s.applyWorkers), &tally{c: c}
	one := func(f catalog.File) error {
		return pool.do(f.ID, func() error { return s.applyOne(ctx, jobID, l, f, nil, approval, t, log) })
	}
	if len(args.Paths) > 0 && isDir {
		err = s.filesAt(ctx, path, args.Paths, one)
	} else {
		err = s.filesUnder(ctx, path, isDir, one)
	}
	if werr := pool.wait(); err == nil {
		err = werr
	}
	return err
}

// applyApproved applies every approved plan (of args.Policy, under args.Path).
func (s *Service) applyApproved(ctx context.Context, jobID int64, args ApplyArgs, c *catalog.Counts, log *slog.Logger) error {
	pool, t := newFilePool(s.applyWorkers), &tally{c: c}
	err := s.eachApproved(ctx, jobID, args, pool, t, log)
	if werr := pool.wait(); err == nil {
		err = werr
	}
	return err
}

func (s *Service) eachApproved(ctx context.Context, jobID int64, args ApplyArgs, pool *filePool, t *tally, log *slog.Logger) error {
	policies := map[string]*Loaded{}
	var after int64
	for {
		page, err := s.store.ListPlans(ctx, catalog.PlanFilter{State: catalog.PlanApproved, Policy: args.Policy,
			PathPrefix: args.Path, After: after, Limit: 100})
		if err != nil {
			return err
		}
		for i := range page {
			sp := page[i]
			l, ok := policies[sp.Policy]
			if !ok {
				l, err = s.LoadPolicy(sp.Policy)
				if err != nil {
					log.Warn("approved plans skipped: their policy cannot be Loaded", "policy", sp.Policy, "error", err.Error())
					s.note(ctx, jobID, fmt.Sprintf("plans of policy %s skipped: %v", sp.Policy, err), log)
				}
				policies[sp.Policy] = l
			}
			if l == nil {
				t.add(catalog.Counts{Found: 1, Done: 1, Skipped: 1}, nil)
				continue
			}
			f, err := s.store.GetFile(ctx, sp.FileID)
			if err != nil {
				return err
			}
			if err := pool.do(f.ID, func() error { return s.applyOne(ctx, jobID, l, f, &sp, s.approval, t, log) }); err != nil {
				return err
			}
		}
		if len(page) < 100 {
			return nil
		}
		after = page[len(page)-1].ID
	}
}

func (s *Service) applyOne(ctx context.Context, jobID int64, l *Loaded, f catalog.File, sp *catalog.StoredPlan,
	requireApproval bool, t *tally, log *slog.Logger) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o, err := s.ApplyFile(ctx, l, f, sp, requireApproval, jobID, log)
	if err != nil {
		return err
	}
	if o.Result == ResultFailed || o.Result == ResultSkipped && o.Reason != "no approved plan" {
		s.note(ctx, jobID, fmt.Sprintf("%s: %s: %s", f.Path, o.Result, o.Reason), log)
	}
	t.add(o.counts(), func(c catalog.Counts) { s.report(ctx, jobID, c, log) })
	return nil
}

// RunForeground applies the policy to the catalogued files under each path (a
// directory or a file), in this process, as `vpo policy run` does without
// --dry-run: with requireApproval only approved plans, else (`--yes`) what a
// fresh plan says. report, when not nil, receives each file's outcome. The files
// are claimed under the negative process ID, so that a daemon's jobs and this run
// never work on the same file at once.
func (s *Service) RunForeground(ctx context.Context, policyName string, paths []string, requireApproval bool,
	report func(path string, o Outcome)) (catalog.Counts, error) {
	var c catalog.Counts
	l, err := s.LoadPolicy(policyName)
	if err != nil {
		return c, err
	}
	claimID := -int64(os.Getpid())
	defer func() {
		if err := s.store.ReleaseJobClaims(context.WithoutCancel(ctx), claimID); err != nil {
			s.logger.Warn("cannot release the run's file claims", "error", err.Error())
		}
	}()
	pool, t := newFilePool(s.applyWorkers), &tally{c: &c}
	err = s.foreground(ctx, l, paths, requireApproval, claimID, pool, t, report)
	if werr := pool.wait(); err == nil {
		err = werr
	}
	return c, err
}

func (s *Service) foreground(ctx context.Context, l *Loaded, paths []string, requireApproval bool, claimID int64,
	pool *filePool, t *tally, report func(path string, o Outcome)) error {
	for _, p := range paths {
		path, isDir, err := s.ResolvePath(p, false)
		if err != nil {
			return err
		}
		err = s.filesUnder(ctx, path, isDir, func(f catalog.File) error {
			return pool.do(f.ID, func() error {
				if err := ctx.Err(); err != nil {
					return err
				}
				o, err := s.ApplyFile(ctx, l, f, nil, requireApproval, claimID, s.logger)
				if err != nil {
					return err
				}
				t.add(o.counts(), func(catalog.Counts) {
					if report != nil {
						report(f.Path, o)
					}
				})
				return nil
			})
		})
		if err != nil {
			return err
		}
	}
	return nil
}
