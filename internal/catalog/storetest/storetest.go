// Package storetest is the conformance suite every catalogue backend must pass,
// in the manner of River's riverdrivertest: each backend's own test calls Run with
// a way to open a fresh store, and the suite exercises every store method, the
// error sentinels and file names that are not UTF-8. It is run on SQLite by
// catalog's tests.
package storetest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
)

// Backend is what the suite needs from a backend.
type Backend struct {
	// Open returns a new, empty store with its schema applied. The suite closes it.
	Open func(t *testing.T) *catalog.Store
	// HoldWriteLock makes another client take s's write lock and hold it until the
	// test ends, so that a write through s fails with ErrBusy.
	HoldWriteLock func(t *testing.T, s *catalog.Store)
	// OpenReadOnly returns the error of opening an existing store whose storage
	// cannot be written (a read-only file system).
	OpenReadOnly func(t *testing.T) error
	// OpenCorrupt returns the error of opening storage that is not a database.
	OpenCorrupt func(t *testing.T) error
	// TextIsUTF8 says that the backend's text holds only valid UTF-8 (and no
	// NUL): invalid bytes in a track's tags read back as U+FFFD, as
	// encoding/json (ffprobe's output) decodes them. Paths keep every byte on
	// every backend.
	TextIsUTF8 bool
}

// Run runs the suite against b. Every field of b is required.
func Run(t *testing.T, b Backend) {
	if b.Open == nil || b.HoldWriteLock == nil || b.OpenReadOnly == nil || b.OpenCorrupt == nil {
		t.Fatal("storetest.Run: every Backend field is required")
	}
	t.Run("RecordAndQuery", func(t *testing.T) { t.Parallel(); testRecordAndQuery(t, b.Open(t)) })
	t.Run("RecordFileIsAtomic", func(t *testing.T) { t.Parallel(); testRecordFileIsAtomic(t, b.Open(t)) })
	t.Run("ListFileEntries", func(t *testing.T) { t.Parallel(); testListFileEntries(t, b.Open(t), b.TextIsUTF8) })
	t.Run("ProgressAndNotes", func(t *testing.T) { t.Parallel(); testProgressAndNotes(t, b.Open(t)) })
	t.Run("NonUTF8Paths", func(t *testing.T) { t.Parallel(); testNonUTF8Paths(t, b.Open(t)) })
	t.Run("NotFound", func(t *testing.T) { t.Parallel(); testNotFound(t, b.Open(t)) })
	t.Run("Plans", func(t *testing.T) { t.Parallel(); testPlans(t, b.Open(t)) })
	t.Run("ApplyRecord", func(t *testing.T) { t.Parallel(); testApplyRecord(t, b.Open(t)) })
	t.Run("Claims", func(t *testing.T) { t.Parallel(); testClaims(t, b.Open(t)) })
	t.Run("ApplyProgress", func(t *testing.T) { t.Parallel(); testApplyProgress(t, b.Open(t)) })
	t.Run("EachFile", func(t *testing.T) { t.Parallel(); testEachFile(t, b.Open(t)) })
	t.Run("FileStats", func(t *testing.T) { t.Parallel(); testFileStats(t, b.Open(t)) })
	t.Run("LibraryTotals", func(t *testing.T) { t.Parallel(); testLibraryTotals(t, b.Open(t)) })
	t.Run("ListFilesSortSearch", func(t *testing.T) { t.Parallel(); testListFilesSortSearch(t, b.Open(t)) })
	t.Run("Nodes", func(t *testing.T) { t.Parallel(); testNodes(t, b.Open(t)) })
	t.Run("Busy", func(t *testing.T) { t.Parallel(); testBusy(t, b) })
	t.Run("ReadOnly", func(t *testing.T) {
		t.Parallel()
		if err := b.OpenReadOnly(t); !errors.Is(err, catalog.ErrReadOnly) {
			t.Errorf("open read-only storage: %v, want ErrReadOnly", err)
		}
	})
	t.Run("Corrupt", func(t *testing.T) {
		t.Parallel()
		if err := b.OpenCorrupt(t); !errors.Is(err, catalog.ErrCorrupt) {
			t.Errorf("open corrupt storage: %v, want ErrCorrupt", err)
		}
	})
}

