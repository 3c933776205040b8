package logging

import (
	"fmt"
	"log/slog"
	"strings"

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
	return h, nil
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
