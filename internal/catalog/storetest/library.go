package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
)

// testLibraryTotals counts files, missing files, failed probes and the
// breakdowns by container, codec and language (files, not tracks), top first.
func testLibraryTotals(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	if got, err := s.LibraryTotals(ctx, 10); err != nil || got.Files != 0 || got.Containers != nil {
		t.Fatalf("empty catalogue: LibraryTotals = %+v, %v", got, err)
	}
	eng := probe.Track{Index: 0, Type: "audio", Codec: "aac", Language: "eng"}
	eng2 := probe.Track{Index: 1, Type: "subtitle", Codec: "subrip", Language: "eng"}
	fra := probe.Track{Index: 1, Type: "audio", Codec: "ac3", Language: "fra"}
	mp4 := obs("/m/c.mp4", eng)
	mp4.Result.Container = "mov,mp4"
	var ids []int64
	for _, o := range []catalog.Observation{
		obs("/m/a.mkv", eng, eng2), obs("/m/b.mkv", eng, fra), mp4,
		{Path: "/m/broken.mkv", Size: 1, ModTime: time.Unix(1, 0), ProbeError: "ffprobe failed"},
	} {
		id, err := s.RecordFile(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.MarkMissing(ctx, ids[1:2]); err != nil {
		t.Fatal(err)
	}
	got, err := s.LibraryTotals(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := catalog.LibraryTotals{Files: 4, Missing: 1, FailedProbes: 1,
		Containers: []catalog.Count{{Name: "matroska,webm", N: 2}, {Name: "", N: 1}},
		Codecs:     []catalog.Count{{Name: "aac", N: 3}, {Name: "ac3", N: 1}},
		// eng is counted once for a.mkv, which has two English tracks.
		Languages: []catalog.Count{{Name: "eng", N: 3}, {Name: "fra", N: 1}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LibraryTotals(top 2) =\n%+v\nwant\n%+v", got, want)
	}
}

// testListFilesSortSearch pages through the sorts with their cursors, the
// path search (case, wildcards), and the codec and language filters on rare
// and common values in every order.
func testListFilesSortSearch(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	type file struct {
		path  string
		size  int64
		mtime int64
	}
	files := []file{
		{"/lib/Show B/e2.mkv", 300, 5}, {"/lib/Show A/e1.mkv", 100, 9}, {"/lib/Show A/e2.mkv", 300, 1},
		{"/lib/movie_100%.mkv", 50, 7}, {"/lib/Show C/E3.MKV", 200, 3},
	}
	ids := map[string]int64{}
	for i, f := range files {
		tr := []probe.Track{{Index: 0, Type: "video", Codec: "h264"}, {Index: 1, Type: "audio", Codec: "aac", Language: "eng"}}
		if i == 2 {
			tr[0].Codec, tr[1].Language = "hevc", "fin"
		}
		o := obs(f.path, tr...)
		o.Size, o.ModTime = f.size, time.Unix(0, f.mtime)
		id, err := s.RecordFile(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		ids[f.path] = id
	}
	list := func(f catalog.FileFilter) []string {
		t.Helper()
		var out []string
		f.Limit = 2
		for range 10 {
			page, err := s.ListFiles(ctx, f)
			if err != nil {
				t.Fatalf("ListFiles(%+v): %v", f, err)
			}
			for _, p := range page {
				out = append(out, p.Path)
			}
			if len(page) < f.Limit {
				return out
			}
			f.After = page[len(page)-1].ID
		}
		t.Fatalf("ListFiles(%+v): more than 10 pages", f)
		return nil
	}
	for _, c := range []struct {
		name string
		f    catalog.FileFilter
		want []string
	}{
		{"id", catalog.FileFilter{}, []string{files[0].path, files[1].path, files[2].path, files[3].path, files[4].path}},
		{"id desc", catalog.FileFilter{Desc: true}, []string{files[4].path, files[3].path, files[2].path, files[1].path, files[0].path}},
		{"path", catalog.FileFilter{Sort: catalog.SortPath},
			[]string{"/lib/Show A/e1.mkv", "/lib/Show A/e2.mkv", "/lib/Show B/e2.mkv", "/lib/Show C/E3.MKV", "/lib/movie_100%.mkv"}},
		{"path desc", catalog.FileFilter{Sort: catalog.SortPath, Desc: true},
			[]string{"/lib/movie_100%.mkv", "/lib/Show C/E3.MKV", "/lib/Show B/e2.mkv", "/lib/Show A/e2.mkv", "/lib/Show A/e1.mkv"}},
		// Equal sizes keep the id order.
		{"size", catalog.FileFilter{Sort: catalog.SortSize},
			[]string{"/lib/movie_100%.mkv", "/lib/Show A/e1.mkv", "/lib/Show C/E3.MKV", "/lib/Show B/e2.mkv", "/lib/Show A/e2.mkv"}},
		{"size desc", catalog.FileFilter{Sort: catalog.SortSize, Desc: true},
			[]string{"/lib/Show A/e2.mkv", "/lib/Show B/e2.mkv", "/lib/Show C/E3.MKV", "/lib/Show A/e1.mkv", "/lib/movie_100%.mkv"}},
		{"modified desc", catalog.FileFilter{Sort: catalog.SortModified, Desc: true},
			[]string{"/lib/Show A/e1.mkv", "/lib/movie_100%.mkv", "/lib/Show B/e2.mkv", "/lib/Show C/E3.MKV", "/lib/Show A/e2.mkv"}},
		{"search ignores ASCII case", catalog.FileFilter{Search: "e2.MKV", Sort: catalog.SortPath},
			[]string{"/lib/Show A/e2.mkv", "/lib/Show B/e2.mkv"}},
		{"search takes % and _ literally", catalog.FileFilter{Search: "_100%"}, []string{"/lib/movie_100%.mkv"}},
		{"search matching nothing", catalog.FileFilter{Search: "w_"}, nil},
		{"search and sort", catalog.FileFilter{Search: "show a", Sort: catalog.SortModified},
			[]string{"/lib/Show A/e2.mkv", "/lib/Show A/e1.mkv"}},
		{"rare codec", catalog.FileFilter{Codec: "hevc"}, []string{"/lib/Show A/e2.mkv"}},
		{"rare language, sorted", catalog.FileFilter{Language: "fin", Sort: catalog.SortSize, Desc: true}, []string{"/lib/Show A/e2.mkv"}},
		{"common codec, search", catalog.FileFilter{Codec: "h264", Search: "show"},
			[]string{"/lib/Show B/e2.mkv", "/lib/Show A/e1.mkv", "/lib/Show C/E3.MKV"}},
		{"codec matching nothing", catalog.FileFilter{Codec: "vp9"}, nil},
	} {
		if got := list(c.f); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
	// ListFilesWithTracks: id order from the cursor, the filter applied, the
	// tracks read.
	wt, err := s.ListFilesWithTracks(ctx, catalog.FileFilter{After: ids[files[0].path], Search: "show", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(wt) != 2 || wt[0].Path != files[1].path || wt[1].Path != files[2].path ||
		len(wt[1].Tracks) != 2 || wt[1].Tracks[0].Codec != "hevc" || wt[1].Tracks[1].Language != "fin" {
		t.Errorf("ListFilesWithTracks = %+v", wt)
	}
	if _, err := s.ListFiles(ctx, catalog.FileFilter{Sort: "bogus", Limit: 1}); err == nil {
		t.Error("ListFiles with sort bogus: no error")
	}
}
