package apply

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/toolrun"
)

// mkvExitWarnings is the exit code with which mkvmerge and mkvpropedit
// report warnings: the output is complete.
const mkvExitWarnings = 1

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func langArg(lang string) string {
	if lang == "" {
		return "und"
	}
	return lang
}

func findTrack(ts []policy.Track, id int) (policy.Track, bool) {
	for _, t := range ts {
		if t.ID == id {
			return t, true
		}
	}
	return policy.Track{}, false
}

// mkvPropEditArgs returns the mkvpropedit arguments (after the file name)
// that turn src's properties into target's, addressing each track by its
// UID: never by position or track number, which differ between tools.
func mkvPropEditArgs(src, target []policy.Track, refs map[int]mkvRef) ([]string, error) {
	var args []string
	for _, t := range target {
		s, _ := findTrack(src, t.ID)
		if s == t {
			continue
		}
		ref := refs[t.ID]
		if ref.attachment {
			return nil, fmt.Errorf("%w: changing the properties of attachment %d", ErrUnsupported, t.ID)
		}
		args = append(args, "--edit", "track:="+strconv.FormatUint(ref.uid, 10))
		if s.Default != t.Default {
			args = append(args, "--set", "flag-default="+boolArg(t.Default))
		}
		if s.Forced != t.Forced {
			args = append(args, "--set", "flag-forced="+boolArg(t.Forced))
		}
		if s.Language != t.Language {
			args = append(args, "--set", "language="+langArg(t.Language))
		}
		if s.Title != t.Title {
			if t.Title == "" {
				args = append(args, "--delete", "name")
			} else {
				args = append(args, "--set", "name="+t.Title)
			}
		}
	}
	return args, nil
}

// runMKVPropEdit copies the file to tmp and edits the copy (in_place =
// never: the original is never opened for writing).
func (j *job) runMKVPropEdit(ctx context.Context, tmp string, refs map[int]mkvRef) error {
	args, err := mkvPropEditArgs(j.req.Plan.File.Tracks, j.target.Tracks, refs)
	if err != nil {
		return err
	}
	if err := copyInto(tmp, j.path); err != nil {
		return err
	}
	_, err = j.e.tool(ToolMKVPropEdit).Run(ctx, toolrun.Cmd{
		Args:    append([]string{tmp}, args...),
		Timeout: j.e.Timeout,
		OKExit:  []int{mkvExitWarnings},
	})
	return err
}

// mkvMergeArgs returns the mkvmerge arguments that remux src into target:
// the kept tracks of each type, the kept attachments, every property of
// every kept track (not only the changed ones), and the new order.
func mkvMergeArgs(out, in string, src, target []policy.Track, refs map[int]mkvRef) []string {
	args := []string{"--output", out}
	kept := func(id int) bool { _, ok := findTrack(target, id); return ok }
	selection := []struct {
		typ, list, none string
	}{
		{policy.TypeVideo, "--video-tracks", "--no-video"},
		{policy.TypeAudio, "--audio-tracks", "--no-audio"},
		{policy.TypeSubtitle, "--subtitle-tracks", "--no-subtitles"},
		{policy.TypeAttachment, "--attachments", "--no-attachments"},
	}
	for _, sel := range selection {
		var all, keep []string
		for _, s := range src {
			if s.Type != sel.typ {
				continue
			}
			id := strconv.Itoa(refs[s.ID].id)
			all = append(all, id)
			if kept(s.ID) {
				keep = append(keep, id)
			}
		}
		switch {
		case len(all) == len(keep):
			// Everything of this type stays.
		case len(keep) == 0:
			args = append(args, sel.none)
		default:
			args = append(args, sel.list, strings.Join(keep, ","))
		}
	}
	var order []string
	for _, t := range target {
		if t.Type == policy.TypeAttachment {
			continue
		}
		id := strconv.Itoa(refs[t.ID].id)
		order = append(order, "0:"+id)
		args = append(args,
			"--default-track-flag", id+":"+boolArg(t.Default),
			"--forced-display-flag", id+":"+boolArg(t.Forced),
			"--language", id+":"+langArg(t.Language),
			"--track-name", id+":"+t.Title,
		)
	}
	if len(order) > 0 {
		args = append(args, "--track-order", strings.Join(order, ","))
	}
	return append(args, in)
}

