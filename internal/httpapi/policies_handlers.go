package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/policy"
)

// validatePolicyPath is the one route that takes a YAML body; requireJSON
// lets yamlMediaTypes through for it.
const validatePolicyPath = "/api/policies/validate"

// yamlMediaTypes are the Content-Types POST /api/policies/validate takes as
// a YAML body. None is a CORS "simple" type, so a browser still sends a
// preflight before a cross-origin request with one of them, as it does for
// application/json.
var yamlMediaTypes = map[string]bool{
	"application/yaml":   true,
	"application/x-yaml": true,
	"text/yaml":          true,
	"text/x-yaml":        true,
}

// isYAMLBody reports whether r declares a YAML body.
func isYAMLBody(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && yamlMediaTypes[mt]
}

// ProblemView is one problem of an invalid policy.
type ProblemView struct {
	// Line and Column are 1-based; 0 when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Path is the key path, e.g. "phases[0].keep_audio.minimum".
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Text is the whole problem on one line, file:line:column: path: message.
	Text string `json:"text"`
}

func problems(err error) []ProblemView {
	var es policy.Errors
	if errors.As(err, &es) {
		out := make([]ProblemView, len(es))
		for i, e := range es {
			out[i] = ProblemView{Line: e.Line, Column: e.Column, Path: e.Path, Message: e.Msg, Text: e.Error()}
		}
		return out
	}
	return []ProblemView{{Message: err.Error(), Text: err.Error()}}
}

// PolicyView is a policy file as GET /api/policies lists it.
type PolicyView struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Category    string `json:"category,omitempty"`
	File        string `json:"file"`
	Valid       bool   `json:"valid"`
	// Errors lists every problem of an invalid policy.
	Errors []ProblemView `json:"errors,omitempty"`
}

// PolicyDetail is one policy as GET /api/policies/{name} and POST
// /api/policies/validate show it: the list view, and for a valid policy its
// effective form (every default filled in) and its phases in brief.
type PolicyDetail struct {
	PolicyView
	SHA256 string                `json:"sha256,omitempty"`
	Policy map[string]any        `json:"policy,omitempty"`
	Phases []policy.PhaseSummary `json:"phases,omitempty"`
}

func policyView(e policy.Entry) PolicyView {
	v := PolicyView{Name: e.Name, File: e.Path, Valid: e.Err == nil}
	if e.Policy != nil {
		v.Description, v.Category = e.Policy.Description, e.Policy.Category
	}
	if e.Err != nil {
		v.Errors = problems(e.Err)
	}
	return v
}

func policyDetail(e policy.Entry) (PolicyDetail, error) {
	d := PolicyDetail{PolicyView: policyView(e)}
	if e.Policy == nil {
		return d, nil
	}
	var err error
	d.SHA256 = e.Policy.SHA256
	if d.Policy, err = e.Policy.Effective(); err != nil {
		return d, err
	}
	if d.Phases, err = e.Policy.PhaseSummaries(); err != nil {
		return d, err
	}
	return d, nil
}

// policies returns the registry in force (a reload may swap it: SetLive), or a
// 503 when the daemon has none.
func (a *API) policies() (*policy.Registry, error) {
	reg := a.live.Load().policies
	if reg == nil {
		return nil, errorf(http.StatusServiceUnavailable, "no_policies", "this vpo serves no policies")
	}
	return reg, nil
}

func (a *API) handleListPolicies(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	reg, err := a.policies()
	if err != nil {
		return err
	}
	entries := reg.Entries()
	views := make([]PolicyView, len(entries))
	for i, e := range entries {
		views[i] = policyView(e)
	}
	writeJSON(w, http.StatusOK, map[string]any{"dir": reg.Dir(), "policies": views})
	return nil
}

