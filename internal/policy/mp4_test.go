package policy

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

func mp4File(name string, tracks ...Track) FileInfo {
	return FileInfo{Path: "/library/" + name, Container: "mov,mp4,m4a,3gp,3g2,mj2", Size: 1 << 30, Duration: 60, Tracks: tracks}
}

func movText(t Track) Track { t.Codec = "mov_text"; return t }

// TestFitContainer: a plan that rewrites a file into the MP4 family never asks
// for what ffmpeg's mov/mp4 muxer cannot store (internal/apply's
// TestMP4MuxerFacts checks each fact on the real ffmpeg): its result has no
// titles, a default track of each kind, no forced flag in a .mov, three-letter
// languages; the plan warns; and the result is what the policy finds
// conformant. A plan that changes nothing is not fitted.
func TestFitContainer(t *testing.T) {
	const header = "schema_version: 13\n"
	tests := []struct {
		name   string
		policy string
		file   FileInfo
		want   string // summary of the result, "" when the file is conformant
		warn   string // a warning of the last phase
		titles bool   // the result keeps titles
	}{
		{
			name: "conversion to mp4 drops titles and keeps a default of each kind",
			policy: header + `phases:
  - name: convert
    container: {target: mp4}
`,
			file: mkvFile(vid(0), aud(1, "eng", "Main"), aud(2, "fre", "Français")),
			want: "0v-D 1a-eng-D 2a-fre",
			warn: "container: mp4 stores no track titles: the conversion drops the titles of track 1, 2",
		},
		{
			name: "titles dropped at the conversion: a later phase does not classify by them",
			policy: header + `config: {audio_languages: [eng]}
phases:
  - name: convert
    container: {target: mp4}
  - name: flags
    default_flags: {}
`,
			// Track 1 is commentary by its title, which the conversion
			// drops: in the MP4 it is the first English track.
			file: mkvFile(def(vid(0)), aud(1, "eng", "Commentary"), def(aud(2, "eng", "Main"))),
			want: "0v-D 1a-eng-D 2a-eng",
		},
		{
			name: "no default subtitle cannot be stored: the first stays default",
			policy: header + `config: {audio_languages: [eng]}
phases:
  - name: tidy
    keep_audio: {languages: [eng]}
    default_flags: {set_preferred_subtitle_default: false, clear_other_defaults: true}
`,
			file: mp4File("film.mp4", def(vid(0)), def(aud(1, "eng", "")), aud(2, "fre", ""), def(movText(sub(3, "eng", ""))), movText(sub(4, "fre", ""))),
			want: "0v-D 1a-eng-D 3s-eng-D 4s-fre",
			warn: "mp4 cannot store a kind of track with no default track: the first one is marked default for subtitle (track 3 stays or becomes default)",
		},
		{
			name: "clearing the only change mp4 cannot store leaves the file conformant",
			policy: header + `phases:
  - name: flags
    default_flags: {set_preferred_subtitle_default: false, clear_other_defaults: true}
`,
			file: mp4File("film.mp4", def(vid(0)), def(aud(1, "eng", "")), def(movText(sub(2, "eng", "")))),
		},
		{
			name: "a .mov file stores no forced flag",
			policy: header + `phases:
  - name: filter
    keep_audio: {languages: [eng]}
`,
			file: mp4File("film.mov", def(vid(0)), def(aud(1, "eng", "")), aud(2, "fre", ""), forced(movText(sub(3, "eng", "")))),
			want: "0v-D 1a-eng-D 3s-eng-D",
			warn: "mov stores no forced flags: the rewrite clears them on track 3",
		},
		{
			name: "mp4 keeps the forced flag",
			policy: header + `phases:
  - name: filter
    keep_audio: {languages: [eng]}
`,
			file: mp4File("film.mp4", def(vid(0)), def(aud(1, "eng", "")), aud(2, "fre", ""), def(forced(movText(sub(3, "eng", ""))))),
			want: "0v-D 1a-eng-D 3s-eng-D-F",
		},
		{
			name: "a two-letter language is written as its three-letter code",
			policy: header + `phases:
  - name: lang
    rules:
      match: first
      items:
        - name: german
          when: {exists: {track_type: audio, language: fre}}
          then:
            - set_language: {track_type: audio, match_language: fre, new_language: de}
`,
			file: mp4File("film.mp4", def(vid(0)), def(aud(1, "eng", "")), aud(2, "fre", "")),
			want: "0v-D 1a-eng-D 2a-ger",
			warn: "mp4 stores three-letter language codes: track 2 de as ger",
		},
		{
			name: "a .mov language outside QuickTime's table is written as und; an equivalent code as the table's",
			policy: header + `phases:
  - name: lang
    rules:
      match: all
      items:
        - name: swedish
          when: {exists: {track_type: audio, language: ger}}
          then:
            - set_language: {track_type: audio, match_language: ger, new_language: swe}
        - name: french
          when: {exists: {track_type: audio, language: eng}}
          then:
            - set_language: {track_type: audio, match_language: eng, new_language: fre}
`,
			file: mp4File("film.mov", def(vid(0)), def(aud(1, "eng", "")), aud(2, "ger", "")),
			want: "0v-D 1a-fre-D 2a-und",
			warn: "mov stores only the languages of QuickTime's table: track 1 fre as fra, track 2 swe as und",
		},
		{
			name: "a conformant mp4 is not fitted: titles and no default stay",
			policy: header + `phases:
  - name: filter
    keep_audio: {languages: [eng]}
`,
			file:   mp4File("film.mp4", vid(0), aud(1, "eng", "Main")),
			titles: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("t.yaml", []byte(tt.policy))
			if err != nil {
				t.Fatal(err)
			}
			plan := Evaluate(p, tt.file)
			var b strings.Builder
			_ = plan.WriteText(&b)
			if plan.HasErrors() {
				t.Fatalf("plan failed:\n%s", b.String())
			}
			if tt.want == "" {
				if !plan.Conformant() {
					t.Fatalf("want conformant:\n%s", b.String())
				}
				return
			}
			res := plan.Result()
			if got := summary(res.Tracks); got != tt.want {
				t.Errorf("result %s, want %s\n%s", got, tt.want, b.String())
			}
			for _, tr := range res.Tracks {
				if tr.Title != "" && !tt.titles {
					t.Errorf("track %d keeps its title %q\n%s", tr.ID, tr.Title, b.String())
				}
			}
			warnings := plan.Phases[len(plan.Phases)-1].Warnings
			if tt.warn != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.warn) {
				t.Errorf("warnings %q lack %q", warnings, tt.warn)
			}
			mustIdempotent(t, p, plan)
		})
	}
}

