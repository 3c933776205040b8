package apply

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/policy"
)

func mkvT(id int, typ, codecID, lang, name string, def bool, uid uint64) mkvTrack {
	var t mkvTrack
	t.ID, t.Type = id, typ
	t.Properties.UID, t.Properties.Number, t.Properties.CodecID = uid, id+1, codecID
	t.Properties.Language, t.Properties.Name, t.Properties.Default = lang, name, def
	return t
}

func TestMapMKV(t *testing.T) {
	t.Parallel()
	src := []policy.Track{
		{ID: 0, Type: policy.TypeVideo, Codec: "h264", Default: true},
		{ID: 1, Type: policy.TypeAudio, Codec: "aac", Language: "eng", Title: "Main", Default: true},
		{ID: 2, Type: policy.TypeAudio, Codec: "ac3", Language: "fra"},
		{ID: 3, Type: policy.TypeSubtitle, Codec: "subrip", Language: "eng"},
		{ID: 4, Type: policy.TypeAttachment, Codec: "ttf"},
	}
	good := func() *mkvInfo {
		info := &mkvInfo{Tracks: []mkvTrack{
			mkvT(0, "video", "V_MPEG4/ISO/AVC", "und", "", true, 100),
			mkvT(1, "audio", "A_AAC", "eng", "Main", true, 101),
			mkvT(2, "audio", "A_AC3", "fre", "", false, 102),
			mkvT(3, "subtitles", "S_TEXT/UTF8", "eng", "", false, 103),
		}}
		var a mkvAttachment
		a.ID, a.FileName, a.Properties.UID = 1, "font.ttf", 900
		info.Attachments = []mkvAttachment{a}
		return info
	}
	tests := []struct {
		name    string
		src     []policy.Track
		edit    func(*mkvInfo)
		names   map[int]string
		want    map[int]mkvRef
		errText string
	}{
		{
			name: "match", src: src, names: map[int]string{4: "font.ttf"},
			want: map[int]mkvRef{0: {id: 0, uid: 100}, 1: {id: 1, uid: 101}, 2: {id: 2, uid: 102}, 3: {id: 3, uid: 103}, 4: {attachment: true, id: 1, uid: 900}},
		},
		{
			name: "mkvmerge has a track ffprobe does not list", src: src,
			edit: func(i *mkvInfo) {
				i.Tracks = append(i.Tracks, mkvT(4, "subtitles", "S_HDMV/PGS", "eng", "", false, 104))
			},
			errText: "mkvmerge lists 2 subtitles tracks, ffprobe 1",
		},
		{
			name: "ffprobe has a track mkvmerge does not list", src: src,
			edit:    func(i *mkvInfo) { i.Tracks = i.Tracks[:3] },
			errText: "ffprobe lists more subtitle tracks than mkvmerge (0)",
		},
		{
			name: "codec differs", src: src,
			edit:    func(i *mkvInfo) { i.Tracks[2].Properties.CodecID = "A_DTS" },
			errText: "ffprobe stream 2 (audio) does not match mkvmerge track 2: codec ac3 vs A_DTS",
		},
		{
			name: "language and title differ", src: src,
			edit: func(i *mkvInfo) {
				i.Tracks[1], i.Tracks[2] = i.Tracks[2], i.Tracks[1]
				i.Tracks[1].ID, i.Tracks[2].ID = 1, 2
			},
			errText: "ffprobe stream 1 (audio) does not match mkvmerge track 1: codec aac vs A_AC3, language \"eng\" vs \"fre\", title \"Main\" vs \"\", default/forced true/false vs false/false",
		},
		{
			name: "orders differ across types", src: src,
			edit: func(i *mkvInfo) {
				// The subtitle comes before the audio tracks in mkvmerge's list.
				i.Tracks = []mkvTrack{i.Tracks[0], i.Tracks[3], i.Tracks[1], i.Tracks[2]}
				i.Tracks[1].ID, i.Tracks[2].ID, i.Tracks[3].ID = 1, 2, 3
			},
			errText: "ffprobe and mkvmerge list the tracks in different orders (stream 3 is mkvmerge track 1)",
		},
		{
			name: "attachment names differ", src: src, names: map[int]string{4: "other.ttf"},
			errText: "ffprobe stream 4 is attachment \"other.ttf\", mkvmerge attachment 1 is \"font.ttf\"",
		},
		{
			name: "attachment missing", src: src,
			edit:    func(i *mkvInfo) { i.Attachments = nil },
			errText: "ffprobe lists more attachments than mkvmerge (0)",
		},
		{
			name: "data stream", src: append(slices.Clone(src), policy.Track{ID: 5, Type: policy.TypeData}),
			errText: "ffprobe stream 5 is of type data, which mkvmerge does not list",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			info := good()
			if tt.edit != nil {
				tt.edit(info)
			}
			got, err := mapMKV(tt.src, tt.names, info)
			if tt.errText != "" {
				if !errors.Is(err, ErrIdentity) || !strings.Contains(err.Error(), tt.errText) {
					t.Fatalf("err = %v, want ErrIdentity with %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("stream %d: %+v, want %+v", k, got[k], v)
				}
			}
		})
	}
}

