// Command gentree generates a synthetic media library for benchmarking the
// scanner: many tiny files, about 100 per directory, in directories nested two
// or three levels deep, one file in every -video-ratio having a video
// extension.
//
//	go run ./scripts/gentree -dir /tmp/tree -files 100000 -video-ratio 10
//
// DIR must not exist or be empty. The files hold a few bytes each.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

const filesPerDir = 100

var (
	videoExts = []string{".mkv", ".mp4", ".avi", ".m4v", ".webm", ".ts"}
	otherExts = []string{".nfo", ".jpg", ".srt", ".txt", "", ".mkv.part", ".png", ".sub"}
)

func main() {
	dir := flag.String("dir", "", "directory to create the tree in (must not exist or be empty)")
	files := flag.Int("files", 100000, "number of files to create")
	ratio := flag.Int("video-ratio", 10, "one file in this many gets a video extension (0: none)")
	flag.Parse()
	if err := run(*dir, *files, *ratio); err != nil {
		fmt.Fprintln(os.Stderr, "gentree:", err)
		os.Exit(1)
	}
}

func run(dir string, files, ratio int) error {
	if dir == "" {
		return errors.New("-dir is required")
	}
	if files < 0 || ratio < 0 {
		return errors.New("-files and -video-ratio must not be negative")
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("check target directory: %w", err)
	}

	start := time.Now()
	leaves := (files + filesPerDir - 1) / filesPerDir
	jobs := make(chan int)
	var videos atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range runtime.NumCPU() * 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for leaf := range jobs {
				n, err := writeLeaf(dir, leaf, files, ratio)
				videos.Add(int64(n))
				if err != nil {
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	for leaf := range leaves {
		jobs <- leaf
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	fmt.Printf("created %d files (%d videos) in %d leaf directories under %s in %v\n",
		files, videos.Load(), leaves, dir, time.Since(start).Round(time.Millisecond))
	return nil
}

// leafDir is the directory of the leaf-th batch of files: a###/b## (two
// levels) for even leaves, a###/b##/c (three levels) for odd ones.
func leafDir(root string, leaf int) string {
	d := filepath.Join(root, fmt.Sprintf("a%03d", leaf/10), fmt.Sprintf("b%02d", leaf%10))
	if leaf%2 == 1 {
		d = filepath.Join(d, "c")
	}
	return d
}

// writeLeaf creates the files of one leaf directory and returns how many of
// them are videos.
func writeLeaf(root string, leaf, files, ratio int) (int, error) {
	dir := leafDir(root, leaf)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("create directory: %w", err)
	}
	videos := 0
	for k := leaf * filesPerDir; k < min(files, (leaf+1)*filesPerDir); k++ {
		var name string
		if ratio > 0 && k%ratio == 0 {
			name = "movie" + strconv.Itoa(k) + videoExts[(k/ratio)%len(videoExts)]
			videos++
		} else {
			name = "file" + strconv.Itoa(k) + otherExts[k%len(otherExts)]
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strconv.Itoa(k)+"\n"), 0o644); err != nil {
			return videos, fmt.Errorf("create file: %w", err)
		}
	}
	return videos, nil
}
