package catalog

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/probe"
)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "library.db"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func obs(path string, tracks ...probe.Track) Observation {
	return Observation{Path: path, Size: 10, ModTime: time.Unix(1700000000, 5), Fingerprint: "xxh3:00",
		Result: &probe.Result{Container: "matroska,webm", Duration: 1.5, Tracks: tracks}}
}

func TestRecordAndQuery(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	eng := probe.Track{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Default: true, Channels: 2}
	fra := probe.Track{Index: 2, Type: "audio", Codec: "ac3", Language: "fra", Channels: 6}
	for _, o := range []Observation{
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
		f    FileFilter
		want []string
	}{
		{name: "all", f: FileFilter{}, want: []string{"/media/tv/a.mkv", "/media/tvshows/b.mkv", "/media/tv/sub/c.mkv", "/media/tv/broken.mkv"}},
		{name: "prefix is a directory, not a string prefix", f: FileFilter{PathPrefix: "/media/tv"},
			want: []string{"/media/tv/a.mkv", "/media/tv/sub/c.mkv", "/media/tv/broken.mkv"}},
		{name: "prefix with slash", f: FileFilter{PathPrefix: "/media/tv/"},
			want: []string{"/media/tv/a.mkv", "/media/tv/sub/c.mkv", "/media/tv/broken.mkv"}},
		{name: "language", f: FileFilter{Language: "fra"}, want: []string{"/media/tv/a.mkv", "/media/tv/sub/c.mkv"}},
		{name: "codec", f: FileFilter{Codec: "aac"}, want: []string{"/media/tv/a.mkv", "/media/tvshows/b.mkv"}},
		{name: "container is one of ffprobe's names", f: FileFilter{Container: "webm"},
			want: []string{"/media/tv/a.mkv", "/media/tvshows/b.mkv", "/media/tv/sub/c.mkv"}},
		{name: "container is not a substring match", f: FileFilter{Container: "matro"}, want: nil},
		{name: "cursor", f: FileFilter{After: 2}, want: []string{"/media/tv/sub/c.mkv", "/media/tv/broken.mkv"}},
		{name: "missing", f: FileFilter{Missing: &yes}, want: nil},
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
	if _, err := s.GetFile(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetFile(999) = %v, want ErrNotFound", err)
	}

	known, err := s.KnownFiles(ctx, "/media/tv")
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 3 || !known["/media/tv/a.mkv"].Probed || known["/media/tv/a.mkv"].MtimeNS != 1700000000*1e9+5 {
		t.Errorf("known %+v", known)
	}
}

// TestRecordFileIsAtomic: a re-probe replaces the tracks in the same transaction,
// and a failed write leaves the previous record whole.
func TestRecordFileIsAtomic(t *testing.T) {
	t.Parallel()
	s := openTest(t)
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

func TestProgressAndNotes(t *testing.T) {
	t.Parallel()
	s := openTest(t)
	ctx := context.Background()
	if err := s.AddNote(ctx, 7, "interrupted by shutdown"); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveProgress(ctx, 7, Counts{Found: 3, Probed: 2, Failed: 1}); err != nil {
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
