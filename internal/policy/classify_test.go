package policy

import "testing"

func testClassifier(t *testing.T) *Classifier {
	t.Helper()
	c, err := NewClassifier(nil, []string{"eng", "und"}, []string{"eng", "und"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestIsCommentary(t *testing.T) {
	c := testClassifier(t)
	tests := []struct {
		title string
		want  bool
	}{
		{"", false},
		{"Commentary", true},
		{"Director's Commentary", true},
		{"COMMENTARY with cast and crew", true},
		{"Audio Description", true},
		{"English", false},
		// The false positives users report in other tools.
		{"SDH", false},
		{"English SDH", false},
		{"Commentary-free", false},
		{"Commentary free", false},
		{"No commentary", false},
		{"English (without commentary)", false},
		{"English (Director's Cut)", false},
		{"Directors Cut", false},
		{"Director’s Cut", false},
		{"Non-commentary track", false},
		{"English (w/o commentary)", false},
		{"Commentary (no commentary-free version)", true},
		{"Director's Cut - Commentary by the director", true},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			if got := c.IsCommentary(tt.title); got != tt.want {
				t.Errorf("IsCommentary(%q) = %v, want %v", tt.title, got, tt.want)
			}
		})
	}
}

func TestNewClassifierBadPattern(t *testing.T) {
	_, err := NewClassifier([]string{"ok", "(unclosed"}, nil, nil)
	if err == nil || err.Error() != "config.commentary_patterns[1]: invalid regular expression \"(unclosed\": error parsing regexp: missing closing ): `(?i)(unclosed`" {
		t.Fatalf("err = %v", err)
	}
}

func TestClassify(t *testing.T) {
	c := testClassifier(t)
	tests := []struct {
		name  string
		track Track
		want  Class
	}{
		{"video", Track{Type: TypeVideo}, ClassVideo},
		{"attachment", Track{Type: TypeAttachment, Codec: "ttf"}, ClassAttachment},
		{"data", Track{Type: TypeData}, ClassAttachment},
		{"audio preferred language", Track{Type: TypeAudio, Language: "en"}, ClassAudioMain},
		{"audio untagged is und, preferred", Track{Type: TypeAudio}, ClassAudioMain},
		{"audio other language", Track{Type: TypeAudio, Language: "jpn"}, ClassAudioAlternate},
		{"audio commentary", Track{Type: TypeAudio, Language: "eng", Title: "Commentary"}, ClassAudioCommentary},
		{"audio commentary-free is main", Track{Type: TypeAudio, Language: "eng", Title: "Commentary-free"}, ClassAudioMain},
		{"audio music", Track{Type: TypeAudio, Language: "eng", Title: "Isolated Score"}, ClassAudioMusic},
		{"audio m&e", Track{Type: TypeAudio, Title: "M&E"}, ClassAudioMusic},
		{"audio sfx", Track{Type: TypeAudio, Title: "Sound Effects"}, ClassAudioSFX},
		{"audio effects needs sound", Track{Type: TypeAudio, Language: "eng", Title: "Visual effects featurette"}, ClassAudioMain},
		{"ghost is not ost", Track{Type: TypeAudio, Language: "eng", Title: "Ghostbusters"}, ClassAudioMain},
		{"audio zxx is non speech", Track{Type: TypeAudio, Language: "zxx"}, ClassAudioNonSpeech},
		{"audio mis is alternate", Track{Type: TypeAudio, Language: "mis"}, ClassAudioAlternate},
		{"subtitle main", Track{Type: TypeSubtitle, Language: "eng"}, ClassSubtitleMain},
		{"subtitle sdh is main", Track{Type: TypeSubtitle, Language: "eng", Title: "SDH"}, ClassSubtitleMain},
		{"subtitle forced", Track{Type: TypeSubtitle, Language: "eng", Forced: true}, ClassSubtitleForced},
		{"subtitle commentary beats forced", Track{Type: TypeSubtitle, Forced: true, Title: "Commentary"}, ClassSubtitleCommentary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Classify(tt.track); got != tt.want {
				t.Errorf("Classify(%+v) = %s, want %s", tt.track, got, tt.want)
			}
		})
	}
}

// TestCommentaryPatternsAsWritten: user patterns are regular expressions
// searched anywhere in the title, ignoring case, as docs/policies.md says.
func TestCommentaryPatternsAsWritten(t *testing.T) {
	anywhere, err := NewClassifier([]string{"cast"}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	word, err := NewClassifier([]string{`\bcast\b`}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !anywhere.IsCommentary("Broadcast") || word.IsCommentary("Broadcast") || !word.IsCommentary("CAST and crew") {
		t.Error("patterns do not match as documented")
	}
}
