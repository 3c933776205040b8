package catalog

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/probe"
)

// TestFilterPlansAgree lists the same filters through both ways the store may
// run a codec, language or container filter (driven from the index for a rare
// value, tested file by file for a common one): the pages must be the same.
func TestFilterPlansAgree(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "vpo.db"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(ctx) })
	for i := range 40 {
		container, lang, codec := "matroska,webm", "eng", "h264"
		if i%4 == 0 {
			container, lang = "mov,mp4,m4a", "jpn"
		}
		if i%5 == 0 {
			codec = "hevc"
		}
		o := Observation{Path: fmt.Sprintf("/l/%02d.mkv", 40-i), Size: int64(i % 7), ModTime: time.Unix(int64(i), 0),
			Result: &probe.Result{Container: container, Tracks: []probe.Track{
				{Index: 0, Type: "video", Codec: codec}, {Index: 1, Type: "audio", Codec: "aac", Language: lang},
				{Index: 2, Type: "subtitle", Codec: "subrip", Language: lang}}}}
		if _, err := s.RecordFile(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	list := func(f FileFilter) []int64 {
		t.Helper()
		var ids []int64
		f.Limit = 3
		for range 50 {
			page, err := s.ListFiles(ctx, f)
			if err != nil {
				t.Fatalf("ListFiles(%+v): %v", f, err)
			}
			for _, p := range page {
				ids = append(ids, p.ID)
			}
			if len(page) < f.Limit {
				break
			}
			f.After = page[len(page)-1].ID
		}
		return ids
	}
	defer func(v int) { rareTracks = v }(rareTracks)
	for _, f := range []FileFilter{
		{Codec: "hevc"}, {Language: "jpn"}, {Language: "jpn", Codec: "hevc"}, {Container: "mp4"}, {Container: "webm"},
		{Container: "mov,mp4"}, {Container: "mp"}, {Container: "xxx"}, {Codec: "vp9"},
		{Container: "mp4", Language: "jpn", Sort: SortSize, Desc: true}, {Codec: "hevc", Sort: SortPath},
	} {
		rareTracks = 1 << 30 // every value is rare: the index plans
		rare := list(f)
		rareTracks = 0 // no value is rare: the per-file tests
		common := list(f)
		if !reflect.DeepEqual(rare, common) {
			t.Errorf("%+v: index plan %v, per-file plan %v", f, rare, common)
		}
		if f.Container != "xxx" && f.Container != "mp" && f.Codec != "vp9" && len(rare) == 0 {
			t.Errorf("%+v: no files", f)
		}
	}
}
