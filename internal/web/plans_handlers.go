package web

import (
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/plans"
)

// planStates are the states the plans page filters by, in the order of a
// plan's life; superseded plans are reachable by address only.
var planStates = []string{catalog.PlanPending, catalog.PlanApproved, catalog.PlanApplied, catalog.PlanFailed,
	catalog.PlanRejected, catalog.PlanStale}

// pastTense names what a decision did, for notices and messages.
var pastTense = map[string]string{"approve": "approved", "reject": "rejected"}

// maxSelection bounds the plans one approve or reject form may name.
const maxSelection = 500

// planRow is a plan as the plans list shows it.
type planRow struct {
	catalog.StoredPlan
	Summary string
}

// Open reports whether an owner may still approve or reject the plan.
func (p planRow) Open() bool {
	return p.State == catalog.PlanPending || p.State == catalog.PlanApproved
}

type plansData struct {
	State, Policy, PathPrefix string
	States                    []string
	Plans                     []planRow
	Next, First               string
	// Active are the running and queued plan and apply jobs.
	Active []jobView
	// CanApply: an apply job can be queued from here.
	CanApply bool
	CSRF     string
}

// Filtered reports whether a filter is set.
func (d plansData) Filtered() bool { return d.State != "" || d.Policy != "" || d.PathPrefix != "" }

func (u *UI) handlePlans(w http.ResponseWriter, r *http.Request, v visitor) error {
	q := r.URL.Query()
	d := plansData{State: q.Get("state"), Policy: strings.TrimSpace(q.Get("policy")),
		PathPrefix: strings.TrimSpace(q.Get("path_prefix")), States: planStates, CSRF: v.csrf,
		CanApply: u.deps.Plans != nil}
	if d.State != "" && !slices.Contains(catalog.PlanStates, d.State) {
		return errorf(http.StatusBadRequest, "State %q is not one of %s.", d.State, strings.Join(catalog.PlanStates, ", "))
	}
	if len(d.Policy) > maxFilterLen || len(d.PathPrefix) > maxFilterLen {
		return errorf(http.StatusBadRequest, "A filter is longer than %d bytes.", maxFilterLen)
	}
	if d.PathPrefix != "" && !filepath.IsAbs(d.PathPrefix) {
		return errorf(http.StatusBadRequest, "The directory filter %q is not an absolute path (it starts with /).", displayPath(d.PathPrefix))
	}
	after, err := cursorParam(q.Get("cursor"))
	if err != nil {
		return err
	}
	ps, err := u.deps.Store.ListPlans(r.Context(), catalog.PlanFilter{State: d.State, Policy: d.Policy,
		PathPrefix: d.PathPrefix, After: after, Limit: pageSize + 1})
	if err != nil {
		return err
	}
	base := map[string]string{"state": d.State, "policy": d.Policy, "path_prefix": d.PathPrefix}
	if len(ps) > pageSize {
		ps = ps[:pageSize]
		d.Next = pageQuery(base, "cursor", strconv.FormatInt(ps[len(ps)-1].ID, 10))
	}
	if after > 0 {
		d.First = pageQuery(base, "", "")
	}
	for _, p := range ps {
		d.Plans = append(d.Plans, planRow{StoredPlan: p, Summary: newPlanView(p.Plan).Summary})
	}
	if d.Active, err = u.policyJobs(r); err != nil {
		return err
	}
	return u.render(w, r, v, view{name: "plans", title: "Plans", nav: "plans", data: d, liveJobs: unfinished(d.Active)})
}

// policyJobs are the running and queued plan and apply jobs (a few), for the
// live parts of the plans pages.
func (u *UI) policyJobs(r *http.Request) ([]jobView, error) {
	var js []jobs.Job
	for _, st := range []string{jobs.StateRunning, jobs.StateQueued} {
		for _, kind := range plans.Kinds {
			l, err := u.deps.Jobs.List(r.Context(), jobs.ListParams{State: st, Kind: kind, Limit: 5})
			if err != nil {
				return nil, err
			}
			js = append(js, l...)
		}
	}
	return jobViews(r.Context(), u.deps.Store, js)
}

type planData struct {
	Plan     planRow
	View     planView
	FileName string
	CSRF     string
	Active   []jobView
}

func (u *UI) handlePlan(w http.ResponseWriter, r *http.Request, v visitor) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	p, err := u.deps.Store.GetPlan(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		return errorf(http.StatusNotFound, "There is no plan %d.", id)
	}
	if err != nil {
		return err
	}
	pv := newPlanView(p.Plan)
	d := planData{Plan: planRow{StoredPlan: p, Summary: pv.Summary}, View: pv, CSRF: v.csrf,
		FileName: filepath.Base(displayPath(p.Path))}
	if d.Active, err = u.policyJobs(r); err != nil {
		return err
	}
	return u.render(w, r, v, view{name: "plan", title: "Plan " + strconv.FormatInt(id, 10), nav: "plans",
		data: d, liveJobs: unfinished(d.Active)})
}

