package policy

import (
	"fmt"
	"strings"
	"testing"
)

// Test helpers: tracks and policies built in code, with the loader's
// defaults filled in as the loader would.

func vid(id int) Track {
	return Track{ID: id, Type: TypeVideo, Codec: "h264", Width: 1920, Height: 1080}
}

func aud(id int, lang, title string) Track {
	return Track{ID: id, Type: TypeAudio, Codec: "aac", Language: lang, Title: title, Channels: 2}
}

func sub(id int, lang, title string) Track {
	return Track{ID: id, Type: TypeSubtitle, Codec: "subrip", Language: lang, Title: title}
}

func att(id int) Track { return Track{ID: id, Type: TypeAttachment, Codec: "ttf"} }

func def(t Track) Track    { t.Default = true; return t }
func forced(t Track) Track { t.Forced = true; return t }
func codec(t Track, c string) Track {
	t.Codec = c
	return t
}

func mkvFile(tracks ...Track) FileInfo {
	return FileInfo{Path: "/library/Film (2001)/Film.mkv", Container: "matroska,webm", Size: 4 << 30, Duration: 7200, Tracks: tracks}
}

func testPolicy(phases ...Phase) *Policy {
	return &Policy{
		SchemaVersion: SchemaVersion,
		Name:          "test",
		Config: Config{
			AudioLanguages:     []string{"eng", "und"},
			SubtitleLanguages:  []string{"eng", "und"},
			CommentaryPatterns: DefaultCommentaryPatterns,
			OnError:            OnErrorContinue,
		},
		Phases: phases,
	}
}

func defaultFlags() *DefaultFlags {
	return &DefaultFlags{SetFirstVideoDefault: true, SetPreferredAudioDefault: true, ClearOtherDefaults: true}
}

func keepAudio(langs ...string) *KeepAudio {
	return &KeepAudio{
		Languages: langs, Minimum: 1,
		KeepMusicTracks: true, ExcludeMusicFromLanguageFilter: true,
		KeepSFXTracks: true, ExcludeSFXFromLanguageFilter: true,
		KeepNonSpeechTracks: true, ExcludeNonSpeechFromLanguageFilter: true,
	}
}

// defaultOrder is track_order with every slot in the original's order.
func defaultOrder() []Slot { return append([]Slot(nil), Slots...) }

// summary renders tracks compactly: "ID+type[-lang][-D][-F]" in order.
func summary(tracks []Track) string {
	parts := make([]string, len(tracks))
	for i, t := range tracks {
		s := fmt.Sprintf("%d%c", t.ID, t.Type[0])
		if t.Type == TypeAudio || t.Type == TypeSubtitle {
			s += "-" + NormalizeLanguage(t.Language)
		}
		if t.Default {
			s += "-D"
		}
		if t.Forced {
			s += "-F"
		}
		parts[i] = s
	}
	return strings.Join(parts, " ")
}

// mustIdempotent checks that evaluating the policy against the plan's
// result changes nothing.
func mustIdempotent(t *testing.T, p *Policy, plan Plan) {
	t.Helper()
	again := Evaluate(p, plan.Result())
	if again.Changed() {
		var b strings.Builder
		_ = again.WriteText(&b)
		t.Errorf("not idempotent: evaluating the result changes it again:\n%s", b.String())
	}
}

func allWarnings(p Plan) string {
	var w []string
	for _, ph := range p.Phases {
		w = append(w, ph.Warnings...)
	}
	return strings.Join(w, "\n")
}
