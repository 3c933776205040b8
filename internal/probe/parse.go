// Package probe inspects media files with ffprobe.
//
// [Runner.Probe] runs ffprobe on one file in its own process group, bounded
// by a timeout and the caller's context, and [Parse] turns ffprobe's JSON
// output (-print_format json -show_format -show_streams) into a [Result].
package probe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidOutput is wrapped by every error [Parse] returns: the output is
// not valid JSON, does not have the expected shape, or describes neither a
// format nor any stream.
var ErrInvalidOutput = errors.New("ffprobe output")

// Track types reported in [Track.Type].
const (
	// TypeVideo is a video stream (including cover art in MP4).
	TypeVideo = "video"
	// TypeAudio is an audio stream.
	TypeAudio = "audio"
	// TypeSubtitle is a subtitle stream.
	TypeSubtitle = "subtitle"
	// TypeData is a data stream, or a stream of unknown type.
	TypeData = "data"
	// TypeAttachment is an attachment such as a Matroska font.
	TypeAttachment = "attachment"
)

// Result describes a media file as reported by ffprobe.
type Result struct {
	// Container is ffprobe's format_name verbatim, e.g. "matroska,webm"
	// or "mov,mp4,m4a,3gp,3g2,mj2"; empty if ffprobe reported no format.
	Container string `json:"container"`
	// Duration is the container duration in seconds, falling back to the
	// longest stream duration; 0 when unknown.
	Duration float64 `json:"duration"`
	// BitRate is the overall bit rate in bits per second; 0 when unknown.
	BitRate int64 `json:"bit_rate,omitempty"`
	// Tracks lists the streams in ffprobe's order.
	Tracks []Track `json:"tracks"`
}

// Track describes one stream of a media file.
type Track struct {
	// Index is the stream index within the file (ffprobe's "index", or
	// the position in the stream list when absent).
	Index int `json:"index"`
	// Type is one of TypeVideo, TypeAudio, TypeSubtitle, TypeData or
	// TypeAttachment; unknown or missing codec types are reported as
	// TypeData.
	Type string `json:"type"`
	// Codec is ffprobe's codec_name, e.g. "h264", "aac", "subrip"; empty
	// when ffprobe does not know the codec.
	Codec string `json:"codec"`
	// Language is the language tag verbatim (typically ISO 639-2, e.g.
	// "eng", or "und"); empty when untagged.
	Language string `json:"language,omitempty"`
	// Title is the title tag; empty when untagged.
	Title string `json:"title,omitempty"`
	// Default reports the "default" disposition.
	Default bool `json:"default"`
	// Forced reports the "forced" disposition.
	Forced bool `json:"forced"`
	// Channels is the audio channel count; 0 for non-audio or unknown.
	Channels int `json:"channels,omitempty"`
	// ChannelLayout is the audio channel layout, e.g. "stereo" or
	// "5.1(side)"; empty when unknown.
	ChannelLayout string `json:"channel_layout,omitempty"`
	// Width is the video width in pixels; 0 when unknown.
	Width int `json:"width,omitempty"`
	// Height is the video height in pixels; 0 when unknown.
	Height int `json:"height,omitempty"`
	// FrameRate is the video frame rate in frames per second, from
	// avg_frame_rate or else r_frame_rate; 0 when unknown or not video.
	FrameRate float64 `json:"frame_rate,omitempty"`
}

// rawObject is a JSON object whose values are decoded lazily.
type rawObject map[string]json.RawMessage

// output is the top level of ffprobe's JSON output.
type output struct {
	Streams []rawObject `json:"streams"`
	Format  rawObject   `json:"format"`
}

// Parse parses the output of
//
//	ffprobe -v error -print_format json -show_format -show_streams FILE
//
// It tolerates numbers encoded as strings, "N/A" and missing fields (which
// leave the corresponding field zero), tag keys in any case (also with a
// "TAG:" prefix) and dispositions given as numbers, booleans or strings.
// It returns an error wrapping [ErrInvalidOutput] if data is not a JSON
// object of the expected shape or holds neither a format nor any stream.
func Parse(data []byte) (*Result, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidOutput)
	}
	var out output
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOutput, err)
	}
	if len(out.Format) == 0 && len(out.Streams) == 0 {
		return nil, fmt.Errorf("%w: no format and no streams", ErrInvalidOutput)
	}

	res := &Result{Tracks: make([]Track, 0, len(out.Streams))}
	f := out.Format
	res.Container, _ = f.string("format_name")
	if d, ok := f.float("duration"); ok && d > 0 {
		res.Duration = d
	}
	if b, ok := f.int64("bit_rate"); ok && b > 0 {
		res.BitRate = b
	}

	var maxStreamDur float64
	for i, s := range out.Streams {
		res.Tracks = append(res.Tracks, parseTrack(i, s))
		if d := streamDuration(s); d > maxStreamDur {
			maxStreamDur = d
		}
	}
	if res.Duration == 0 {
		res.Duration = maxStreamDur
	}
	return res, nil
}

// parseTrack converts the i-th stream object.
func parseTrack(i int, s rawObject) Track {
	t := Track{Index: i}
	if idx, ok := s.int("index"); ok && idx >= 0 {
		t.Index = idx
	}
	typ, _ := s.string("codec_type")
	switch typ = strings.ToLower(typ); typ {
	case TypeVideo, TypeAudio, TypeSubtitle, TypeData, TypeAttachment:
		t.Type = typ
	default:
		t.Type = TypeData
	}
	t.Codec, _ = s.string("codec_name")
	t.Language = s.tag("language")
	t.Title = s.tag("title")
	t.Default = s.disposition("default")
	t.Forced = s.disposition("forced")

	switch t.Type {
	case TypeAudio:
		if c, ok := s.int("channels"); ok && c > 0 {
			t.Channels = c
		}
		t.ChannelLayout, _ = s.string("channel_layout")
	case TypeVideo:
		if w, ok := s.int("width"); ok && w > 0 {
			t.Width = w
		}
		if h, ok := s.int("height"); ok && h > 0 {
			t.Height = h
		}
		for _, key := range []string{"avg_frame_rate", "r_frame_rate"} {
			if r, ok := s.string(key); ok {
				if fr := parseRate(r); fr > 0 {
					t.FrameRate = fr
					break
				}
			}
		}
	}
	return t
}

