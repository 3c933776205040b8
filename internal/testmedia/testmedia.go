// Package testmedia generates small, real media files for tests.
//
// The files are encoded at test time with the system's ffmpeg from lavfi
// sources (a 1 s, 160x120 test pattern and sine tones), so tests exercise the
// real container formats that ffprobe and friends see in production. Encoding
// happens at most once per test process; later calls only copy the cached
// bytes into the requested directory.
//
// ffmpeg and ffprobe are required: when either is missing, or encoding fails,
// the calling test fails (it is never skipped).
package testmedia

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Files holds the paths of the media files written by [Make].
type Files struct {
	// MKV is a Matroska file with four tracks, in this order:
	//   0: video, h264 (libx264) or mpeg4 when libx264 is unavailable,
	//      160x120 at 25 fps, title "Test Video", default;
	//   1: audio, aac stereo, language "eng", title "English Stereo", default;
	//   2: audio, ac3 5.1(side), language "fra", title "Français 5.1", not default;
	//   3: subtitle, subrip, language "eng", title "English Forced", forced, not default.
	// The container duration is about one second.
	MKV string
	// MP4 is an MP4 file with one video track (same codec and size as in
	// MKV, default) and one aac stereo audio track with language "eng".
	MP4 string
	// Truncated is the first few hundred bytes to 1 KiB of MKV (the EBML
	// header and part of the segment header), written as a .mkv file;
	// ffprobe exits with an error on it.
	Truncated string
	// Empty is a zero-byte file with a .mkv extension.
	Empty string
	// NotVideo is a plain text file with a .mp4 extension.
	NotVideo string
}

// Track metadata of the generated MKV, exported so tests can compare
// against the values that were written.
const (
	// VideoTitle is the title of the MKV video track.
	VideoTitle = "Test Video"
	// AudioEngTitle is the title of the first (English, default) MKV audio track.
	AudioEngTitle = "English Stereo"
	// AudioFraTitle is the title of the second (French, not default) MKV audio track.
	AudioFraTitle = "Français 5.1"
	// SubtitleTitle is the title of the (English, forced) MKV subtitle track.
	SubtitleTitle = "English Forced"
)

const (
	// truncatedSize is the preferred size of Files.Truncated. With
	// ffmpeg 5.1 a 2 KiB prefix of the MKV still holds the complete
	// track headers and ffprobe succeeds on it; 1 KiB ends inside the
	// Tracks element and ffprobe fails with "Input/output error".
	truncatedSize = 1024
	// minTruncatedSize is the smallest prefix tried before giving up.
	minTruncatedSize = 32

	// manyMarker is written as the container title of the MakeMany
	// template; each copy overwrites its digits in place with a unique
	// counter so that every file has distinct but valid content.
	manyMarker = "vpo-testmedia-00000000"
	// manyPrefix is manyMarker without its digits.
	manyPrefix = "vpo-testmedia-"

	// commandTimeout bounds every ffmpeg/ffprobe run during generation.
	commandTimeout = 2 * time.Minute
)

// notVideoContent is the content of Files.NotVideo.
const notVideoContent = "This is a text file, not an MP4 movie.\n"

// srtContent is the subtitle source muxed into the MKV.
const srtContent = "1\n00:00:00,000 --> 00:00:00,800\nHello from vpo.\n\n"

// cache is the media generated once per test process.
type cache struct {
	mkv, mp4, truncated []byte
	many                []byte
	manyOffset          int // offset of manyMarker's digits in many
}

var (
	cacheOnce sync.Once
	cached    *cache
	cacheErr  error

	// manyCounter numbers MakeMany files across calls within a process.
	manyCounter atomic.Uint64
)

// load generates the media on first use and returns the cache.
func load() (*cache, error) {
	cacheOnce.Do(func() { cached, cacheErr = generate() })
	if cacheErr != nil {
		return nil, fmt.Errorf("testmedia: %w", cacheErr)
	}
	return cached, nil
}

