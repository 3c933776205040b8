package probe

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want *Result
	}{
		{
			name: "numbers as strings",
			json: `{"format":{"format_name":"mov,mp4,m4a,3gp,3g2,mj2","duration":"12.500000","bit_rate":"12345"},
				"streams":[{"index":0,"codec_type":"video","codec_name":"h264","width":"1920","height":1080,
				"avg_frame_rate":"30000/1001","r_frame_rate":"30000/1001"}]}`,
			want: &Result{Container: "mov,mp4,m4a,3gp,3g2,mj2", Duration: 12.5, BitRate: 12345, Tracks: []Track{
				{Index: 0, Type: "video", Codec: "h264", Width: 1920, Height: 1080, FrameRate: 30000.0 / 1001},
			}},
		},
		{
			name: "native numbers",
			json: `{"format":{"format_name":"matroska,webm","duration":3.5,"bit_rate":1000},
				"streams":[{"index":2,"codec_type":"audio","codec_name":"opus","channels":6,"channel_layout":"5.1"}]}`,
			want: &Result{Container: "matroska,webm", Duration: 3.5, BitRate: 1000, Tracks: []Track{
				{Index: 2, Type: "audio", Codec: "opus", Channels: 6, ChannelLayout: "5.1"},
			}},
		},
		{
			name: "N/A and 0/0 frame rate falls back to r_frame_rate",
			json: `{"format":{"format_name":"avi","duration":"N/A","bit_rate":"N/A"},
				"streams":[{"index":0,"codec_type":"video","codec_name":"mpeg4","width":"N/A",
				"avg_frame_rate":"0/0","r_frame_rate":"25/1","channel_layout":"N/A"}]}`,
			want: &Result{Container: "avi", Tracks: []Track{
				{Index: 0, Type: "video", Codec: "mpeg4", FrameRate: 25},
			}},
		},
		{
			name: "all frame rates unknown",
			json: `{"streams":[{"codec_type":"video","avg_frame_rate":"0/0","r_frame_rate":"N/A"}]}`,
			want: &Result{Tracks: []Track{{Index: 0, Type: "video"}}},
		},
		{
			name: "upper-case and TAG: prefixed tags",
			json: `{"format":{"format_name":"x"},"streams":[
				{"index":0,"codec_type":"audio","tags":{"LANGUAGE":"ger","Title":"Deutsch"}},
				{"index":1,"codec_type":"subtitle","TAG:language":"spa","TAG:TITLE":"Forzados"},
				{"index":2,"codec_type":"audio","tags":{"TAG:language":"ita"}}]}`,
			want: &Result{Container: "x", Tracks: []Track{
				{Index: 0, Type: "audio", Language: "ger", Title: "Deutsch"},
				{Index: 1, Type: "subtitle", Language: "spa", Title: "Forzados"},
				{Index: 2, Type: "audio", Language: "ita"},
			}},
		},
		{
			name: "lower-case tag wins over other spellings",
			json: `{"streams":[{"codec_type":"audio","tags":{"LANGUAGE":"fra","language":"eng","Language":"deu"}}]}`,
			want: &Result{Tracks: []Track{{Index: 0, Type: "audio", Language: "eng"}}},
		},
		{
			name: "dispositions as ints, bools, strings and flat keys",
			json: `{"streams":[
				{"index":0,"codec_type":"subtitle","disposition":{"default":1,"forced":0}},
				{"index":1,"codec_type":"subtitle","disposition":{"default":false,"forced":true}},
				{"index":2,"codec_type":"subtitle","disposition":{"default":"1","forced":"0"}},
				{"index":3,"codec_type":"subtitle","DISPOSITION:default":1,"DISPOSITION:forced":1},
				{"index":4,"codec_type":"subtitle","disposition":"weird"}]}`,
			want: &Result{Tracks: []Track{
				{Index: 0, Type: "subtitle", Default: true},
				{Index: 1, Type: "subtitle", Forced: true},
				{Index: 2, Type: "subtitle", Default: true},
				{Index: 3, Type: "subtitle", Default: true, Forced: true},
				{Index: 4, Type: "subtitle"},
			}},
		},
		{
			name: "missing index uses position, unknown type is data",
			json: `{"streams":[{"codec_type":"video"},{"codec_type":"unknown"},{},{"codec_type":"ATTACHMENT","codec_name":"ttf"},null]}`,
			want: &Result{Tracks: []Track{
				{Index: 0, Type: "video"},
				{Index: 1, Type: "data"},
				{Index: 2, Type: "data"},
				{Index: 3, Type: "attachment", Codec: "ttf"},
				{Index: 4, Type: "data"},
			}},
		},
		{
			name: "format without streams",
			json: `{"format":{"format_name":"mp3","duration":"1.0"}}`,
			want: &Result{Container: "mp3", Duration: 1, Tracks: []Track{}},
		},
		{
			name: "duration falls back to longest stream",
			json: `{"format":{"format_name":"matroska,webm"},"streams":[
				{"codec_type":"video","tags":{"DURATION":"00:01:02.500000000"}},
				{"codec_type":"audio","duration":"10.0"}]}`,
			want: &Result{Container: "matroska,webm", Duration: 62.5, Tracks: []Track{
				{Index: 0, Type: "video"}, {Index: 1, Type: "audio"},
			}},
		},
		{
			name: "invalid and out-of-range values are ignored",
			json: `{"format":{"format_name":"x","duration":"-4","bit_rate":"1e400"},"streams":[
				{"index":-1,"codec_type":"video","width":-5,"height":1e20,"avg_frame_rate":"1/0","r_frame_rate":"-25/1"},
				{"index":"7","codec_type":"audio","channels":"2.0","codec_name":{"x":1},"tags":{"language":5,"title":["a"]}},
				{"index":2,"codec_type":"audio","duration":"NaN","tags":{"DURATION":"00:00:0x1p3"}}]}`,
			want: &Result{Container: "x", Tracks: []Track{
				{Index: 0, Type: "video"},
				{Index: 7, Type: "audio", Channels: 2, Language: "5"},
				{Index: 2, Type: "audio"},
			}},
		},
		{
			name: "fractional bit rate is truncated",
			json: `{"format":{"format_name":"x","bit_rate":"1.5e3"}}`,
			want: &Result{Container: "x", BitRate: 1500, Tracks: []Track{}},
		},
		{
			name: "plain frame rate",
			json: `{"streams":[{"codec_type":"video","avg_frame_rate":"24"}]}`,
			want: &Result{Tracks: []Track{{Index: 0, Type: "video", FrameRate: 24}}},
		},
		{
			name: "audio fields ignored on video and vice versa",
			json: `{"streams":[{"codec_type":"video","channels":2,"width":10},{"codec_type":"audio","width":10,"channels":1,"r_frame_rate":"25/1"}]}`,
			want: &Result{Tracks: []Track{{Index: 0, Type: "video", Width: 10}, {Index: 1, Type: "audio", Channels: 1}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.json))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		json string
		want string // substring of the error
	}{
		{name: "empty", json: "", want: "not a JSON object"},
		{name: "whitespace", json: " \n", want: "not a JSON object"},
		{name: "text", json: "moov atom not found", want: "not a JSON object"},
		{name: "array", json: "[]", want: "not a JSON object"},
		{name: "null", json: "null", want: "not a JSON object"},
		{name: "empty object", json: "{}", want: "no format and no streams"},
		{name: "ffprobe failure output", json: "{\n\n}\n", want: "no format and no streams"},
		{name: "empty streams", json: `{"streams":[]}`, want: "no format and no streams"},
		{name: "null members", json: `{"streams":null,"format":null}`, want: "no format and no streams"},
		{name: "empty format", json: `{"format":{}}`, want: "no format and no streams"},
		{name: "streams not an array", json: `{"streams":{}}`, want: "cannot unmarshal"},
		{name: "stream not an object", json: `{"streams":[1]}`, want: "cannot unmarshal"},
		{name: "format not an object", json: `{"format":"mkv"}`, want: "cannot unmarshal"},
		{name: "truncated", json: `{"streams":[{"index":0`, want: "unexpected end of JSON input"},
		{name: "trailing garbage", json: `{"format":{"format_name":"x"}} x`, want: "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse([]byte(tt.json))
			if err == nil {
				t.Fatalf("Parse = %+v, want error", got)
			}
			if !errors.Is(err, ErrInvalidOutput) {
				t.Errorf("error %v does not wrap ErrInvalidOutput", err)
			}
			if !strings.HasPrefix(err.Error(), "ffprobe output: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q and substring %q", err, "ffprobe output: ", tt.want)
			}
		})
	}
}

