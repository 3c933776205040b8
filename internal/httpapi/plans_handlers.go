package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/riverqueue/river"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/plans"
)

// registerPlans adds the plan and history routes.
func (a *API) registerPlans() {
	a.handle("GET /api/plans", a.handleListPlans)
	a.handle("GET /api/plans/{id}", a.handleGetPlan)
	// Without the any-method catch-all, which would conflict with
	// GET /api/plans/{id} in the ServeMux: handleGetPlan answers GET
	// /api/plans/apply with the 405.
	a.handle("POST /api/plans/apply", a.handleApplyApproved, func(r *route) { r.noFallback = true })
	a.handle("POST /api/plans/{id}/approve", a.handleApprovePlan)
	a.handle("POST /api/plans/{id}/reject", a.handleRejectPlan)
	a.handle("GET /api/files/{id}/history", a.handleFileHistory)
}

// jobKinds lists every job type the API accepts.
func jobKinds() []string { return append(append([]string{}, library.Kinds...), plans.Kinds...) }

// policyJobArgs builds a plan or apply job's arguments from a submission.
func (a *API) policyJobArgs(req submitRequest) (river.JobArgs, error) {
	if a.deps.Plans == nil {
		return nil, errorf(http.StatusUnprocessableEntity, "invalid_job", fmt.Sprintf("job type %q is not available", req.Type))
	}
	if req.Policy == "" {
		return nil, errorf(http.StatusUnprocessableEntity, "invalid_job", fmt.Sprintf(`"policy" is required for a %s job`, req.Type))
	}
	if _, err := a.deps.Plans.LoadPolicy(req.Policy); err != nil {
		return nil, errorf(http.StatusUnprocessableEntity, "invalid_policy", err.Error())
	}
	p, _, err := a.deps.Plans.ResolvePath(req.Path, false)
	if err != nil {
		return nil, badPath(err)
	}
	if req.Type == "plan" {
		return plans.PlanArgs{Policy: req.Policy, Path: p}, nil
	}
	return plans.ApplyArgs{Policy: req.Policy, Path: p}, nil
}

func (a *API) handleListPlans(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "state", "policy", "path_prefix", "limit", "cursor"); err != nil {
		return err
	}
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	after, err := cursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	f := catalog.PlanFilter{State: q.Get("state"), Policy: q.Get("policy"), PathPrefix: q.Get("path_prefix"), After: after, Limit: limit}
	if f.State != "" && !oneOf(f.State, catalog.PlanStates...) {
		return errorf(http.StatusBadRequest, "invalid_query",
			fmt.Sprintf("state %q is not one of %s", f.State, strings.Join(catalog.PlanStates, ", ")))
	}
	if f.PathPrefix != "" && f.PathPrefix[0] != '/' {
		return errorf(http.StatusBadRequest, "invalid_query", fmt.Sprintf("path_prefix %q is not an absolute path", f.PathPrefix))
	}
	ps, err := a.deps.Store.ListPlans(r.Context(), f)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []catalog.StoredPlan{}
	}
	resp := map[string]any{"plans": ps}
	if len(ps) == limit {
		resp["next_cursor"] = strconv.FormatInt(ps[len(ps)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) handleGetPlan(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("id") == "apply" {
		w.Header().Set("Allow", http.MethodPost)
		return errorf(http.StatusMethodNotAllowed, "method_not_allowed",
			fmt.Sprintf("%s is not allowed on %s (allowed: POST)", r.Method, r.URL.Path))
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := a.deps.Store.GetPlan(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", fmt.Sprintf("no plan %d", id))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (a *API) handleApprovePlan(w http.ResponseWriter, r *http.Request) error {
	return a.planTransition(w, r, []string{catalog.PlanPending, catalog.PlanApproved}, catalog.PlanApproved)
}

func (a *API) handleRejectPlan(w http.ResponseWriter, r *http.Request) error {
	return a.planTransition(w, r, []string{catalog.PlanPending, catalog.PlanApproved, catalog.PlanRejected}, catalog.PlanRejected)
}

// planTransition moves the plan named in the path from one of the states from to
// to; a plan in another state gets 409.
func (a *API) planTransition(w http.ResponseWriter, r *http.Request, from []string, to string) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	p, err := a.deps.Store.SetPlanState(r.Context(), id, from, to, "")
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return errorf(http.StatusNotFound, "not_found", fmt.Sprintf("no plan %d", id))
	case errors.Is(err, catalog.ErrPlanState):
		cur, gerr := a.deps.Store.GetPlan(r.Context(), id)
		if gerr != nil {
			return gerr
		}
		return errorf(http.StatusConflict, "invalid_state",
			fmt.Sprintf("plan %d is %s; only a plan that is %s can become %s", id, cur.State, strings.Join(from, " or "), to))
	case err != nil:
		return err
	}
	a.logger.Info("plan "+to, "plan_id", id, "file_path", p.Path, "policy", p.Policy)
	writeJSON(w, http.StatusOK, p)
	return nil
}

// handleApplyApproved queues one apply job of every approved plan.
func (a *API) handleApplyApproved(w http.ResponseWriter, r *http.Request) error {
	if a.deps.Plans == nil {
		return errorf(http.StatusServiceUnavailable, "unavailable", "applying plans is not available")
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(r, &struct{}{}); err != nil {
			return err
		}
	}
	approved, err := a.deps.Store.ListPlans(r.Context(), catalog.PlanFilter{State: catalog.PlanApproved, Limit: 1})
	if err != nil {
		return err
	}
	if len(approved) == 0 {
		return errorf(http.StatusConflict, "nothing_approved", "no plan is approved; approve plans first (POST /api/plans/{id}/approve)")
	}
	id, err := a.deps.Jobs.Insert(r.Context(), plans.ApplyArgs{Approved: true})
	if err != nil {
		return err
	}
	a.logger.Info("job submitted", "job_id", id, "type", "apply", "approved", true)
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "type": "apply", "state": jobs.StateQueued})
	return nil
}

func (a *API) handleFileHistory(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if err := onlyParams(q, "limit", "cursor"); err != nil {
		return err
	}
	limit, err := pageLimit(q.Get("limit"))
	if err != nil {
		return err
	}
	after, err := cursor(q.Get("cursor"))
	if err != nil {
		return err
	}
	if _, err := a.deps.Store.GetFile(r.Context(), id); errors.Is(err, catalog.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", fmt.Sprintf("no file %d", id))
	} else if err != nil {
		return err
	}
	hs, err := a.deps.Store.FileHistory(r.Context(), id, after, limit)
	if err != nil {
		return err
	}
	resp := map[string]any{"history": hs}
	if len(hs) == limit {
		resp["next_cursor"] = strconv.FormatInt(hs[len(hs)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}
