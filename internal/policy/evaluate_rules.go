package policy

import (
	"fmt"
	"path/filepath"
	"strings"
)

// rules evaluates the phase's rules against the tracks as the earlier
// steps left them, and applies the chosen actions in place. It reports
// whether an action asked to skip the track filters.
//
// match: first runs the then-actions of the first rule whose condition
// holds; match: all those of every such rule, in order. In both modes, when
// no condition holds, the last rule's else-actions run (the original's
// semantics). A rules block with a condition this vpo cannot evaluate is
// not run at all and is listed as unsupported.
func (ev *phaseEval) rules(tracks []Track) (skipFilter bool, err error) {
	rs := ev.ph.rules
	for i := range rs.items {
		if unsupportedCond(&rs.items[i].when) != "" {
			// Listed in the phase's unsupported operations.
			return false, nil
		}
	}
	var chosen []*ruleSpec
	var branches [][]actionSpec
	for i := range rs.items {
		r := &rs.items[i]
		if ev.cond(&r.when, tracks) {
			chosen = append(chosen, r)
			branches = append(branches, r.then)
			if !rs.matchAll {
				break
			}
		}
	}
	if len(chosen) == 0 && len(rs.items) > 0 {
		if last := &rs.items[len(rs.items)-1]; last.hasElse {
			chosen = append(chosen, last)
			branches = append(branches, last.els)
		}
	}
	for k, r := range chosen {
		for _, a := range branches[k] {
			skip, err := ev.action(r, &a, tracks)
			if err != nil {
				return false, err
			}
			skipFilter = skipFilter || skip
		}
	}
	return skipFilter, nil
}

func unsupportedCond(c *condSpec) string {
	if c.kind == condUnsupported {
		return c.unsupported
	}
	for i := range c.subs {
		if w := unsupportedCond(&c.subs[i]); w != "" {
			return w
		}
	}
	return ""
}

func (ev *phaseEval) cond(c *condSpec, tracks []Track) bool {
	switch c.kind {
	case condExists, condCount:
		n := 0
		for _, t := range tracks {
			if t.Type == c.trackType && ev.trackMatches(t, &c.filter) {
				n++
			}
		}
		if c.kind == condExists {
			return n > 0
		}
		return c.cmp.holds(n)
	case condAnd:
		for i := range c.subs {
			if !ev.cond(&c.subs[i], tracks) {
				return false
			}
		}
		return true
	case condOr:
		for i := range c.subs {
			if ev.cond(&c.subs[i], tracks) {
				return true
			}
		}
		return false
	case condNot:
		return len(c.subs) == 1 && !ev.cond(&c.subs[0], tracks)
	}
	return false
}

func (c cmpSpec) holds(v int) bool {
	switch c.op {
	case "eq":
		return v == c.n
	case "lt":
		return v < c.n
	case "lte":
		return v <= c.n
	case "gt":
		return v > c.n
	case "gte":
		return v >= c.n
	}
	return false
}