// TestParseCaptured parses ffprobe 5.1 output captured from the files
// that testmedia generates.
func TestParseCaptured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file string
		want *Result
	}{
		{
			file: "ffprobe-mkv.json",
			want: &Result{Container: "matroska,webm", Duration: 1.04, BitRate: 687307, Tracks: []Track{
				{Index: 0, Type: "video", Codec: "h264", Title: "Test Video", Default: true, Width: 160, Height: 120, FrameRate: 25},
				{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Title: "English Stereo", Default: true, Channels: 2, ChannelLayout: "stereo"},
				{Index: 2, Type: "audio", Codec: "ac3", Language: "fra", Title: "Français 5.1", Channels: 6, ChannelLayout: "5.1(side)"},
				{Index: 3, Type: "subtitle", Codec: "subrip", Language: "eng", Title: "English Forced", Forced: true},
			}},
		},
		{
			file: "ffprobe-mp4.json",
			want: &Result{Container: "mov,mp4,m4a,3gp,3g2,mj2", Duration: 1, BitRate: 256768, Tracks: []Track{
				{Index: 0, Type: "video", Codec: "h264", Language: "und", Default: true, Width: 160, Height: 120, FrameRate: 25},
				{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Default: true, Channels: 2, ChannelLayout: "stereo"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

func TestTrackJSON(t *testing.T) {
	t.Parallel()
	got, err := json.Marshal(Track{Index: 1, Type: "audio", Codec: "aac"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"index":1,"type":"audio","codec":"aac","default":false,"forced":false}`
	if string(got) != want {
		t.Errorf("json = %s, want %s", got, want)
	}
	got, err = json.Marshal(Track{Index: 0, Type: "video", Codec: "h264", Language: "eng", Title: "t", Default: true,
		Forced: true, Channels: 2, ChannelLayout: "stereo", Width: 4, Height: 3, FrameRate: 25})
	if err != nil {
		t.Fatal(err)
	}
	want = `{"index":0,"type":"video","codec":"h264","language":"eng","title":"t","default":true,"forced":true,` +
		`"channels":2,"channel_layout":"stereo","width":4,"height":3,"frame_rate":25}`
	if string(got) != want {
		t.Errorf("json = %s, want %s", got, want)
	}
}

func TestStderrMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		stderr string
		want   string
	}{
		{name: "empty", stderr: "", want: ""},
		{name: "blank lines", stderr: "\n \n", want: ""},
		{
			name:   "fatal line with input prefix",
			stderr: "[matroska,webm @ 0x55f7368de1c0] File ended prematurely at pos. 64 (0x40)\n    Last message repeated 1 times\nfile:/m/a.mkv: Input/output error\n",
			want:   "Input/output error",
		},
		{
			name:   "address removed",
			stderr: "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55ddc873a1c0] moov atom not found\n",
			want:   "[mov,mp4,m4a,3gp,3g2,mj2] moov atom not found",
		},
		{name: "long line", stderr: strings.Repeat("é", 600), want: strings.Repeat("é", maxMessage/2) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := stderrMessage([]byte(tt.stderr), "file:/m/a.mkv"); got != tt.want {
				t.Errorf("stderrMessage = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBuffers(t *testing.T) {
	t.Parallel()
	lb := &limitedBuffer{max: 5}
	for _, s := range []string{"ab", "cd", "efg", "h"} {
		if n, err := lb.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if string(lb.buf) != "abcde" || !lb.overflow {
		t.Errorf("limitedBuffer = %q overflow=%v", lb.buf, lb.overflow)
	}

	tb := &tailBuffer{max: 5}
	for _, s := range []string{"ab", "cd", "efg", "h"} {
		if n, err := tb.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	if string(tb.Bytes()) != "defgh" {
		t.Errorf("tailBuffer = %q", tb.Bytes())
	}
	if _, err := tb.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if string(tb.Bytes()) != "56789" {
		t.Errorf("tailBuffer = %q", tb.Bytes())
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"ffprobe-mkv.json", "ffprobe-mp4.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"streams":[{"codec_type":"video","avg_frame_rate":"30000/1001","tags":{"LANGUAGE":"eng"}}]}`))
	f.Add([]byte(`{"format":{"duration":"N/A","bit_rate":"1e3"},"streams":[{"TAG:title":"x","DISPOSITION:forced":"1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Parse(data)
		if err != nil {
			if res != nil {
				t.Fatalf("Parse returned both a result and error %v", err)
			}
			if !errors.Is(err, ErrInvalidOutput) {
				t.Fatalf("error %v does not wrap ErrInvalidOutput", err)
			}
			return
		}
		if res == nil || res.Tracks == nil {
			t.Fatalf("Parse returned nil result or tracks without error")
		}
		if res.Duration < 0 || math.IsNaN(res.Duration) || math.IsInf(res.Duration, 0) || res.BitRate < 0 {
			t.Fatalf("bad duration/bit rate: %+v", res)
		}
		for _, tr := range res.Tracks {
			switch tr.Type {
			case TypeVideo, TypeAudio, TypeSubtitle, TypeData, TypeAttachment:
			default:
				t.Fatalf("bad track type %q", tr.Type)
			}
			if tr.Index < 0 || tr.Channels < 0 || tr.Width < 0 || tr.Height < 0 ||
				tr.FrameRate < 0 || math.IsNaN(tr.FrameRate) || math.IsInf(tr.FrameRate, 0) {
				t.Fatalf("bad track: %+v", tr)
			}
		}
		if _, err := json.Marshal(res); err != nil {
			t.Fatalf("result does not marshal: %v", err)
		}
	})
}
