package policy

import (
	"regexp"
	"strings"
)

// Evaluator is a policy compiled for evaluation: build it once with
// [Compile] and evaluate every file of a run with it. It is immutable and
// safe for concurrent use.
type Evaluator struct {
	sp *evalPolicy
}

// Compile prepares p for evaluation. It fails only for a policy the loader
// would have rejected (an invalid regular expression in a policy built in
// code). p must not change afterwards.
func Compile(p *Policy) (*Evaluator, error) {
	sp, err := compileSpec(p)
	if err != nil {
		return nil, err
	}
	return &Evaluator{sp: sp}, nil
}

// Evaluate evaluates one file; see the package function [Evaluate].
func (e *Evaluator) Evaluate(f FileInfo) Plan {
	return evaluateSpec(e.sp, f)
}

// Classifier returns the classifier of the compiled policy.
func (e *Evaluator) Classifier() *Classifier { return e.sp.classifier }

// Evaluate evaluates policy p against one file and returns the plan: what
// each phase would change. It is a pure function: it reads nothing but its
// arguments, and the same arguments give the same plan.
//
// Phases apply in order, each to the tracks the previous ones leave. Within
// a phase the steps run in a fixed order whatever their order in the file:
// audio/subtitle/video actions, then keep_audio / keep_subtitles /
// filter_attachments, then container, then track_order, then default_flags,
// then rules. A phase reorders tracks only when it names track_order and
// changes default flags only when it names default_flags.
//
// To evaluate many files, [Compile] the policy once instead.
func Evaluate(p *Policy, f FileInfo) Plan {
	e, err := Compile(p)
	if err != nil {
		plan := Plan{File: f, Stopped: true}
		if p != nil {
			plan.Policy = p.Name
		}
		plan.Phases = []PhasePlan{{Name: "(policy)", Status: PhaseFailed, Errors: []string{err.Error()}}}
		return plan
	}
	return e.Evaluate(f)
}

var defaultLanguages = []string{"eng", "und"}

func compileSpec(p *Policy) (*evalPolicy, error) {
	cfg := p.Config
	audio, subs := cfg.AudioLanguages, cfg.SubtitleLanguages
	if audio == nil {
		audio = defaultLanguages
	}
	if subs == nil {
		subs = defaultLanguages
	}
	// The loader compiled the patterns already; compiling them again here
	// keeps Compile usable on a Policy built in code.
	cls, err := NewClassifier(cfg.CommentaryPatterns, audio, subs)
	if err != nil {
		return nil, err
	}
	sp := &evalPolicy{
		name:       p.Name,
		classifier: cls,
		audioPrefs: cls.audioPrefs,
		subPrefs:   cls.subPrefs,
		onError:    string(cfg.OnError),
		phases:     make([]evalPhase, len(p.Phases)),
	}
	if sp.onError == "" {
		sp.onError = string(OnErrorContinue)
	}
	for i := range p.Phases {
		ph, err := compilePhase(&p.Phases[i])
		if err != nil {
			return nil, err
		}
		sp.phases[i] = ph
	}
	return sp, nil
}

func compileActions(a *TrackActions) *trackActions {
	if a == nil {
		return nil
	}
	return &trackActions{clearAllForced: a.ClearAllForced, clearAllDefault: a.ClearAllDefault, clearAllTitles: a.ClearAllTitles}
}

