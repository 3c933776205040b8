package policy

import (
	"path"
	"strings"
)

// flags applies default_flags to tracks in place. It reports whether it
// changed a forced flag (which can move a subtitle to another slot).
//
//   - video: set_first_video_default sets the first video track default
//     (clear_other_defaults clears the others).
//   - audio: set_preferred_audio_default sets [preferredAudio] default
//     (clear_other_defaults clears the others).
//   - subtitles: set_preferred_subtitle_default sets [preferredSubtitle]
//     default; when not set, clear_other_defaults clears every subtitle
//     default. set_subtitle_default_when_audio_differs does the same when
//     no dialogue audio track is in a preferred language, and
//     set_subtitle_forced_when_audio_differs then makes sure a preferred
//     subtitle is forced. No subtitle outside config.subtitle_languages is
//     ever switched on.
func (ev *phaseEval) flags(tracks []Track) (forcedChanged bool) {
	df := ev.ph.defaultFlags
	cls := ev.sp.classifier
	setOnly := func(typ string, chosen int, clearOthers bool) {
		for i := range tracks {
			if tracks[i].Type != typ {
				continue
			}
			if i == chosen {
				tracks[i].Default = true
			} else if clearOthers {
				tracks[i].Default = false
			}
		}
	}
	if df.setFirstVideoDefault {
		first := -1
		for i := range tracks {
			if tracks[i].Type == TypeVideo {
				first = i
				break
			}
		}
		if first >= 0 {
			setOnly(TypeVideo, first, df.clearOtherDefaults)
		}
	}
	if df.setPreferredAudioDefault {
		if i := preferredAudio(tracks, cls, ev.sp.audioPrefs, df.preferredAudioCodec); i >= 0 {
			setOnly(TypeAudio, i, df.clearOtherDefaults)
		}
	}
	subDefault := -1
	if df.setPreferredSubtitleDef {
		subDefault = preferredSubtitle(tracks, cls, ev.sp.subPrefs)
	}
	differs := (df.subDefaultWhenAudioDiffers || df.subForcedWhenAudioDiffers) &&
		!audioInPreferredLanguage(tracks, cls, ev.sp.audioPrefs)
	if subDefault < 0 && df.subDefaultWhenAudioDiffers && differs {
		subDefault = preferredSubtitle(tracks, cls, ev.sp.subPrefs)
	}
	if subDefault >= 0 {
		setOnly(TypeSubtitle, subDefault, df.clearOtherDefaults)
	} else if df.clearOtherDefaults {
		setOnly(TypeSubtitle, -1, true)
	}
	if df.subForcedWhenAudioDiffers && differs && !preferredSubtitleForced(tracks, cls, ev.sp.subPrefs) {
		if i := preferredSubtitle(tracks, cls, ev.sp.subPrefs); i >= 0 && !tracks[i].Forced {
			tracks[i].Forced = true
			forcedChanged = true
		}
	}
	return forcedChanged
}

// preferredAudio returns the index of the track that should be the default
// audio: among dialogue tracks (not commentary, music, effects or
// non-speech), the first of the most preferred language, where a track
// whose codec is earlier in preferred_audio_codec wins within a language;
// else the first dialogue track; else the first non-commentary audio track;
// else the first audio track. -1 when there is no audio.
func preferredAudio(tracks []Track, cls *Classifier, prefs, codecs []string) int {
	firstDialog, firstNonComm, first := -1, -1, -1
	bestRank, best := len(prefs), -1
	bestCodec := len(codecs)
	for i, t := range tracks {
		if t.Type != TypeAudio {
			continue
		}
		if first < 0 {
			first = i
		}
		c := cls.Classify(t)
		if c != ClassAudioCommentary && firstNonComm < 0 {
			firstNonComm = i
		}
		if !isDialog(c) {
			continue
		}
		if firstDialog < 0 {
			firstDialog = i
		}
		rank := languageRank(NormalizeLanguage(t.Language), prefs)
		if rank == len(prefs) {
			continue
		}
		codecRank := len(codecs)
		for j, p := range codecs {
			if audioCodecMatches(t.Codec, p) {
				codecRank = j
				break
			}
		}
		if rank < bestRank || rank == bestRank && codecRank < bestCodec {
			bestRank, best, bestCodec = rank, i, codecRank
		}
	}
	switch {
	case best >= 0:
		return best
	case firstDialog >= 0:
		return firstDialog
	case firstNonComm >= 0:
		return firstNonComm
	}
	return first
}

