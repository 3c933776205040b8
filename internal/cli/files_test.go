package cli

import (
	"testing"

	"github.com/vpo-project/vpo/internal/catalog"
)

func TestLanguages(t *testing.T) {
	audio := func(lang string) catalog.TrackSummary { return catalog.TrackSummary{Type: "audio", Language: lang} }
	sub := func(lang string, forced bool) catalog.TrackSummary {
		return catalog.TrackSummary{Type: "subtitle", Language: lang, Forced: forced}
	}
	video := catalog.TrackSummary{Type: "video", Language: "eng"}
	tests := []struct {
		name   string
		tracks []catalog.TrackSummary
		want   string
	}{
		{name: "no tracks", tracks: nil, want: ""},
		{name: "video only", tracks: []catalog.TrackSummary{video}, want: ""},
		{name: "audio and a forced subtitle", tracks: []catalog.TrackSummary{video, audio("eng"), audio("fra"), sub("eng", true)},
			want: "audio eng,fra  subs eng(f)"},
		{name: "track order kept", tracks: []catalog.TrackSummary{sub("fra", false), audio("jpn"), sub("eng", true), audio("eng")},
			want: "audio jpn,eng  subs fra,eng(f)"},
		{name: "untagged is und", tracks: []catalog.TrackSummary{audio(""), sub("", true)}, want: "audio und  subs und(f)"},
		{name: "subtitles only", tracks: []catalog.TrackSummary{sub("deu", false)}, want: "subs deu"},
		{name: "a forced audio track is marked too", tracks: []catalog.TrackSummary{{Type: "audio", Language: "eng", Forced: true}},
			want: "audio eng(f)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := languages(tt.tracks); got != tt.want {
				t.Errorf("languages() = %q, want %q", got, tt.want)
			}
		})
	}
}
