package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
)

// jobView is a job as the pages show it: River's job with vpo's progress.
type jobView struct {
	ID          int64
	Type        string
	State       string
	Path        string
	Progress    catalog.Counts
	HasProgress bool
	Errors      []string
	Notes       []catalog.Note
	Attempt     int
	MaxAttempts int
	CreatedAt   time.Time
	StartedAt   *time.Time
	FinishedAt  *time.Time
	ProgressAt  time.Time
	CancelAsked bool
}

// Finished reports whether the job will not change any more.
func (j jobView) Finished() bool {
	return j.State == jobs.StateCompleted || j.State == jobs.StateFailed || j.State == jobs.StateCancelled
}

// Cancellable reports whether a cancel request would do anything.
func (j jobView) Cancellable() bool { return !j.Finished() && !j.CancelAsked }

// jobViews builds the views of js, in order, with one progress query.
func jobViews(ctx context.Context, store *catalog.Store, js []jobs.Job) ([]jobView, error) {
	ids := make([]int64, len(js))
	for i, j := range js {
		ids[i] = j.ID
	}
	progress, err := store.GetProgress(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]jobView, len(js))
	for i, j := range js {
		v := jobView{ID: j.ID, Type: j.Kind, State: j.State, Errors: j.Errors, Attempt: j.Attempt,
			MaxAttempts: j.MaxAttempts, CreatedAt: j.CreatedAt, StartedAt: j.AttemptedAt, FinishedAt: j.FinalizedAt}
		var args struct {
			Path string `json:"path"`
		}
		_ = json.Unmarshal(j.Args, &args)
		v.Path = args.Path
		if p, ok := progress[j.ID]; ok {
			v.Progress, v.Notes, v.ProgressAt, v.HasProgress = p.Counts, p.Notes, p.UpdatedAt, true
		}
		var meta struct {
			// River records a cancel request of a running job here.
			CancelAttemptedAt json.RawMessage `json:"cancel_attempted_at"`
		}
		if json.Unmarshal(j.Metadata, &meta) == nil {
			v.CancelAsked = meta.CancelAttemptedAt != nil
		}
		out[i] = v
	}
	return out, nil
}

// unfinished lists the IDs of the jobs that may still change, for the live updates.
func unfinished(vs []jobView) []int64 {
	var ids []int64
	for _, v := range vs {
		if !v.Finished() && len(ids) < maxLiveJobs {
			ids = append(ids, v.ID)
		}
	}
	return ids
}

var jobStates = []string{jobs.StateQueued, jobs.StateRunning, jobs.StateCompleted, jobs.StateFailed, jobs.StateCancelled}

type jobsData struct {
	State, Type string
	States      []string
	Types       []string
	Jobs        []jobView
	Next        string // query of the next page, "" on the last
	First       string // query of the first page, "" on it
	ScanForm    scanForm
}

func (u *UI) handleJobs(w http.ResponseWriter, r *http.Request, v visitor) error {
	q := r.URL.Query()
	state, kind := q.Get("state"), q.Get("type")
	if state != "" && !slices.Contains(jobStates, state) {
		return errorf(http.StatusBadRequest, "State %q is not one of %s.", state, strings.Join(jobStates, ", "))
	}
	if kind != "" && !slices.Contains(jobKinds, kind) {
		return errorf(http.StatusBadRequest, "Type %q is not one of %s.", kind, strings.Join(jobKinds, ", "))
	}
	after, err := cursorParam(q.Get("cursor"))
	if err != nil {
		return err
	}
	js, err := u.deps.Jobs.List(r.Context(), jobs.ListParams{State: state, Kind: kind, After: after, Limit: pageSize + 1})
	if err != nil {
		return err
	}
	more := len(js) > pageSize
	if more {
		js = js[:pageSize]
	}
	views, err := jobViews(r.Context(), u.deps.Store, js)
	if err != nil {
		return err
	}
	d := jobsData{State: state, Type: kind, States: jobStates, Types: jobKinds, Jobs: views,
		ScanForm: u.scanForm(v, "")}
	base := map[string]string{"state": state, "type": kind}
	if more {
		d.Next = pageQuery(base, "cursor", strconv.FormatInt(js[len(js)-1].ID, 10))
	}
	if after > 0 {
		d.First = pageQuery(base, "", "")
	}
	return u.render(w, r, v, view{name: "jobs", title: "Jobs", nav: "jobs", data: d, liveJobs: unfinished(views)})
}