// preferredSubtitle returns the index of the first non-commentary subtitle
// of the most preferred language, or -1 when no subtitle is in a preferred
// language: vpo never falls back to a subtitle the owner did not ask for.
func preferredSubtitle(tracks []Track, cls *Classifier, prefs []string) int {
	bestRank, best := len(prefs), -1
	for i, t := range tracks {
		if t.Type != TypeSubtitle || cls.Classify(t) == ClassSubtitleCommentary {
			continue
		}
		if rank := languageRank(NormalizeLanguage(t.Language), prefs); rank < bestRank {
			bestRank, best = rank, i
		}
	}
	return best
}

// preferredSubtitleForced reports whether a non-commentary subtitle of the
// most preferred language present is already forced.
func preferredSubtitleForced(tracks []Track, cls *Classifier, prefs []string) bool {
	i := preferredSubtitle(tracks, cls, prefs)
	if i < 0 {
		return false
	}
	lang := NormalizeLanguage(tracks[i].Language)
	for _, t := range tracks {
		if t.Type == TypeSubtitle && t.Forced && NormalizeLanguage(t.Language) == lang && cls.Classify(t) != ClassSubtitleCommentary {
			return true
		}
	}
	return false
}

// audioInPreferredLanguage reports whether some non-commentary audio track
// is in a preferred language.
func audioInPreferredLanguage(tracks []Track, cls *Classifier, prefs []string) bool {
	for _, t := range tracks {
		if t.Type != TypeAudio || cls.Classify(t) == ClassAudioCommentary {
			continue
		}
		if languageRank(NormalizeLanguage(t.Language), prefs) < len(prefs) {
			return true
		}
	}
	return false
}

// Codec alias groups: a policy may name any member of a group and match
// them all.
var audioCodecGroups = map[string][]string{
	"truehd": {"truehd", "mlp"},
	"dts":    {"dts", "dca"},
	"dts-hd": {"dts-hd", "dtshd", "dts_hd"},
	"aac":    {"aac", "aac_latm", "mp4a"},
	"ac3":    {"ac3", "ac-3", "a52"},
	"eac3":   {"eac3", "e-ac-3", "ec3"},
	"mp3":    {"mp3", "mp3float"},
	"pcm":    {"pcm"},
}

var videoCodecGroups = [][]string{
	{"hevc", "h265", "h.265", "x265", "hvc1", "hev1"},
	{"h264", "h.264", "avc", "avc1", "x264"},
	{"vp9", "vp09"},
	{"av1", "av01", "libaom-av1"},
	{"mpeg4", "mp4v"},
}

// audioCodecMatches reports whether an audio codec matches a policy's codec
// pattern: equal ignoring case, a member of the pattern's alias group ("dts"
// also matches DTS-HD, "pcm" every pcm_*), or a glob ("pcm_s*").
func audioCodecMatches(codec, pattern string) bool {
	c, p := strings.ToLower(codec), strings.ToLower(strings.TrimSpace(pattern))
	if c == "" {
		return false
	}
	if c == p {
		return true
	}
	for _, v := range audioCodecGroups[p] {
		if strings.HasPrefix(c, v) {
			return true
		}
	}
	if strings.ContainsAny(p, "*?[") {
		ok, _ := path.Match(p, c)
		return ok
	}
	return false
}

// videoCodecMatches reports whether a video codec matches a policy's codec
// name, aliases included (hevc = h265 = x265 ...).
func videoCodecMatches(codec, pattern string) bool {
	c, p := strings.ToLower(codec), strings.ToLower(strings.TrimSpace(pattern))
	if c == "" {
		return false
	}
	if c == p {
		return true
	}
	for _, g := range videoCodecGroups {
		inC, inP := false, false
		for _, v := range g {
			inC = inC || v == c
			inP = inP || v == p
		}
		if inC && inP {
			return true
		}
	}
	return false
}
