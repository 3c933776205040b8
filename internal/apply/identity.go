package apply

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vpo-project/vpo/internal/policy"
)

// ErrIdentity is wrapped by errors reporting that the tracks ffprobe lists
// cannot be matched one to one with the tracks mkvmerge lists. Apply then
// refuses to edit the file rather than risk editing the wrong track.
var ErrIdentity = errors.New("track identity")

// mkvInfo is the part of `mkvmerge -J` that apply uses.
type mkvInfo struct {
	Container struct {
		Recognized bool `json:"recognized"`
		Supported  bool `json:"supported"`
	} `json:"container"`
	Errors      []string        `json:"errors"`
	Tracks      []mkvTrack      `json:"tracks"`
	Attachments []mkvAttachment `json:"attachments"`
}

type mkvTrack struct {
	ID         int    `json:"id"`
	Type       string `json:"type"` // video, audio, subtitles
	Properties struct {
		UID      uint64 `json:"uid"`
		Number   int    `json:"number"`
		CodecID  string `json:"codec_id"`
		Language string `json:"language"`
		Name     string `json:"track_name"`
		Default  bool   `json:"default_track"`
		Forced   bool   `json:"forced_track"`
	} `json:"properties"`
}

type mkvAttachment struct {
	ID          int    `json:"id"`
	FileName    string `json:"file_name"`
	ContentType string `json:"content_type"`
	Properties  struct {
		UID uint64 `json:"uid"`
	} `json:"properties"`
}

func parseMKVInfo(data []byte) (*mkvInfo, error) {
	var info mkvInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("parse mkvmerge -J output: %w", err)
	}
	if len(info.Errors) > 0 {
		msgs := make([]string, len(info.Errors))
		for i, m := range info.Errors {
			msgs[i] = strings.TrimSpace(m)
		}
		return nil, fmt.Errorf("mkvmerge -J: %s", strings.Join(msgs, "; "))
	}
	if !info.Container.Supported {
		return nil, errors.New("mkvmerge -J: container not supported")
	}
	return &info, nil
}

// mkvRef is how mkvtoolnix names one ffprobe stream.
type mkvRef struct {
	attachment bool
	// id is mkvmerge's track ID, or its attachment ID.
	id int
	// uid is the Matroska TrackUID or FileUID.
	uid uint64
}

// mkvType is mkvmerge's name for a policy track type.
func mkvType(t string) string {
	if t == policy.TypeSubtitle {
		return "subtitles"
	}
	return t
}

// codecIDs maps ffprobe codec names to the Matroska CodecID prefixes they
// come from. Codecs missing here are not checked (type, language, title and
// flags still are).
var codecIDs = map[string][]string{
	"h264":              {"V_MPEG4/ISO/AVC"},
	"hevc":              {"V_MPEGH/ISO/HEVC"},
	"av1":               {"V_AV1"},
	"vp8":               {"V_VP8"},
	"vp9":               {"V_VP9"},
	"mpeg4":             {"V_MPEG4/ISO/", "V_MS/VFW/FOURCC"},
	"mpeg2video":        {"V_MPEG2", "V_MPEG1"},
	"aac":               {"A_AAC"},
	"ac3":               {"A_AC3"},
	"eac3":              {"A_EAC3"},
	"dts":               {"A_DTS"},
	"truehd":            {"A_TRUEHD"},
	"flac":              {"A_FLAC"},
	"opus":              {"A_OPUS"},
	"vorbis":            {"A_VORBIS"},
	"mp3":               {"A_MPEG/L3"},
	"mp2":               {"A_MPEG/L2"},
	"subrip":            {"S_TEXT/UTF8", "S_TEXT/ASCII"},
	"ass":               {"S_TEXT/ASS", "S_ASS"},
	"ssa":               {"S_TEXT/SSA", "S_SSA"},
	"webvtt":            {"S_TEXT/WEBVTT"},
	"hdmv_pgs_subtitle": {"S_HDMV/PGS"},
	"dvd_subtitle":      {"S_VOBSUB"},
}