func (ev *phaseEval) trackMatches(t Track, f *trackFilterSpec) bool {
	if f.languages != nil && languageRank(NormalizeLanguage(t.Language), f.languages) == len(f.languages) {
		return false
	}
	if f.codecs != nil {
		ok := false
		for _, c := range f.codecs {
			if strings.EqualFold(t.Codec, c) || t.Type == TypeAudio && audioCodecMatches(t.Codec, c) || t.Type == TypeVideo && videoCodecMatches(t.Codec, c) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if f.isDefault != nil && t.Default != *f.isDefault {
		return false
	}
	if f.isForced != nil && t.Forced != *f.isForced {
		return false
	}
	if f.channels != nil && (t.Channels == 0 || !f.channels.holds(t.Channels)) {
		return false
	}
	if f.width != nil && (t.Width == 0 || !f.width.holds(t.Width)) {
		return false
	}
	if f.height != nil && (t.Height == 0 || !f.height.holds(t.Height)) {
		return false
	}
	if f.titleContains != nil && !strings.Contains(strings.ToLower(t.Title), strings.ToLower(*f.titleContains)) {
		return false
	}
	if f.titleRegex != nil && !f.titleRegex.MatchString(t.Title) {
		return false
	}
	if f.notCommentary {
		c := ev.sp.classifier.Classify(t)
		if c == ClassAudioCommentary || c == ClassSubtitleCommentary {
			return false
		}
	}
	return true
}

// action applies one rule action to tracks in place.
//
//   - set_default: the first matching track (type, optional language) gets
//     the value; setting it true clears the default of the other tracks of
//     that type, so that a file never ends with two default audio tracks
//     (the original leaves the old default on).
//   - set_forced: every matching subtitle gets the value.
//   - set_language: every matching track (type, optional match_language)
//     whose language is not already equivalent gets new_language.
//   - warn adds a warning, fail fails the phase ({filename}, {path} and
//     {rule_name} are replaced in both).
func (ev *phaseEval) action(r *ruleSpec, a *actionSpec, tracks []Track) (skipFilter bool, err error) {
	switch a.kind {
	case actWarn:
		ev.warn("rule %s: %s", r.name, ev.expand(a.message, r.name))
	case actFail:
		return false, fmt.Errorf("rule %s: %s", r.name, ev.expand(a.message, r.name))
	case actSkipTrackFilter:
		return true, nil
	case actNoop:
	case actUnsupported:
		// Listed in the phase's unsupported operations.
	case actSetDefault:
		chosen := -1
		for i, t := range tracks {
			if t.Type == a.trackType && (a.language == "" || NormalizeLanguage(t.Language) == a.language) {
				chosen = i
				break
			}
		}
		if chosen < 0 {
			ev.warn("rule %s: set_default: no %s track%s", r.name, a.trackType, languageSuffix(a.language))
			return false, nil
		}
		tracks[chosen].Default = a.value
		if a.value {
			for i := range tracks {
				if i != chosen && tracks[i].Type == a.trackType {
					tracks[i].Default = false
				}
			}
		}
	case actSetForced:
		n := 0
		for i, t := range tracks {
			if t.Type == a.trackType && (a.language == "" || NormalizeLanguage(t.Language) == a.language) {
				tracks[i].Forced = a.value
				n++
			}
		}
		if n == 0 {
			ev.warn("rule %s: set_forced: no %s track%s", r.name, a.trackType, languageSuffix(a.language))
		}
	case actSetLanguage:
		want := NormalizeLanguage(a.newLanguage)
		for i, t := range tracks {
			if t.Type != a.trackType {
				continue
			}
			lang := NormalizeLanguage(t.Language)
			if a.matchLanguage != "" && lang != a.matchLanguage {
				continue
			}
			if lang != want {
				tracks[i].Language = a.newLanguage
			}
		}
	}
	return false, nil
}

func languageSuffix(lang string) string {
	if lang == "" {
		return ""
	}
	return " in language " + lang
}

func (ev *phaseEval) expand(msg, rule string) string {
	if !strings.Contains(msg, "{") {
		return msg
	}
	msg = strings.ReplaceAll(msg, "{filename}", filepath.Base(ev.file.Path))
	msg = strings.ReplaceAll(msg, "{path}", ev.file.Path)
	return strings.ReplaceAll(msg, "{rule_name}", rule)
}

// Resolution labels of skip_when, by height.
var resolutionHeights = map[string]int{"480p": 480, "720p": 720, "1080p": 1080, "1440p": 1440, "2160p": 2160, "4k": 2160, "8k": 4320}

func resolutionLabel(h int) string {
	switch {
	case h >= 2160:
		return "2160p"
	case h >= 1440:
		return "1440p"
	case h >= 1080:
		return "1080p"
	case h >= 720:
		return "720p"
	}
	return "480p"
}

// skipWhenMatches evaluates skip_when against the file as the earlier
// phases leave it, and returns why it matches, or "". A condition that
// cannot be decided (no video track, unknown size) does not match.
func skipWhenMatches(sw *skipWhenSpec, f FileInfo, tracks []Track, container string) string {
	var video *Track
	for i := range tracks {
		if tracks[i].Type == TypeVideo {
			video = &tracks[i]
			break
		}
	}
	var matched []string
	active := 0
	check := func(set bool, name string, ok func() bool) {
		if !set {
			return
		}
		active++
		if ok() {
			matched = append(matched, name)
		}
	}
	check(sw.videoCodec != nil, "video_codec", func() bool {
		if video == nil {
			return false
		}
		for _, c := range sw.videoCodec {
			if videoCodecMatches(video.Codec, c) {
				return true
			}
		}
		return false
	})
	check(sw.audioCodecExists != "", "audio_codec_exists", func() bool {
		for _, t := range tracks {
			if t.Type == TypeAudio && audioCodecMatches(t.Codec, sw.audioCodecExists) {
				return true
			}
		}
		return false
	})
	check(sw.subtitleLanguageExists != "", "subtitle_language_exists", func() bool {
		want := NormalizeLanguage(sw.subtitleLanguageExists)
		for _, t := range tracks {
			if t.Type == TypeSubtitle && NormalizeLanguage(t.Language) == want {
				return true
			}
		}
		return false
	})
	check(sw.container != nil, "container", func() bool {
		for _, c := range sw.container {
			if ContainerKind(c) == container {
				return true
			}
		}
		return false
	})
	check(sw.resolution != "", "resolution", func() bool {
		want := strings.ToLower(sw.resolution)
		if want == "4k" {
			want = "2160p"
		}
		return video != nil && video.Height > 0 && resolutionLabel(video.Height) == want
	})
	check(sw.resolutionUnder != "", "resolution_under", func() bool {
		h := resolutionHeights[strings.ToLower(sw.resolutionUnder)]
		return video != nil && video.Height > 0 && h > 0 && video.Height < h
	})
	check(sw.fileSizeUnder > 0, "file_size_under", func() bool { return f.Size > 0 && f.Size < sw.fileSizeUnder })
	check(sw.fileSizeOver > 0, "file_size_over", func() bool { return f.Size > 0 && f.Size > sw.fileSizeOver })
	check(sw.durationUnder > 0, "duration_under", func() bool { return f.Duration > 0 && f.Duration < sw.durationUnder })
	check(sw.durationOver > 0, "duration_over", func() bool { return f.Duration > 0 && f.Duration > sw.durationOver })
	if len(matched) == 0 || sw.all && len(matched) != active {
		return ""
	}
	if sw.all {
		return "all of " + strings.Join(matched, ", ")
	}
	return matched[0]
}

// diffPhase fills the removals, order and changes that turn in into out.
// Files have few tracks, so linear searches beat maps here.
func diffPhase(pp *PhasePlan, in, out []Track, removed []removal) {
	indexOf := func(ts []Track, id int) int {
		for i := range ts {
			if ts[i].ID == id {
				return i
			}
		}
		return -1
	}
	k := 0 // position in out of the next kept track, if the order is kept
	reordered := false
	if n := len(in) - len(out); n > 0 {
		pp.Removals = make([]Removal, 0, n)
	}
	for _, t := range in {
		if indexOf(out, t.ID) < 0 {
			pp.Removals = append(pp.Removals, Removal{Track: t.ID, Reason: reasonOf(removed, t.ID)})
			continue
		}
		if out[k].ID != t.ID {
			reordered = true
		}
		k++
	}
	if reordered {
		pp.Order = make([]int, len(out))
		for j, o := range out {
			pp.Order[j] = o.ID
		}
	}
	changes := 0
	for _, t := range out {
		b := &in[indexOf(in, t.ID)]
		changes += count(b.Default != t.Default) + count(b.Forced != t.Forced) + count(b.Language != t.Language) + count(b.Title != t.Title)
	}
	if changes > 0 {
		pp.Changes = make([]Change, 0, changes)
	}
	for _, t := range out {
		b := &in[indexOf(in, t.ID)]
		if b.Default != t.Default {
			pp.Changes = append(pp.Changes, Change{Track: t.ID, Field: FieldDefault, From: b.Default, To: t.Default})
		}
		if b.Forced != t.Forced {
			pp.Changes = append(pp.Changes, Change{Track: t.ID, Field: FieldForced, From: b.Forced, To: t.Forced})
		}
		if b.Language != t.Language {
			pp.Changes = append(pp.Changes, Change{Track: t.ID, Field: FieldLanguage, From: b.Language, To: t.Language})
		}
		if b.Title != t.Title {
			pp.Changes = append(pp.Changes, Change{Track: t.ID, Field: FieldTitle, From: b.Title, To: t.Title})
		}
	}
}

func count(b bool) int {
	if b {
		return 1
	}
	return 0
}