func TestDisposition(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		flags []string
		track policy.Track
		want  string
	}{
		{name: "nothing", want: "0"},
		{name: "default cleared, comment kept", flags: []string{"comment", "default"}, want: "comment"},
		{name: "forced set, hearing impaired kept", flags: []string{"hearing_impaired"}, track: policy.Track{Forced: true}, want: "forced+hearing_impaired"},
		{name: "default set", track: policy.Track{Default: true}, want: "default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := disposition(tt.flags, tt.track); got != tt.want {
				t.Errorf("disposition = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMKVMergeArgs(t *testing.T) {
	t.Parallel()
	src := []policy.Track{
		{ID: 0, Type: policy.TypeVideo}, {ID: 1, Type: policy.TypeAudio}, {ID: 2, Type: policy.TypeAudio, Language: "fra"},
		{ID: 3, Type: policy.TypeSubtitle}, {ID: 4, Type: policy.TypeAttachment},
	}
	target := []policy.Track{
		{ID: 0, Type: policy.TypeVideo, Default: true}, {ID: 2, Type: policy.TypeAudio, Language: "fra", Default: true, Title: "Français, 5.1"},
	}
	refs := map[int]mkvRef{0: {id: 0}, 1: {id: 1}, 2: {id: 2}, 3: {id: 3}, 4: {attachment: true, id: 1}}
	got := strings.Join(mkvMergeArgs("out.mkv", "in.mkv", src, target, refs), " ")
	want := "--output out.mkv --audio-tracks 2 --no-subtitles --no-attachments " +
		"--default-track-flag 0:1 --forced-display-flag 0:0 --language 0:und --track-name 0: " +
		"--default-track-flag 2:1 --forced-display-flag 2:0 --language 2:fra --track-name 2:Français, 5.1 " +
		"--track-order 0:0,0:2 in.mkv"
	if got != want {
		t.Errorf("args:\n%s\nwant:\n%s", got, want)
	}
}

// TestMKVMergeArgsAttachments: attachments are not tracks to mkvmerge: they are
// selected by their own IDs (--attachments), and --track-order, whose IDs are
// track IDs, never names one, wherever the plan puts it.
func TestMKVMergeArgsAttachments(t *testing.T) {
	t.Parallel()
	src := []policy.Track{
		{ID: 0, Type: policy.TypeVideo}, {ID: 1, Type: policy.TypeAudio}, {ID: 2, Type: policy.TypeSubtitle},
		{ID: 3, Type: policy.TypeAttachment}, {ID: 4, Type: policy.TypeAttachment},
	}
	target := []policy.Track{
		{ID: 4, Type: policy.TypeAttachment}, {ID: 0, Type: policy.TypeVideo}, {ID: 2, Type: policy.TypeSubtitle}, {ID: 1, Type: policy.TypeAudio},
	}
	refs := map[int]mkvRef{0: {id: 0}, 1: {id: 1}, 2: {id: 2}, 3: {attachment: true, id: 1}, 4: {attachment: true, id: 2}}
	got := strings.Join(mkvMergeArgs("out.mkv", "in.mkv", src, target, refs), " ")
	if !strings.Contains(got, " --attachments 2 ") {
		t.Errorf("the kept attachment is not selected by its attachment ID: %s", got)
	}
	if !strings.HasSuffix(got, " --track-order 0:0,0:2,0:1 in.mkv") {
		t.Errorf("--track-order must list the tracks only: %s", got)
	}
}
