package policy

import (
	"errors"
	"fmt"
	"slices"
)

// Phase statuses in [PhasePlan.Status].
const (
	// PhaseRan: the phase was evaluated; its operations are listed.
	PhaseRan = "ran"
	// PhaseSkipped: skip_when, depends_on, run_if or an earlier phase's
	// on_error kept the phase from running; SkipReason says which.
	PhaseSkipped = "skipped"
	// PhaseFailed: the phase hit an error (see Errors); none of its
	// operations apply.
	PhaseFailed = "failed"
)

// Fields a [Change] can name.
const (
	FieldDefault  = "default"
	FieldForced   = "forced"
	FieldLanguage = "language"
	FieldTitle    = "title"
)

// Plan is what evaluating a policy against one file yields: per phase, what
// would change. It is plain data, JSON-serialisable with stable field names,
// and deterministic: the same policy and file give the same plan, byte for
// byte.
//
// Tracks are named by [Track.ID] (the ffprobe stream index when catalogued),
// never by position.
type Plan struct {
	// Policy is the policy's name.
	Policy string `json:"policy,omitempty"`
	// File is the input: the file and its tracks before any phase.
	File FileInfo `json:"file"`
	// Phases has one entry per policy phase, in policy order.
	Phases []PhasePlan `json:"phases"`
	// Stopped is set when a phase failed with on_error: fail: the later
	// phases do not run and a batch run stops after this file. As in the
	// original, the phases before the failed one still apply.
	Stopped bool `json:"stopped,omitempty"`
}

// PhasePlan is one phase's part of a [Plan]. Applying it to the tracks
// left by the previous phases means: drop Removals, put the rest in Order
// (when set), then apply Changes, then the container change.
type PhasePlan struct {
	// Name is the phase name.
	Name string `json:"name"`
	// Status is PhaseRan, PhaseSkipped or PhaseFailed.
	Status string `json:"status"`
	// SkipReason says why a skipped phase did not run.
	SkipReason string `json:"skip_reason,omitempty"`
	// Removals lists the tracks the phase removes, in track order.
	Removals []Removal `json:"removals,omitempty"`
	// Order is the IDs of all remaining tracks in their new order; nil when
	// the order does not change.
	Order []int `json:"order,omitempty"`
	// Changes lists flag, language and title changes, by track in the new
	// order, then by field (default, forced, language, title).
	Changes []Change `json:"changes,omitempty"`
	// Container is the container conversion, if any.
	Container *ContainerChange `json:"container,omitempty"`
	// Warnings are things the owner should know; they change nothing.
	Warnings []string `json:"warnings,omitempty"`
	// Unsupported lists the operations of this phase that this vpo does not
	// run ("transcode: not supported by this vpo").
	Unsupported []string `json:"unsupported,omitempty"`
	// Errors are why the phase failed.
	Errors []string `json:"errors,omitempty"`
}

// Removal is a track a phase removes.
type Removal struct {
	// Track is the track's ID.
	Track int `json:"track"`
	// Reason says which operation removes it and why.
	Reason string `json:"reason"`
}

// Change is one field of one track that a phase changes. From and To are
// JSON booleans for default and forced, strings for language and title
// ("" is an empty tag).
type Change struct {
	Track int    `json:"track"`
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
}

// ContainerChange is a container conversion: From and To are container
// kinds (see [ContainerKind]).
type ContainerChange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Modifies reports whether the phase changes anything in the file.
func (pp *PhasePlan) Modifies() bool {
	return len(pp.Removals) > 0 || pp.Order != nil || len(pp.Changes) > 0 || pp.Container != nil
}

// Changed reports whether applying the plan would change the file: whether
// its result differs from its input. This is the net effect: a phase that
// clears the default flags a later phase sets again modifies the file in
// between (which matters to run_if), but a file that ends as it started is
// not changed.
func (p *Plan) Changed() bool {
	modifies := false
	for i := range p.Phases {
		if p.Phases[i].Modifies() {
			modifies = true
			break
		}
	}
	if !modifies {
		return false
	}
	r := p.Result()
	return ContainerKind(r.Container) != ContainerKind(p.File.Container) || !slices.Equal(r.Tracks, p.File.Tracks)
}

// HasErrors reports whether a phase failed.
func (p *Plan) HasErrors() bool {
	for i := range p.Phases {
		if len(p.Phases[i].Errors) > 0 {
			return true
		}
	}
	return false
}