func obs(path string, tracks ...probe.Track) catalog.Observation {
	return catalog.Observation{Path: path, Size: 10, ModTime: time.Unix(1700000000, 5), Fingerprint: "xxh3:00",
		Result: &probe.Result{Container: "matroska,webm", Duration: 1.5, Tracks: tracks}}
}

func testRecordAndQuery(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	eng := probe.Track{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Default: true, Channels: 2}
	fra := probe.Track{Index: 2, Type: "audio", Codec: "ac3", Language: "fra", Channels: 6}
	for _, o := range []catalog.Observation{
		obs("/media/tv/a.mkv", eng, fra),
		obs("/media/tvshows/b.mkv", eng),
		obs("/media/tv/sub/c.mkv", fra),
		{Path: "/media/tv/broken.mkv", Size: 1, ModTime: time.Unix(1, 0), ProbeError: "ffprobe failed"},
	} {
		if _, err := s.RecordFile(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	yes := true
	tests := []struct {
		name string
		f    catalog.FileFilter
		want []string
	}{
		{name: "all", f: catalog.FileFilter{}, want: []string{"/media/tv/a.mkv", "/media/tvshows/b.mkv", "/media/tv/sub/c.mkv", "/media/tv/broken.mkv"}},
		{name: "prefix is a directory, not a string prefix", f: catalog.FileFilter{PathPrefix: "/media/tv"},
			want: []string{"/media/tv/a.mkv", "/media/tv/sub/c.mkv", "/media/tv/broken.mkv"}},
		{name: "prefix with slash", f: catalog.FileFilter{PathPrefix: "/media/tv/"},
			want: []string{"/media/tv/a.mkv", "/media/tv/sub/c.mkv", "/media/tv/broken.mkv"}},
		{name: "language", f: catalog.FileFilter{Language: "fra"}, want: []string{"/media/tv/a.mkv", "/media/tv/sub/c.mkv"}},
		{name: "codec", f: catalog.FileFilter{Codec: "aac"}, want: []string{"/media/tv/a.mkv", "/media/tvshows/b.mkv"}},
		{name: "container is one of ffprobe's names", f: catalog.FileFilter{Container: "webm"},
			want: []string{"/media/tv/a.mkv", "/media/tvshows/b.mkv", "/media/tv/sub/c.mkv"}},
		{name: "container is not a substring match", f: catalog.FileFilter{Container: "matro"}, want: nil},
		{name: "cursor", f: catalog.FileFilter{After: 2}, want: []string{"/media/tv/sub/c.mkv", "/media/tv/broken.mkv"}},
		{name: "missing", f: catalog.FileFilter{Missing: &yes}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f.Limit = 100
			files, err := s.ListFiles(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range files {
				got = append(got, f.Path)
			}
			// ListFileEntries selects the same page.
			entries, err := s.ListFileEntries(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(files) {
				t.Fatalf("ListFileEntries: %d files, ListFiles: %d", len(entries), len(files))
			}
			for i, e := range entries {
				if e.ID != files[i].ID || e.Path != files[i].Path {
					t.Errorf("ListFileEntries[%d] = %d %q, ListFiles[%d] = %d %q", i, e.ID, e.Path, i, files[i].ID, files[i].Path)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
			}
		})
	}

	f, err := s.GetFileByPath(ctx, "/media/tv/a.mkv")
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tracks) != 2 || f.Tracks[0] != eng || f.Tracks[1] != fra || f.ProbedAt == nil || f.Duration != 1.5 {
		t.Errorf("file %+v", f)
	}
	if !f.ModTime.Equal(time.Unix(1700000000, 5)) {
		t.Errorf("mtime %v lost its nanoseconds", f.ModTime)
	}
	if _, err := s.GetFile(ctx, 999); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("GetFile(999) = %v, want catalog.ErrNotFound", err)
	}

	known, err := s.KnownFiles(ctx, "/media/tv")
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 3 || !known["/media/tv/a.mkv"].Probed || known["/media/tv/a.mkv"].MtimeNS != 1700000000*1e9+5 {
		t.Errorf("known %+v", known)
	}
}

// testRecordFileIsAtomic: a re-probe replaces the tracks in the same transaction,
// and a failed write leaves the previous record whole.
func testRecordFileIsAtomic(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	a := probe.Track{Index: 0, Type: "video", Codec: "h264"}
	id, err := s.RecordFile(ctx, obs("/m/x.mkv", a, probe.Track{Index: 1, Type: "audio", Codec: "aac"}))
	if err != nil {
		t.Fatal(err)
	}
	// Two tracks with the same index violate UNIQUE(file_id, idx): the write fails.
	bad := obs("/m/x.mkv", a, probe.Track{Index: 0, Type: "audio", Codec: "opus"})
	bad.Size = 99
	if _, err := s.RecordFile(ctx, bad); err == nil {
		t.Fatal("a write with duplicate track indexes succeeded")
	}
	f, err := s.GetFile(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if f.Size != 10 || len(f.Tracks) != 2 || f.Tracks[1].Codec != "aac" {
		t.Errorf("after a failed write: size %d, tracks %+v; want the previous record intact", f.Size, f.Tracks)
	}
	// A successful re-probe replaces the tracks.
	if _, err := s.RecordFile(ctx, obs("/m/x.mkv", a)); err != nil {
		t.Fatal(err)
	}
	f, _ = s.GetFile(ctx, id)
	if len(f.Tracks) != 1 {
		t.Errorf("tracks after re-probe: %+v", f.Tracks)
	}
	// Missing, then present again.
	if err := s.MarkMissing(ctx, []int64{id}); err != nil {
		t.Fatal(err)
	}
	if f, _ = s.GetFile(ctx, id); !f.Missing {
		t.Error("not marked missing")
	}
	if err := s.MarkPresent(ctx, []int64{id}); err != nil {
		t.Fatal(err)
	}
	if f, _ = s.GetFile(ctx, id); f.Missing {
		t.Error("still missing")
	}
}

// testListFileEntries: a page of entries carries each file's columns as GetFile reads
// them, timestamps as RFC 3339 text, and its tracks' summary in index order; a
// file without tracks has none, and the tracks of the files around it stay theirs.
func testListFileEntries(t *testing.T, s *catalog.Store, textIsUTF8 bool) {
	ctx := context.Background()
	video := probe.Track{Index: 0, Type: "video", Codec: "h264"}
	eng := probe.Track{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Default: true, Channels: 2}
	fra := probe.Track{Index: 2, Type: "audio", Codec: "ac3", Language: "fra", Channels: 6}
	sub := probe.Track{Index: 3, Type: "subtitle", Codec: "subrip", Language: "eng", Forced: true, Title: "Forced"}
	// Tags are the file's: any text, escaped or not by a backend's encoding of the summary.
	odd := probe.Track{Index: 4, Type: "subtitle", Codec: "a\"s,s]", Language: "x\"y\\z\n\t日本\u2028\x01", Default: true}
	raw := probe.Track{Index: 5, Type: "data", Codec: "", Language: "q\xffr [1,2]"}
	// Recorded in an order whose track rows are not in file order.
	for _, o := range []catalog.Observation{
		obs("/m/a.mkv", sub, video, eng, fra),
		{Path: "/m/broken\xff.mkv", Size: 1, ModTime: time.Unix(1, 0), ProbeError: "ffprobe failed"},
		obs("/m/c.mkv", eng, raw, odd),
		{Path: "/m/retry.mkv", Size: 2, ModTime: time.Unix(2, 0), ProbeError: "ffprobe not found", Retry: true},
	} {
		if _, err := s.RecordFile(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	summary := func(tr probe.Track) catalog.TrackSummary {
		return catalog.TrackSummary{Index: tr.Index, Type: tr.Type, Codec: tr.Codec, Language: tr.Language,
			Default: tr.Default, Forced: tr.Forced}
	}
	rawRead := raw
	if textIsUTF8 {
		rawRead.Language = strings.ToValidUTF8(raw.Language, "\uFFFD")
	}
	want := map[string][]catalog.TrackSummary{
		"/m/a.mkv":          {summary(video), summary(eng), summary(fra), summary(sub)},
		"/m/broken\xff.mkv": nil,
		"/m/c.mkv":          {summary(eng), summary(odd), summary(rawRead)},
		"/m/retry.mkv":      nil,
	}
	entries, err := s.ListFileEntries(ctx, catalog.FileFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 4 {
		t.Fatalf("%d entries, want 4", len(entries))
	}
	rfc := func(tm time.Time) string { return tm.UTC().Format(time.RFC3339Nano) }
	for _, e := range entries {
		if !reflect.DeepEqual(e.Tracks, want[e.Path]) {
			t.Errorf("%q: tracks %+v, want %+v", e.Path, e.Tracks, want[e.Path])
		}
		f, err := s.GetFile(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if e.Path != f.Path || e.Size != f.Size || e.MtimeNS != f.ModTime.UnixNano() || e.Fingerprint != f.Fingerprint ||
			e.Container != f.Container || e.Duration != f.Duration || e.BitRate != f.BitRate ||
			e.ProbeError != f.ProbeError || e.Missing != f.Missing {
			t.Errorf("entry %+v differs from GetFile's %+v", e, f)
		}
		if got := string(e.FirstSeen.AppendRFC3339(nil)); got != rfc(f.FirstSeen) {
			t.Errorf("%q: first_seen %s, want %s", e.Path, got, rfc(f.FirstSeen))
		}
		if got := string(e.UpdatedAt.AppendRFC3339(nil)); got != rfc(f.UpdatedAt) {
			t.Errorf("%q: updated_at %s, want %s", e.Path, got, rfc(f.UpdatedAt))
		}
		if !e.UpdatedAt.Time().Equal(f.UpdatedAt) {
			t.Errorf("%q: updated_at %v parses as %v, want %v", e.Path, e.UpdatedAt, e.UpdatedAt.Time(), f.UpdatedAt)
		}
		switch {
		case f.ProbedAt == nil && !e.ProbedAt.IsZero():
			t.Errorf("%q: probed_at %q, want none", e.Path, e.ProbedAt)
		case f.ProbedAt != nil && string(e.ProbedAt.AppendRFC3339(nil)) != rfc(*f.ProbedAt):
			t.Errorf("%q: probed_at %q, want %s", e.Path, e.ProbedAt, rfc(*f.ProbedAt))
		}
	}
	if !entries[3].ProbedAt.IsZero() {
		t.Errorf("a file to be probed again has probed_at %q", entries[3].ProbedAt)
	}

	// A filtered page still carries every track of its files, not only the matching one.
	entries, err = s.ListFileEntries(ctx, catalog.FileFilter{Language: "fra", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || len(entries[0].Tracks) != 4 {
		t.Errorf("language=fra: %+v, want a.mkv with its 4 tracks", entries)
	}
	// A page past the end is empty, not an error.
	entries, err = s.ListFileEntries(ctx, catalog.FileFilter{After: 1000, Limit: 10})
	if err != nil || len(entries) != 0 {
		t.Errorf("past the end: %+v, %v", entries, err)
	}
	// Recorded again (a rescan of a changed file, an apply), a file lists its
	// new tracks only; recorded as unreadable, none.
	if _, err := s.RecordFile(ctx, obs("/m/a.mkv", video, fra)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordFile(ctx, catalog.Observation{Path: "/m/c.mkv", Size: 3, ModTime: time.Unix(3, 0), ProbeError: "ffprobe failed"}); err != nil {
		t.Fatal(err)
	}
	entries, err = s.ListFileEntries(ctx, catalog.FileFilter{Limit: 10})
	if err != nil || len(entries) != 4 {
		t.Fatalf("after recording again: %d entries, %v", len(entries), err)
	}
	if got, want := entries[0].Tracks, []catalog.TrackSummary{summary(video), summary(fra)}; !reflect.DeepEqual(got, want) {
		t.Errorf("a.mkv recorded again: tracks %+v, want %+v", got, want)
	}
	if entries[2].Tracks != nil {
		t.Errorf("c.mkv recorded as unreadable: tracks %+v, want none", entries[2].Tracks)
	}
}

func testProgressAndNotes(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	if err := s.AddNote(ctx, 7, "interrupted by shutdown"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveProgress(ctx, 7, catalog.Counts{Found: 3, Probed: 2, Failed: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNote(ctx, 7, "second"); err != nil {
		t.Fatal(err)
	}
	p, err := s.GetProgress(ctx, 7, 8)
	if err != nil {
		t.Fatal(err)
	}
	got := p[7]
	if got.Found != 3 || got.Probed != 2 || len(got.Notes) != 2 || got.Notes[0].Text != "interrupted by shutdown" {
		t.Errorf("progress %+v", got)
	}
	if _, ok := p[8]; ok {
		t.Error("job 8 has progress")
	}
}

// testNonUTF8Paths: names that are not UTF-8, or hold a newline, round-trip byte
// for byte, and a directory prefix still selects them.
func testNonUTF8Paths(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	names := []string{"/lib/bad\xffname.mkv", "/lib/new\nline.mkv", "/lib/\xc3\x28.mkv", "/lib\xff/x.mkv"}
	for _, n := range names {
		if _, err := s.RecordFile(ctx, obs(n)); err != nil {
			t.Fatalf("record %q: %v", n, err)
		}
		f, err := s.GetFileByPath(ctx, n)
		if err != nil {
			t.Fatalf("get %q: %v", n, err)
		}
		if f.Path != n {
			t.Errorf("path %q came back as %q", n, f.Path)
		}
	}
	files, err := s.ListFiles(ctx, catalog.FileFilter{PathPrefix: "/lib", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 3 {
		t.Errorf("under /lib: %d files, want 3 (not %q)", len(files), "/lib\xff/x.mkv")
	}
	known, err := s.KnownFiles(ctx, "/lib")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names[:3] {
		if _, ok := known[n]; !ok {
			t.Errorf("KnownFiles(/lib) lacks %q", n)
		}
	}
}

func testNotFound(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	if _, err := s.GetFile(ctx, 12345); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("GetFile(12345) = %v, want ErrNotFound", err)
	}
	if _, err := s.GetFileByPath(ctx, "/no/such.mkv"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("GetFileByPath = %v, want ErrNotFound", err)
	}
	p, err := s.GetProgress(ctx, 1, 2)
	if err != nil || len(p) != 0 {
		t.Errorf("GetProgress of unknown jobs = %v, %v; want empty", p, err)
	}
	if err := s.MarkMissing(ctx, nil); err != nil {
		t.Errorf("MarkMissing(nil) = %v", err)
	}
}

// testBusy: a write waits for another client's write lock, then fails with ErrBusy
// (after the backend's busy timeout), and reads still work meanwhile.
func testBusy(t *testing.T, b Backend) {
	s := b.Open(t)
	ctx := context.Background()
	if _, err := s.RecordFile(ctx, obs("/m/a.mkv")); err != nil {
		t.Fatal(err)
	}
	b.HoldWriteLock(t, s)
	if _, err := s.GetFileByPath(ctx, "/m/a.mkv"); err != nil {
		t.Errorf("read beside a held write lock: %v", err)
	}
	_, err := s.RecordFile(ctx, obs("/m/b.mkv"))
	if !errors.Is(err, catalog.ErrBusy) {
		t.Errorf("write beside a held write lock: %v, want ErrBusy", err)
	}
	if err := s.SaveProgress(ctx, 1, catalog.Counts{}); !errors.Is(err, catalog.ErrBusy) {
		t.Errorf("SaveProgress beside a held write lock: %v, want ErrBusy", err)
	}
}

// testFileStats: the counts partition the catalogue into ok, failed and missing.
func testFileStats(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	if got, err := s.FileStats(ctx); err != nil || got != (catalog.FileStats{}) {
		t.Fatalf("empty catalogue: FileStats = %+v, %v", got, err)
	}
	var ids []int64
	for _, o := range []catalog.Observation{
		obs("/m/ok1.mkv"), obs("/m/ok2.mkv"), obs("/m/gone.mkv"),
		{Path: "/m/broken.mkv", Size: 1, ModTime: time.Unix(1, 0), ProbeError: "ffprobe failed"},
		{Path: "/m/broken-gone.mkv", Size: 1, ModTime: time.Unix(1, 0), ProbeError: "ffprobe failed"},
	} {
		id, err := s.RecordFile(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := s.MarkMissing(ctx, []int64{ids[2], ids[4]}); err != nil {
		t.Fatal(err)
	}
	got, err := s.FileStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (catalog.FileStats{Catalogued: 5, Missing: 2, Failed: 1}); got != want || got.OK() != 2 {
		t.Errorf("FileStats = %+v (ok %d), want %+v (ok 2)", got, got.OK(), want)
	}
}