func (u *UI) handleJob(w http.ResponseWriter, r *http.Request, v visitor) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	j, err := u.deps.Jobs.Get(r.Context(), id)
	if errors.Is(err, jobs.ErrNotFound) {
		return errorf(http.StatusNotFound, "There is no job %d (finished jobs are kept for a week).", id)
	}
	if err != nil {
		return err
	}
	views, err := jobViews(r.Context(), u.deps.Store, []jobs.Job{j})
	if err != nil {
		return err
	}
	jv := views[0]
	return u.render(w, r, v, view{name: "job", title: "Job " + strconv.FormatInt(id, 10), nav: "jobs",
		data: jv, liveJobs: unfinished(views)})
}

func (u *UI) handleCancelJob(w http.ResponseWriter, r *http.Request, v visitor) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	before, err := u.deps.Jobs.Get(r.Context(), id)
	if errors.Is(err, jobs.ErrNotFound) {
		return errorf(http.StatusNotFound, "There is no job %d.", id)
	}
	if err != nil {
		return err
	}
	notice := "cancel-requested"
	if jv := (jobView{State: before.State}); jv.Finished() {
		notice = "already-finished"
	} else if _, err := u.deps.Jobs.Cancel(r.Context(), id); err != nil {
		return err
	}
	u.log.Info("ui: job cancel requested", "job_id", id, "peer", peerOf(r))
	http.Redirect(w, r, "/ui/jobs/"+strconv.FormatInt(id, 10)+"?notice="+notice, http.StatusSeeOther)
	return nil
}

// scanForm is the "scan a directory" form, with what the visitor typed and why it
// was refused.
type scanForm struct {
	CSRF  string
	Path  string
	Error string
	Roots []string
}

func (u *UI) scanForm(v visitor, path string) scanForm {
	f := scanForm{CSRF: v.csrf, Path: path}
	if u.rl.Load().cfg != nil {
		f.Roots = u.rl.Load().cfg.Library.Roots
	}
	return f
}

func (u *UI) handleStartScan(w http.ResponseWriter, r *http.Request, v visitor) error {
	raw := strings.TrimSpace(r.PostFormValue("path"))
	refuse := func(status int, msg string) error {
		f := u.scanForm(v, raw)
		f.Error = msg
		return u.render(w, r, v, view{name: "scan", title: "Scan a directory", nav: "jobs", status: status, data: f})
	}
	if raw == "" {
		return refuse(http.StatusUnprocessableEntity, "Give the directory to scan.")
	}
	dir, err := u.deps.Scanner.ResolveDir(raw)
	if err != nil {
		return refuse(http.StatusUnprocessableEntity, strings.TrimPrefix(err.Error(), library.ErrBadPath.Error()+": "))
	}
	if u.rl.Load().maxQueued > 0 {
		queued, _, err := u.deps.Jobs.Counts(r.Context())
		if err != nil {
			return err
		}
		if queued >= u.rl.Load().maxQueued {
			w.Header().Set("Retry-After", "60")
			return refuse(http.StatusTooManyRequests, "The job queue is full ("+strconv.Itoa(queued)+" queued jobs); try again later.")
		}
	}
	id, err := u.deps.Jobs.Insert(r.Context(), library.ScanArgs{Path: dir})
	if err != nil {
		return err
	}
	u.log.Info("job submitted", "job_id", id, "type", "scan", "path", dir, "via", "ui", "peer", peerOf(r))
	http.Redirect(w, r, "/ui/jobs/"+strconv.FormatInt(id, 10)+"?notice=scan-started", http.StatusSeeOther)
	return nil
}

func idParam(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusNotFound, "%q is not a valid id.", s)
	}
	return id, nil
}

func cursorParam(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusBadRequest, "The page cursor %q is not valid.", s)
	}
	return n, nil
}
