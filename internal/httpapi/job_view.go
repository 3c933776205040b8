package httpapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
)

// JobView is a job as the API and `vpo jobs` show it: River's job with vpo's
// progress and history. Its JSON field names are part of the API (docs/api.md).
type JobView struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"`
	State string `json:"state"`
	Path  string `json:"path,omitempty"`
	// Policy is the policy of a plan or apply job, or of the job a scan is
	// followed by (Then: "plan" or "apply", a watched root's scans).
	Policy string `json:"policy,omitempty"`
	Then   string `json:"then,omitempty"`
	// Scheduled marks the jobs of a root's scheduled run.
	Scheduled   bool           `json:"scheduled,omitempty"`
	Progress    catalog.Counts `json:"progress"`
	Errors      []string       `json:"errors"`
	Notes       []catalog.Note `json:"notes"`
	Attempt     int            `json:"attempt"`
	CreatedAt   time.Time      `json:"created_at"`
	StartedAt   *time.Time     `json:"started_at,omitempty"`
	FinishedAt  *time.Time     `json:"finished_at,omitempty"`
	ProgressAt  *time.Time     `json:"progress_updated_at,omitempty"`
	CancelAsked bool           `json:"cancel_requested,omitempty"`
}

// ProgressReader reads jobs' recorded progress; catalog.Store implements it.
type ProgressReader interface {
	GetProgress(ctx context.Context, ids ...int64) (map[int64]catalog.Progress, error)
}

// JobViews builds the views of js, in the same order, with one progress query.
func JobViews(ctx context.Context, progress ProgressReader, js []jobs.Job) ([]JobView, error) {
	ids := make([]int64, len(js))
	for i, j := range js {
		ids[i] = j.ID
	}
	recorded, err := progress.GetProgress(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]JobView, len(js))
	for i, j := range js {
		v := JobView{ID: j.ID, Type: j.Kind, State: j.State, Errors: j.Errors, Attempt: j.Attempt,
			CreatedAt: j.CreatedAt, StartedAt: j.AttemptedAt, FinishedAt: j.FinalizedAt, Notes: []catalog.Note{}}
		if v.Errors == nil {
			v.Errors = []string{}
		}
		v.Path = JobPath(j)
		var args struct {
			Policy string `json:"policy"`
			Then   string `json:"then"`
		}
		if json.Unmarshal(j.Args, &args) == nil {
			v.Policy, v.Then = args.Policy, args.Then
		}
		if p, ok := recorded[j.ID]; ok {
			v.Progress = p.Counts
			if p.Notes != nil {
				v.Notes = p.Notes
			}
			t := p.UpdatedAt
			v.ProgressAt = &t
		}
		var meta struct {
			// River records a cancel request of a running job here.
			CancelAttemptedAt json.RawMessage `json:"cancel_attempted_at"`
			Run               string          `json:"vpo_run"` // app.MetadataRun
		}
		if json.Unmarshal(j.Metadata, &meta) == nil {
			v.CancelAsked = meta.CancelAttemptedAt != nil
			v.Scheduled = meta.Run != ""
		}
		out[i] = v
	}
	return out, nil
}

// JobPath is the path a scan or probe job works on, from its arguments; "" for a
// job without one.
func JobPath(j jobs.Job) string {
	var args struct {
		Path string `json:"path"`
	}
	_ = json.Unmarshal(j.Args, &args)
	return args.Path
}
