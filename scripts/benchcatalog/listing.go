package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
)

// fill writes a catalogue of n probed files under /bench/lib, as a scan would
// record them: every file has a video and an English audio track, every second a
// French one, every third a forced English subtitle. Two writers, the daemon's
// default, through the store's own RecordFile.
func fill(args []string) error {
	fs := flag.NewFlagSet("fill", flag.ExitOnError)
	db := fs.String("db", "", "database file (created)")
	n := fs.Int("files", 10000, "files to record")
	_ = fs.Parse(args)
	ctx := context.Background()
	s, err := catalog.OpenMode(ctx, *db, slog.New(slog.DiscardHandler), catalog.ApplyMigrations)
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	t0 := time.Now()
	const writers = 2
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < *n; i += writers {
				if _, err := s.RecordFile(ctx, benchObservation(i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("files=%d\nfill_seconds=%.3f\n", *n, time.Since(t0).Seconds())
	return nil
}

func benchObservation(i int) catalog.Observation {
	tracks := []probe.Track{
		{Index: 0, Type: "video", Codec: "h264", Width: 1920, Height: 1080, FrameRate: 23.976},
		{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Default: true, Channels: 2, ChannelLayout: "stereo"},
	}
	if i%2 == 0 {
		tracks = append(tracks, probe.Track{Index: len(tracks), Type: "audio", Codec: "ac3", Language: "fra", Channels: 6, ChannelLayout: "5.1(side)"})
	}
	if i%3 == 0 {
		tracks = append(tracks, probe.Track{Index: len(tracks), Type: "subtitle", Codec: "subrip", Language: "eng", Forced: true, Title: "Forced"})
	}
	return catalog.Observation{
		Path:        fmt.Sprintf("/bench/lib/show %03d/season %02d/episode %06d.mkv", i/1000, i/100%10, i),
		Size:        int64(700_000_000 + i),
		ModTime:     time.Unix(1_700_000_000+int64(i), int64(i)),
		Fingerprint: fmt.Sprintf("xxh3:%016x", uint64(i)*0x9e3779b97f4a7c15),
		Result:      &probe.Result{Container: "matroska,webm", Duration: 2700.5, BitRate: 4_000_000, Tracks: tracks},
	}
}

// query times ListFileEntries pages of 100 from -cursor, serially, in this process:
// what a page costs without HTTP, JSON or concurrency.
func query(args []string) error {
	fs := flag.NewFlagSet("query", flag.ExitOnError)
	db := fs.String("db", "", "database file")
	after := fs.Int64("cursor", 0, "cursor (files with a larger id)")
	language := fs.String("language", "", "language filter")
	reps := fs.Int("n", 2000, "pages")
	_ = fs.Parse(args)
	ctx := context.Background()
	s, err := catalog.Open(ctx, *db, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer s.Close(ctx)
	f := catalog.FileFilter{After: *after, Language: *language, Limit: 100}
	d := make([]time.Duration, *reps)
	for i := range d {
		t0 := time.Now()
		page, err := s.ListFileEntries(ctx, f)
		if err != nil {
			return err
		}
		d[i] = time.Since(t0)
		if len(page) != 100 {
			return fmt.Errorf("page of %d files, want 100", len(page))
		}
	}
	slices.Sort(d)
	ms := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	fmt.Printf("query_p50_ms=%.2f\nquery_p99_ms=%.2f\n", ms(0.50), ms(0.99))
	return nil
}
