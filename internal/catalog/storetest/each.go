package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
)

// testEachFile records files with awkward tracks (no tracks, quotes,
// backslashes, control characters, non-ASCII titles, negative and large
// numbers) and checks that EachFile streams every one in id order with the
// same tracks GetFile reads, across page boundaries and with a filter.
func testEachFile(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	empty := 0
	if err := s.EachFile(ctx, catalog.FileFilter{}, func(catalog.File) error { empty++; return nil }); err != nil || empty != 0 {
		t.Errorf("EachFile on an empty catalogue = %d files, %v; want none", empty, err)
	}
	titles := []string{"", `quote " and \ backslash`, "tab\tnew\nline\x01\x1f", "Français 5.1 — 日本語", "{\"json\":[1,2]}", "],["}
	n := catalog.EachPage + 7
	for i := range n {
		o := obs(fmt.Sprintf("/lib/%05d.mkv", i))
		if i%5 != 0 { // every fifth file has no tracks
			o.Result.Tracks = []probe.Track{
				{Index: 0, Type: probe.TypeVideo, Codec: "h264", Width: 1920, Height: 1080, Default: true},
				{Index: 1, Type: probe.TypeAudio, Codec: "aac", Language: "eng", Title: titles[i%len(titles)], Channels: 6, Forced: i%2 == 0},
				{Index: 2, Type: probe.TypeSubtitle, Codec: "subrip", Language: "fra", Title: titles[(i+1)%len(titles)]},
			}
		}
		if i == 3 {
			o.Path = "/other/x.mkv"
		}
		if _, err := s.RecordFile(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	var got []catalog.File
	if err := s.EachFile(ctx, catalog.FileFilter{}, func(f catalog.File) error { got = append(got, f); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("EachFile gave %d files, want %d", len(got), n)
	}
	for i, f := range got {
		if i > 0 && f.ID <= got[i-1].ID {
			t.Fatalf("file %d: id %d after %d", i, f.ID, got[i-1].ID)
		}
		want, err := s.GetFile(ctx, f.ID)
		if err != nil {
			t.Fatal(err)
		}
		for j := range want.Tracks { // EachFile does not read these
			want.Tracks[j].FrameRate, want.Tracks[j].ChannelLayout = 0, ""
		}
		if !reflect.DeepEqual(f, want) {
			t.Fatalf("file %d:\nEachFile %+v\nGetFile  %+v", f.ID, f, want)
		}
	}

	// Starting after a file in the middle of a page reads the rest, in order,
	// across the remaining pages.
	after := got[catalog.EachPage/2].ID
	var rest []int64
	if err := s.EachFile(ctx, catalog.FileFilter{After: after}, func(f catalog.File) error { rest = append(rest, f.ID); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(rest) != n-catalog.EachPage/2-1 || rest[0] != got[catalog.EachPage/2+1].ID || rest[len(rest)-1] != got[n-1].ID {
		t.Errorf("EachFile(After %d) = %d files from %d to %d; want %d from %d to %d", after, len(rest), rest[0], rest[len(rest)-1],
			n-catalog.EachPage/2-1, got[catalog.EachPage/2+1].ID, got[n-1].ID)
	}
	var none int
	if err := s.EachFile(ctx, catalog.FileFilter{After: got[n-1].ID}, func(catalog.File) error { none++; return nil }); err != nil || none != 0 {
		t.Errorf("EachFile(After the last) = %d files, %v; want none", none, err)
	}

	var under int
	if err := s.EachFile(ctx, catalog.FileFilter{PathPrefix: "/other"}, func(f catalog.File) error { under++; return nil }); err != nil || under != 1 {
		t.Errorf("EachFile(/other) = %d files, %v; want 1", under, err)
	}
	stop := errors.New("stop")
	calls := 0
	err := s.EachFile(ctx, catalog.FileFilter{}, func(catalog.File) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EachFile with fn failing = %v after %d calls; want its error after 1", err, calls)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.EachFile(cctx, catalog.FileFilter{}, func(catalog.File) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("EachFile on a cancelled context = %v", err)
	}
}
