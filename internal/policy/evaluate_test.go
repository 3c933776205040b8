package policy

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestEvaluate is the table of tracks → plans, with the failure modes users
// report in other tools as named cases.
func TestEvaluate(t *testing.T) {
	tests := []struct {
		name   string
		policy *Policy
		file   FileInfo
		// want is the summary of the resulting tracks.
		want string
		// check inspects the plan further; may be nil.
		check func(t *testing.T, p Plan)
	}{
		{
			name:   "default flag left on the old track after a reorder",
			policy: testPolicy(Phase{Name: "order", TrackOrder: defaultOrder(), DefaultFlags: defaultFlags()}),
			file:   mkvFile(def(vid(0)), def(aud(1, "jpn", "")), aud(2, "eng", "")),
			want:   "0v-D 2a-eng-D 1a-jpn",
			check: func(t *testing.T, p Plan) {
				ph := p.Phases[0]
				if !reflect.DeepEqual(ph.Order, []int{0, 2, 1}) {
					t.Errorf("order = %v", ph.Order)
				}
				want := []Change{
					{Track: 2, Field: FieldDefault, From: false, To: true},
					{Track: 1, Field: FieldDefault, From: true, To: false},
				}
				if !reflect.DeepEqual(ph.Changes, want) {
					t.Errorf("changes = %+v, want %+v", ph.Changes, want)
				}
			},
		},
		{
			name:   "commentary picked as default",
			policy: testPolicy(Phase{Name: "flags", DefaultFlags: defaultFlags()}),
			file:   mkvFile(def(vid(0)), def(aud(1, "eng", "Commentary with the director")), aud(2, "eng", ""), aud(3, "eng", "Isolated Score")),
			want:   "0v-D 1a-eng 2a-eng-D 3a-eng",
		},
		{
			name:   "only commentary audio: the first track stays default",
			policy: testPolicy(Phase{Name: "flags", DefaultFlags: defaultFlags()}),
			file:   mkvFile(def(vid(0)), aud(1, "eng", "Commentary"), aud(2, "eng", "Commentary 2")),
			want:   "0v-D 1a-eng-D 2a-eng",
		},
		{
			name:   "a normal track (Commentary-free, Director's Cut) taken for commentary",
			policy: testPolicy(Phase{Name: "order", TrackOrder: defaultOrder(), DefaultFlags: defaultFlags()}),
			file:   mkvFile(def(vid(0)), def(aud(1, "eng", "Director's Commentary")), aud(2, "eng", "English (Director's Cut, commentary-free)")),
			want:   "0v-D 2a-eng-D 1a-eng",
		},
		{
			name: "an SDH subtitle taken for commentary",
			policy: testPolicy(Phase{Name: "subs", TrackOrder: defaultOrder(), DefaultFlags: &DefaultFlags{
				SetPreferredSubtitleDefault: true, ClearOtherDefaults: true}}),
			file: mkvFile(vid(0), aud(1, "eng", ""), sub(2, "eng", "Commentary"), sub(3, "eng", "SDH")),
			want: "0v 1a-eng 3s-eng-D 2s-eng",
		},
		{
			name:   "every audio track removed: no fallback is an error, nothing removed",
			policy: testPolicy(Phase{Name: "audio", KeepAudio: keepAudio("fre")}),
			file:   mkvFile(vid(0), aud(1, "eng", ""), aud(2, "jpn", "")),
			want:   "0v 1a-eng 2a-jpn",
			check: func(t *testing.T, p Plan) {
				ph := p.Phases[0]
				if ph.Status != PhaseFailed || len(ph.Removals) != 0 || len(ph.Errors) != 1 ||
					!strings.Contains(ph.Errors[0], "keep_audio: 0 audio track(s) would remain, minimum is 1") {
					t.Errorf("phase = %+v", ph)
				}
				if p.Conformant() || !p.HasErrors() || p.Outcome() != OutcomeError {
					t.Error("a failed phase is not conformant")
				}
			},
		},
		{
			name: "every audio track removed: keep_first keeps the first dialogue track",
			policy: testPolicy(Phase{Name: "audio", KeepAudio: func() *KeepAudio {
				k := keepAudio("fre")
				k.Fallback = &Fallback{Mode: FallbackKeepFirst}
				return k
			}()}),
			file: mkvFile(vid(0), aud(1, "eng", "Commentary"), aud(2, "jpn", ""), aud(3, "eng", "")),
			want: "0v 2a-jpn",
		},
		{
			name: "every audio track removed: content_language keeps the first dialogue track's language",
			policy: testPolicy(Phase{Name: "audio", KeepAudio: func() *KeepAudio {
				k := keepAudio("fre")
				k.Fallback = &Fallback{Mode: FallbackContentLanguage}
				return k
			}()}),
			file: mkvFile(vid(0), aud(1, "jpn", ""), aud(2, "eng", ""), aud(3, "ja", "5.1")),
			want: "0v 1a-jpn 3a-jpn",
		},
		{
			name: "every audio track removed: keep_all",
			policy: testPolicy(Phase{Name: "audio", KeepAudio: func() *KeepAudio {
				k := keepAudio("fre")
				k.Fallback = &Fallback{Mode: FallbackKeepAll}
				return k
			}()}),
			file: mkvFile(vid(0), aud(1, "jpn", ""), aud(2, "eng", "")),
			want: "0v 1a-jpn 2a-eng",
		},
		{
			name:   "every dialogue track removed although a score track is kept",
			policy: testPolicy(Phase{Name: "audio", KeepAudio: keepAudio("eng")}),
			file:   mkvFile(vid(0), aud(1, "jpn", ""), aud(2, "eng", "Isolated Score"), aud(3, "eng", "Commentary")),
			want:   "0v 1a-jpn 2a-eng 3a-eng",
			check: func(t *testing.T, p Plan) {
				if p.Phases[0].Status != PhaseFailed {
					t.Errorf("keeping only score and commentary must trip minimum: %+v", p.Phases[0])
				}
			},
		},
		{
			name:   "und, zxx and mis tracks dropped",
			policy: testPolicy(Phase{Name: "audio", KeepAudio: keepAudio("eng")}),
			file:   mkvFile(vid(0), aud(1, "eng", ""), aud(2, "", ""), aud(3, "zxx", ""), aud(4, "mis", "")),
			want:   "0v 1a-eng 3a-zxx",
			check: func(t *testing.T, p Plan) {
				w := allWarnings(p)
				if !strings.Contains(w, "track 2 (audio) has no known language (und) and is removed; add und to keep_audio.languages") ||
					!strings.Contains(w, "track 4 (audio) has language mis and is removed") {
					t.Errorf("removing und/mis tracks must be explicit; warnings:\n%s", w)
				}
			},
		},
		{
			name:   "und listed keeps untagged tracks",
			policy: testPolicy(Phase{Name: "audio", KeepAudio: keepAudio("eng", "und")}, Phase{Name: "subs", KeepSubtitles: &KeepSubtitles{Languages: []string{"eng", "und"}}}),
			file:   mkvFile(vid(0), aud(1, "eng", ""), aud(2, "", ""), sub(3, "", ""), sub(4, "fre", "")),
			want:   "0v 1a-eng 2a-und 3s-und",
		},
		{
			name:   "forced subtitles lost: preserve_forced keeps them whatever their language",
			policy: testPolicy(Phase{Name: "subs", KeepSubtitles: &KeepSubtitles{Languages: []string{"eng"}, PreserveForced: true}}),
			file:   mkvFile(vid(0), aud(1, "jpn", ""), sub(2, "eng", ""), forced(sub(3, "", "Signs")), sub(4, "fre", "")),
			want:   "0v 1a-jpn 2s-eng 3s-und-F",
		},
		{
			name: "forced subtitles lost: clear_all_forced first is explicit",
			policy: testPolicy(Phase{Name: "subs", SubtitleActions: &TrackActions{ClearAllForced: true},
				KeepSubtitles: &KeepSubtitles{Languages: []string{"eng"}, PreserveForced: true}}),
			file: mkvFile(vid(0), aud(1, "jpn", ""), sub(2, "eng", ""), forced(sub(3, "jpn", "Signs"))),
			want: "0v 1a-jpn 2s-eng",
			check: func(t *testing.T, p Plan) {
				if w := allWarnings(p); !strings.Contains(w, "track 3 (subtitle) was forced, but subtitle_actions.clear_all_forced ran first") {
					t.Errorf("warnings:\n%s", w)
				}
			},
		},
		{
			name: "a subtitle default switched on unasked: no preferred-language subtitle",
			policy: testPolicy(Phase{Name: "subs", DefaultFlags: &DefaultFlags{SetFirstVideoDefault: true, SetPreferredAudioDefault: true,
				SetPreferredSubtitleDefault: true, ClearOtherDefaults: true}}),
			file: mkvFile(def(vid(0)), def(aud(1, "eng", "")), sub(2, "fre", ""), sub(3, "ger", "")),
			want: "0v-D 1a-eng-D 2s-fre 3s-ger",
		},
		{
			name:   "a subtitle default switched on unasked: a phase without default_flags touches no flag",
			policy: testPolicy(Phase{Name: "audio", KeepAudio: keepAudio("eng")}),
			file:   mkvFile(vid(0), aud(1, "jpn", ""), def(aud(2, "eng", "")), sub(3, "eng", ""), def(sub(4, "fre", ""))),
			want:   "0v 2a-eng-D 3s-eng 4s-fre-D",
		},
		{
			name: "subtitle default when audio differs",
			policy: testPolicy(Phase{Name: "flags", DefaultFlags: &DefaultFlags{SetFirstVideoDefault: true, SetPreferredAudioDefault: true,
				ClearOtherDefaults: true, SetSubtitleDefaultWhenAudioDiffers: true}}),
			file: mkvFile(def(vid(0)), def(aud(1, "jpn", "")), sub(2, "fre", ""), sub(3, "en", "")),
			want: "0v-D 1a-jpn-D 2s-fre 3s-eng-D",
		},
		{
			name: "subtitle forced when audio differs, reordered into the forced slot",
			policy: testPolicy(Phase{Name: "flags", TrackOrder: defaultOrder(), DefaultFlags: &DefaultFlags{SetFirstVideoDefault: true,
				SetPreferredAudioDefault: true, ClearOtherDefaults: true, SetSubtitleDefaultWhenAudioDiffers: true, SetSubtitleForcedWhenAudioDiffers: true}}),
			file: mkvFile(def(vid(0)), def(aud(1, "jpn", "")), sub(2, "eng", ""), sub(3, "eng", "SDH")),
			want: "0v-D 1a-jpn-D 3s-eng-D 2s-eng-F",
		},
		{
			name:   "the deliberate difference: a filtering phase neither reorders nor sets defaults",
			policy: testPolicy(Phase{Name: "filter", KeepAudio: keepAudio("eng", "jpn")}),
			file:   mkvFile(vid(0), aud(1, "jpn", ""), aud(2, "eng", ""), aud(3, "fre", "")),
			want:   "0v 1a-jpn 2a-eng",
			check: func(t *testing.T, p Plan) {
				if p.Phases[0].Order != nil || p.Phases[0].Changes != nil {
					t.Errorf("phase = %+v", p.Phases[0])
				}
			},
		},
		{
			name:   "language equivalence: de = ger = deu",
			policy: testPolicy(Phase{Name: "audio", KeepAudio: keepAudio("de")}),
			file:   mkvFile(vid(0), aud(1, "ger", ""), aud(2, "deu", ""), aud(3, "de-AT", ""), aud(4, "fra", "")),
			want:   "0v 1a-ger 2a-ger 3a-ger",
		},
		{
			name: "order: slot, then language preference, then original index",
			policy: func() *Policy {
				p := testPolicy(Phase{Name: "order", TrackOrder: defaultOrder()})
				p.Config.AudioLanguages = []string{"jpn", "eng"}
				return p
			}(),
			file: mkvFile(att(9), aud(1, "eng", "Commentary"), aud(2, "eng", ""), sub(3, "eng", ""), vid(0), aud(4, "jpn", ""), aud(5, "fre", ""), aud(6, "jpn", "Stereo")),
			want: "0v 4a-jpn 6a-jpn 2a-eng 5a-fre 1a-eng 3s-eng 9a",
		},
		{
			name: "preferred codec wins within a language, never across languages",
			policy: testPolicy(Phase{Name: "flags", DefaultFlags: func() *DefaultFlags {
				d := defaultFlags()
				d.PreferredAudioCodec = []string{"truehd", "eac3"}
				return d
			}()}),
			file: mkvFile(def(vid(0)), def(aud(1, "jpn", "")), codec(aud(2, "jpn", ""), "truehd"), aud(3, "eng", ""), codec(aud(4, "eng", ""), "eac3")),
			want: "0v-D 1a-jpn 2a-jpn 3a-eng 4a-eng-D",
		},
		{
			name:   "attachments removed, with a warning for fonts of styled subtitles",
			policy: testPolicy(Phase{Name: "att", FilterAttachments: &FilterAttachments{RemoveAll: true}}),
			file:   mkvFile(vid(0), aud(1, "eng", ""), codec(sub(2, "eng", ""), "ass"), att(3)),
			want:   "0v 1a-eng 2s-eng",
			check: func(t *testing.T, p Plan) {
				if !strings.Contains(allWarnings(p), "track 3 is a font") {
					t.Errorf("warnings: %s", allWarnings(p))
				}
				if r := p.Phases[0].Removals; len(r) != 1 || r[0] != (Removal{Track: 3, Reason: "filter_attachments: remove_all"}) {
					t.Errorf("removals = %+v", r)
				}
			},
		},
		{
			name:   "actions clear titles and defaults",
			policy: testPolicy(Phase{Name: "clean", AudioActions: &TrackActions{ClearAllTitles: true, ClearAllDefault: true}}),
			file:   mkvFile(def(vid(0)), def(aud(1, "eng", "Surround 5.1"))),
			want:   "0v-D 1a-eng",
			check: func(t *testing.T, p Plan) {
				want := []Change{{Track: 1, Field: FieldDefault, From: true, To: false}, {Track: 1, Field: FieldTitle, From: "Surround 5.1", To: ""}}
				if !reflect.DeepEqual(p.Phases[0].Changes, want) {
					t.Errorf("changes = %+v", p.Phases[0].Changes)
				}
			},
		},
		{
			name:   "phases apply in sequence on the evolving track list",
			policy: testPolicy(Phase{Name: "filter", KeepAudio: keepAudio("jpn")}, Phase{Name: "flags", DefaultFlags: defaultFlags()}),
			file:   mkvFile(def(vid(0)), def(aud(1, "eng", "")), aud(2, "jpn", "")),
			want:   "0v-D 2a-jpn-D",
		},
		{
			name:   "reordering needs Matroska",
			policy: testPolicy(Phase{Name: "order", TrackOrder: defaultOrder()}),
			file: FileInfo{Path: "/x/film.mp4", Container: "mov,mp4,m4a,3gp,3g2,mj2",
				Tracks: []Track{aud(0, "eng", ""), vid(1)}},
			want: "0a-eng 1v",
			check: func(t *testing.T, p Plan) {
				if !strings.Contains(allWarnings(p), "reordering needs a Matroska (mkv) file; this one is mp4") {
					t.Errorf("warnings: %s", allWarnings(p))
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Evaluate(tt.policy, tt.file)
			if got := summary(plan.Result().Tracks); got != tt.want {
				var b strings.Builder
				_ = plan.WriteText(&b)
				t.Errorf("result = %s\nwant     %s\n%s", got, tt.want, b.String())
			}
			if tt.check != nil {
				tt.check(t, plan)
			}
			mustIdempotent(t, tt.policy, plan)
		})
	}
}

// TestPlanNamesTracksByIdentity documents that a plan refers to tracks by
// their stable ID (the ffprobe stream index), never by position: in this
// file an attachment sits between the streams, so ffprobe indexes, mkvmerge
// track IDs (which skip attachments) and Matroska track numbers (from 1)
// all differ, and the positions shift as the plan removes and reorders.
// Applying the plan to the same tracks listed in another order still
// edits the right ones.
func TestPlanNamesTracksByIdentity(t *testing.T) {
	p := testPolicy(Phase{Name: "all", KeepAudio: keepAudio("eng", "jpn"), TrackOrder: defaultOrder(), DefaultFlags: defaultFlags()})
	f := mkvFile(def(vid(0)), att(1), def(aud(2, "fre", "")), aud(3, "jpn", ""), aud(4, "eng", ""), sub(5, "eng", ""))
	plan := Evaluate(p, f)
	ph := plan.Phases[0]
	if len(ph.Removals) != 1 || ph.Removals[0].Track != 2 {
		t.Fatalf("removals = %+v, want track 2 (the French track, at position 2)", ph.Removals)
	}
	if !reflect.DeepEqual(ph.Order, []int{0, 4, 3, 5, 1}) {
		t.Errorf("order = %v, want IDs [0 4 3 5 1]", ph.Order)
	}
	wantChanges := []Change{{Track: 4, Field: FieldDefault, From: false, To: true}}
	if !reflect.DeepEqual(ph.Changes, wantChanges) {
		t.Errorf("changes = %+v, want %+v", ph.Changes, wantChanges)
	}

	shuffled := []Track{f.Tracks[5], f.Tracks[3], f.Tracks[0], f.Tracks[4], f.Tracks[2], f.Tracks[1]}
	got, err := Apply(shuffled, &plan)
	if err != nil {
		t.Fatal(err)
	}
	if s := summary(got); s != "0v-D 4a-eng-D 3a-jpn 5s-eng 1a" {
		t.Errorf("Apply on shuffled input = %s", s)
	}

	// A plan applied to tracks it was not made for fails instead of editing
	// whatever sits at a position.
	_, err = Apply([]Track{f.Tracks[0], f.Tracks[1], f.Tracks[3]}, &plan)
	if !errors.Is(err, ErrPlanMismatch) {
		t.Errorf("Apply to other tracks: err = %v, want ErrPlanMismatch", err)
	}
}

func TestDuplicateTrackIDsRefused(t *testing.T) {
	p := testPolicy(Phase{Name: "flags", DefaultFlags: defaultFlags()})
	plan := Evaluate(p, mkvFile(vid(0), aud(1, "eng", ""), def(aud(1, "jpn", ""))))
	if plan.Changed() || plan.Conformant() || len(plan.Phases) != 1 || plan.Phases[0].Errors[0] != "two tracks have the ID 1; re-probe the file" {
		t.Errorf("plan = %+v", plan)
	}
}

func TestPhaseControl(t *testing.T) {
	file := mkvFile(def(vid(0)), def(aud(1, "eng", "")), aud(2, "jpn", ""))
	tests := []struct {
		name   string
		policy *Policy
		want   []string // status of each phase, with the skip reason
	}{
		{
			name: "run_if phase_modified: the referenced phase changed nothing",
			policy: testPolicy(
				Phase{Name: "filter", KeepAudio: keepAudio("eng", "jpn")},
				Phase{Name: "flags", DefaultFlags: defaultFlags(), RunIf: &RunIf{PhaseModified: "filter"}}),
			want: []string{"ran", "skipped: run_if: phase filter made no modification"},
		},
		{
			name: "run_if phase_modified: the referenced phase changed the file",
			policy: testPolicy(
				Phase{Name: "filter", KeepAudio: keepAudio("jpn")},
				Phase{Name: "flags", DefaultFlags: defaultFlags(), RunIf: &RunIf{PhaseModified: "filter"}}),
			want: []string{"ran", "ran"},
		},
		{
			name: "depends_on a skipped phase",
			policy: testPolicy(
				Phase{Name: "a", KeepAudio: keepAudio("eng"), SkipWhen: &SkipWhen{Mode: SkipAny, Container: []string{"mkv"}}},
				Phase{Name: "b", DefaultFlags: defaultFlags(), DependsOn: []string{"a"}}),
			want: []string{"skipped: skip_when: container", "skipped: depends_on: phase a did not complete (skipped)"},
		},
		{
			name: "skip_when all: only when every condition matches",
			policy: testPolicy(
				Phase{Name: "a", KeepAudio: keepAudio("eng"), SkipWhen: &SkipWhen{Mode: SkipAll, Container: []string{"mkv"}, ResolutionUnder: "720p"}},
				Phase{Name: "b", KeepAudio: keepAudio("eng"), SkipWhen: &SkipWhen{Mode: SkipAll, Container: []string{"mkv"}, Resolution: "1080p", AudioCodecExists: "aac"}}),
			want: []string{"ran", "skipped: skip_when: all of audio_codec_exists, container, resolution"},
		},
		{
			name: "on_error continue",
			policy: testPolicy(
				Phase{Name: "a", KeepAudio: keepAudio("fre")},
				Phase{Name: "b", KeepAudio: keepAudio("eng")}),
			want: []string{"failed", "ran"},
		},
		{
			name: "on_error skip",
			policy: testPolicy(
				Phase{Name: "a", KeepAudio: keepAudio("fre"), OnError: OnErrorSkip},
				Phase{Name: "b", KeepAudio: keepAudio("eng")}),
			want: []string{"failed", "skipped: phase a failed (on_error: skip)"},
		},
		{
			name: "on_error fail stops the plan",
			policy: func() *Policy {
				p := testPolicy(Phase{Name: "a", KeepAudio: keepAudio("eng")}, Phase{Name: "b", KeepAudio: keepAudio("fre")}, Phase{Name: "c", DefaultFlags: defaultFlags()})
				p.Config.OnError = OnErrorFail
				return p
			}(),
			want: []string{"ran", "failed", "skipped: phase b failed (on_error: fail)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := Evaluate(tt.policy, file)
			var got []string
			for _, ph := range plan.Phases {
				s := ph.Status
				if ph.SkipReason != "" {
					s += ": " + ph.SkipReason
				}
				got = append(got, s)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("phases = %q, want %q", got, tt.want)
			}
		})
	}
	// As in the original, the phases before the failure still apply.
	p := testPolicy(Phase{Name: "a", KeepAudio: keepAudio("eng")}, Phase{Name: "b", KeepAudio: keepAudio("fre"), OnError: OnErrorFail})
	plan := Evaluate(p, file)
	if !plan.Stopped || !plan.Changed() || plan.Conformant() || summary(plan.Result().Tracks) != "0v-D 1a-eng-D" {
		t.Errorf("stopped=%v changed=%v result=%s", plan.Stopped, plan.Changed(), summary(plan.Result().Tracks))
	}
}

func boolp(b bool) *bool { return &b }

func TestRules(t *testing.T) {
	jpnExists := When{Condition: &Condition{Exists: &TrackCondition{TrackType: KindAudio, TrackFilter: TrackFilter{Language: []string{"ja"}}}}}
	tests := []struct {
		name     string
		rules    *Rules
		file     FileInfo
		want     string
		warnings string
		errors   string
		unsupp   string
	}{
		{
			name: "set_default moves the default, never leaving two",
			rules: &Rules{Match: MatchFirst, Items: []Rule{{Name: "anime", When: jpnExists,
				Then: []Action{{SetDefault: &SetFlag{TrackType: KindAudio, Language: "jpn", Value: true}}, {Warn: "{filename}: anime ({rule_name})"}}}}},
			file:     mkvFile(def(vid(0)), def(aud(1, "eng", "")), aud(2, "jpn", "")),
			want:     "0v-D 1a-eng 2a-jpn-D",
			warnings: "rule anime: Film.mkv: anime (anime)",
		},
		{
			name: "else of the last rule when nothing matches",
			rules: &Rules{Match: MatchAll, Items: []Rule{{Name: "r", When: jpnExists,
				Then: []Action{{Warn: "has jpn"}}, Else: []Action{{SetForced: &SetFlag{TrackType: KindSubtitle, Language: "eng", Value: true}}}}}},
			file: mkvFile(vid(0), aud(1, "eng", ""), sub(2, "eng", ""), sub(3, "fre", "")),
			want: "0v 1a-eng 2s-eng-F 3s-fre",
		},
		{
			name: "count, and, not",
			rules: &Rules{Match: MatchFirst, Items: []Rule{{Name: "two", When: When{Condition: &Condition{And: []Condition{
				{Count: &TrackCondition{TrackType: KindAudio, TrackFilter: TrackFilter{NotCommentary: boolp(true)}, Compare: &Comparison{Op: OpGte, Value: 2}}},
				{Not: &Condition{Exists: &TrackCondition{TrackType: KindSubtitle}}},
			}}}, Then: []Action{{SetLanguage: &SetLanguage{TrackType: KindAudio, NewLanguage: "jpn", MatchLanguage: "und"}}}}}},
			file: mkvFile(vid(0), aud(1, "eng", ""), aud(2, "", ""), aud(3, "", "Commentary")),
			want: "0v 1a-eng 2a-jpn 3a-jpn",
		},
		{
			name:   "fail fails the phase",
			rules:  &Rules{Match: MatchFirst, Items: []Rule{{Name: "no-jpn", When: jpnExists, Then: []Action{{Fail: "{path} has Japanese"}}}}},
			file:   mkvFile(vid(0), aud(1, "jpn", "")),
			want:   "0v 1a-jpn",
			errors: "rule no-jpn: /library/Film (2001)/Film.mkv has Japanese",
		},
		{
			name: "skip_track_filter skips this phase's filters",
			rules: &Rules{Match: MatchFirst, Items: []Rule{{Name: "keep-all", When: When{Condition: &Condition{Count: &TrackCondition{
				TrackType: KindAudio, Compare: &Comparison{Op: OpLt, Value: 2}}}}, Then: []Action{{SkipTrackFilter: boolp(true)}}}}},
			file: mkvFile(vid(0), aud(1, "jpn", ""), aud(2, "fre", "")),
			want: "0v 1a-jpn 2a-fre",
		},
		{
			name:   "an expression condition is unsupported and the block does not run",
			rules:  &Rules{Match: MatchFirst, Items: []Rule{{Name: "expr", When: When{Expr: "exists(audio, lang == jpn)"}, Then: []Action{{Fail: "x"}}}}},
			file:   mkvFile(vid(0), aud(1, "jpn", "")),
			want:   "0v 1a-jpn",
			unsupp: "rules.items[0].when (expression string): not supported by this vpo",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ph := Phase{Name: "rules", Rules: tt.rules}
			if strings.HasPrefix(tt.name, "skip_track_filter") {
				ph.KeepAudio = keepAudio("jpn")
			}
			p := testPolicy(ph)
			plan := Evaluate(p, tt.file)
			if got := summary(plan.Result().Tracks); got != tt.want {
				t.Errorf("result = %s, want %s", got, tt.want)
			}
			pp := plan.Phases[0]
			if got := strings.Join(pp.Warnings, "\n"); got != tt.warnings {
				t.Errorf("warnings = %q, want %q", got, tt.warnings)
			}
			if got := strings.Join(pp.Errors, "\n"); got != tt.errors {
				t.Errorf("errors = %q, want %q", got, tt.errors)
			}
			if got := strings.Join(pp.Unsupported, "\n"); got != tt.unsupp {
				t.Errorf("unsupported = %q, want %q", got, tt.unsupp)
			}
			if tt.unsupp != "" && plan.Conformant() {
				t.Error("a plan with unsupported operations is not conformant")
			}
			mustIdempotent(t, p, plan)
		})
	}
}