// Make writes the files described by [Files] into dir (created if needed;
// t.TempDir() when dir is "") and returns their paths. Existing files with
// the same names (sample.mkv, sample.mp4, truncated.mkv, empty.mkv,
// notvideo.mp4) are overwritten. The test fails if ffmpeg or ffprobe is
// missing or generation fails.
func Make(t testing.TB, dir string) Files {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	f, err := Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Write is Make for callers without a testing.TB (testscript commands, benchmark
// tools): it returns an error instead of failing a test.
func Write(dir string) (Files, error) {
	c, err := load()
	if err != nil {
		return Files{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Files{}, fmt.Errorf("testmedia: create dir: %w", err)
	}
	f := Files{
		MKV:       filepath.Join(dir, "sample.mkv"),
		MP4:       filepath.Join(dir, "sample.mp4"),
		Truncated: filepath.Join(dir, "truncated.mkv"),
		Empty:     filepath.Join(dir, "empty.mkv"),
		NotVideo:  filepath.Join(dir, "notvideo.mp4"),
	}
	for _, w := range []struct {
		path string
		data []byte
	}{
		{f.MKV, c.mkv},
		{f.MP4, c.mp4},
		{f.Truncated, c.truncated},
		{f.Empty, nil},
		{f.NotVideo, []byte(notVideoContent)},
	} {
		if err := os.WriteFile(w.path, w.data, 0o644); err != nil {
			return Files{}, fmt.Errorf("testmedia: write %s: %w", w.path, err)
		}
	}
	return f, nil
}

// MakeMany writes n small valid Matroska files (1 s, 160x120 video plus
// one aac audio track) into dir (created if needed; t.TempDir() when dir is
// "") and returns their paths in lexical order. Every file has distinct
// content and a distinct name (video-NNNNNNNN.mkv, numbered by a counter
// shared by all calls in the process, so repeated calls never overwrite
// each other's files). Encoding happens once; the files are patched copies
// whose container title differs.
func MakeMany(t testing.TB, dir string, n int) []string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	paths, err := WriteMany(dir, n)
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// WriteMany is MakeMany for callers without a testing.TB.
func WriteMany(dir string, n int) ([]string, error) {
	if n < 0 {
		return nil, fmt.Errorf("testmedia: MakeMany: negative count %d", n)
	}
	c, err := load()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testmedia: create dir: %w", err)
	}
	digits := len(manyMarker) - len(manyPrefix)
	paths := make([]string, 0, n)
	buf := make([]byte, len(c.many))
	for range n {
		id := manyCounter.Add(1)
		num := fmt.Sprintf("%0*d", digits, id)
		if len(num) != digits {
			return nil, fmt.Errorf("testmedia: MakeMany: counter overflow at %d", id)
		}
		copy(buf, c.many)
		copy(buf[c.manyOffset:], num)
		p := filepath.Join(dir, "video-"+num+".mkv")
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			return nil, fmt.Errorf("testmedia: write %s: %w", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// generate encodes all media into a scratch directory, reads it into
// memory and removes the directory.
func generate() (_ *cache, err error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, fmt.Errorf("ffmpeg is required to generate test media: %w", err)
	}
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		return nil, fmt.Errorf("ffprobe is required to verify test media: %w", err)
	}
	dir, err := os.MkdirTemp("", "vpo-testmedia-*")
	if err != nil {
		return nil, fmt.Errorf("create scratch dir: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
			err = fmt.Errorf("remove scratch dir: %w", rmErr)
		}
	}()

	encoders, err := run(ffmpeg, "-hide_banner", "-encoders")
	if err != nil {
		return nil, err
	}
	video := []string{"-c:v", "mpeg4", "-q:v", "10"}
	if bytes.Contains(encoders, []byte(" libx264 ")) {
		video = []string{"-c:v", "libx264", "-preset", "ultrafast"}
	}
	video = append(video, "-pix_fmt", "yuv420p")

	srt := filepath.Join(dir, "sub.srt")
	if err := os.WriteFile(srt, []byte(srtContent), 0o644); err != nil {
		return nil, fmt.Errorf("write srt: %w", err)
	}

	common := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}
	testsrc := []string{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1"}
	sine := func(freq int) []string {
		return []string{"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=48000:duration=1", freq)}
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}

	mkvPath := filepath.Join(dir, "sample.mkv")
	mkvArgs := cat(common, testsrc, sine(440), sine(660), []string{"-i", srt},
		[]string{"-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:s"},
		video,
		[]string{
			"-c:a:0", "aac", "-ac:a:0", "2",
			"-c:a:1", "ac3", "-ac:a:1", "6",
			"-c:s", "srt",
			"-metadata:s:v:0", "title=" + VideoTitle,
			"-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=" + AudioEngTitle,
			"-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=" + AudioFraTitle,
			"-metadata:s:s:0", "language=eng", "-metadata:s:s:0", "title=" + SubtitleTitle,
			"-disposition:v:0", "default",
			"-disposition:a:0", "default", "-disposition:a:1", "0",
			"-disposition:s:0", "forced",
			mkvPath,
		})
	if _, err := run(ffmpeg, mkvArgs...); err != nil {
		return nil, err
	}

	mp4Path := filepath.Join(dir, "sample.mp4")
	mp4Args := cat(common, testsrc, sine(440), video, []string{
		"-c:a", "aac", "-ac", "2",
		"-metadata:s:a:0", "language=eng",
		"-movflags", "+faststart",
		"-shortest", mp4Path,
	})
	if _, err := run(ffmpeg, mp4Args...); err != nil {
		return nil, err
	}

	manyPath := filepath.Join(dir, "many.mkv")
	manyArgs := cat(common, testsrc, sine(550), video, []string{
		"-c:a", "aac", "-ac", "2",
		"-metadata", "title=" + manyMarker,
		// Without CRC-32 elements the title can be patched in place.
		"-write_crc32", "0",
		manyPath,
	})
	if _, err := run(ffmpeg, manyArgs...); err != nil {
		return nil, err
	}

	c := &cache{}
	if c.mkv, err = os.ReadFile(mkvPath); err != nil {
		return nil, fmt.Errorf("read generated mkv: %w", err)
	}
	if c.mp4, err = os.ReadFile(mp4Path); err != nil {
		return nil, fmt.Errorf("read generated mp4: %w", err)
	}
	if c.many, err = os.ReadFile(manyPath); err != nil {
		return nil, fmt.Errorf("read generated template: %w", err)
	}
	if bytes.Count(c.many, []byte(manyMarker)) != 1 {
		return nil, fmt.Errorf("template title %q not found exactly once in %s", manyMarker, manyPath)
	}
	c.manyOffset = bytes.Index(c.many, []byte(manyMarker)) + len(manyPrefix)

	if c.truncated, err = truncate(ffprobe, dir, c.mkv); err != nil {
		return nil, err
	}
	return c, nil
}

// truncate returns the longest prefix of mkv, starting at truncatedSize and
// halving, on which ffprobe fails.
func truncate(ffprobe, dir string, mkv []byte) ([]byte, error) {
	p := filepath.Join(dir, "truncated.mkv")
	for n := min(truncatedSize, len(mkv)); n >= minTruncatedSize; n /= 2 {
		if err := os.WriteFile(p, mkv[:n], 0o644); err != nil {
			return nil, fmt.Errorf("write truncated mkv: %w", err)
		}
		_, err := run(ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams", "file:"+p)
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return mkv[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
	return nil, fmt.Errorf("ffprobe accepted every prefix of the mkv down to %d bytes", minTruncatedSize)
}

// run executes name with args and returns its stdout; on failure the error
// includes the command line and stderr.
func run(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("run %s %s: %w\n%s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}
