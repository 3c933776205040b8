package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/plans"
	"github.com/vpo-project/vpo/internal/policy"
)

// problem is one problem of an invalid policy, with its position.
type problem struct {
	Line, Column int
	Path, Msg    string
}

func problemsOf(err error) []problem {
	var es policy.Errors
	if errors.As(err, &es) {
		out := make([]problem, len(es))
		for i, e := range es {
			out[i] = problem{Line: e.Line, Column: e.Column, Path: e.Path, Msg: e.Msg}
		}
		return out
	}
	return []problem{{Msg: err.Error()}}
}

// policyRow is a policy file as the policies pages show it.
type policyRow struct {
	Name, File, Description, Category, SHA256 string
	Valid                                     bool
	Problems                                  []problem
	Phases                                    []policy.PhaseSummary
}

func policyRowOf(e policy.Entry) policyRow {
	r := policyRow{Name: e.Name, File: e.Path, Valid: e.Err == nil}
	if e.Err != nil {
		r.Problems = problemsOf(e.Err)
	}
	if e.Policy != nil {
		r.Description, r.Category, r.SHA256 = e.Policy.Description, e.Policy.Category, e.Policy.SHA256
		if ph, err := e.Policy.PhaseSummaries(); err == nil {
			r.Phases = ph
		} else {
			r.Problems = append(r.Problems, problem{Msg: "its phases cannot be listed: " + err.Error()})
		}
	}
	return r
}

// registry is the policies in force, or nil.
func (u *UI) registry() *policy.Registry { return u.rl.Load().policies }

type policiesData struct {
	Dir      string
	Policies []policyRow
	Served   bool
}

func (u *UI) handlePolicies(w http.ResponseWriter, r *http.Request, v visitor) error {
	d := policiesData{}
	if reg := u.registry(); reg != nil {
		d.Served, d.Dir = true, reg.Dir()
		for _, e := range reg.Entries() {
			d.Policies = append(d.Policies, policyRowOf(e))
		}
	}
	return u.render(w, r, v, view{name: "policies", title: "Policies", nav: "policies", data: d})
}

// previewData is a policy's preview over a directory: the plan job's
// counters, then the plans it stored (the files that would change).
type previewData struct {
	Dir   string
	Job   *jobView
	Plans []planRow
	// More is the plans list of the preview's plans when there are more.
	More string
	All  string
}

type policyData struct {
	Policy   policyRow
	CSRF     string
	Form     previewForm
	Preview  *previewData
	CanQueue bool
}

type previewForm struct {
	Dir, Error string
	Roots      []string
}

func (u *UI) policyEntry(name string) (policy.Entry, error) {
	reg := u.registry()
	if reg == nil {
		return policy.Entry{}, errorf(http.StatusNotFound, "This vpo serves no policies.")
	}
	e, err := reg.Get(name)
	if errors.Is(err, policy.ErrNotFound) {
		return e, errorf(http.StatusNotFound, "There is no policy %q in %s.", name, reg.Dir())
	}
	return e, err
}

func (u *UI) handlePolicy(w http.ResponseWriter, r *http.Request, v visitor) error {
	e, err := u.policyEntry(r.PathValue("name"))
	if err != nil {
		return err
	}
	d := policyData{Policy: policyRowOf(e), CSRF: v.csrf, CanQueue: u.deps.Plans != nil}
	if c := u.rl.Load().cfg; c != nil {
		d.Form.Roots = c.Library.Roots
	}
	var live []int64
	if s := r.URL.Query().Get("job"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return errorf(http.StatusBadRequest, "%q is not a job id.", s)
		}
		p, err := u.preview(r, e.Name, id)
		if err != nil {
			return err
		}
		d.Preview, d.Form.Dir = p, p.Dir
		if p.Job != nil && !p.Job.Finished() {
			live = []int64{id}
		}
	}
	return u.render(w, r, v, view{name: "policy", title: "Policy " + e.Name, nav: "policies", data: d, liveJobs: live})
}