func TestContainer(t *testing.T) {
	tests := []struct {
		name      string
		container *Container
		file      FileInfo
		want      *ContainerChange
		errors    string
		warn      string
	}{
		{"already mkv", &Container{Target: ContainerMKV}, mkvFile(vid(0), aud(1, "eng", "")), nil, "", ""},
		{"mkv to mp4", &Container{Target: ContainerMP4}, mkvFile(def(vid(0)), def(aud(1, "eng", ""))), &ContainerChange{From: "mkv", To: "mp4"}, "", ""},
		{"incompatible is an error", &Container{Target: ContainerMP4, OnIncompatibleCodec: IncompatibleError},
			mkvFile(vid(0), codec(aud(1, "eng", ""), "truehd"), sub(2, "eng", "")), nil,
			"container: cannot convert to mp4: incompatible track 1 (audio, truehd), track 2 (subtitle, subrip)", ""},
		{"incompatible skip", &Container{Target: ContainerMP4, OnIncompatibleCodec: IncompatibleSkip},
			mkvFile(vid(0), codec(aud(1, "eng", ""), "dts")), nil, "",
			"container: not converted to mp4, incompatible: track 1 (audio, dts)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy(Phase{Name: "c", Container: tt.container})
			plan := Evaluate(p, tt.file)
			pp := plan.Phases[0]
			if !reflect.DeepEqual(pp.Container, tt.want) {
				t.Errorf("container = %+v, want %+v", pp.Container, tt.want)
			}
			if got := strings.Join(pp.Errors, "\n"); got != tt.errors {
				t.Errorf("errors = %q, want %q", got, tt.errors)
			}
			if got := strings.Join(pp.Warnings, "\n"); got != tt.warn {
				t.Errorf("warnings = %q, want %q", got, tt.warn)
			}
			mustIdempotent(t, p, plan)
		})
	}
}

