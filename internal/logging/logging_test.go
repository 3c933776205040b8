package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format string
		check  func(t *testing.T, out string)
	}{
		{name: "text", format: "text", check: func(t *testing.T, out string) {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 2 {
				t.Fatalf("want 2 lines (one per record, newlines escaped), got %q", out)
			}
			want := `level=WARNING message="file skipped" logger=vpo.scan job_id=7 file_path="/lib/bad\xffname\n.mkv"`
			if !strings.Contains(lines[0], want) || !strings.HasPrefix(lines[0], "timestamp=") {
				t.Errorf("line %q does not contain %q", lines[0], want)
			}
			if strings.Contains(lines[1], "logger=vpo ") || strings.Count(lines[1], "logger=") != 1 {
				t.Errorf("want exactly one logger name: %q", lines[1])
			}
		}},
		{name: "json", format: "json", check: func(t *testing.T, out string) {
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("not JSON: %q", line)
				}
				for _, k := range []string{"timestamp", "level", "logger", "message"} {
					if _, ok := rec[k]; !ok {
						t.Errorf("no %q in %q", k, line)
					}
				}
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(strings.Split(out, "\n")[0]), &rec); err != nil {
				t.Fatalf("first line is not JSON: %v\n%s", err, out)
			}
			if rec["file_path"] != `/lib/bad\xffname\n.mkv` || rec["level"] != "WARNING" || rec["logger"] != "vpo.scan" {
				t.Errorf("record %v", rec)
			}
			if rec["job_id"] != float64(7) {
				t.Errorf("job_id %v", rec["job_id"])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			l, err := New(Options{Level: "debug", Format: tt.format, Writer: &buf})
			if err != nil {
				t.Fatal(err)
			}
			scan := Component(l, "scan").With("job_id", 7)
			scan.Warn("file skipped", "file_path", "/lib/bad\xffname\n.mkv")
			Component(Component(l, "db"), "server").Debug("nested")
			tt.check(t, buf.String())
		})
	}
}

type failingWriter struct{ calls int }

func (f *failingWriter) Write(p []byte) (int, error) { f.calls++; return 0, errors.New("broken pipe") }

// TestWriteFailureIsHarmless: a log record that cannot be written is dropped; the
// caller does not notice.
func TestWriteFailureIsHarmless(t *testing.T) {
	t.Parallel()
	w := &failingWriter{}
	l, err := New(Options{Level: "info", Format: "text", Writer: w})
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hello")
	l.Error("still fine")
	if w.calls != 2 {
		t.Fatalf("writes = %d", w.calls)
	}
}

func TestLevels(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"debug", "info", "warning", "error"} {
		l, err := ParseLevel(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.ToLower(LevelName(l)); got != name {
			t.Errorf("%s round-trips as %s", name, got)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("loud accepted")
	}
	var buf bytes.Buffer
	l, _ := New(Options{Level: "warning", Format: "text", Writer: &buf})
	l.Info("hidden")
	l.Log(context.Background(), slog.LevelWarn, "shown")
	if strings.Contains(buf.String(), "hidden") || !strings.Contains(buf.String(), "shown") {
		t.Errorf("level filter: %q", buf.String())
	}
}

func TestJournalKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"job_id": "JOB_ID", "file_path": "FILE_PATH", "logger": "LOGGER",
		"duration-ms": "DURATION_MS", "_hidden": "HIDDEN", "9lives": "F_9LIVES", "": "F_"} {
		if got := journalKey(in); got != want {
			t.Errorf("journalKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// captureHandler records what reaches it; it stands in for journald's socket.
type captureHandler struct{ records *[]slog.Record }

func (c captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c captureHandler) Handle(_ context.Context, r slog.Record) error {
	*c.records = append(*c.records, r)
	return nil
}
func (c captureHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c captureHandler) WithGroup(string) slog.Handler      { return c }

func TestJournalMessageCarriesContext(t *testing.T) {
	t.Parallel()
	var got []slog.Record
	l := slog.New(newNamed(&messageContext{inner: captureHandler{&got}}, "vpo"))
	Component(l, "scan").With("job_id", 42).Error("scan failed", "error", "disk full", "file_path", "/a b.mkv")
	if len(got) != 1 {
		t.Fatalf("records: %d", len(got))
	}
	want := `scan failed job_id=42 error="disk full" file_path="/a b.mkv"`
	if got[0].Message != want {
		t.Errorf("MESSAGE = %q, want %q", got[0].Message, want)
	}
	n := 0
	got[0].Attrs(func(slog.Attr) bool { n++; return true })
	if n != 2 {
		t.Errorf("record attrs = %d, want the 2 call-site fields kept", n)
	}
}

// With a LevelVar, changing it changes the level of the logger and of its
// component loggers at once, in both formats.
func TestLevelVar(t *testing.T) {
	t.Parallel()
	for _, format := range []string{"text", "json"} {
		var buf bytes.Buffer
		lv := new(slog.LevelVar)
		l, err := New(Options{Level: "warning", Format: format, Writer: &buf, LevelVar: lv})
		if err != nil {
			t.Fatal(err)
		}
		if lv.Level() != slog.LevelWarn {
			t.Fatalf("%s: LevelVar = %v, want the configured warning", format, lv.Level())
		}
		c := Component(l, "config")
		c.Info("before")
		lv.Set(slog.LevelDebug)
		c.Debug("after")
		if strings.Contains(buf.String(), "before") || !strings.Contains(buf.String(), "after") {
			t.Errorf("%s: %q", format, buf.String())
		}
	}
}