// runMKVMerge remuxes the file into tmp.
func (j *job) runMKVMerge(ctx context.Context, tmp string, refs map[int]mkvRef) error {
	args := mkvMergeArgs(tmp, j.path, j.req.Plan.File.Tracks, j.target.Tracks, refs)
	if strings.EqualFold(filepath.Ext(j.final), ".webm") {
		// mkvmerge picks WebM from the output's extension, which the temp
		// name does not have.
		args = append([]string{"--webm"}, args...)
	}
	_, err := j.e.tool(ToolMKVMerge).Run(ctx, toolrun.Cmd{
		Args:    args,
		Timeout: j.e.Timeout,
		OKExit:  []int{mkvExitWarnings},
	})
	return err
}

// ffmpegFormat returns ffmpeg's muxer for the new file.
func ffmpegFormat(final, kind string) (string, error) {
	ext := strings.ToLower(strings.TrimPrefix(filepath.Ext(final), "."))
	switch {
	case kind == "mkv" && ext == "webm":
		return "webm", nil
	case kind == "mkv":
		return "matroska", nil
	case kind == "mp4" && ext == "mov":
		return "mov", nil
	case kind == "mp4":
		return "mp4", nil
	}
	switch ext {
	case "avi":
		return "avi", nil
	case "ts", "m2ts", "mts":
		return "mpegts", nil
	}
	return "", fmt.Errorf("%w: rewriting %s files (container %s)", ErrUnsupported, orDash(ext), kind)
}

func orDash(s string) string {
	if s == "" {
		return "extension-less"
	}
	return "." + s
}

// disposition returns the ffmpeg -disposition value for a stream: every
// flag it has now, with default and forced as the target says. It is
// never "none"-like shorthand that would drop flags the plan keeps
// (comment, hearing_impaired, ...); "0" only when no flag is left.
func disposition(flags []string, t policy.Track) string {
	var out []string
	for _, f := range flags {
		if f != "default" && f != "forced" {
			out = append(out, f)
		}
	}
	if t.Default {
		out = append(out, "default")
	}
	if t.Forced {
		out = append(out, "forced")
	}
	if len(out) == 0 {
		return "0"
	}
	slices.Sort(out)
	return strings.Join(out, "+")
}

// ffmpegArgs returns the ffmpeg arguments that copy src's kept streams, in
// target order, into out with the target properties.
func ffmpegArgs(out, in, format string, src []policy.Track, target []policy.Track, d *details) []string {
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", "file:" + in}
	for _, t := range target {
		args = append(args, "-map", "0:"+strconv.Itoa(t.ID))
	}
	args = append(args, "-c", "copy", "-map_metadata", "0", "-map_chapters", "0")
	for i, t := range target {
		s, _ := findTrack(src, t.ID)
		n := strconv.Itoa(i)
		args = append(args, "-disposition:"+n, disposition(d.dispositions[t.ID], t))
		if s.Language != t.Language {
			args = append(args, "-metadata:s:"+n, "language="+langArg(t.Language))
		}
		if s.Title != t.Title {
			args = append(args, "-metadata:s:"+n, "title="+t.Title)
		}
	}
	switch format {
	case "mp4", "mov":
		// Keep the index at the front, for players that stream the file.
		args = append(args, "-movflags", "+faststart")
	case "matroska", "webm":
		// Write the default flags as the dispositions say, not inferred.
		args = append(args, "-default_mode", "passthrough")
	}
	return append(args, "-f", format, "file:"+out)
}

// runFFmpeg copies the streams into tmp.
func (j *job) runFFmpeg(ctx context.Context, tmp string) error {
	format, err := ffmpegFormat(j.final, j.dstKind)
	if err != nil {
		return err
	}
	_, err = j.e.tool(ToolFFmpeg).Run(ctx, toolrun.Cmd{
		Args:    ffmpegArgs(tmp, j.path, format, j.req.Plan.File.Tracks, j.target.Tracks, j.src),
		Timeout: j.e.Timeout,
	})
	return err
}
