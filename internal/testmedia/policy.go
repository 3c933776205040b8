package testmedia

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// PolicyFileName is the name of the file [WritePolicyMKV] writes.
const PolicyFileName = "tracks.mkv"

// PolicyTracks describes the Matroska file of [MakePolicyMKV]: the cases a
// policy has to get right, in an order no sane policy keeps. By ffprobe
// stream index:
//
//	0: video, h264 or mpeg4, 160x120, default
//	1: audio, aac stereo, fra, "Français", default
//	2: audio, aac stereo, eng, "Director's Commentary"
//	3: audio, aac 5.1, eng, "English 5.1"
//	4: audio, aac mono, no language tag (und), no title
//	5: subtitle, subrip, eng, "English SDH" (a normal track, not commentary)
//	6: subtitle, subrip, eng, "English Forced", forced
//	7: subtitle, subrip, ger, "Deutsch", default
//	8: subtitle, subrip, no language tag (und)
//	9: attachment, a font (font.ttf, application/x-truetype-font)
var PolicyTracks = []struct {
	Type, Language, Title string
	Default, Forced       bool
}{
	{"video", "", VideoTitle, true, false},
	{"audio", "fra", "Français", true, false},
	{"audio", "eng", "Director's Commentary", false, false},
	{"audio", "eng", "English 5.1", false, false},
	{"audio", "", "", false, false},
	{"subtitle", "eng", "English SDH", false, false},
	{"subtitle", "eng", "English Forced", false, true},
	{"subtitle", "ger", "Deutsch", true, false},
	{"subtitle", "", "", false, false},
	{"attachment", "", "", false, false},
}

var (
	policyOnce sync.Once
	policyMKV  []byte
	policyErr  error
)

// MakePolicyMKV writes the file described by [PolicyTracks] into dir
// (created if needed; t.TempDir() when dir is "") as tracks.mkv and returns
// its path. The test fails if ffmpeg is missing or encoding fails.
func MakePolicyMKV(t testing.TB, dir string) string {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	p, err := WritePolicyMKV(dir, PolicyFileName)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// WritePolicyMKV is MakePolicyMKV for callers without a testing.TB: it writes
// the file into dir under name and returns its path. Encoding happens once
// per process; later calls copy the bytes.
func WritePolicyMKV(dir, name string) (string, error) {
	policyOnce.Do(func() { policyMKV, policyErr = generatePolicyMKV() })
	if policyErr != nil {
		return "", fmt.Errorf("testmedia: %w", policyErr)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testmedia: create dir: %w", err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, policyMKV, 0o644); err != nil {
		return "", fmt.Errorf("testmedia: write %s: %w", p, err)
	}
	return p, nil
}

func generatePolicyMKV() (_ []byte, err error) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		return nil, fmt.Errorf("ffmpeg is required to generate test media: %w", err)
	}
	dir, err := os.MkdirTemp("", "vpo-testmedia-policy-*")
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
	srt := filepath.Join(dir, "sub.srt")
	font := filepath.Join(dir, "font.ttf")
	if err := os.WriteFile(srt, []byte(srtContent), 0o644); err != nil {
		return nil, fmt.Errorf("write srt: %w", err)
	}
	// Not a usable font: the bytes are only carried, never rendered.
	if err := os.WriteFile(font, []byte("\x00\x01\x00\x00vpo test font\n"), 0o644); err != nil {
		return nil, fmt.Errorf("write font: %w", err)
	}
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1"}
	for _, freq := range []int{330, 440, 550, 660} {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=48000:duration=1", freq))
	}
	for range 4 {
		args = append(args, "-i", srt)
	}
	args = append(args, "-map", "0:v")
	for i := 1; i <= 4; i++ {
		args = append(args, "-map", fmt.Sprintf("%d:a", i))
	}
	for i := 5; i <= 8; i++ {
		args = append(args, "-map", fmt.Sprintf("%d:s", i))
	}
	args = append(args, video...)
	args = append(args, "-pix_fmt", "yuv420p", "-c:a", "aac", "-c:s", "srt",
		"-ac:a:0", "2", "-ac:a:1", "2", "-ac:a:2", "6", "-ac:a:3", "1",
		"-attach", font, "-metadata:s:t:0", "mimetype=application/x-truetype-font", "-metadata:s:t:0", "filename=font.ttf")
	audio, subs := 0, 0
	for _, t := range PolicyTracks {
		var spec string
		switch t.Type {
		case "video":
			spec = "v:0"
		case "audio":
			spec = fmt.Sprintf("a:%d", audio)
			audio++
		case "subtitle":
			spec = fmt.Sprintf("s:%d", subs)
			subs++
		default:
			continue
		}
		// An empty language still has to be written: Matroska's default is
		// eng, and ffmpeg writes und only when told.
		lang := t.Language
		if lang == "" {
			lang = "und"
		}
		args = append(args, "-metadata:s:"+spec, "language="+lang)
		if t.Title != "" {
			args = append(args, "-metadata:s:"+spec, "title="+t.Title)
		}
		disp := "0"
		switch {
		case t.Default && t.Forced:
			disp = "default+forced"
		case t.Default:
			disp = "default"
		case t.Forced:
			disp = "forced"
		}
		args = append(args, "-disposition:"+spec, disp)
	}
	out := filepath.Join(dir, PolicyFileName)
	args = append(args, out)
	if _, err := run(ffmpeg, args...); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, fmt.Errorf("read generated mkv: %w", err)
	}
	return data, nil
}
