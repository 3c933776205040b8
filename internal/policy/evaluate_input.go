package policy

import (
	"strings"

	"github.com/vpo-project/vpo/internal/probe"
)

// Track types as [Track.Type] holds them; they are probe's names.
const (
	TypeVideo      = probe.TypeVideo
	TypeAudio      = probe.TypeAudio
	TypeSubtitle   = probe.TypeSubtitle
	TypeAttachment = probe.TypeAttachment
	TypeData       = probe.TypeData
)

// Track is one track of a file as the evaluator sees it.
//
// ID is the track's stable identity: the stream index ffprobe reported when
// the file was catalogued. A [Plan] names tracks by ID only, never by
// position, because the position changes as a plan removes and reorders
// tracks, and because the other numberings of the same track differ from it:
// mkvmerge's track IDs skip attachments and count from 0 per file,
// mkvpropedit's track numbers (Matroska TrackNumber) count from 1, and
// ffprobe counts attachments as streams. An executor maps ID to the numbering
// its tool needs using the same probe output; it never uses a plan's
// positions.
type Track struct {
	// ID is the ffprobe stream index (see above).
	ID int `json:"id"`
	// Type is video, audio, subtitle, attachment or data.
	Type string `json:"type"`
	// Codec is ffprobe's codec name ("aac", "subrip"; for attachments the
	// MIME type or extension when known).
	Codec string `json:"codec"`
	// Language is the language tag verbatim; "" is und.
	Language string `json:"language,omitempty"`
	// Title is the track title; "" when untagged.
	Title string `json:"title,omitempty"`
	// Default and Forced are the dispositions.
	Default bool `json:"default"`
	Forced  bool `json:"forced"`
	// Channels is the audio channel count, 0 when unknown.
	Channels int `json:"channels,omitempty"`
	// Width and Height are the video size in pixels, 0 when unknown.
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
}

// FileInfo is the evaluator's input: a file and its tracks in file order.
type FileInfo struct {
	// Path is the file's path, for messages only.
	Path string `json:"path"`
	// Container is ffprobe's format name ("matroska,webm",
	// "mov,mp4,m4a,3gp,3g2,mj2"); see [ContainerKind].
	Container string `json:"container"`
	// Size is the file size in bytes; 0 when unknown.
	Size int64 `json:"size,omitempty"`
	// Duration is the duration in seconds; 0 when unknown.
	Duration float64 `json:"duration,omitempty"`
	// Tracks lists the tracks in file order.
	Tracks []Track `json:"tracks"`
}

// TrackFromProbe converts a catalogued or freshly probed track.
func TrackFromProbe(t probe.Track) Track {
	return Track{
		ID:       t.Index,
		Type:     t.Type,
		Codec:    t.Codec,
		Language: t.Language,
		Title:    t.Title,
		Default:  t.Default,
		Forced:   t.Forced,
		Channels: t.Channels,
		Width:    t.Width,
		Height:   t.Height,
	}
}

// FileInfoFromProbe builds the evaluator's input from a probe result (the
// catalogue stores the same tracks: catalog.File.Tracks).
func FileInfoFromProbe(path string, size int64, r probe.Result) FileInfo {
	f := FileInfo{Path: path, Container: r.Container, Size: size, Duration: r.Duration}
	f.Tracks = make([]Track, len(r.Tracks))
	for i, t := range r.Tracks {
		f.Tracks[i] = TrackFromProbe(t)
	}
	return f
}

const (
	kindMKV = string(ContainerMKV)
	kindMP4 = string(ContainerMP4)
)

// ContainerKind reduces an ffprobe format name or a policy's container
// target to a short kind: "mkv" for Matroska and WebM, "mp4" for the
// ISO-BMFF family (mp4, m4v, mov), else the name in lower case.
func ContainerKind(format string) string {
	f := strings.ToLower(strings.TrimSpace(format))
	switch {
	case f == "mkv" || strings.Contains(f, "matroska") || f == "webm":
		return kindMKV
	case f == "mp4" || f == "m4v" || f == "mov" || strings.Contains(f, "mp4"):
		return kindMP4
	}
	return f
}
