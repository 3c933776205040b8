package testmedia

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Rich holds the paths of the files written by [MakeRich]: files with the
// tracks that policies act on.
type Rich struct {
	// MKV is a Matroska file with, in this order:
	//   0: video (as in Files.MKV), title "Test Video", default;
	//   1: audio aac stereo, eng, "English Stereo", default;
	//   2: audio ac3 5.1, fra, "Français 5.1";
	//   3: audio aac stereo, eng, "Director's Commentary", disposition comment;
	//   4: subtitle subrip, eng, "English Forced", forced;
	//   5: subtitle subrip, eng, "English SDH", hearing_impaired;
	//   6: subtitle subrip, fra, no title;
	//   7: attachment font.ttf (application/x-truetype-font).
	MKV string
	// MP4 is an MP4 file with, in this order:
	//   0: video, default; 1: audio aac, eng, default; 2: audio aac, fra;
	//   3: audio aac, eng, disposition comment.
	MP4 string
	// Swapped is a Matroska file (video, then subtitle eng, then subtitle
	// fra) whose two subtitle TrackEntries carry the Matroska track numbers
	// 3 and 2: ffprobe's stream index and mkvmerge's track ID follow the
	// entries, the track number does not, so an executor that addresses
	// tracks by number edits the wrong one.
	Swapped string
}

// Titles of the Rich MKV tracks not shared with Files.MKV.
const (
	CommentaryTitle = "Director's Commentary"
	SDHTitle        = "English SDH"
)

var (
	richOnce sync.Once
	richData struct{ mkv, mp4, swapped []byte }
	richErr  error
)

// MakeRich writes the [Rich] files (rich.mkv, rich.mp4, swapped.mkv) into dir
// (t.TempDir() when ""). Encoding happens once per process.
func MakeRich(t testing.TB, dir string) Rich {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	richOnce.Do(func() { richErr = generateRich() })
	if richErr != nil {
		t.Fatalf("testmedia: %v", richErr)
	}
	r := Rich{
		MKV:     filepath.Join(dir, "rich.mkv"),
		MP4:     filepath.Join(dir, "rich.mp4"),
		Swapped: filepath.Join(dir, "swapped.mkv"),
	}
	for p, data := range map[string][]byte{r.MKV: richData.mkv, r.MP4: richData.mp4, r.Swapped: richData.swapped} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatalf("testmedia: write %s: %v", p, err)
		}
	}
	return r
}

