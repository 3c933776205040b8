package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

const (
	benchFiles      = 100_000
	benchPerDir     = 100
	benchVideoRatio = 10
)

// benchTree returns a tree of benchFiles tiny files, benchPerDir per directory,
// nested two or three levels deep, one in benchVideoRatio a video. It is built
// once and kept in the system temporary directory for later runs; it is built
// under a temporary name and renamed into place, so an interrupted or
// concurrent build never leaves a partial tree behind that name.
func benchTree(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("vpo-scan-bench-%d-%d-v1", benchFiles, benchVideoRatio))
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return dir
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "vpo-scan-bench-build-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(tmp) //nolint:errcheck // gone after a successful rename anyway

	leaves := (benchFiles + benchPerDir - 1) / benchPerDir
	errs := make(chan error, leaves)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for leaf := range leaves {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d := filepath.Join(tmp, fmt.Sprintf("a%03d", leaf/10), fmt.Sprintf("b%02d", leaf%10))
			if leaf%2 == 1 {
				d = filepath.Join(d, "c")
			}
			if err := os.MkdirAll(d, 0o755); err != nil {
				errs <- err
				return
			}
			for k := leaf * benchPerDir; k < min(benchFiles, (leaf+1)*benchPerDir); k++ {
				name := "file" + strconv.Itoa(k) + []string{".nfo", ".jpg", ".srt", "", ".mkv.part"}[k%5]
				if k%benchVideoRatio == 0 {
					name = "movie" + strconv.Itoa(k) + []string{".mkv", ".MP4", ".avi"}[k/benchVideoRatio%3]
				}
				if err := os.WriteFile(filepath.Join(d, name), []byte(strconv.Itoa(k)), 0o644); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if fi, serr := os.Stat(dir); serr == nil && fi.IsDir() {
			return dir // another process built it first
		}
		b.Fatal(err)
	}
	return dir
}

// BenchmarkWalk walks a 100,000-file tree and reports how many files (of any
// kind) it discovers per second.
func BenchmarkWalk(b *testing.B) {
	root := benchTree(b)
	exts, err := NewExtSet(DefaultExtensions)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var videos int
	visit := func(Entry) error { videos++; return nil }
	onError := func(p string, err error) { b.Errorf("onError(%q, %v)", p, err) }
	// One untimed walk warms the dentry and inode caches, as find would see them.
	if err := Walk(ctx, root, exts, visit, onError); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		videos = 0
		if err := Walk(ctx, root, exts, visit, onError); err != nil {
			b.Fatal(err)
		}
	}
	if want := benchFiles / benchVideoRatio; videos != want {
		b.Fatalf("found %d videos, want %d", videos, want)
	}
	b.ReportMetric(float64(benchFiles)*float64(b.N)/b.Elapsed().Seconds(), "files/s")
	b.ReportMetric(float64(videos), "videos/op")
}
