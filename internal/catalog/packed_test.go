package catalog

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/vpo-project/vpo/internal/probe"
)

// TestUnpackTracksMalformed: the packed tracks come from this store's own
// writes, but a malformed value is an error, never a panic or a half-read track.
func TestUnpackTracksMalformed(t *testing.T) {
	for _, in := range []string{
		``, `[`, `[[`, `[[1,0,0,0,0,0,"audio","aac","eng"]]`, `[[1,0,0,0,0,0,"audio","aac","eng","t"]`,
		`[[x,0,0,0,0,0,"a","b","c","d"]]`, `[[1,0,0,0,0,0,"a","b","c","d\"]]`, `[[1,0,0,0,0,0,"a","b","c","\u12"]]`,
		`{}`, `[1]`, `[[1,0,0,0,0,0,"a","b","c","d"],]`, `[]x`, `[[1,0,0,0,0,0,"a","b","c","d"]] `,
		`[[1,0,0,0,0,0,"a","b","c","\q"]]`, "[[1,0,0,0,0,0,\"a\",\"b\",\"c\",\"\\n\x01\"]]",
	} {
		if tr, err := unpackTracks([]byte(in), map[string]string{}); !errors.Is(err, errPacked) {
			t.Errorf("unpackTracks(%s) = %+v, %v; want errPacked", in, tr, err)
		}
		if sum, err := appendSummaries(nil, []byte(in), map[string]string{}); !errors.Is(err, errPacked) || len(sum) != 0 {
			t.Errorf("appendSummaries(%s) = %+v, %v; want errPacked", in, sum, err)
		}
	}
	// SQLite's escapes (the backfill's), surrogate pairs, and tracks out of order.
	tr, err := unpackTracks([]byte(`[[2,0,1,0,0,0,"subtitle","subrip","fra","\"a\\\\b\" é\b\f\r\/\ud83c\udfac\ud800x"],[1,1,0,6,0,0,"audio","aac","eng",""]]`), map[string]string{})
	if err != nil || len(tr) != 2 || tr[0].Index != 1 || tr[1].Title != "\"a\\\\b\" é\b\f\r/🎬\ufffdx" || !tr[1].Forced || tr[0].Channels != 6 {
		t.Errorf("unpackTracks = %+v, %v", tr, err)
	}
}

// FuzzPackTracks: whatever the tags, packTracks writes JSON that unpackTracks
// reads back byte for byte, in index order, and that is valid JSON when the tags
// are valid UTF-8.
func FuzzPackTracks(f *testing.F) {
	f.Add("audio", "aac", "eng", "", 1, 6, true)
	f.Add("subtitle", "a\"s,s]", "x\"y\\z\n\t日本\u2028\x01", "],[", -1, 0, false)
	f.Add("data", "", "q\xffr [1,2]", "\\u0041", 1<<40, 1920, true)
	f.Fuzz(func(t *testing.T, typ, codec, lang, title string, index, channels int, def bool) {
		index %= 1 << 20
		in := []probe.Track{
			{Index: index + 1, Type: typ, Codec: codec, Language: lang, Title: title, Default: def, Channels: channels, Width: channels},
			{Index: index, Type: title, Codec: lang, Language: codec, Title: typ, Forced: def, Height: -channels},
		}
		b := packTracks(nil, in)
		out, err := unpackTracks(b, map[string]string{})
		if err != nil {
			t.Fatalf("unpackTracks(%s): %v", b, err)
		}
		want := []probe.Track{in[1], in[0]}
		if !reflect.DeepEqual(out, want) {
			t.Fatalf("packed %s\nread  %+v\nwant  %+v", b, out, want)
		}
		sum, err := appendSummaries(nil, b, map[string]string{})
		if err != nil || len(sum) != 2 {
			t.Fatalf("appendSummaries(%s) = %+v, %v", b, sum, err)
		}
		for i, tr := range want {
			if ws := (TrackSummary{Index: tr.Index, Type: tr.Type, Codec: tr.Codec, Language: tr.Language,
				Default: tr.Default, Forced: tr.Forced}); sum[i] != ws {
				t.Fatalf("appendSummaries(%s)[%d] = %+v, want %+v", b, i, sum[i], ws)
			}
		}
		var v any
		if utf8.ValidString(typ + codec + lang + title) {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("packTracks wrote %s: not JSON: %v", b, err)
			}
		}
	})
}