// streamDuration returns a stream's duration in seconds from its
// "duration" field or its DURATION tag (as written by the Matroska muxer);
// 0 when unknown.
func streamDuration(s rawObject) float64 {
	if d, ok := s.float("duration"); ok && d > 0 {
		return d
	}
	return parseClock(s.tag("duration"))
}

// string returns the value of key as a string. JSON strings are returned
// as is, numbers and booleans in their JSON spelling; "N/A" counts as
// absent.
func (o rawObject) string(key string) (string, bool) {
	return rawString(o[key])
}

// float returns the value of key as a finite number.
func (o rawObject) float(key string) (float64, bool) {
	s, ok := o.string(key)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// int64 returns the value of key as an integer; fractional values are
// truncated and out-of-range values count as absent.
func (o rawObject) int64(key string) (int64, bool) {
	s, ok := o.string(key)
	if !ok {
		return 0, false
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, ok := o.float(key)
	if !ok || f >= math.MaxInt64 || f <= math.MinInt64 {
		return 0, false
	}
	return int64(f), true
}

// int returns the value of key as an int; values outside the int32 range
// count as absent.
func (o rawObject) int(key string) (int, bool) {
	n, ok := o.int64(key)
	if !ok || n > math.MaxInt32 || n < math.MinInt32 {
		return 0, false
	}
	return int(n), true
}

// tag returns the tag named name, matched case-insensitively, from the
// "tags" object or from top-level "TAG:name" keys. An exact lower-case
// match wins; otherwise the lexically first matching key is used so the
// result is deterministic.
func (o rawObject) tag(name string) string {
	var tags rawObject
	if raw, ok := o["tags"]; ok {
		_ = json.Unmarshal(raw, &tags) // a malformed tags value means no tags
	}
	if v, ok := tags.string(name); ok {
		return v
	}
	var keys []string
	for k := range tags {
		if matchKey(k, name) {
			keys = append(keys, "tags\x00"+k)
		}
	}
	for k := range o {
		if len(k) > len("TAG:") && strings.EqualFold(k[:len("TAG:")], "TAG:") && matchKey(k, name) {
			keys = append(keys, "top\x00"+k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		src, key, _ := strings.Cut(k, "\x00")
		obj := o
		if src == "tags" {
			obj = tags
		}
		if v, ok := obj.string(key); ok {
			return v
		}
	}
	return ""
}

// matchKey reports whether key names the tag name, ignoring case and an
// optional "TAG:" prefix.
func matchKey(key, name string) bool {
	if len(key) > len("TAG:") && strings.EqualFold(key[:len("TAG:")], "TAG:") {
		key = key[len("TAG:"):]
	}
	return strings.EqualFold(key, name)
}

// disposition reports whether the disposition flag name is set, from the
// "disposition" object or a top-level "DISPOSITION:name" key.
func (o rawObject) disposition(name string) bool {
	var disp rawObject
	if raw, ok := o["disposition"]; ok {
		_ = json.Unmarshal(raw, &disp) // a malformed disposition means none set
	}
	if v, ok := disp[name]; ok {
		return rawBool(v)
	}
	for k, v := range o {
		if strings.EqualFold(k, "DISPOSITION:"+name) {
			return rawBool(v)
		}
	}
	return false
}

// rawString decodes a JSON scalar as a string. Strings are unquoted,
// numbers and booleans are returned in their JSON spelling, and null,
// objects, arrays, invalid values and "N/A" count as absent.
func rawString(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil || s == "N/A" {
			return "", false
		}
		return s, true
	case c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f':
		if !json.Valid(raw) {
			return "", false
		}
		return string(raw), true
	default:
		return "", false
	}
}

// rawBool decodes a disposition flag: a non-zero number, true, or a string
// holding either.
func rawBool(raw json.RawMessage) bool {
	s, ok := rawString(raw)
	if !ok {
		return false
	}
	s = strings.TrimSpace(s)
	if b, err := strconv.ParseBool(s); err == nil {
		return b
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f != 0 && !math.IsNaN(f)
}

// parseRate parses a frame rate such as "30000/1001", "25/1" or "25";
// it returns 0 for "0/0", invalid or non-positive rates.
func parseRate(s string) float64 {
	num, den, hasDen := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0
	}
	d := 1.0
	if hasDen {
		if d, err = strconv.ParseFloat(den, 64); err != nil {
			return 0
		}
	}
	if d == 0 {
		return 0
	}
	r := n / d
	if math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
		return 0
	}
	return r
}

// parseClock parses a duration written as "HH:MM:SS.fraction" (the
// Matroska DURATION tag); it returns 0 if s is not in that form.
func parseClock(s string) float64 {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 3 {
		return 0
	}
	var total float64
	for i, p := range parts {
		if p == "" || strings.Trim(p, "0123456789.") != "" {
			return 0
		}
		v, err := strconv.ParseFloat(p, 64)
		if err != nil || v < 0 || (i > 0 && v >= 60) {
			return 0
		}
		total = total*60 + v
	}
	if math.IsInf(total, 0) || math.IsNaN(total) {
		return 0
	}
	return total
}
