package apply_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vpo-project/vpo/internal/apply"
)

// TestMP4MuxerFacts checks, on the installed ffmpeg and ffprobe, the facts
// about the mov/mp4 muxer that the evaluator models (internal/policy/mp4.go,
// fitContainer): if one stops holding (another ffmpeg), the model must change
// with it, or plans for MP4 files would ask for what the file cannot hold.
//
//   - no track title is stored, in mp4 or mov mode;
//   - a kind (video, audio, subtitle) with no default track reads back with
//     its first track default; several defaults stay;
//   - mp4 stores the forced flag, mov does not;
//   - mp4 stores three-letter codes verbatim and a two-letter one as und.
func TestMP4MuxerFacts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srt := filepath.Join(dir, "s.srt")
	if err := os.WriteFile(srt, []byte("1\n00:00:00,000 --> 00:00:00,500\nHello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src.mkv")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-f", "lavfi", "-i", "sine=frequency=660:duration=1",
		"-f", "lavfi", "-i", "sine=frequency=880:duration=1", "-i", srt,
		"-map", "0", "-map", "1", "-map", "2", "-map", "3", "-map", "4", "-c:v", "libx264", "-c:a", "aac", "-c:s", "srt", src).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	write := func(name, format string, langs [3]string) []streamStat {
		t.Helper()
		p := filepath.Join(dir, name)
		args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", src, "-map", "0", "-c", "copy", "-c:s", "mov_text",
			"-disposition:v:0", "0", // no default video
			"-disposition:a:0", "default", "-disposition:a:1", "default+forced", "-disposition:a:2", "0", // two defaults
			"-disposition:s:0", "0", // no default subtitle
			"-metadata:s:a:0", "title=Main", "-metadata:s:a:1", "title=Second", "-metadata:s:v:0", "title=Picture",
			"-metadata:s:a:0", "language=" + langs[0], "-metadata:s:a:1", "language=" + langs[1], "-metadata:s:a:2", "language=" + langs[2],
			"-f", format, p}
		if out, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg -f %s: %v: %s", format, err, out)
		}
		s := streamStats(t, p)
		if len(s) != 5 {
			t.Fatalf("%s: %d streams, want 5", name, len(s))
		}
		for _, st := range s {
			if title := st.Tags["title"]; title != "" {
				t.Errorf("%s: stream %d has the title %q: %s now stores titles", name, st.Index, title, format)
			}
		}
		wantDefault := []int{1, 1, 1, 0, 1} // video and subtitle: the first of their kind; audio: as set
		for i, st := range s {
			if st.Disposition["default"] != wantDefault[i] {
				t.Errorf("%s: stream %d (%s) default = %d, want %d", name, i, st.CodecType, st.Disposition["default"], wantDefault[i])
			}
		}
		return s
	}
	mp4 := write("f.mp4", "mp4", [3]string{"eng", "de", "tlh"})
	if mp4[2].Disposition["forced"] != 1 {
		t.Error("mp4 no longer stores the forced flag")
	}
	for i, want := range map[int]string{1: "eng", 2: "und", 3: "tlh"} {
		if got := mp4[i].Tags["language"]; got != want && !(want == "und" && got == "") {
			t.Errorf("mp4: stream %d language %q, want %q", i, got, want)
		}
	}
	mov := write("f.mov", "mov", [3]string{"eng", "fra", "eng"})
	if mov[2].Disposition["forced"] != 0 {
		t.Error("mov now stores the forced flag")
	}
}

// TestApplyMP4Forced: a forced flag set on an MP4's (mov_text) subtitle is
// written by ffmpeg and read back by ffprobe; the content streams are intact
// (packet counts), mkvmerge -J sees the same tracks (those it reads), and
// the result is conformant.
func TestApplyMP4Forced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srt := filepath.Join(dir, "s.srt")
	if err := os.WriteFile(srt, []byte("1\n00:00:00,000 --> 00:00:00,500\nHello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "film.mp4")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-i", srt,
		"-map", "0", "-map", "1", "-map", "2", "-c:v", "libx264", "-c:a", "aac", "-c:s", "mov_text",
		"-metadata:s:a:0", "language=eng", "-metadata:s:s:0", "language=eng", "-disposition:s:0", "default", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	pol, req := planFor(t, path, header+`phases:
  - name: forced
    rules:
      match: first
      items:
        - name: force
          when: {exists: {track_type: subtitle, language: eng}}
          then:
            - set_forced: {track_type: subtitle, language: eng, value: true}
`)
	if !req.Plan.Changed() {
		t.Fatalf("plan changes nothing:\n%s", planText(req.Plan))
	}
	before := streamStats(t, path)
	res, err := newExecutor().Apply(context.Background(), req)
	if err != nil || !res.Changed || res.Tool != apply.ToolFFmpeg {
		t.Fatalf("apply: %+v, %v", res, err)
	}
	after := streamStats(t, path)
	if len(after) != 3 || after[2].Disposition["forced"] != 1 || after[2].Disposition["default"] != 1 {
		t.Fatalf("subtitle after the apply: %+v", after)
	}
	for i := range before {
		if before[i].Packets != after[i].Packets || before[i].CodecName != after[i].CodecName {
			t.Errorf("stream %d: %s with %s packets, was %s with %s", i, after[i].CodecName, after[i].Packets, before[i].CodecName, before[i].Packets)
		}
	}
	// mkvmerge (v74) does not list ffmpeg's mov_text tracks in MP4 at all;
	// the others it must list as they are.
	j := mkvmergeJ(t, path)
	if len(j.Tracks) < 2 || j.Tracks[0].Type != "video" || j.Tracks[1].Type != "audio" || j.Tracks[1].Properties.Language != "eng" ||
		len(j.Tracks) == 3 && j.Tracks[2].Type != "subtitles" || len(j.Tracks) > 3 {
		t.Errorf("mkvmerge -J: %+v", j.Tracks)
	}
	if again := requestFor(t, pol, path); !again.Plan.Conformant() {
		t.Errorf("not conformant after the apply:\n%s", planText(again.Plan))
	}
}
