package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// phase outcomes, for depends_on and run_if.
const (
	outcomeCompleted = "completed"
	outcomeSkipped   = "skipped"
	outcomeFailed    = "failed"
	outcomePending   = "pending"
)

// evaluateSpec is the evaluator proper: a pure function of a compiled
// policy and a file.
func evaluateSpec(sp *evalPolicy, f FileInfo) Plan {
	plan := Plan{Policy: sp.name, File: f, Phases: make([]PhasePlan, 0, len(sp.phases))}
	if id, dup := duplicateID(f.Tracks); dup {
		// Two tracks with one ID cannot be told apart: editing "track N"
		// could edit the wrong one. Refuse the file.
		for i := range sp.phases {
			plan.Phases = append(plan.Phases, PhasePlan{Name: sp.phases[i].name, Status: PhaseFailed,
				Errors: []string{fmt.Sprintf("two tracks have the ID %d; re-probe the file", id)}})
		}
		return plan
	}
	// Each phase's pass works on its own copy of its input (pass), so the
	// file's tracks are read, never written.
	tracks := f.Tracks
	container := ContainerKind(f.Container)
	outcomes := make(map[string]string, len(sp.phases))
	modified := make(map[string]bool, len(sp.phases))
	stopReason := ""
	for i := range sp.phases {
		ph := &sp.phases[i]
		pp := PhasePlan{Name: ph.name}
		if stopReason != "" {
			pp.Status, pp.SkipReason = PhaseSkipped, stopReason
			outcomes[ph.name] = outcomePending
			plan.Phases = append(plan.Phases, pp)
			continue
		}
		if reason := phaseSkipReason(ph, f, tracks, container, outcomes, modified); reason != "" {
			pp.Status, pp.SkipReason = PhaseSkipped, reason
			outcomes[ph.name] = outcomeSkipped
			plan.Phases = append(plan.Phases, pp)
			continue
		}
		pp.Unsupported = append(pp.Unsupported, ph.unsupported...)
		ev := phaseEval{sp: sp, ph: ph, file: f, pp: &pp}
		out, outContainer, err := ev.run(tracks, container)
		if err != nil {
			pp.Status = PhaseFailed
			pp.Errors = append(pp.Errors, err.Error())
			pp.Removals, pp.Order, pp.Changes, pp.Container = nil, nil, nil, nil
			outcomes[ph.name] = outcomeFailed
			onError := ph.onError
			if onError == "" {
				onError = sp.onError
			}
			switch onError {
			case "fail":
				plan.Stopped = true
				stopReason = "phase " + ph.name + " failed (on_error: fail)"
			case "skip":
				stopReason = "phase " + ph.name + " failed (on_error: skip)"
			}
			plan.Phases = append(plan.Phases, pp)
			continue
		}
		diffPhase(&pp, tracks, out, ev.removed)
		if outContainer != container {
			pp.Container = &ContainerChange{From: container, To: outContainer}
		}
		pp.Status = PhaseRan
		outcomes[ph.name] = outcomeCompleted
		modified[ph.name] = pp.Modifies()
		tracks, container = out, outContainer
		plan.Phases = append(plan.Phases, pp)
	}
	fitContainer(&plan)
	return plan
}

func duplicateID(tracks []Track) (int, bool) {
	for i := range tracks {
		for j := i + 1; j < len(tracks); j++ {
			if tracks[i].ID == tracks[j].ID {
				return tracks[i].ID, true
			}
		}
	}
	return 0, false
}

// phaseSkipReason applies depends_on, skip_when and run_if, in that order
// (the original's order), and says why the phase does not run, or "".
func phaseSkipReason(ph *evalPhase, f FileInfo, tracks []Track, container string, outcomes map[string]string, modified map[string]bool) string {
	for _, dep := range ph.dependsOn {
		o := outcomes[dep]
		if o == "" {
			o = outcomePending
		}
		if o != outcomeCompleted {
			return fmt.Sprintf("depends_on: phase %s did not complete (%s)", dep, o)
		}
	}
	if ph.skipWhen != nil {
		if reason := skipWhenMatches(ph.skipWhen, f, tracks, container); reason != "" {
			return "skip_when: " + reason
		}
	}
	if ph.runIfModified != "" && !modified[ph.runIfModified] {
		return "run_if: phase " + ph.runIfModified + " made no modification"
	}
	return ""
}