// TestChangedIsNet: a phase that clears what a later phase sets again
// modifies the file in between (for run_if), but the plan does not change
// the file.
func TestChangedIsNet(t *testing.T) {
	p := testPolicy(Phase{Name: "clear", AudioActions: &TrackActions{ClearAllDefault: true}}, Phase{Name: "set", DefaultFlags: defaultFlags()})
	plan := Evaluate(p, mkvFile(def(vid(0)), def(aud(1, "eng", ""))))
	if !plan.Phases[0].Modifies() || !plan.Phases[1].Modifies() {
		t.Errorf("each phase modifies: %+v", plan.Phases)
	}
	if plan.Changed() || !plan.Conformant() || plan.Outcome() != OutcomeConformant {
		t.Errorf("changed = %v, conformant = %v; the file ends as it started", plan.Changed(), plan.Conformant())
	}
}

func TestUnsupportedListed(t *testing.T) {
	p := testPolicy(Phase{Name: "tc", Transcode: &Transcode{Video: &VideoTranscode{To: "hevc"}}})
	plan := Evaluate(p, mkvFile(vid(0), aud(1, "eng", "")))
	if got := plan.Phases[0].Unsupported; !reflect.DeepEqual(got, []string{"transcode: not supported by this vpo"}) {
		t.Errorf("unsupported = %q", got)
	}
	if plan.Conformant() || plan.Changed() || !plan.HasUnsupported() || plan.Outcome() != OutcomeUnsupported {
		t.Errorf("conformant=%v changed=%v outcome=%s", plan.Conformant(), plan.Changed(), plan.Outcome())
	}
}

