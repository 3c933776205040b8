package catalog

import (
	"reflect"
	"testing"
	"time"
)

func TestTimestampAppendRFC3339(t *testing.T) {
	tests := []struct {
		name string
		ts   Timestamp
		want string
	}{
		{name: "milliseconds", ts: "2026-12-02 02:31:48.123", want: "2026-12-02T02:31:48.123Z"},
		{name: "trailing zero dropped", ts: "2026-12-02 02:31:48.120", want: "2026-12-02T02:31:48.12Z"},
		{name: "whole second", ts: "2026-12-02 02:31:48.000", want: "2026-12-02T02:31:48Z"},
		{name: "other format parsed", ts: "2026-12-02 02:31:48", want: "0001-01-01T00:00:00Z"},
		{name: "unset", ts: "", want: "0001-01-01T00:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(tt.ts.AppendRFC3339([]byte("x"))); got != "x"+tt.want {
				t.Errorf("AppendRFC3339(%q) = %q, want %q", tt.ts, got, "x"+tt.want)
			}
			// The same text as encoding/json's time.Time (RFC3339Nano in UTC).
			if tm := tt.ts.Time(); !tt.ts.IsZero() && tm.Format(timeFormat) == string(tt.ts) {
				if want := tm.UTC().Format(time.RFC3339Nano); want != tt.want {
					t.Errorf("time.Time formats %q, table says %q", want, tt.want)
				}
			}
		})
	}
}

func TestDecodeTrackSummaries(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []TrackSummary
		wantErr bool
	}{
		{name: "empty", in: `[]`, want: nil},
		{name: "two", in: `[[0,"video","h264","",0,0],[1,"audio","aac","eng",1,0]]`,
			want: []TrackSummary{{Index: 0, Type: "video", Codec: "h264"}, {Index: 1, Type: "audio", Codec: "aac", Language: "eng", Default: true}}},
		{name: "spaces and null", in: ` [ [3 , "subtitle" , null , "fra" , 0 , 1 ] ] `,
			want: []TrackSummary{{Index: 3, Type: "subtitle", Language: "fra", Forced: true}}},
		{name: "escapes", in: `[[2,"a\"b","c\\d","\u65e5\n",0,0]]`,
			want: []TrackSummary{{Index: 2, Type: `a"b`, Codec: `c\d`, Language: "日\n"}}},
		{name: "raw bytes kept", in: "[[1,\"x\xffy\",\"\",\"\",0,0]]", want: []TrackSummary{{Index: 1, Type: "x\xffy"}}},
		{name: "truncated", in: `[[0,"video","h264"`, wantErr: true},
		{name: "unterminated string", in: `[[0,"vid`, wantErr: true},
		{name: "not an integer", in: `[["0","video","h264","",0,0]]`, wantErr: true},
		{name: "trailing data", in: `[[0,"video","h264","",0,0]]x`, wantErr: true},
		{name: "not an array", in: `{}`, wantErr: true},
		{name: "empty input", in: ``, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeTrackSummaries(nil, []byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("decodeTrackSummaries(%q) error %v, want error %v", tt.in, err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("decodeTrackSummaries(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}
