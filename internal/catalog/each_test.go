package catalog

import (
	"errors"
	"testing"
)

// TestUnpackTracksMalformed: the packed tracks come from this store's own
// query, but a malformed value is an error, never a panic or a half-read track.
// The round trip of real values is storetest's EachFile.
func TestUnpackTracksMalformed(t *testing.T) {
	for _, in := range []string{
		`[`, `[[`, `[[1,0,0,0,0,0,"audio","aac","eng"]]`, `[[1,0,0,0,0,0,"audio","aac","eng","t"]`,
		`[[x,0,0,0,0,0,"a","b","c","d"]]`, `[[1,0,0,0,0,0,"a","b","c","d\"]]`, `[[1,0,0,0,0,0,"a","b","c","\u12"]]`,
		`{}`, `[1]`, `[[1,0,0,0,0,0,"a","b","c","d"],]`,
	} {
		if tr, err := unpackTracks([]byte(in), map[string]string{}); !errors.Is(err, errPacked) {
			t.Errorf("unpackTracks(%s) = %+v, %v; want errPacked", in, tr, err)
		}
	}
	tr, err := unpackTracks([]byte(`[[2,0,1,0,0,0,"subtitle","subrip","fra","\"a\\\\b\" é"],[1,1,0,6,0,0,"audio","aac","eng",""]]`), map[string]string{})
	if err != nil || len(tr) != 2 || tr[0].Index != 1 || tr[1].Title != `"a\\b" é` || !tr[1].Forced || tr[0].Channels != 6 {
		t.Errorf("unpackTracks = %+v, %v", tr, err)
	}
}