// phaseEval evaluates one phase.
type phaseEval struct {
	sp   *evalPolicy
	ph   *evalPhase
	file FileInfo
	pp   *PhasePlan
	// removed collects the reasons for removals.
	removed []removal
}

// removal is a track the filters remove and why.
type removal struct {
	id     int
	reason string
}

func reasonOf(rs []removal, id int) string {
	for _, r := range rs {
		if r.id == id {
			return r.reason
		}
	}
	return ""
}

func isRemoved(rs []removal, id int) bool {
	for _, r := range rs {
		if r.id == id {
			return true
		}
	}
	return false
}

// warn adds a warning once: order and flags may run twice in a phase.
func (ev *phaseEval) warn(format string, args ...any) {
	w := fmt.Sprintf(format, args...)
	if !slices.Contains(ev.pp.Warnings, w) {
		ev.pp.Warnings = append(ev.pp.Warnings, w)
	}
}

// run applies the phase's operations in order: actions, filters,
// container, order, flags, rules. It returns the tracks and the container
// kind the phase leaves.
func (ev *phaseEval) run(in []Track, container string) ([]Track, string, error) {
	baseWarnings, baseUnsupported := len(ev.pp.Warnings), len(ev.pp.Unsupported)
	out, outContainer, skipFilter, err := ev.pass(in, container, false)
	if err != nil {
		return nil, "", err
	}
	if skipFilter {
		// A rule asked to skip the track filters: evaluate the phase again
		// without them. That pass's rules decide the rest; asking again to
		// skip the filters is then a no-op.
		ev.pp.Warnings = ev.pp.Warnings[:baseWarnings]
		ev.pp.Unsupported = ev.pp.Unsupported[:baseUnsupported]
		out, outContainer, _, err = ev.pass(in, container, true)
		if err != nil {
			return nil, "", err
		}
	}
	return out, outContainer, nil
}

func (ev *phaseEval) pass(in []Track, container string, noFilter bool) ([]Track, string, bool, error) {
	ph := ev.ph
	ev.removed = nil
	tracks := slices.Clone(in)

	// 1. Actions.
	applyActions(tracks, TypeAudio, ph.audioActions)
	applyActions(tracks, TypeSubtitle, ph.subtitleActions)
	applyActions(tracks, TypeVideo, ph.videoActions)

	// 2. Filters.
	if !noFilter {
		var err error
		tracks, err = ev.filter(in, tracks)
		if err != nil {
			return nil, "", false, err
		}
	}

	// 3. Container.
	if ph.container != nil {
		from := container
		var err error
		container, err = ev.convert(tracks, container)
		if err != nil {
			return nil, "", false, err
		}
		if container == kindMP4 && from != kindMP4 {
			// MP4 stores no titles (see mp4.go): the later phases, and the
			// next evaluation of the converted file, must not see them.
			var ids []string
			for i := range tracks {
				if tracks[i].Title != "" {
					ids = append(ids, strconv.Itoa(tracks[i].ID))
					tracks[i].Title = ""
				}
			}
			if ids != nil {
				ev.warn("container: mp4 stores no track titles: the conversion drops the titles of track %s", strings.Join(ids, ", "))
			}
		}
	}

	// 4 and 5. Order, then flags; again while the flags change a forced
	// flag, because forced subtitles have their own slot.
	for range 3 {
		if ph.trackOrder != nil {
			tracks = ev.order(tracks, container)
		}
		if ph.defaultFlags == nil || !ev.flags(tracks) {
			break
		}
	}

	// 6. Rules. When they change a forced flag or a language, the track
	// may belong in another slot: order again (flags stay as the rules
	// left them).
	skipFilter := false
	if ph.rules != nil {
		before := slices.Clone(tracks)
		var err error
		skipFilter, err = ev.rules(tracks)
		if err != nil {
			return nil, "", false, err
		}
		if ph.trackOrder != nil && classFieldsChanged(before, tracks) {
			tracks = ev.order(tracks, container)
		}
	}
	return tracks, container, skipFilter && !noFilter, nil
}

// classFieldsChanged reports whether a forced flag or a language differs
// between two versions of the same track list.
func classFieldsChanged(a, b []Track) bool {
	for i := range a {
		if a[i].Forced != b[i].Forced || a[i].Language != b[i].Language {
			return true
		}
	}
	return false
}