func compilePhase(p *Phase) (evalPhase, error) {
	ph := evalPhase{
		name:            p.Name,
		audioActions:    compileActions(p.AudioActions),
		subtitleActions: compileActions(p.SubtitleActions),
		videoActions:    compileActions(p.VideoActions),
		dependsOn:       p.DependsOn,
		onError:         string(p.OnError),
	}
	for _, u := range p.Unsupported() {
		ph.unsupported = append(ph.unsupported, u+": not supported by this vpo")
	}
	if ka := p.KeepAudio; ka != nil {
		s := &keepAudioSpec{
			languages:       normalizeLanguages(ka.Languages),
			minimum:         ka.Minimum,
			fallback:        fallbackError,
			keepMusic:       ka.KeepMusicTracks,
			musicExempt:     ka.ExcludeMusicFromLanguageFilter,
			keepSFX:         ka.KeepSFXTracks,
			sfxExempt:       ka.ExcludeSFXFromLanguageFilter,
			keepNonSpeech:   ka.KeepNonSpeechTracks,
			nonSpeechExempt: ka.ExcludeNonSpeechFromLanguageFilter,
		}
		if ka.Fallback != nil {
			s.fallback = string(ka.Fallback.Mode)
		}
		ph.keepAudio = s
	}
	if ks := p.KeepSubtitles; ks != nil {
		ph.keepSubtitles = &keepSubtitlesSpec{
			languages:      normalizeLanguages(ks.Languages),
			preserveForced: ks.PreserveForced,
			removeAll:      ks.RemoveAll,
		}
	}
	if fa := p.FilterAttachments; fa != nil {
		ph.filterAttachments = &filterAttachmentsSpec{removeAll: fa.RemoveAll}
	}
	if p.TrackOrder != nil {
		ph.trackOrder = make([]Class, len(p.TrackOrder))
		for i, s := range p.TrackOrder {
			ph.trackOrder[i] = Class(s)
		}
	}
	if df := p.DefaultFlags; df != nil {
		ph.defaultFlags = &defaultFlagsSpec{
			setFirstVideoDefault:       df.SetFirstVideoDefault,
			setPreferredAudioDefault:   df.SetPreferredAudioDefault,
			setPreferredSubtitleDef:    df.SetPreferredSubtitleDefault,
			clearOtherDefaults:         df.ClearOtherDefaults,
			subDefaultWhenAudioDiffers: df.SetSubtitleDefaultWhenAudioDiffers,
			subForcedWhenAudioDiffers:  df.SetSubtitleForcedWhenAudioDiffers,
			preferredAudioCodec:        df.PreferredAudioCodec,
		}
	}
	if c := p.Container; c != nil {
		ph.container = &containerSpec{target: ContainerKind(string(c.Target)), onIncompatible: string(c.OnIncompatibleCodec)}
	}
	if sw := p.SkipWhen; sw != nil {
		ph.skipWhen = &skipWhenSpec{
			all:                    sw.Mode == SkipAll,
			videoCodec:             sw.VideoCodec,
			audioCodecExists:       sw.AudioCodecExists,
			subtitleLanguageExists: sw.SubtitleLanguageExists,
			container:              sw.Container,
			resolution:             sw.Resolution,
			resolutionUnder:        sw.ResolutionUnder,
			fileSizeUnder:          sw.FileSizeUnderBytes,
			fileSizeOver:           sw.FileSizeOverBytes,
			durationUnder:          sw.DurationUnderSec,
			durationOver:           sw.DurationOverSec,
		}
	}
	if p.RunIf != nil {
		ph.runIfModified = p.RunIf.PhaseModified
	}
	if r := p.Rules; r != nil {
		rs := &rulesSpec{matchAll: r.Match == MatchAll, items: make([]ruleSpec, len(r.Items))}
		for i, it := range r.Items {
			when, err := compileWhen(&it.When)
			if err != nil {
				return evalPhase{}, err
			}
			rs.items[i] = ruleSpec{
				name:    it.Name,
				when:    when,
				then:    compileRuleActions(it.Then),
				els:     compileRuleActions(it.Else),
				hasElse: it.Else != nil,
			}
		}
		ph.rules = rs
	}
	return ph, nil
}

func compileWhen(w *When) (condSpec, error) {
	if w.Condition == nil {
		return condSpec{kind: condUnsupported, unsupported: "expression string"}, nil
	}
	return compileCond(w.Condition)
}

