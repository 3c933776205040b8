package policy

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// What the MP4 family can hold.
//
// vpo rewrites MP4 (and MOV, M4V) files with ffmpeg's mov/mp4 muxer, which
// cannot store everything a plan may ask for. A plan that asks for what the
// file cannot hold would never be realised: the verification after the
// rewrite would fail, or the policy would want the same change again after
// every apply. So when a plan rewrites a file into the MP4 family, the
// evaluator makes the plan's result what the muxer will write, and says so
// in a warning of the plan's last phase:
//
//   - Track titles: the muxer stores none (neither in mp4 nor in mov mode;
//     ffprobe reads none back, nor does mkvmerge). The rewrite drops them.
//   - Default flags: a kind (video, audio, subtitle) with tracks but no
//     default one cannot be stored: the muxer marks the first track of that
//     kind enabled, which reads back as default. Several defaults are kept.
//   - Forced flags: mp4 stores them (as a "forced-subtitle" kind box); mov
//     (QuickTime, a .mov file) does not, and the rewrite clears them.
//   - Languages: mp4 stores three-letter ISO 639-2 codes; any other form
//     ("de", "en-US") would be written as und, so the plan writes the
//     three-letter code ("ger"). mov stores only the codes of QuickTime's
//     language table (movLanguages): the plan writes the equivalent code of
//     the table ("fre" as "fra"), and a language with none (swe) as und.
//
// The internal/apply tests check each of these facts on the installed ffmpeg.
// A plan that changes nothing is not rewritten, so none of this applies to it:
// a conformant file stays untouched.

// isMOV reports whether the plan writes the result with the mov (QuickTime)
// muxer rather than the mp4 one: a .mov file rewritten in its container (a
// conversion to mp4 writes a .mp4 file).
func isMOV(p *Plan, result FileInfo) bool {
	return ContainerKind(p.File.Container) == kindMP4 && ContainerKind(result.Container) == kindMP4 &&
		strings.EqualFold(filepath.Ext(p.File.Path), ".mov")
}

// fitContainer makes the result of a plan that rewrites the file into the MP4
// family one the muxer can write (see above), by changing what the plan's last
// phase that ran does. It does nothing to a plan that failed or changes
// nothing.
func fitContainer(p *Plan) {
	// The final container first: it is cheap, and most files are not MP4.
	final := p.File.Container
	for i := range p.Phases {
		if pp := &p.Phases[i]; pp.Status == PhaseRan && pp.Container != nil {
			final = pp.Container.To
		}
	}
	if ContainerKind(final) != kindMP4 || p.HasErrors() || p.Stopped || !p.Changed() {
		return
	}
	res := p.Result()
	last := -1
	for i := range p.Phases {
		if p.Phases[i].Status == PhaseRan {
			last = i
		}
	}
	if last < 0 {
		return
	}
	mov := isMOV(p, res)
	name := "mp4"
	if mov {
		name = "mov"
	}
	out := slices.Clone(res.Tracks)
	var titles, forced, langs []string
	for i := range out {
		t := &out[i]
		if t.Title != "" {
			titles = append(titles, strconv.Itoa(t.ID))
			t.Title = ""
		}
		if mov && t.Forced {
			forced = append(forced, strconv.Itoa(t.ID))
			t.Forced = false
		}
		switch {
		case !mov && t.Language != "" && !isISO6392(t.Language):
			code := NormalizeLanguage(t.Language)
			langs = append(langs, fmt.Sprintf("track %d %s as %s", t.ID, t.Language, code))
			t.Language = code
		case mov && t.Language != "" && !movLanguages[t.Language] && NormalizeLanguage(t.Language) != LangUndetermined:
			code := movLanguage(t.Language)
			shown := code
			if code == "" {
				shown = LangUndetermined
			}
			langs = append(langs, fmt.Sprintf("track %d %s as %s", t.ID, t.Language, shown))
			t.Language = code
		}
	}
	var defaults []string
	for _, typ := range []string{TypeVideo, TypeAudio, TypeSubtitle} {
		first, hasDefault := -1, false
		for i, t := range out {
			if t.Type == typ {
				if first < 0 {
					first = i
				}
				hasDefault = hasDefault || t.Default
			}
		}
		if first >= 0 && !hasDefault {
			out[first].Default = true
			defaults = append(defaults, fmt.Sprintf("%s (track %d stays or becomes default)", typ, out[first].ID))
		}
	}
	if titles == nil && forced == nil && langs == nil && defaults == nil {
		return
	}
	pp := &p.Phases[last]
	if titles != nil {
		pp.Warnings = append(pp.Warnings, fmt.Sprintf("%s stores no track titles: the rewrite drops the titles of track %s", name, strings.Join(titles, ", ")))
	}
	if forced != nil {
		pp.Warnings = append(pp.Warnings, fmt.Sprintf("mov stores no forced flags: the rewrite clears them on track %s", strings.Join(forced, ", ")))
	}
	if langs != nil && !mov {
		pp.Warnings = append(pp.Warnings, fmt.Sprintf("mp4 stores three-letter language codes: %s", strings.Join(langs, ", ")))
	}
	if langs != nil && mov {
		pp.Warnings = append(pp.Warnings, fmt.Sprintf("mov stores only the languages of QuickTime's table: %s", strings.Join(langs, ", ")))
	}
	if defaults != nil {
		pp.Warnings = append(pp.Warnings, fmt.Sprintf("%s cannot store a kind of track with no default track: the first one is marked default for %s", name, strings.Join(defaults, ", ")))
	}
	// The phase's diff, again, from its input to the fitted result.
	in := p.File.Tracks
	if last > 0 {
		before := Plan{File: p.File, Phases: p.Phases[:last]}
		in = before.Result().Tracks
	}
	removed := make([]removal, len(pp.Removals))
	for i, r := range pp.Removals {
		removed[i] = removal{id: r.Track, reason: r.Reason}
	}
	pp.Removals, pp.Order, pp.Changes = nil, nil, nil
	diffPhase(pp, slices.Clone(in), out, removed)
}

// isISO6392 reports whether a language tag is the form MP4 stores: three
// lower-case ASCII letters.
func isISO6392(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return true
}

// movLanguages are the language codes ffmpeg's mov (QuickTime) muxer stores:
// those of QuickTime's language table, in the form ffmpeg maps them (fra but
// ger, ces but not cze). Found by writing every code of lang_table.go into one
// .mov and reading it back; TestMOVLanguages checks the list against the
// installed ffmpeg the same way.
var movLanguages = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`alb amh ara arm asm aym aze baq bel ben bul bur cat ces chi dan dut dzo eng epo
		est fin fra geo ger gre grn guj heb hin hun ice ind ita jav jpn kan kas kaz khm kin kir kor kur lao lat lav
		lit mac mal mar may mlg mlt mol mon nep nor nya ori orm per pol por pus que ron run rus san sin slk slv snd
		som spa swa tam tat tel tgk tgl tha tib tir tuk tur uig ukr urd uzb vie wel yid`) {
		m[c] = true
	}
	return m
}()

// movLanguage returns the code of QuickTime's table for the language of tag,
// or "" (und) when the table has none.
func movLanguage(tag string) string {
	want := NormalizeLanguage(tag)
	best := ""
	for c := range movLanguages {
		if NormalizeLanguage(c) == want && (best == "" || c < best) {
			best = c
		}
	}
	return best
}