func applyActions(tracks []Track, typ string, a *trackActions) {
	if a == nil {
		return
	}
	for i := range tracks {
		t := &tracks[i]
		if t.Type != typ {
			continue
		}
		if a.clearAllForced {
			t.Forced = false
		}
		if a.clearAllDefault {
			t.Default = false
		}
		if a.clearAllTitles {
			t.Title = ""
		}
	}
}

// isDialog reports whether an audio class carries the programme's dialogue:
// the tracks keep_audio.minimum counts and default audio prefers.
func isDialog(c Class) bool { return c == ClassAudioMain || c == ClassAudioAlternate }

// filter applies keep_audio, keep_subtitles and filter_attachments. in is
// the phase input (for the fallback's "first audio track"), tracks the
// state after the actions.
func (ev *phaseEval) filter(in, tracks []Track) ([]Track, error) {
	ph := ev.ph
	var remove []removal
	if ph.keepAudio != nil || ph.keepSubtitles != nil || ph.filterAttachments != nil {
		remove = make([]removal, 0, len(tracks))
	}
	if ka := ph.keepAudio; ka != nil {
		var err error
		if remove, err = ev.filterAudio(ka, tracks, remove); err != nil {
			return nil, err
		}
	}
	if ks := ph.keepSubtitles; ks != nil {
		for _, t := range tracks {
			if t.Type != TypeSubtitle {
				continue
			}
			switch {
			case ks.removeAll:
				remove = append(remove, removal{t.ID, "keep_subtitles: remove_all"})
			case ks.preserveForced && t.Forced:
				// kept
			case ks.languages == nil:
				// kept
			default:
				lang := NormalizeLanguage(t.Language)
				if languageRank(lang, ks.languages) == len(ks.languages) {
					remove = append(remove, removal{t.ID, ks.notKept.get("keep_subtitles: language ", lang, " not in languages")})
					ev.warnSpecialLanguage(t, lang, "keep_subtitles")
					if ks.preserveForced && ev.wasForced(in, t.ID) {
						ev.warn("track %d (subtitle) was forced, but subtitle_actions.clear_all_forced ran first, so preserve_forced did not keep it", t.ID)
					}
				}
			}
		}
	}
	if fa := ph.filterAttachments; fa != nil && fa.removeAll {
		styled := false
		for _, t := range tracks {
			if t.Type == TypeSubtitle && isStyledSubtitle(t.Codec) {
				if !isRemoved(remove, t.ID) {
					styled = true
				}
			}
		}
		for _, t := range tracks {
			if t.Type != TypeAttachment {
				continue
			}
			remove = append(remove, removal{t.ID, "filter_attachments: remove_all"})
			if styled && isFontAttachment(t.Codec) {
				ev.warn("track %d is a font and ASS/SSA subtitles remain: removing it may change how they look", t.ID)
			}
		}
	}
	if len(remove) == 0 {
		return tracks, nil
	}
	ev.removed = remove
	kept := make([]Track, 0, len(tracks))
	for _, t := range tracks {
		if !isRemoved(remove, t.ID) {
			kept = append(kept, t)
		}
	}
	return kept, nil
}

func (ev *phaseEval) wasForced(in []Track, id int) bool {
	for _, t := range in {
		if t.ID == id {
			return t.Forced
		}
	}
	return false
}

// warnSpecialLanguage makes the removal of a track whose language is und,
// mis or mul (untagged, unlisted or several languages) explicit, so that it
// is never a surprise.
func (ev *phaseEval) warnSpecialLanguage(t Track, lang, op string) {
	switch lang {
	case LangUndetermined:
		ev.warn("track %d (%s) has no known language (und) and is removed; add und to %s.languages to keep such tracks", t.ID, t.Type, op)
	case LangMiscellaneous, LangMultiple:
		ev.warn("track %d (%s) has language %s and is removed; add %s to %s.languages to keep it", t.ID, t.Type, lang, lang, op)
	}
}

