package apply

import (
	"fmt"
	"math"
	"strings"

	"github.com/vpo-project/vpo/internal/policy"
)

// durationSlack is the smallest duration difference verification
// tolerates: short clips end on a packet boundary that moves by a few
// milliseconds when a longer track is dropped.
const durationSlack = 0.05

// verify compares the probed new version with the plan's expected result
// and returns an error wrapping ErrVerify that lists every difference. It
// returns notes on what the container could not store but the plan did not
// require (titles in MP4).
func (j *job) verify(got *details) ([]string, error) {
	var diffs, notes []string
	if k := policy.ContainerKind(got.result.Container); k != j.dstKind {
		diffs = append(diffs, fmt.Sprintf("container is %s, want %s", k, j.dstKind))
	}
	gotTracks := make([]policy.Track, len(got.result.Tracks))
	for i, t := range got.result.Tracks {
		gotTracks[i] = policy.TrackFromProbe(t)
	}
	split := func(ts []policy.Track) (streams, attachments []policy.Track) {
		for _, t := range ts {
			if t.Type == policy.TypeAttachment {
				attachments = append(attachments, t)
			} else {
				streams = append(streams, t)
			}
		}
		return streams, attachments
	}
	// Matroska stores attachments apart from the tracks: ffprobe lists them
	// last whatever the plan's order, so they are compared on their own.
	wantS, wantA := split(j.target.Tracks)
	gotS, gotA := split(gotTracks)
	titles := j.dstKind != "mp4"
	droppedTitles := false
	if len(gotS) != len(wantS) {
		diffs = append(diffs, fmt.Sprintf("%d tracks, want %d", len(gotS), len(wantS)))
	} else {
		for i, w := range wantS {
			g := gotS[i]
			var d []string
			if g.Type != w.Type {
				d = append(d, fmt.Sprintf("type %s, want %s", g.Type, w.Type))
			}
			if g.Codec != w.Codec {
				d = append(d, fmt.Sprintf("codec %s, want %s", g.Codec, w.Codec))
			}
			if !policy.SameLanguage(g.Language, w.Language) {
				d = append(d, fmt.Sprintf("language %q, want %q", g.Language, w.Language))
			}
			if g.Title != w.Title {
				if titles || g.Title != "" {
					d = append(d, fmt.Sprintf("title %q, want %q", g.Title, w.Title))
				} else {
					droppedTitles = true
				}
			}
			if g.Default != w.Default {
				d = append(d, fmt.Sprintf("default %t, want %t", g.Default, w.Default))
			}
			if g.Forced != w.Forced {
				d = append(d, fmt.Sprintf("forced %t, want %t", g.Forced, w.Forced))
			}
			if len(d) > 0 {
				diffs = append(diffs, fmt.Sprintf("track %d (was %d): %s", i, w.ID, strings.Join(d, ", ")))
			}
		}
	}
	if len(gotA) != len(wantA) {
		diffs = append(diffs, fmt.Sprintf("%d attachments, want %d", len(gotA), len(wantA)))
	}
	want := j.expectedDuration()
	if have := got.result.Duration; want > 0 && math.Abs(have-want) > max(want/100, durationSlack) {
		diffs = append(diffs, fmt.Sprintf("duration %.3fs, want %.3fs (±1%%)", have, want))
	}
	if len(diffs) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrVerify, strings.Join(diffs, "; "))
	}
	if droppedTitles {
		notes = append(notes, "mp4 does not store track titles; they were dropped")
	}
	return notes, nil
}

// expectedDuration is the longest kept stream's duration, else the
// source's duration.
func (j *job) expectedDuration() float64 {
	var d float64
	for _, t := range j.target.Tracks {
		if t.Type != policy.TypeAttachment {
			d = max(d, j.src.durations[t.ID])
		}
	}
	if d == 0 {
		d = j.src.result.Duration
	}
	return d
}
