package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/coreos/go-systemd/v22/journal"
	slogjournal "github.com/systemd/slog-journal"
)

// UseJournal decides, from logging.journal (auto, on or off), whether records go to
// journald with the native protocol. auto means: when stderr is connected to the
// journal (JOURNAL_STREAM names stderr's device and inode), as under systemd.
func UseJournal(mode string) (bool, error) {
	switch mode {
	case "off":
		return false, nil
	case "on":
		if !journal.Enabled() {
			return false, fmt.Errorf("logging.journal is on, but the journal socket /run/systemd/journal/socket is not available")
		}
		return true, nil
	case "auto", "":
		ok, err := journal.StderrIsJournalStream()
		return ok && err == nil && journal.Enabled(), nil
	}
	return false, fmt.Errorf("unknown logging.journal %q (want auto, on or off)", mode)
}

// newJournalHandler writes records to journald: PRIORITY from the level (debug 7,
// info 6, warning 4, error 3), SYSLOG_IDENTIFIER=vpo, and every attribute as an
// upper-case field (logger → LOGGER, job_id → JOB_ID), so that
// `journalctl -u vpo -p err` and `journalctl -u vpo JOB_ID=42` work.
func newJournalHandler(level slog.Leveler) (slog.Handler, error) {
	h, err := slogjournal.NewHandler(&slogjournal.Options{
		Level: level,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			a.Key = journalKey(a.Key)
			return a
		},
		ReplaceGroup: journalKey,
	})
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &messageContext{inner: h}, nil
}

// messageContext also writes a record's context into MESSAGE as key=value pairs, so
// that plain `journalctl -u vpo` and `systemctl status` show what a record is about
// (which setting, which error), not only its message; the fields stay as well.
type messageContext struct {
	inner slog.Handler
	attrs []slog.Attr // from WithAttrs, rendered into every MESSAGE
}

func (m *messageContext) Enabled(ctx context.Context, l slog.Level) bool {
	return m.inner.Enabled(ctx, l)
}

func (m *messageContext) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if a.Key == KeyLogger || a.Key == "" {
			return true
		}
		b.WriteByte(' ')
		b.WriteString(a.Key)
		b.WriteByte('=')
		v := a.Value.Resolve().String()
		if v == "" || strings.ContainsAny(v, " \"=\n\t") || !utf8.ValidString(v) {
			v = strconv.Quote(v)
		}
		b.WriteString(v)
		return true
	}
	for _, a := range m.attrs {
		add(a)
	}
	r.Attrs(add)
	out := slog.NewRecord(r.Time, r.Level, b.String(), r.PC)
	r.Attrs(func(a slog.Attr) bool { out.AddAttrs(a); return true })
	return m.inner.Handle(ctx, out)
}

func (m *messageContext) WithAttrs(as []slog.Attr) slog.Handler {
	return &messageContext{inner: m.inner.WithAttrs(as), attrs: append(append([]slog.Attr(nil), m.attrs...), as...)}
}

func (m *messageContext) WithGroup(name string) slog.Handler {
	return &messageContext{inner: m.inner.WithGroup(name), attrs: m.attrs}
}

// journalKey turns an attribute key into a journal field name: upper case, with any
// character outside [A-Z0-9_] replaced by '_', and never starting with '_' or a
// digit (such fields are reserved or invalid).
func journalKey(k string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(k) {
		if (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "_")
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		s = "F_" + s
	}
	return s
}