// decide moves one plan: approve (from pending, or approved again) or reject
// (from pending or approved, or rejected again), as the API does.
func (u *UI) decide(r *http.Request, id int64, action string) (catalog.StoredPlan, error) {
	from := []string{catalog.PlanPending, catalog.PlanApproved}
	to := catalog.PlanApproved
	if action == "reject" {
		from, to = append(from, catalog.PlanRejected), catalog.PlanRejected
	}
	p, err := u.deps.Store.SetPlanState(r.Context(), id, from, to, "")
	if err == nil {
		u.log.Info("plan "+to, "plan_id", id, "file_path", p.Path, "policy", p.Policy, "via", "ui", "peer", peerOf(r))
	}
	return p, err
}

func (u *UI) handleDecidePlan(w http.ResponseWriter, r *http.Request, v visitor) error {
	id, err := idParam(r)
	if err != nil {
		return err
	}
	action := r.PathValue("action")
	if action != "approve" && action != "reject" {
		return errorf(http.StatusNotFound, "There is no page at this address.")
	}
	_, err = u.decide(r, id, action)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return errorf(http.StatusNotFound, "There is no plan %d.", id)
	case errors.Is(err, catalog.ErrPlanState):
		cur, gerr := u.deps.Store.GetPlan(r.Context(), id)
		if gerr != nil {
			return gerr
		}
		return errorf(http.StatusConflict, "Plan %d is %s: only a pending or approved plan can be %s.", id, cur.State, pastTense[action])
	case err != nil:
		return err
	}
	http.Redirect(w, r, "/ui/plans/"+strconv.FormatInt(id, 10)+"?notice=plan-"+pastTense[action], http.StatusSeeOther)
	return nil
}

// handleDecidePlans approves or rejects the plans selected on the list.
func (u *UI) handleDecidePlans(w http.ResponseWriter, r *http.Request, v visitor) error {
	if err := r.ParseForm(); err != nil {
		return errorf(http.StatusBadRequest, "The form could not be read: %v.", err)
	}
	action := r.PostForm.Get("action")
	if action != "approve" && action != "reject" {
		return errorf(http.StatusBadRequest, "The action %q is not approve or reject.", action)
	}
	raw := r.PostForm["id"]
	if len(raw) == 0 {
		return errorf(http.StatusBadRequest, "Select at least one plan.")
	}
	if len(raw) > maxSelection {
		return errorf(http.StatusBadRequest, "At most %d plans can be %s at once (%d were selected).", maxSelection, pastTense[action], len(raw))
	}
	skipped := 0
	for _, s := range raw {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return errorf(http.StatusBadRequest, "%q is not a plan id.", s)
		}
		_, err = u.decide(r, id, action)
		switch {
		case errors.Is(err, catalog.ErrNotFound), errors.Is(err, catalog.ErrPlanState):
			skipped++
		case err != nil:
			return err
		}
	}
	notice := "plans-" + pastTense[action]
	if skipped > 0 {
		notice = "plans-some-skipped"
	}
	back := r.PostForm.Get("back")
	if !strings.HasPrefix(back, "?") {
		back = "?"
	}
	http.Redirect(w, r, "/ui/plans"+back+"&notice="+notice, http.StatusSeeOther)
	return nil
}

// handleApplyApproved queues one apply job of every approved plan.
func (u *UI) handleApplyApproved(w http.ResponseWriter, r *http.Request, v visitor) error {
	if u.deps.Plans == nil {
		return errorf(http.StatusServiceUnavailable, "Applying plans is not available in this vpo.")
	}
	approved, err := u.deps.Store.ListPlans(r.Context(), catalog.PlanFilter{State: catalog.PlanApproved, Limit: 1})
	if err != nil {
		return err
	}
	if len(approved) == 0 {
		return errorf(http.StatusConflict, "No plan is approved: approve plans first.")
	}
	if err := u.queueRoom(w, r); err != nil {
		return err
	}
	id, err := u.deps.Jobs.Insert(r.Context(), plans.ApplyArgs{Approved: true})
	if err != nil {
		return err
	}
	u.log.Info("job submitted", "job_id", id, "type", "apply", "approved", true, "via", "ui", "peer", peerOf(r))
	http.Redirect(w, r, "/ui/jobs/"+strconv.FormatInt(id, 10)+"?notice=apply-started", http.StatusSeeOther)
	return nil
}

// queueRoom refuses a new job when the queue is at its cap (jobs.max_queued).
func (u *UI) queueRoom(w http.ResponseWriter, r *http.Request) error {
	limit := u.rl.Load().maxQueued
	if limit <= 0 {
		return nil
	}
	queued, _, err := u.deps.Jobs.Counts(r.Context())
	if err != nil {
		return err
	}
	if queued >= limit {
		w.Header().Set("Retry-After", "60")
		return errorf(http.StatusTooManyRequests, "The job queue is full (%d queued jobs); try again later.", queued)
	}
	return nil
}