func (a *API) handleGetPolicy(w http.ResponseWriter, r *http.Request) error {
	if err := onlyParams(r.URL.Query()); err != nil {
		return err
	}
	reg, err := a.policies()
	if err != nil {
		return err
	}
	name := r.PathValue("name")
	e, err := reg.Get(name)
	if errors.Is(err, policy.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", fmt.Sprintf("no policy %q in %s", name, reg.Dir()))
	}
	if err != nil {
		return err
	}
	d, err := policyDetail(e)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// handlePolicyPost serves POST /api/policies/validate. The route is
// registered as POST /api/policies/{name}: a pattern of its own would conflict
// in the ServeMux with GET /api/policies/{name} through the catch-all that
// answers 405 (neither pattern is more specific). A POST to any other name is
// a 405, as it would be otherwise.
func (a *API) handlePolicyPost(w http.ResponseWriter, r *http.Request) error {
	if r.PathValue("name") == "validate" {
		return a.handleValidatePolicy(w, r)
	}
	w.Header().Set("Allow", "GET")
	return errorf(http.StatusMethodNotAllowed, "method_not_allowed",
		fmt.Sprintf("POST is not allowed on %s (allowed: GET)", r.URL.Path))
}

// validateRequest is the JSON form of a POST /api/policies/validate body.
type validateRequest struct {
	// Name is the file name shown in the problems' positions.
	Name string `json:"name"`
	// YAML is the policy text.
	YAML string `json:"yaml"`
}

// handleValidatePolicy checks a policy sent as the body: YAML (Content-Type
// application/yaml, application/x-yaml, text/yaml or text/x-yaml) with the
// file name in ?name=, or JSON {"name": ..., "yaml": ...}. A valid policy and
// an invalid one are both 200: the answer is the verdict.
func (a *API) handleValidatePolicy(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "name"); err != nil {
		return err
	}
	req := validateRequest{Name: q.Get("name")}
	if isYAMLBody(r) {
		data, err := io.ReadAll(r.Body)
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return errorf(http.StatusRequestEntityTooLarge, "body_too_large",
				fmt.Sprintf("request body is larger than %d bytes", tooLarge.Limit))
		}
		if err != nil {
			return err
		}
		req.YAML = string(data)
	} else {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/json" {
			return errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
				"send the policy as Content-Type: application/yaml, or as application/json {\"name\": ..., \"yaml\": ...}")
		}
		var body validateRequest
		if err := decodeJSON(r, &body); err != nil {
			return err
		}
		if req.Name == "" {
			req.Name = body.Name
		}
		req.YAML = body.YAML
	}
	if req.Name == "" {
		req.Name = "policy.yaml"
	}
	p, err := policy.Parse(req.Name, []byte(req.YAML))
	e := policy.Entry{Name: req.Name, Path: req.Name, Policy: p, Err: err}
	if err == nil {
		if _, cerr := policy.Compile(p); cerr != nil {
			e.Policy, e.Err = nil, cerr
		}
	}
	d, err := policyDetail(e)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// PlanView is GET /api/files/{id}/plan's answer: what the policy would do to
// the file as catalogued.
type PlanView struct {
	FileID int64  `json:"file_id"`
	Path   string `json:"path"`
	Policy string `json:"policy"`
	// Outcome is conformant, would change, unsupported or error.
	Outcome string      `json:"outcome"`
	Changed bool        `json:"changed"`
	Plan    policy.Plan `json:"plan"`
}

func (a *API) handleFilePlan(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if err := onlyParams(q, "policy"); err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	name := q.Get("policy")
	if name == "" {
		return errorf(http.StatusBadRequest, "invalid_query", "policy is required: ?policy=NAME")
	}
	reg, err := a.policies()
	if err != nil {
		return err
	}
	ev, _, err := reg.Evaluator(name)
	switch {
	case errors.Is(err, policy.ErrNotFound):
		return errorf(http.StatusNotFound, "policy_not_found", fmt.Sprintf("no policy %q in %s", name, reg.Dir()))
	case errors.Is(err, policy.ErrInvalid):
		writeJSON(w, http.StatusUnprocessableEntity, invalidPolicyBody(name, err))
		return nil
	case err != nil:
		return err
	}
	f, err := a.deps.Store.GetFile(r.Context(), id)
	if errors.Is(err, catalog.ErrNotFound) {
		return errorf(http.StatusNotFound, "not_found", fmt.Sprintf("no file %d", id))
	}
	if err != nil {
		return err
	}
	switch {
	case f.ProbeError != "":
		return errorf(http.StatusConflict, "file_unreadable", fmt.Sprintf("file %d could not be read by ffprobe: %s", id, f.ProbeError))
	case f.ProbedAt == nil:
		return errorf(http.StatusConflict, "file_not_probed", fmt.Sprintf("file %d is not probed yet; scan it first", id))
	}
	info := policy.FileInfo{Path: f.Path, Container: f.Container, Size: f.Size, Duration: f.Duration,
		Tracks: make([]policy.Track, len(f.Tracks))}
	for i, t := range f.Tracks {
		info.Tracks[i] = policy.TrackFromProbe(t)
	}
	plan := ev.Evaluate(info)
	writeJSON(w, http.StatusOK, PlanView{FileID: id, Path: f.Path, Policy: name, Outcome: plan.Outcome(),
		Changed: plan.Changed(), Plan: plan})
	return nil
}

// invalidPolicyBody is the 422 answer for a plan asked of an invalid policy:
// the usual error object, with the problems.
func invalidPolicyBody(name string, err error) any {
	type body struct {
		Code    string        `json:"code"`
		Message string        `json:"message"`
		Errors  []ProblemView `json:"errors"`
	}
	return map[string]body{"error": {Code: "invalid_policy",
		Message: fmt.Sprintf("policy %q is not valid; fix it and restart vpo", name), Errors: problems(err)}}
}
