package web

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/vpo-project/vpo/internal/policy"
)

// trackRow is one track of a before or after table, with what the plan does
// to it.
type trackRow struct {
	policy.Track
	// Removed (before table): the plan removes the track, for Reason.
	Removed bool
	Reason  string
	// Changed (after table) names the fields the plan changes; Moved is set
	// when the track's position changes.
	Changed map[string]bool
	Moved   bool
}

// planView is a stored plan's policy.Plan as the pages show it: its phases and
// the tracks before and after.
type planView struct {
	Plan            policy.Plan
	Before, After   []trackRow
	ContainerBefore string
	ContainerAfter  string
	// Summary is the plan in a few words ("removes 2 tracks, changes 1 flag").
	Summary string
	// Err is why the plan could not be read or does not fit its own tracks.
	Err string
}

// newPlanView decodes a stored plan.
func newPlanView(raw []byte) planView {
	var v planView
	if err := json.Unmarshal(raw, &v.Plan); err != nil {
		v.Err = "The stored plan cannot be read: " + err.Error()
		return v
	}
	return planViewOf(v.Plan)
}

// planViewOf builds the view of a plan.
func planViewOf(p policy.Plan) (v planView) {
	v.Plan = p
	v.ContainerBefore = p.File.Container
	removed := map[int]string{}
	changed := map[int]map[string]bool{}
	var nRemoved, nChanged int
	reorder, convert := false, false
	for _, ph := range p.Phases {
		if ph.Status != policy.PhaseRan {
			continue
		}
		for _, r := range ph.Removals {
			removed[r.Track] = r.Reason
			nRemoved++
		}
		for _, c := range ph.Changes {
			if changed[c.Track] == nil {
				changed[c.Track] = map[string]bool{}
			}
			changed[c.Track][c.Field] = true
			nChanged++
		}
		reorder = reorder || ph.Order != nil
		convert = convert || ph.Container != nil
	}
	for _, t := range p.File.Tracks {
		r := trackRow{Track: t}
		if reason, ok := removed[t.ID]; ok {
			r.Removed, r.Reason = true, reason
		}
		v.Before = append(v.Before, r)
	}
	// Result panics on a plan that does not fit its own input (a bug, or a
	// hand-edited database): the page says so instead.
	func() {
		defer func() {
			if e := recover(); e != nil {
				v.Err = fmt.Sprint("The plan does not fit the file's tracks: ", e)
			}
		}()
		res := p.Result()
		v.ContainerAfter = res.Container
		before := map[int]int{}
		kept := 0
		for _, t := range p.File.Tracks {
			if _, gone := removed[t.ID]; !gone {
				before[t.ID] = kept
				kept++
			}
		}
		for i, t := range res.Tracks {
			r := trackRow{Track: t, Changed: changed[t.ID]}
			if pos, ok := before[t.ID]; ok && pos != i {
				r.Moved = true
			}
			v.After = append(v.After, r)
		}
	}()
	var parts []string
	if nRemoved > 0 {
		parts = append(parts, "removes "+plural(nRemoved, "track"))
	}
	if nChanged > 0 {
		parts = append(parts, "changes "+plural(nChanged, "field"))
	}
	if reorder {
		parts = append(parts, "reorders tracks")
	}
	if convert {
		parts = append(parts, "converts to "+v.ContainerAfter)
	}
	if p.HasErrors() {
		parts = append(parts, "has errors")
	}
	if p.HasUnsupported() {
		parts = append(parts, "needs an operation vpo does not run")
	}
	if len(parts) == 0 {
		parts = append(parts, "no change")
	}
	v.Summary = strings.Join(parts, ", ")
	return v
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
