package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/riverqueue/river"

	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/plans"
)

// MaxPageSize caps every list endpoint's page.
const MaxPageSize = 1000

// DefaultPageSize is a list endpoint's page when limit is not given.
const DefaultPageSize = 100

type submitRequest struct {
	Type   string `json:"type"`
	Path   string `json:"path"`
	Policy string `json:"policy,omitempty"` // plan and apply jobs
}

// submitResponse is POST /api/jobs's answer.
type submitResponse struct {
	ID    int64  `json:"id"`
	Type  string `json:"type"`
	State string `json:"state"`
}

// jobList is GET /api/jobs's answer.
type jobList struct {
	Jobs []JobView `json:"jobs"`
	// NextCursor, when set, is the cursor of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// decodeJSON decodes exactly one JSON object from the body into v, rejecting unknown
// fields, trailing data and oversized bodies with a 4xx *Error.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return errorf(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
		case errors.Is(err, io.EOF):
			return errorf(http.StatusBadRequest, "malformed_json", "request body is empty; want a JSON object")
		}
		return errorf(http.StatusBadRequest, "malformed_json", "malformed JSON request body: "+strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errorf(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", mbe.Limit))
		}
		return errorf(http.StatusBadRequest, "malformed_json", "malformed JSON request body: data after the JSON object")
	}
	return nil
}

func (a *API) handleSubmitJob(w http.ResponseWriter, r *http.Request) error {
	var req submitRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	var args river.JobArgs
	switch req.Type {
	case "scan":
		p, err := a.deps.Scanner.ResolveDir(req.Path)
		if err != nil {
			return badPath(err)
		}
		args = library.ScanArgs{Path: p}
	case "probe":
		p, err := a.deps.Scanner.ResolveFile(req.Path)
		if err != nil {
			return badPath(err)
		}
		args = library.ProbeArgs{Path: p}
	case "plan", "apply":
		var err error
		if args, err = a.policyJobArgs(req); err != nil {
			return err
		}
	case "":
		return errorf(http.StatusUnprocessableEntity, "invalid_job", `"type" is required (one of `+strings.Join(jobKinds(), ", ")+")")
	default:
		return errorf(http.StatusUnprocessableEntity, "invalid_job",
			fmt.Sprintf("unknown job type %q (want one of %s)", req.Type, strings.Join(jobKinds(), ", ")))
	}
	if req.Policy != "" && req.Type != "plan" && req.Type != "apply" {
		return errorf(http.StatusUnprocessableEntity, "invalid_job", fmt.Sprintf(`"policy" is not used by a %s job`, req.Type))
	}
	if maxQueued := a.live.Load().maxQueued; maxQueued > 0 {
		queued, _, err := a.deps.Jobs.Counts(r.Context())
		if err != nil {
			return err
		}
		if queued >= maxQueued {
			w.Header().Set("Retry-After", "60")
			return errorf(http.StatusTooManyRequests, "queue_full",
				fmt.Sprintf("the job queue is full (%d queued jobs); retry later", queued))
		}
	}
	id, err := a.deps.Jobs.Insert(r.Context(), args)
	if err != nil {
		return err
	}
	a.logger.Info("job submitted", "job_id", id, "type", req.Type, "path", argsPath(args))
	writeJSON(w, http.StatusAccepted, submitResponse{ID: id, Type: req.Type, State: jobs.StateQueued})
	return nil
}

func argsPath(a river.JobArgs) string {
	switch v := a.(type) {
	case library.ScanArgs:
		return v.Path
	case library.ProbeArgs:
		return v.Path
	case plans.PlanArgs:
		return v.Path
	case plans.ApplyArgs:
		return v.Path
	}
	return ""
}

func badPath(err error) error {
	var pe *library.PathError
	if !errors.As(err, &pe) {
		return err // not the client's fault: a 500
	}
	return errorf(http.StatusUnprocessableEntity, "invalid_path", pe.Reason)
}

func (a *API) handleGetJob(w http.ResponseWriter, r *http.Request) error {
	return a.jobAction(w, r, http.StatusOK, a.deps.Jobs.Get)
}

func (a *API) handleListJobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "state", "type", "limit", "cursor"); err != nil {
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
	state := q.Get("state")
	if state != "" && !oneOf(state, jobs.StateQueued, jobs.StateRunning, jobs.StateCompleted, jobs.StateFailed, jobs.StateCancelled) {
		return errorf(http.StatusBadRequest, "invalid_query",
			fmt.Sprintf("state %q is not one of queued, running, completed, failed, cancelled", state))
	}
	kind := q.Get("type")
	if kind != "" && !oneOf(kind, jobKinds()...) {
		return errorf(http.StatusBadRequest, "invalid_query",
			fmt.Sprintf("type %q is not one of %s", kind, strings.Join(jobKinds(), ", ")))
	}
	js, err := a.deps.Jobs.List(r.Context(), jobs.ListParams{State: state, Kind: kind, Limit: limit, After: after})
	if err != nil {
		return err
	}
	views, err := JobViews(r.Context(), a.deps.Store, js)
	if err != nil {
		return err
	}
	resp := jobList{Jobs: views}
	if len(js) == limit {
		resp.NextCursor = strconv.FormatInt(js[len(js)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) handleCancelJob(w http.ResponseWriter, r *http.Request) error {
	return a.jobAction(w, r, http.StatusAccepted, a.deps.Jobs.Cancel)
}

// jobAction applies get or cancel to the job named in the path and writes the job.
func (a *API) jobAction(w http.ResponseWriter, r *http.Request, status int,
	action func(context.Context, int64) (jobs.Job, error)) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	j, err := action(r.Context(), id)
	if errors.Is(err, jobs.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", fmt.Sprintf("no job %d", id))
	}
	if err != nil {
		return err
	}
	views, err := JobViews(r.Context(), a.deps.Store, []jobs.Job{j})
	if err != nil {
		return err
	}
	writeJSON(w, status, views[0])
	return nil
}

func pathID(r *http.Request) (int64, error) {
	s := r.PathValue("id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, errorf(http.StatusBadRequest, "invalid_id", fmt.Sprintf("%q is not a valid id", s))
	}
	return id, nil
}

func pageLimit(s string) (int, error) {
	if s == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxPageSize {
		return 0, errorf(http.StatusBadRequest, "invalid_query", fmt.Sprintf("limit %q is not a number from 1 to %d", s, MaxPageSize))
	}
	return n, nil
}

func cursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, errorf(http.StatusBadRequest, "invalid_query", fmt.Sprintf("cursor %q is not valid", s))
	}
	return n, nil
}

// onlyParams rejects unknown query parameters, so that a typo is not silently ignored.
func onlyParams(q map[string][]string, allowed ...string) error {
	for k, v := range q {
		if !oneOf(k, allowed...) {
			return errorf(http.StatusBadRequest, "invalid_query",
				fmt.Sprintf("unknown query parameter %q (allowed: %s)", k, strings.Join(allowed, ", ")))
		}
		if len(v) > 1 {
			return errorf(http.StatusBadRequest, "invalid_query", fmt.Sprintf("query parameter %q given more than once", k))
		}
	}
	return nil
}

func oneOf(v string, allowed ...string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}
