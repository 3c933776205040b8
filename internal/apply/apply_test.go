package apply_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/testmedia"
)

const header = "schema_version: 13\n"

// TestApplyOperations applies each kind of operation to real files with the
// real tools and checks the result with ffprobe and mkvmerge -J: the
// plan's expected tracks, intact content (packet counts and durations per
// kept stream), dispositions the plan does not touch kept, and idempotence
// (the policy finds the result conformant; a second apply changes
// nothing).
func TestApplyOperations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		file     string // "mkv", "mp4", "swapped"
		rename   string // copy the file to this name first
		policy   string
		wantTool string
		inPlace  bool   // in_place = auto: mkvpropedit edits the file itself
		wantPath string // base name afterwards, when it changes
		// want is the expected summary of the result (see summarize).
		want  string
		check func(t *testing.T, path string)
	}{
		{
			name: "mkv flags only: mkvpropedit",
			file: "mkv",
			policy: header + `config: {audio_languages: [fra, eng]}
phases:
  - name: flags
    default_flags: {}
`,
			wantTool: apply.ToolMKVPropEdit,
			want: `video:h264:und:Test Video:true/false
audio:aac:eng:English Stereo:false/false
audio:ac3:fre:Français 5.1:true/false
audio:aac:eng:Director's Commentary:false/false
subtitle:subrip:eng:English Forced:false/true
subtitle:subrip:eng:English SDH:false/false
subtitle:subrip:fre::false/false
attachment:ttf:und::false/false
`,
		},
		{
			name: "mkv flags only, in place: mkvpropedit",
			file: "mkv",
			policy: header + `config: {audio_languages: [fra, eng]}
phases:
  - name: flags
    default_flags: {}
`,
			wantTool: apply.ToolMKVPropEdit,
			inPlace:  true,
			want: `video:h264:und:Test Video:true/false
audio:aac:eng:English Stereo:false/false
audio:ac3:fre:Français 5.1:true/false
audio:aac:eng:Director's Commentary:false/false
subtitle:subrip:eng:English Forced:false/true
subtitle:subrip:eng:English SDH:false/false
subtitle:subrip:fre::false/false
attachment:ttf:und::false/false
`,
		},
		{
			name: "mkv titles cleared: mkvpropedit",
			file: "mkv",
			policy: header + `phases:
  - name: titles
    audio_actions: {clear_all_titles: true}
`,
			wantTool: apply.ToolMKVPropEdit,
			want: `video:h264:und:Test Video:true/false
audio:aac:eng::true/false
audio:ac3:fre::false/false
audio:aac:eng::false/false
subtitle:subrip:eng:English Forced:false/true
subtitle:subrip:eng:English SDH:false/false
subtitle:subrip:fre::false/false
attachment:ttf:und::false/false
`,
		},
		{
			name:   "mkv removals with a non-ASCII name: mkvmerge",
			file:   "mkv",
			rename: "Amélie – 日本語.mkv",
			policy: header + `phases:
  - name: filter
    keep_audio: {languages: [eng]}
    keep_subtitles: {languages: [eng]}
    filter_attachments: {remove_all: true}
`,
			wantTool: apply.ToolMKVMerge,
			want: `video:h264:und:Test Video:true/false
audio:aac:eng:English Stereo:true/false
audio:aac:eng:Director's Commentary:false/false
subtitle:subrip:eng:English Forced:false/true
subtitle:subrip:eng:English SDH:false/false
`,
			check: func(t *testing.T, path string) {
				if j := mkvmergeJ(t, path); len(j.Attachments) != 0 {
					t.Errorf("attachments left: %+v", j.Attachments)
				}
			},
		},
		{
			name: "mkv reorder and flags: mkvmerge",
			file: "mkv",
			policy: header + `config: {audio_languages: [fra, eng]}
phases:
  - name: arrange
    track_order: [video, audio_main, audio_alternate, audio_commentary, subtitle_forced, subtitle_main]
    default_flags: {}
`,
			wantTool: apply.ToolMKVMerge,
			want: `video:h264:und:Test Video:true/false
audio:ac3:fre:Français 5.1:true/false
audio:aac:eng:English Stereo:false/false
audio:aac:eng:Director's Commentary:false/false
subtitle:subrip:eng:English Forced:false/true
subtitle:subrip:eng:English SDH:false/false
subtitle:subrip:fre::false/false
attachment:ttf:und::false/false
`,
		},
		{
			name: "mkv attachment slot first, reorder and removal: mkvmerge keeps the attachment after the tracks",
			file: "mkv",
			policy: header + `config: {audio_languages: [eng, fra]}
phases:
  - name: arrange
    keep_subtitles: {languages: [eng]}
    track_order: [attachment, video, audio_main, audio_alternate, audio_commentary, subtitle_main, subtitle_forced]
`,
			wantTool: apply.ToolMKVMerge,
			want: `video:h264:und:Test Video:true/false
audio:aac:eng:English Stereo:true/false
audio:ac3:fre:Français 5.1:false/false
audio:aac:eng:Director's Commentary:false/false
subtitle:subrip:eng:English SDH:false/false
subtitle:subrip:eng:English Forced:false/true
attachment:ttf:und::false/false
`,
			check: func(t *testing.T, path string) {
				if j := mkvmergeJ(t, path); len(j.Attachments) != 1 || j.Attachments[0].FileName != "font.ttf" {
					t.Errorf("attachments: %+v, want font.ttf", j.Attachments)
				}
			},
		},
		{
			name: "mkv with swapped track numbers: edits the right track",
			file: "swapped",
			policy: header + `config: {subtitle_languages: [fra]}
phases:
  - name: flags
    default_flags: {set_first_video_default: false, set_preferred_audio_default: false, set_preferred_subtitle_default: true}
`,
			wantTool: apply.ToolMKVPropEdit,
			want: `video:h264:und::false/false
subtitle:subrip:eng::false/false
subtitle:subrip:fre::true/false
`,
			check: func(t *testing.T, path string) {
				// The fra entry is the one with Matroska track number 2.
				for _, tr := range mkvmergeJ(t, path).Tracks {
					if tr.Type == "subtitles" && tr.Properties.Default != (tr.Properties.Language == "fre") {
						t.Errorf("mkvmerge track %d (number %d, %s) default = %t", tr.ID, tr.Properties.Number, tr.Properties.Language, tr.Properties.Default)
					}
				}
			},
		},
		{
			name: "mp4 removal: ffmpeg keeps the comment disposition",
			file: "mp4",
			policy: header + `phases:
  - name: filter
    keep_audio: {languages: [eng]}
`,
			wantTool: apply.ToolFFmpeg,
			want: `video:h264:und:-:true/false
audio:aac:eng:-:true/false
audio:aac:eng:-:false/false
`,
			check: func(t *testing.T, path string) {
				if s := streamStats(t, path); len(s) != 3 || s[2].Disposition["comment"] != 1 {
					t.Errorf("comment disposition lost: %+v", s)
				}
			},
		},
		{
			name: "mp4 default flag: ffmpeg",
			file: "mp4",
			policy: header + `config: {audio_languages: [fra]}
phases:
  - name: flags
    default_flags: {}
`,
			wantTool: apply.ToolFFmpeg,
			want: `video:h264:und:-:true/false
audio:aac:eng:-:false/false
audio:aac:fre:-:true/false
audio:aac:eng:-:false/false
`,
		},
		{
			name: "mp4 every audio default cleared: the first stays default (mp4 cannot store none)",
			file: "mp4",
			policy: header + `phases:
  - name: flags
    keep_audio: {languages: [eng]}
    audio_actions: {clear_all_default: true}
`,
			wantTool: apply.ToolFFmpeg,
			want: `video:h264:und:-:true/false
audio:aac:eng:-:true/false
audio:aac:eng:-:false/false
`,
		},
		{
			name: "mp4 language: ffmpeg",
			file: "mp4",
			policy: header + `phases:
  - name: lang
    rules:
      match: first
      items:
        - name: german
          when: {exists: {track_type: audio, language: fre}}
          then:
            - set_language: {track_type: audio, match_language: fre, new_language: de}
`,
			wantTool: apply.ToolFFmpeg,
			want: `video:h264:und:-:true/false
audio:aac:eng:-:true/false
audio:aac:ger:-:false/false
audio:aac:eng:-:false/false
`,
		},
		{
			name:   "mov language outside QuickTime's table: written as und, as the plan says",
			file:   "mp4",
			rename: "film.mov",
			policy: header + `phases:
  - name: lang
    rules:
      match: first
      items:
        - name: swedish
          when: {exists: {track_type: audio, language: fre}}
          then:
            - set_language: {track_type: audio, match_language: fre, new_language: swe}
`,
			wantTool: apply.ToolFFmpeg,
			want: `video:h264:und:-:true/false
audio:aac:eng:-:true/false
audio:aac:und:-:false/false
audio:aac:eng:-:false/false
`,
			check: func(t *testing.T, path string) {
				// The mov muxer, not mp4's: QuickTime's brand.
				if data, _ := os.ReadFile(path); !bytes.Contains(data[:32], []byte("ftypqt  ")) {
					t.Errorf("not written as QuickTime: %q", data[:32])
				}
			},
		},
		{
			name: "mkv language and forced: mkvpropedit",
			file: "mkv",
			policy: header + `phases:
  - name: lang
    rules:
      match: all
      items:
        - name: german
          when: {exists: {track_type: audio, language: fre}}
          then:
            - set_language: {track_type: audio, match_language: fre, new_language: de}
        - name: forced
          when: {exists: {track_type: subtitle, language: fre}}
          then:
            - set_forced: {track_type: subtitle, language: fre, value: true}
`,
			wantTool: apply.ToolMKVPropEdit,
			want: `video:h264:und:Test Video:true/false
audio:aac:eng:English Stereo:true/false
audio:ac3:ger:Français 5.1:false/false
audio:aac:eng:Director's Commentary:false/false
subtitle:subrip:eng:English Forced:false/true
subtitle:subrip:eng:English SDH:false/false
subtitle:subrip:fre::false/true
attachment:ttf:und::false/false
`,
		},
		{
			name: "mp4 to mkv: ffmpeg",
			file: "mp4",
			policy: header + `phases:
  - name: convert
    container: {target: mkv}
`,
			wantTool: apply.ToolFFmpeg,
			rename:   "film.mp4",
			wantPath: "film.mkv",
			want: `video:h264:und:-:true/false
audio:aac:eng:-:true/false
audio:aac:fre:-:false/false
audio:aac:eng:-:false/false
`,
		},
		{
			name: "mkv to mp4 after dropping what mp4 cannot hold: ffmpeg",
			file: "mkv",
			policy: header + `phases:
  - name: filter
    keep_subtitles: {remove_all: true}
    filter_attachments: {remove_all: true}
  - name: convert
    container: {target: mp4}
`,
			wantTool: apply.ToolFFmpeg,
			rename:   "film.mkv",
			wantPath: "film.mp4",
			check: func(t *testing.T, path string) {
				// The plan drops the titles (mp4 stores none): none is there.
				for _, s := range streamStats(t, path) {
					if s.Tags["title"] != "" {
						t.Errorf("stream %d keeps the title %q", s.Index, s.Tags["title"])
					}
				}
			},
			want: `video:h264:und:-:true/false
audio:aac:eng:-:true/false
audio:ac3:fre:-:false/false
audio:aac:eng:-:false/false
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			media := testmedia.MakeRich(t, dir)
			path := map[string]string{"mkv": media.MKV, "mp4": media.MP4, "swapped": media.Swapped}[tt.file]
			if tt.rename != "" {
				sub := filepath.Join(dir, "sub")
				copyTo(t, path, filepath.Join(sub, tt.rename))
				dir, path = sub, filepath.Join(sub, tt.rename)
			}
			pol, req := planFor(t, path, tt.policy)
			if !req.Plan.Changed() {
				t.Fatalf("plan changes nothing:\n%s", planText(req.Plan))
			}
			before := streamStats(t, path)
			e := newExecutor()
			if tt.inPlace {
				e, _ = inPlaceExecutor(t)
			}
			res, err := e.Apply(context.Background(), req)
			if err != nil {
				t.Fatalf("apply: %v\n%s", err, planText(req.Plan))
			}
			if res.Tool != tt.wantTool || !res.Changed || res.InPlace != tt.inPlace {
				t.Errorf("tool = %q, changed = %t, in place %t; want %q, true, %t", res.Tool, res.Changed, res.InPlace, tt.wantTool, tt.inPlace)
			}
			wantPath := path
			if tt.wantPath != "" {
				wantPath = filepath.Join(dir, tt.wantPath)
				if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("original %s still there after conversion (%v)", path, err)
				}
			}
			if res.Path != wantPath {
				t.Fatalf("result path = %s, want %s", res.Path, wantPath)
			}
			assertNoTemp(t, dir)
			titles := !strings.Contains(tt.want, ":-:")
			again := requestFor(t, pol, res.Path)
			if got := summarize(again.Plan.File.Tracks, titles); got != tt.want {
				t.Errorf("result tracks:\n%s\nwant:\n%s", got, tt.want)
			}
			if got, want := summarize(again.Plan.File.Tracks, titles), summarize(req.Plan.Result().Tracks, titles); policy.ContainerKind(again.Plan.File.Container) == "mkv" && got != want {
				t.Errorf("result differs from the plan's result:\n%s\nwant:\n%s", got, want)
			}

			// Content intact: each kept stream has the packets and duration it had.
			after := streamStats(t, res.Path)
			result := req.Plan.Result().Tracks
			var kept []policy.Track
			for _, tr := range result {
				if tr.Type != policy.TypeAttachment {
					kept = append(kept, tr)
				}
			}
			for i, tr := range kept {
				if i >= len(after) {
					t.Fatalf("result has %d streams, want %d", len(after), len(kept))
				}
				b, a := before[tr.ID], after[i]
				if a.CodecName != b.CodecName || a.Packets != b.Packets {
					t.Errorf("stream %d (was %d): %s with %s packets, want %s with %s", i, tr.ID, a.CodecName, a.Packets, b.CodecName, b.Packets)
				}
				if d := a.duration() - b.duration(); d > 0.05 || d < -0.05 {
					t.Errorf("stream %d (was %d): duration %.3f, want %.3f", i, tr.ID, a.duration(), b.duration())
				}
			}
			// mkvmerge -J too, on every result: the tracks' types and order,
			// and their languages (but in a .mov: mkvmerge reads no QuickTime
			// language codes); for Matroska also flags and titles (its MP4
			// reader reports neither).
			j := mkvmergeJ(t, res.Path)
			if len(j.Tracks) != len(kept) {
				t.Fatalf("mkvmerge -J: %d tracks, want %d", len(j.Tracks), len(kept))
			}
			mkv := policy.ContainerKind(again.Plan.File.Container) == "mkv"
			for i, tr := range kept {
				jt := j.Tracks[i]
				p := jt.Properties
				if want := strings.Replace(tr.Type, "subtitle", "subtitles", 1); jt.Type != want ||
					!policy.SameLanguage(p.Language, tr.Language) && !strings.EqualFold(filepath.Ext(res.Path), ".mov") {
					t.Errorf("mkvmerge track %d: %s %q, want %s %q", i, jt.Type, p.Language, want, tr.Language)
				}
				if mkv && (p.Default != tr.Default || p.Forced != tr.Forced || p.Name != tr.Title) {
					t.Errorf("mkvmerge track %d: %+v, want %+v", i, p, tr)
				}
			}
			if tt.check != nil {
				tt.check(t, res.Path)
			}

			// Idempotence.
			if !again.Plan.Conformant() {
				t.Errorf("the result is not conformant:\n%s", planText(again.Plan))
			}
			state := stateOf(t, res.Path)
			res2, err := newExecutor().Apply(context.Background(), again)
			if err != nil || res2.Changed {
				t.Errorf("second apply: changed = %t, err = %v", res2.Changed, err)
			}
			assertUntouched(t, res.Path, state)
		})
	}
}

// TestApplyWebM: a WebM file stays WebM (DocType "webm") after a remux, though
// the temp file's name does not end in .webm.
func TestApplyWebM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "clip.webm")
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1",
		"-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-f", "lavfi", "-i", "sine=frequency=660:duration=1",
		"-map", "0", "-map", "1", "-map", "2", "-c:v", "libvpx", "-deadline", "realtime", "-c:a", "libopus",
		"-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	webm := []byte("\x42\x82\x84webm") // DocType "webm"
	if data, _ := os.ReadFile(path); !bytes.Contains(data[:64], webm) {
		t.Fatal("ffmpeg did not write a WebM DocType")
	}
	_, req := planFor(t, path, removeFrench)
	res, err := newExecutor().Apply(context.Background(), req)
	if err != nil || res.Tool != apply.ToolMKVMerge || len(res.Tracks) != 2 {
		t.Fatalf("res = %+v, err = %v", res, err)
	}
	if data, _ := os.ReadFile(path); !bytes.Contains(data[:64], webm) {
		t.Error("the remuxed file is no longer WebM")
	}
}