// HasUnsupported reports whether a phase needs an operation this vpo does
// not run.
func (p *Plan) HasUnsupported() bool {
	for i := range p.Phases {
		if len(p.Phases[i].Unsupported) > 0 {
			return true
		}
	}
	return false
}

// Conformant reports whether the file already is as the policy wants it:
// nothing to change, no error, and nothing the policy asks for that this
// vpo cannot check.
func (p *Plan) Conformant() bool {
	return !p.Changed() && !p.HasErrors() && !p.HasUnsupported() && !p.Stopped
}

// Result returns the file as the plan leaves it: its tracks after every
// phase that ran, and its container.
func (p *Plan) Result() FileInfo {
	out := p.File
	out.Tracks = slices.Clone(p.File.Tracks)
	for i := range p.Phases {
		// The plan was built by Evaluate, so applying it cannot fail.
		tracks, container, err := applyPhase(out.Tracks, out.Container, &p.Phases[i])
		if err != nil {
			panic("policy: plan does not fit its own input: " + err.Error())
		}
		out.Tracks, out.Container = tracks, container
	}
	return out
}

// ErrPlanMismatch is wrapped by [Apply] when a plan names a track that is
// not there.
var ErrPlanMismatch = errors.New("plan does not match the tracks")

// Apply applies a plan's phases to tracks (which should be the plan's input
// tracks, e.g. re-read from the file just before executing) and returns the
// resulting tracks. It fails when the plan names a track ID that is missing.
func Apply(tracks []Track, p *Plan) ([]Track, error) {
	out := slices.Clone(tracks)
	container := p.File.Container
	for i := range p.Phases {
		var err error
		out, container, err = applyPhase(out, container, &p.Phases[i])
		if err != nil {
			return nil, fmt.Errorf("apply phase %s: %w", p.Phases[i].Name, err)
		}
	}
	return out, nil
}

func applyPhase(tracks []Track, container string, pp *PhasePlan) ([]Track, string, error) {
	if pp.Status != PhaseRan {
		return tracks, container, nil
	}
	find := func(ts []Track, id int) int {
		for i := range ts {
			if ts[i].ID == id {
				return i
			}
		}
		return -1
	}
	for _, r := range pp.Removals {
		i := find(tracks, r.Track)
		if i < 0 {
			return nil, "", fmt.Errorf("%w: removal of track %d", ErrPlanMismatch, r.Track)
		}
		tracks = slices.Delete(tracks, i, i+1)
	}
	if pp.Order != nil {
		if len(pp.Order) != len(tracks) {
			return nil, "", fmt.Errorf("%w: order names %d tracks, %d remain", ErrPlanMismatch, len(pp.Order), len(tracks))
		}
		ordered := make([]Track, 0, len(tracks))
		for _, id := range pp.Order {
			i := find(tracks, id)
			if i < 0 {
				return nil, "", fmt.Errorf("%w: order names track %d", ErrPlanMismatch, id)
			}
			ordered = append(ordered, tracks[i])
		}
		tracks = ordered
	}
	for _, c := range pp.Changes {
		i := find(tracks, c.Track)
		if i < 0 {
			return nil, "", fmt.Errorf("%w: change of track %d", ErrPlanMismatch, c.Track)
		}
		t := &tracks[i]
		switch c.Field {
		case FieldDefault:
			t.Default, _ = c.To.(bool)
		case FieldForced:
			t.Forced, _ = c.To.(bool)
		case FieldLanguage:
			t.Language, _ = c.To.(string)
		case FieldTitle:
			t.Title, _ = c.To.(string)
		default:
			return nil, "", fmt.Errorf("%w: unknown field %q", ErrPlanMismatch, c.Field)
		}
	}
	if pp.Container != nil {
		container = pp.Container.To
	}
	return tracks, container, nil
}

// Outcomes returned by [Plan.Outcome], for a run's summary.
const (
	OutcomeConformant  = "conformant"
	OutcomeChange      = "would change"
	OutcomeUnsupported = "unsupported"
	OutcomeError       = "error"
)

// Outcome puts the plan in one bucket of a run's summary, the first that
// applies: error (a phase failed), would change, unsupported (nothing to
// change that vpo can do, but the policy asks for something it cannot
// run), conformant.
func (p *Plan) Outcome() string {
	switch {
	case p.HasErrors():
		return OutcomeError
	case p.Changed():
		return OutcomeChange
	case p.HasUnsupported():
		return OutcomeUnsupported
	}
	return OutcomeConformant
}