func (ev *phaseEval) filterAudio(ka *keepAudioSpec, tracks []Track, remove []removal) ([]removal, error) {
	cls := ev.sp.classifier
	// On the stack for a file's usual handful of audio tracks.
	var audioBuf [16]Track
	var classBuf [16]Class
	var reasonBuf [16]string
	audio, classes := audioBuf[:0], classBuf[:0]
	hasDialog := false
	for _, t := range tracks {
		if t.Type == TypeAudio {
			c := cls.Classify(t)
			audio = append(audio, t)
			classes = append(classes, c)
			hasDialog = hasDialog || isDialog(c)
		}
	}
	if len(audio) == 0 {
		return remove, nil
	}
	var reason []string // "" = kept
	if len(audio) > len(reasonBuf) {
		reason = make([]string, len(audio))
	} else {
		reason = reasonBuf[:len(audio)]
	}
	for i, t := range audio {
		switch classes[i] {
		case ClassAudioMusic:
			if !ka.keepMusic {
				reason[i] = "keep_audio: music track (keep_music_tracks: false)"
				continue
			}
			if ka.musicExempt {
				continue
			}
		case ClassAudioSFX:
			if !ka.keepSFX {
				reason[i] = "keep_audio: sound-effects track (keep_sfx_tracks: false)"
				continue
			}
			if ka.sfxExempt {
				continue
			}
		case ClassAudioNonSpeech:
			if !ka.keepNonSpeech {
				reason[i] = "keep_audio: non-speech track (keep_non_speech_tracks: false)"
				continue
			}
			if ka.nonSpeechExempt {
				continue
			}
		}
		lang := NormalizeLanguage(t.Language)
		if languageRank(lang, ka.languages) == len(ka.languages) {
			reason[i] = ka.notKept.get("keep_audio: language ", lang, " not in languages")
		}
	}
	// minimum counts the dialogue tracks kept (not commentary, music,
	// effects), or every track kept when the file has no dialogue track.
	counts := func(i int) bool { return !hasDialog || isDialog(classes[i]) }
	keptCount := 0
	for i := range audio {
		if reason[i] == "" && counts(i) {
			keptCount++
		}
	}
	if keptCount < ka.minimum {
		switch ka.fallback {
		case fallbackKeepAll:
			for i := range reason {
				reason[i] = ""
			}
		case fallbackKeepFirst:
			need := ka.minimum - keptCount
			for i := range audio {
				if need == 0 {
					break
				}
				if reason[i] != "" && counts(i) {
					reason[i] = ""
					need--
				}
			}
		case fallbackContentLanguage:
			content := ""
			for i, t := range audio {
				if counts(i) {
					content = NormalizeLanguage(t.Language)
					break
				}
			}
			for i, t := range audio {
				if counts(i) && NormalizeLanguage(t.Language) == content {
					reason[i] = ""
				}
			}
		default:
			langs := make([]string, 0, len(audio))
			for _, t := range audio {
				langs = append(langs, NormalizeLanguage(t.Language))
			}
			return nil, fmt.Errorf("keep_audio: %d audio track(s) would remain, minimum is %d (file has %s; keep %s) and fallback is error",
				keptCount, ka.minimum, strings.Join(langs, ", "), strings.Join(ka.languages, ", "))
		}
	}
	for i, t := range audio {
		if reason[i] != "" {
			remove = append(remove, removal{t.ID, reason[i]})
			ev.warnSpecialLanguage(t, NormalizeLanguage(t.Language), "keep_audio")
		}
	}
	return remove, nil
}

func isStyledSubtitle(codec string) bool {
	switch strings.ToLower(codec) {
	case "ass", "ssa":
		return true
	}
	return false
}

func isFontAttachment(codec string) bool {
	c := strings.ToLower(codec)
	switch c {
	case "ttf", "otf", "ttc", "woff", "woff2", "application/x-truetype-font", "application/x-font-ttf", "application/font-sfnt", "application/vnd.ms-opentype":
		return true
	}
	return strings.HasPrefix(c, "font/")
}