func compileCond(c *Condition) (condSpec, error) {
	switch {
	case c.Exists != nil:
		return compileTrackCond(condExists, c.Exists)
	case c.Count != nil:
		return compileTrackCond(condCount, c.Count)
	case c.And != nil || c.Or != nil:
		kind, list := condAnd, c.And
		if c.Or != nil {
			kind, list = condOr, c.Or
		}
		out := condSpec{kind: kind, subs: make([]condSpec, len(list))}
		for i := range list {
			s, err := compileCond(&list[i])
			if err != nil {
				return condSpec{}, err
			}
			out.subs[i] = s
		}
		return out, nil
	case c.Not != nil:
		s, err := compileCond(c.Not)
		if err != nil {
			return condSpec{}, err
		}
		return condSpec{kind: condNot, subs: []condSpec{s}}, nil
	}
	return condSpec{kind: condUnsupported, unsupported: "condition"}, nil
}

func cmpOf(c *Comparison) *cmpSpec {
	if c == nil {
		return nil
	}
	return &cmpSpec{op: string(c.Op), n: c.Value}
}

func compileTrackCond(kind int, tc *TrackCondition) (condSpec, error) {
	f := tc.TrackFilter
	out := condSpec{kind: kind, trackType: string(tc.TrackType)}
	fs := trackFilterSpec{
		languages: normalizeLanguages(f.Language),
		codecs:    f.Codec,
		isDefault: f.IsDefault,
		isForced:  f.IsForced,
		channels:  cmpOf(f.Channels),
		width:     cmpOf(f.Width),
		height:    cmpOf(f.Height),
	}
	if f.NotCommentary != nil && *f.NotCommentary {
		fs.notCommentary = true
	}
	if t := f.Title; t != nil {
		if t.Regex != "" {
			re := t.Regexp()
			if re == nil {
				var err error
				if re, err = regexp.Compile(t.Regex); err != nil {
					return condSpec{}, err
				}
			}
			fs.titleRegex = re
		} else {
			s := strings.ToLower(t.Contains)
			fs.titleContains = &s
		}
	}
	out.filter = fs
	if kind == condCount {
		if tc.Compare == nil {
			return condSpec{kind: condUnsupported, unsupported: "count without comparison"}, nil
		}
		out.cmp = *cmpOf(tc.Compare)
	}
	return out, nil
}

func compileRuleActions(as []Action) []actionSpec {
	var out []actionSpec
	for _, a := range as {
		if a.SkipTrackFilter != nil && *a.SkipTrackFilter {
			out = append(out, actionSpec{kind: actSkipTrackFilter})
		}
		if a.Warn != "" {
			out = append(out, actionSpec{kind: actWarn, message: a.Warn})
		}
		if a.SetForced != nil {
			tt := string(a.SetForced.TrackType)
			if tt == "" {
				tt = TypeSubtitle
			}
			out = append(out, actionSpec{kind: actSetForced, trackType: tt, language: normalizeOptional(a.SetForced.Language), value: a.SetForced.Value})
		}
		if a.SetDefault != nil {
			out = append(out, actionSpec{kind: actSetDefault, trackType: string(a.SetDefault.TrackType), language: normalizeOptional(a.SetDefault.Language), value: a.SetDefault.Value})
		}
		if sl := a.SetLanguage; sl != nil {
			if sl.FromPluginMetadata != nil {
				out = append(out, actionSpec{kind: actUnsupported, message: "set_language.from_plugin_metadata"})
			} else {
				out = append(out, actionSpec{kind: actSetLanguage, trackType: string(sl.TrackType), newLanguage: sl.NewLanguage, matchLanguage: normalizeOptional(sl.MatchLanguage)})
			}
		}
		if a.SkipVideoTranscode != nil || a.SkipAudioTranscode != nil || a.SetContainerMetadata != nil {
			out = append(out, actionSpec{kind: actUnsupported})
		}
		// fail last: the other actions of the same entry still show.
		if a.Fail != "" {
			out = append(out, actionSpec{kind: actFail, message: a.Fail})
		}
	}
	return out
}

func normalizeOptional(lang string) string {
	if lang == "" {
		return ""
	}
	return NormalizeLanguage(lang)
}
