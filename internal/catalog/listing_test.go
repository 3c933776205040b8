package catalog

import (
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