// convert evaluates container: it returns the container kind after the
// phase, or an error when a track cannot go into the target and
// on_incompatible_codec is error.
func (ev *phaseEval) convert(tracks []Track, container string) (string, error) {
	cs := ev.ph.container
	if cs.target == container {
		return container, nil
	}
	if cs.target == kindMP4 {
		var bad []string
		for _, t := range tracks {
			if !mp4Compatible(t) {
				bad = append(bad, fmt.Sprintf("track %d (%s, %s)", t.ID, t.Type, orUnknown(t.Codec)))
			}
		}
		if len(bad) > 0 {
			switch cs.onIncompatible {
			case "skip":
				ev.warn("container: not converted to mp4, incompatible: %s", strings.Join(bad, ", "))
				return container, nil
			case "transcode":
				// Listed in the phase's unsupported operations.
				return container, nil
			default:
				return "", fmt.Errorf("container: cannot convert to mp4: incompatible %s", strings.Join(bad, ", "))
			}
		}
	}
	return cs.target, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown codec"
	}
	return s
}

// mp4Compatible reports whether a track can be stored in MP4 as it is.
func mp4Compatible(t Track) bool {
	c := strings.ToLower(t.Codec)
	switch t.Type {
	case TypeVideo:
		switch c {
		case "h264", "hevc", "av1", "mpeg4", "vp9", "mjpeg", "png":
			return true
		}
	case TypeAudio:
		switch c {
		case "aac", "ac3", "eac3", "mp3", "flac", "opus", "alac":
			return true
		}
	case TypeSubtitle:
		switch c {
		case "mov_text", "webvtt":
			return true
		}
	case TypeData:
		return true
	}
	return false
}

// order sorts tracks by track_order slot, then (for audio_main and
// subtitle_main) by language preference, then by original index (the ID:
// the ffprobe stream index). Sorting on identity rather than on the current
// position makes the order a function of the tracks alone, so that a phase
// that moves a track to another slot (a forced flag set, cleared by an
// earlier phase, set again) lands on the same order every time.
// Classes not named in track_order go last, and in a Matroska file the
// attachments after them, whatever the attachment slot's place (Matroska
// stores them apart from the tracks; the plan warns when the slot's place
// would matter). Reordering needs a Matroska
// file; in any other container the phase warns and keeps the order.
func (ev *phaseEval) order(tracks []Track, container string) []Track {
	slots := ev.ph.trackOrder
	cls := ev.sp.classifier
	type keyed struct {
		slot, lang, id int
	}
	var keyBuf [32]keyed
	var idxBuf [32]int
	var keys []keyed
	if len(tracks) > len(keyBuf) {
		keys = make([]keyed, len(tracks))
	} else {
		keys = keyBuf[:len(tracks)]
	}
	attachSlot := -1
	for i, t := range tracks {
		c := cls.Classify(t)
		k := keyed{slot: len(slots), lang: 1 << 20, id: t.ID}
		for s, sc := range slots {
			if sc == c {
				k.slot = s
				break
			}
		}
		switch c {
		case ClassAudioMain:
			k.lang = languageRank(NormalizeLanguage(t.Language), ev.sp.audioPrefs)
		case ClassSubtitleMain:
			k.lang = languageRank(NormalizeLanguage(t.Language), ev.sp.subPrefs)
		}
		if container == kindMKV && t.Type == TypeAttachment {
			// Matroska keeps attachments apart from the tracks, after
			// them (they are not tracks: mkvmerge's --track-order cannot
			// name them, and ffprobe lists them last), so no plan can put
			// one before a track: that would never converge.
			if k.slot < len(slots) {
				attachSlot = k.slot
			}
			k.slot = len(slots) + 1
		}
		keys[i] = k
	}
	if attachSlot >= 0 {
		for i, t := range tracks {
			if t.Type != TypeAttachment && keys[i].slot > attachSlot {
				ev.warn("track_order: Matroska stores attachments after every track; the place of the attachment slot has no effect")
				break
			}
		}
	}
	var idx []int
	if len(tracks) > len(idxBuf) {
		idx = make([]int, len(tracks))
	} else {
		idx = idxBuf[:len(tracks)]
	}
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ka, kb := keys[a], keys[b]
		if ka.slot != kb.slot {
			return ka.slot - kb.slot
		}
		if ka.lang != kb.lang {
			return ka.lang - kb.lang
		}
		return ka.id - kb.id
	})
	if slices.IsSorted(idx) {
		return tracks
	}
	if container != kindMKV {
		ev.warn("track_order: the tracks are not in policy order, but reordering needs a Matroska (mkv) file; this one is %s", orUnknown(container))
		return tracks
	}
	out := make([]Track, len(tracks))
	for i, j := range idx {
		out[i] = tracks[j]
	}
	return out
}
