package policy

import (
	"reflect"
	"testing"

	"github.com/vpo-project/vpo/internal/probe"
)

func TestFileInfoFromProbe(t *testing.T) {
	r := probe.Result{Container: "matroska,webm", Duration: 60, Tracks: []probe.Track{
		{Index: 0, Type: probe.TypeVideo, Codec: "hevc", Default: true, Width: 3840, Height: 2160, FrameRate: 24},
		{Index: 2, Type: probe.TypeAudio, Codec: "eac3", Language: "ger", Title: "Deutsch", Forced: true, Channels: 6, ChannelLayout: "5.1(side)"},
		{Index: 5, Type: probe.TypeAttachment, Codec: "ttf"},
	}}
	got := FileInfoFromProbe("/m/f.mkv", 1234, r)
	want := FileInfo{Path: "/m/f.mkv", Container: "matroska,webm", Size: 1234, Duration: 60, Tracks: []Track{
		{ID: 0, Type: TypeVideo, Codec: "hevc", Default: true, Width: 3840, Height: 2160},
		{ID: 2, Type: TypeAudio, Codec: "eac3", Language: "ger", Title: "Deutsch", Forced: true, Channels: 6},
		{ID: 5, Type: TypeAttachment, Codec: "ttf"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("FileInfoFromProbe =\n%+v\nwant\n%+v", got, want)
	}
}

func TestContainerKind(t *testing.T) {
	for in, want := range map[string]string{
		"matroska,webm": "mkv", "matroska": "mkv", "mkv": "mkv", "webm": "mkv",
		"mov,mp4,m4a,3gp,3g2,mj2": "mp4", "mp4": "mp4", "MOV": "mp4",
		"avi": "avi", "": "",
	} {
		if got := ContainerKind(in); got != want {
			t.Errorf("ContainerKind(%q) = %q, want %q", in, got, want)
		}
	}
}