func generateRich() (err error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return fmt.Errorf("ffmpeg is required to generate test media: %w", err)
	}
	dir, err := os.MkdirTemp("", "vpo-testmedia-rich-*")
	if err != nil {
		return fmt.Errorf("create scratch dir: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil && err == nil {
			err = fmt.Errorf("remove scratch dir: %w", rmErr)
		}
	}()
	encoders, err := run(ffmpeg, "-hide_banner", "-encoders")
	if err != nil {
		return err
	}
	video := []string{"-c:v", "mpeg4", "-q:v", "10"}
	if bytes.Contains(encoders, []byte(" libx264 ")) {
		video = []string{"-c:v", "libx264", "-preset", "ultrafast"}
	}
	video = append(video, "-pix_fmt", "yuv420p")
	srtEng := filepath.Join(dir, "eng.srt")
	srtFra := filepath.Join(dir, "fra.srt")
	font := filepath.Join(dir, "font.ttf")
	for p, s := range map[string]string{
		srtEng: srtContent,
		srtFra: "1\n00:00:00,000 --> 00:00:00,800\nBonjour de vpo.\n\n",
		font:   "not really a font, but attached like one\n",
	} {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	cat := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	common := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}
	testsrc := []string{"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1"}
	sine := func(freq int) []string {
		return []string{"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=48000:duration=1", freq)}
	}

	mkv := filepath.Join(dir, "rich.mkv")
	if _, err := run(ffmpeg, cat(common, testsrc, sine(440), sine(660), sine(880),
		[]string{"-i", srtEng, "-i", srtEng, "-i", srtFra, "-attach", font},
		[]string{"-map", "0:v", "-map", "1:a", "-map", "2:a", "-map", "3:a", "-map", "4:s", "-map", "5:s", "-map", "6:s"},
		video,
		[]string{
			"-c:a:0", "aac", "-ac:a:0", "2", "-c:a:1", "ac3", "-ac:a:1", "6", "-c:a:2", "aac", "-ac:a:2", "2",
			"-c:s", "srt",
			"-metadata:s:v:0", "title=" + VideoTitle,
			"-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=" + AudioEngTitle,
			"-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=" + AudioFraTitle,
			"-metadata:s:a:2", "language=eng", "-metadata:s:a:2", "title=" + CommentaryTitle,
			"-metadata:s:s:0", "language=eng", "-metadata:s:s:0", "title=" + SubtitleTitle,
			"-metadata:s:s:1", "language=eng", "-metadata:s:s:1", "title=" + SDHTitle,
			"-metadata:s:s:2", "language=fra",
			"-metadata:s:t:0", "mimetype=application/x-truetype-font",
			"-disposition:v:0", "default",
			"-disposition:a:0", "default", "-disposition:a:1", "0", "-disposition:a:2", "comment",
			"-disposition:s:0", "forced", "-disposition:s:1", "hearing_impaired", "-disposition:s:2", "0",
			mkv,
		})...); err != nil {
		return err
	}

	mp4 := filepath.Join(dir, "rich.mp4")
	if _, err := run(ffmpeg, cat(common, testsrc, sine(440), sine(660), sine(880),
		[]string{"-map", "0", "-map", "1", "-map", "2", "-map", "3"},
		video,
		[]string{
			"-c:a", "aac", "-ac", "2",
			"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", "-metadata:s:a:2", "language=eng",
			"-disposition:a:0", "default", "-disposition:a:1", "0", "-disposition:a:2", "comment",
			"-movflags", "+faststart", mp4,
		})...); err != nil {
		return err
	}

	swapped := filepath.Join(dir, "swapped.mkv")
	if _, err := run(ffmpeg, cat(common, testsrc, []string{"-i", srtEng, "-i", srtFra},
		[]string{"-map", "0", "-map", "1", "-map", "2"}, video,
		[]string{
			"-c:s", "srt", "-metadata:s:s:0", "language=eng", "-metadata:s:s:1", "language=fra",
			"-disposition:s:0", "0", "-disposition:s:1", "0",
			// Without CRC-32 elements the track numbers can be patched.
			"-write_crc32", "0", swapped,
		})...); err != nil {
		return err
	}
	if richData.mkv, err = os.ReadFile(mkv); err != nil {
		return err
	}
	if richData.mp4, err = os.ReadFile(mp4); err != nil {
		return err
	}
	data, err := os.ReadFile(swapped)
	if err != nil {
		return err
	}
	if richData.swapped, err = swapTrackNumbers(data); err != nil {
		return err
	}
	return nil
}

// swapTrackNumbers swaps the TrackNumber elements (ID 0xD7, size 1) of the
// second and third TrackEntry in the Tracks element, leaving the blocks
// alone: the two subtitle entries then describe each other's blocks, which
// stays a valid file because both have the same codec.
func swapTrackNumbers(data []byte) ([]byte, error) {
	tracks := bytes.Index(data, []byte{0x16, 0x54, 0xAE, 0x6B})  // Tracks
	cluster := bytes.Index(data, []byte{0x1F, 0x43, 0xB6, 0x75}) // first Cluster
	if tracks < 0 || cluster < tracks {
		return nil, errors.New("swapped.mkv: Tracks element not found before the first Cluster")
	}
	var pos []int
	for i := tracks; i+2 < cluster; i++ {
		if data[i] == 0xD7 && data[i+1] == 0x81 && data[i+2] >= 1 && data[i+2] <= 3 {
			pos = append(pos, i+2)
		}
	}
	if len(pos) != 3 || data[pos[1]] != 2 || data[pos[2]] != 3 {
		return nil, fmt.Errorf("swapped.mkv: want track numbers 1, 2, 3 in the Tracks element, found %d", len(pos))
	}
	out := bytes.Clone(data)
	out[pos[1]], out[pos[2]] = 3, 2
	return out, nil
}