// TestPlanJSON pins the JSON field names of a plan.
func TestPlanJSON(t *testing.T) {
	p := testPolicy(Phase{Name: "all", KeepAudio: keepAudio("eng"), TrackOrder: defaultOrder(), DefaultFlags: defaultFlags()})
	plan := Evaluate(p, FileInfo{Path: "/f.mkv", Container: "matroska,webm", Tracks: []Track{aud(1, "fre", ""), aud(2, "eng", "Main"), def(vid(0))}})
	got, err := json.Marshal(plan)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"policy":"test","file":{"path":"/f.mkv","container":"matroska,webm","tracks":[` +
		`{"id":1,"type":"audio","codec":"aac","language":"fre","default":false,"forced":false,"channels":2},` +
		`{"id":2,"type":"audio","codec":"aac","language":"eng","title":"Main","default":false,"forced":false,"channels":2},` +
		`{"id":0,"type":"video","codec":"h264","default":true,"forced":false,"width":1920,"height":1080}]},` +
		`"phases":[{"name":"all","status":"ran","removals":[{"track":1,"reason":"keep_audio: language fre not in languages"}],` +
		`"order":[0,2],"changes":[{"track":2,"field":"default","from":false,"to":true}]}]}`
	if string(got) != want {
		t.Errorf("json =\n%s\nwant\n%s", got, want)
	}
	var back Plan
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	if summary(back.Result().Tracks) != summary(plan.Result().Tracks) {
		t.Errorf("a plan read back from JSON gives another result")
	}
}

func TestWriteText(t *testing.T) {
	p := testPolicy(Phase{Name: "all", KeepAudio: keepAudio("eng"), TrackOrder: defaultOrder(), DefaultFlags: defaultFlags()})
	plan := Evaluate(p, FileInfo{Path: "/f.mkv", Container: "matroska,webm", Tracks: []Track{aud(1, "fre", ""), aud(2, "eng", "Main"), def(vid(0))}})
	var b strings.Builder
	if err := plan.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `/f.mkv: would change
  ID  TYPE   CODEC  LANG  TITLE  FLAGS    →  POS      LANG  TITLE  FLAGS
  1   audio  aac    fre   -      -        →  removed
  2   audio  aac    eng   Main   -        →  1        =     =      default
  0   video  h264   -     -      default  →  0*       =     =      =
  phase all: ran
    remove track 1: keep_audio: language fre not in languages
    order: 0, 2
    track 2 default: false → true
`
	if b.String() != want {
		t.Errorf("text =\n%s\nwant\n%s", b.String(), want)
	}
	b.Reset()
	conf := Evaluate(p, plan.Result())
	_ = conf.WriteText(&b)
	if b.String() != "/f.mkv: conformant\n" {
		t.Errorf("conformant text = %q", b.String())
	}
}