// preview reads the preview of plan job id: its counters and the first page of
// the open plans it stored.
func (u *UI) preview(r *http.Request, name string, id int64) (*previewData, error) {
	j, err := u.deps.Jobs.Get(r.Context(), id)
	if errors.Is(err, jobs.ErrNotFound) {
		return nil, errorf(http.StatusNotFound, "There is no job %d (finished jobs are kept for a week).", id)
	}
	if err != nil {
		return nil, err
	}
	if j.Kind != (plans.PlanArgs{}).Kind() {
		return nil, errorf(http.StatusBadRequest, "Job %d is a %s job, not a policy's preview.", id, j.Kind)
	}
	views, err := jobViews(r.Context(), u.deps.Store, []jobs.Job{j})
	if err != nil {
		return nil, err
	}
	p := &previewData{Dir: views[0].Path, Job: &views[0]}
	// The plans the job stored that are still open: those of this policy under
	// the directory, made by this job (a later plan job supersedes them).
	f := catalog.PlanFilter{Policy: name, PathPrefix: p.Dir, Limit: pageSize + 1}
	var after int64
	for range 4 { // at most four pages read for the first page of this job's plans
		f.After = after
		ps, err := u.deps.Store.ListPlans(r.Context(), f)
		if err != nil {
			return nil, err
		}
		for _, sp := range ps {
			if sp.JobID == id && len(p.Plans) < pageSize {
				p.Plans = append(p.Plans, planRow{StoredPlan: sp, Summary: newPlanView(sp.Plan).Summary})
			}
		}
		if len(ps) <= pageSize || len(p.Plans) >= pageSize {
			break
		}
		after = ps[len(ps)-1].ID
	}
	p.All = pageQuery(map[string]string{"policy": name, "path_prefix": p.Dir, "state": catalog.PlanPending}, "", "")
	return p, nil
}

func (u *UI) handlePreview(w http.ResponseWriter, r *http.Request, v visitor) error {
	e, err := u.policyEntry(r.PathValue("name"))
	if err != nil {
		return err
	}
	d := policyData{Policy: policyRowOf(e), CSRF: v.csrf, CanQueue: u.deps.Plans != nil}
	raw := strings.TrimSpace(r.PostFormValue("path"))
	d.Form.Dir = raw
	if c := u.rl.Load().cfg; c != nil {
		d.Form.Roots = c.Library.Roots
	}
	refuse := func(status int, msg string) error {
		d.Form.Error = msg
		return u.render(w, r, v, view{name: "policy", title: "Policy " + e.Name, nav: "policies", status: status, data: d})
	}
	switch {
	case u.deps.Plans == nil:
		return errorf(http.StatusServiceUnavailable, "Plan jobs are not available in this vpo.")
	case !d.Policy.Valid:
		return refuse(http.StatusUnprocessableEntity, "This policy is not valid: fix it and reload vpo first.")
	case raw == "":
		return refuse(http.StatusUnprocessableEntity, "Give the directory to preview.")
	}
	dir, _, err := u.deps.Plans.ResolvePath(raw, true)
	if err != nil {
		return refuse(http.StatusUnprocessableEntity, strings.TrimPrefix(err.Error(), library.ErrBadPath.Error()+": "))
	}
	if err := u.queueRoom(w, r); err != nil {
		return err
	}
	id, err := u.deps.Jobs.Insert(r.Context(), plans.PlanArgs{Policy: e.Name, Path: dir})
	if err != nil {
		return err
	}
	u.log.Info("job submitted", "job_id", id, "type", "plan", "policy", e.Name, "path", dir, "via", "ui", "peer", peerOf(r))
	http.Redirect(w, r, "/ui/policies/"+url.PathEscape(e.Name)+"?job="+strconv.FormatInt(id, 10)+"&notice=preview-started", http.StatusSeeOther)
	return nil
}

// filePolicyPlan is what one policy would do to a file as catalogued.
type filePolicyPlan struct {
	Policy  string
	Valid   bool
	Outcome string
	View    planView
}

// maxFilePolicies bounds the policies evaluated on a file's page.
const maxFilePolicies = 20

// filePlans evaluates every valid policy (up to maxFilePolicies) on f.
func (u *UI) filePlans(f catalog.File) (out []filePolicyPlan, more bool) {
	reg := u.registry()
	if reg == nil || f.ProbedAt == nil || f.ProbeError != "" {
		return nil, false
	}
	info := policy.FileInfo{Path: f.Path, Container: f.Container, Size: f.Size, Duration: f.Duration,
		Tracks: make([]policy.Track, len(f.Tracks))}
	for i, t := range f.Tracks {
		info.Tracks[i] = policy.TrackFromProbe(t)
	}
	for _, e := range reg.Entries() {
		if len(out) == maxFilePolicies {
			return out, true
		}
		fp := filePolicyPlan{Policy: e.Name}
		ev, _, err := reg.Evaluator(e.Name)
		if err == nil {
			fp.Valid = true
			p := ev.Evaluate(info)
			fp.Outcome = p.Outcome()
			fp.View = planViewOf(p)
		}
		out = append(out, fp)
	}
	return out, false
}