// TestOrderAttachments: in a Matroska file attachments stay after every
// track, whatever the attachment slot's place in track_order (Matroska stores
// them apart; a plan that put one first would never converge); the plan warns
// when the slot's place would have mattered.
func TestOrderAttachments(t *testing.T) {
	const warn = "track_order: Matroska stores attachments after every track; the place of the attachment slot has no effect"
	file := mkvFile(def(vid(0)), def(aud(1, "eng", "")), sub(3, "eng", ""), aud(2, "fre", ""), att(4), att(5))
	tests := []struct {
		name  string
		order []Slot
		want  string
		warn  bool
	}{
		{"attachment slot first", []Slot{SlotAttachment, SlotVideo, SlotAudioMain, SlotAudioAlternate, SlotSubtitleMain}, "0v-D 1a-eng-D 2a-fre 3s-eng 4a 5a", true},
		{"attachment slot between", []Slot{SlotVideo, SlotAudioMain, SlotAttachment, SlotSubtitleMain}, "0v-D 1a-eng-D 3s-eng 2a-fre 4a 5a", true},
		{"attachment slot last", []Slot{SlotVideo, SlotAudioMain, SlotAudioAlternate, SlotSubtitleMain, SlotAttachment}, "0v-D 1a-eng-D 2a-fre 3s-eng 4a 5a", false},
		{"no attachment slot", []Slot{SlotVideo, SlotSubtitleMain}, "0v-D 3s-eng 1a-eng-D 2a-fre 4a 5a", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPolicy(Phase{Name: "o", TrackOrder: tt.order})
			plan := Evaluate(p, file)
			if got := summary(plan.Result().Tracks); got != tt.want {
				t.Errorf("result %s, want %s", got, tt.want)
			}
			got := strings.Contains(strings.Join(plan.Phases[0].Warnings, "\n"), warn)
			if got != tt.warn {
				t.Errorf("warnings %q: has the attachment warning %t, want %t", plan.Phases[0].Warnings, got, tt.warn)
			}
			mustIdempotent(t, p, plan)
		})
	}
}

// languageCodes lists every three-letter code the language tables know, and
// und, mul, mis and zxx.
func languageCodes() []string {
	set := map[string]bool{LangUndetermined: true, LangMultiple: true, LangMiscellaneous: true, LangNoLinguisticContent: true}
	for _, b := range iso6391 {
		set[b] = true
	}
	for t, b := range iso6392T {
		set[t], set[b] = true, true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// TestMOVLanguages checks movLanguages on the installed ffmpeg: one .mov with
// an audio track for every code the language tables know, read back by
// ffprobe; the codes that come back verbatim must be exactly movLanguages.
func TestMOVLanguages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	codes := languageCodes()
	out := filepath.Join(dir, "all.mov")
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=duration=0.1", "-c:a", "pcm_s16le"}
	for range codes {
		args = append(args, "-map", "0:0")
	}
	for i, c := range codes {
		args = append(args, "-metadata:s:"+strconv.Itoa(i), "language="+c)
	}
	args = append(args, "-f", "mov", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	b, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=index:stream_tags=language", "-of", "json", out).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var v struct {
		Streams []struct {
			Index int               `json:"index"`
			Tags  map[string]string `json:"tags"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Streams) != len(codes) {
		t.Fatalf("%d streams, want %d", len(v.Streams), len(codes))
	}
	for _, s := range v.Streams {
		c, got := codes[s.Index], s.Tags["language"]
		if kept := got == c; kept != movLanguages[c] {
			t.Errorf("mov language %s reads back as %q; movLanguages[%s] = %t", c, got, c, movLanguages[c])
		}
	}
}