func codecMatches(ffprobeCodec, codecID string) bool {
	if strings.HasPrefix(ffprobeCodec, "pcm_") {
		return strings.HasPrefix(codecID, "A_PCM")
	}
	prefixes, ok := codecIDs[ffprobeCodec]
	if !ok {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(codecID, p) {
			return true
		}
	}
	return false
}

// mapMKV maps every ffprobe stream of src (by [policy.Track.ID]) to the
// mkvmerge track or attachment it is. It matches streams by their order
// within each type, and checks each pair's codec, language, title and
// flags, so that a file on which the two tools disagree is refused instead
// of edited at the wrong track. names holds the attachments' file names by
// stream ID, when ffprobe reported them.
func mapMKV(src []policy.Track, names map[int]string, info *mkvInfo) (map[int]mkvRef, error) {
	byType := map[string][]mkvTrack{}
	for _, t := range info.Tracks {
		byType[t.Type] = append(byType[t.Type], t)
	}
	seen := map[string]int{}
	refs := make(map[int]mkvRef, len(src))
	attach := 0
	lastID := -1
	for _, s := range src {
		switch s.Type {
		case policy.TypeAttachment:
			if attach >= len(info.Attachments) {
				return nil, fmt.Errorf("%w: ffprobe lists more attachments than mkvmerge (%d)", ErrIdentity, len(info.Attachments))
			}
			a := info.Attachments[attach]
			attach++
			if n := names[s.ID]; n != "" && n != a.FileName {
				return nil, fmt.Errorf("%w: ffprobe stream %d is attachment %q, mkvmerge attachment %d is %q", ErrIdentity, s.ID, n, a.ID, a.FileName)
			}
			refs[s.ID] = mkvRef{attachment: true, id: a.ID, uid: a.Properties.UID}
			continue
		case policy.TypeVideo, policy.TypeAudio, policy.TypeSubtitle:
		default:
			return nil, fmt.Errorf("%w: ffprobe stream %d is of type %s, which mkvmerge does not list", ErrIdentity, s.ID, s.Type)
		}
		mt := mkvType(s.Type)
		list := byType[mt]
		k := seen[mt]
		seen[mt]++
		if k >= len(list) {
			return nil, fmt.Errorf("%w: ffprobe lists more %s tracks than mkvmerge (%d)", ErrIdentity, s.Type, len(list))
		}
		m := list[k]
		p := m.Properties
		var diffs []string
		if !codecMatches(s.Codec, p.CodecID) {
			diffs = append(diffs, fmt.Sprintf("codec %s vs %s", s.Codec, p.CodecID))
		}
		if !policy.SameLanguage(s.Language, p.Language) {
			diffs = append(diffs, fmt.Sprintf("language %q vs %q", s.Language, p.Language))
		}
		if s.Title != p.Name {
			diffs = append(diffs, fmt.Sprintf("title %q vs %q", s.Title, p.Name))
		}
		if s.Default != p.Default || s.Forced != p.Forced {
			diffs = append(diffs, fmt.Sprintf("default/forced %t/%t vs %t/%t", s.Default, s.Forced, p.Default, p.Forced))
		}
		if len(diffs) > 0 {
			return nil, fmt.Errorf("%w: ffprobe stream %d (%s) does not match mkvmerge track %d: %s", ErrIdentity, s.ID, s.Type, m.ID, strings.Join(diffs, ", "))
		}
		if m.ID <= lastID {
			return nil, fmt.Errorf("%w: ffprobe and mkvmerge list the tracks in different orders (stream %d is mkvmerge track %d)", ErrIdentity, s.ID, m.ID)
		}
		lastID = m.ID
		if p.UID == 0 {
			return nil, fmt.Errorf("%w: mkvmerge track %d has no UID", ErrIdentity, m.ID)
		}
		refs[s.ID] = mkvRef{id: m.ID, uid: p.UID}
	}
	for mt, list := range byType {
		if seen[mt] != len(list) {
			return nil, fmt.Errorf("%w: mkvmerge lists %d %s tracks, ffprobe %d", ErrIdentity, len(list), mt, seen[mt])
		}
	}
	if attach != len(info.Attachments) {
		return nil, fmt.Errorf("%w: mkvmerge lists %d attachments, ffprobe %d", ErrIdentity, len(info.Attachments), attach)
	}
	return refs, nil
}
