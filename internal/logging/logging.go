// Package logging builds vpo's log/slog logger from the configuration: text or JSON
// records on stderr, or the native journal protocol when stderr is connected to
// journald, with the level names and keys that log pipelines expect.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// LevelWarning is slog's warn level, named "WARNING" in vpo's records.
const LevelWarning = slog.LevelWarn

// Keys of every record, in both formats.
const (
	KeyTime    = "timestamp"
	KeyLevel   = "level"
	KeyLogger  = "logger"
	KeyMessage = "message"
)

// Options configures New.
type Options struct {
	// Level is one of debug, info, warning, error.
	Level string
	// Format is text or json.
	Format string
	// Writer receives the records; vpo passes os.Stderr.
	Writer io.Writer
	// Journal sends records to journald instead of Writer.
	Journal bool
	// Bare leaves out the timestamp and level from text records, for a journald
	// stream, which records both itself.
	Bare bool
	// LevelVar, when set, is set to Level and holds the logger's level, so that the
	// daemon can change it on a reload (Set); nil: the level is fixed.
	LevelVar *slog.LevelVar
}

// ParseLevel maps vpo's level names to slog levels.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warning", "warn":
		return LevelWarning, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q (want debug, info, warning or error)", s)
}

// LevelName returns vpo's name for a level: DEBUG, INFO, WARNING or ERROR.
func LevelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	default:
		return "ERROR"
	}
}

// New returns the root logger. Components take a child with Component.
func New(opts Options) (*slog.Logger, error) {
	parsed, err := ParseLevel(opts.Level)
	if err != nil {
		return nil, err
	}
	var level slog.Leveler = parsed
	if opts.LevelVar != nil {
		opts.LevelVar.Set(parsed)
		level = opts.LevelVar
	}
	w := &errorSwallowingWriter{w: opts.Writer}
	hopts := &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttr}
	var h slog.Handler
	switch {
	case opts.Journal:
		if h, err = newJournalHandler(level); err != nil {
			return nil, err
		}
	case opts.Format == "json":
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: replaceAttrJSON})
	case opts.Bare:
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(g []string, a slog.Attr) slog.Attr {
			if len(g) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey) {
				return slog.Attr{}
			}
			return replaceAttr(g, a)
		}})
	case opts.Format == "text" || opts.Format == "":
		h = slog.NewTextHandler(w, hopts)
	default:
		return nil, fmt.Errorf("unknown log format %q (want text or json)", opts.Format)
	}
	return slog.New(newNamed(h, "vpo")), nil
}

// Component returns a child of the root logger named for a component, for example
// Component(l, "server") logs as "vpo.server". The name replaces the parent's, so a
// record carries exactly one logger name.
func Component(l *slog.Logger, name string) *slog.Logger {
	if n, ok := l.Handler().(*namedHandler); ok {
		h := newNamed(n.base, "vpo."+name)
		if len(n.extra) > 0 {
			h.extra = n.extra
			h.named = h.named.WithAttrs(n.extra)
		}
		return slog.New(h)
	}
	return l.With(KeyLogger, "vpo."+name)
}

// namedHandler puts the logger name first among a record's attributes and lets
// Component replace it rather than add a second one.
type namedHandler struct {
	base  slog.Handler // without the name
	named slog.Handler // base with the name and extra
	extra []slog.Attr  // attributes added after the name
}

func newNamed(base slog.Handler, name string) *namedHandler {
	return &namedHandler{base: base, named: base.WithAttrs([]slog.Attr{slog.String(KeyLogger, name)})}
}

func (n *namedHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return n.named.Enabled(ctx, l)
}

func (n *namedHandler) Handle(ctx context.Context, r slog.Record) error {
	return n.named.Handle(ctx, r)
}

func (n *namedHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &namedHandler{
		base:  n.base,
		named: n.named.WithAttrs(as),
		extra: append(append([]slog.Attr(nil), n.extra...), as...),
	}
}

func (n *namedHandler) WithGroup(name string) slog.Handler { return n.named.WithGroup(name) }

// Discard is a logger that drops every record, for tests and tools.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// replaceAttr renames slog's built-in keys to vpo's and formats time and level.
func replaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) > 0 {
		return a
	}
	switch a.Key {
	case slog.TimeKey:
		if t, ok := a.Value.Any().(time.Time); ok {
			return slog.String(KeyTime, t.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
		}
		a.Key = KeyTime
	case slog.LevelKey:
		if l, ok := a.Value.Any().(slog.Level); ok {
			return slog.String(KeyLevel, LevelName(l))
		}
	case slog.MessageKey:
		a.Key = KeyMessage
	}
	return a
}

// replaceAttrJSON is replaceAttr, and also keeps strings that are not valid UTF-8
// (file names need not be) lossless: encoding/json would turn each invalid byte into
// U+FFFD, so such a value is written Go-quoted instead, e.g. "bad\xffname.mkv".
func replaceAttrJSON(groups []string, a slog.Attr) slog.Attr {
	a = replaceAttr(groups, a)
	if a.Value.Kind() == slog.KindString {
		if s := a.Value.String(); !utf8.ValidString(s) {
			q := strconv.Quote(s)
			a.Value = slog.StringValue(q[1 : len(q)-1])
		}
	}
	return a
}

// errorSwallowingWriter never reports a failed write: a daemon whose stderr was
// closed, or whose log reader went away, must keep serving. slog already ignores
// handler errors; this also keeps partial writes from being retried.
type errorSwallowingWriter struct{ w io.Writer }

func (e *errorSwallowingWriter) Write(p []byte) (int, error) {
	_, _ = e.w.Write(p)
	return len(p), nil
}
