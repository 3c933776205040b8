package catalog

import (
	"testing"
	"time"
)

// TestParseTime checks parseTime's fast path against time.ParseInLocation,
// the definition of timeFormat.
func TestParseTime(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"ordinary", "2026-12-02 03:04:05.678"},
		{"zero millis", "2024-01-01 00:00:00.000"},
		{"end of day", "1999-12-31 23:59:59.999"},
		{"leap day", "2024-02-29 12:00:00.001"},
		{"no leap day", "2023-02-29 12:00:00.001"},
		{"february 30", "2024-02-30 12:00:00.000"},
		{"april 31", "2024-04-31 12:00:00.000"},
		{"month 13", "2024-13-01 12:00:00.000"},
		{"hour 24", "2024-01-01 24:00:00.000"},
		{"second 60", "2024-01-01 23:59:60.000"},
		{"letter", "2024-01-0x 12:00:00.000"},
		{"sign", "2024-01-+1 12:00:00.000"},
		{"no millis", "2024-01-01 12:00:00"},
		{"T separator", "2024-01-01T12:00:00.000"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, _ := time.ParseInLocation(timeFormat, tt.in, time.UTC)
			if got := parseTime(tt.in); !got.Equal(want) || got.Location() != want.Location() {
				t.Errorf("parseTime(%q) = %v, want %v", tt.in, got, want)
			}
		})
	}
}

func BenchmarkParseTime(b *testing.B) {
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			parseTime("2026-12-02 03:04:05.678")
		}
	})
	b.Run("ParseInLocation", func(b *testing.B) {
		for b.Loop() {
			_, _ = time.ParseInLocation(timeFormat, "2026-12-02 03:04:05.678", time.UTC)
		}
	})
}
