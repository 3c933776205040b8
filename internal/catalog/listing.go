package catalog

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// FileEntry is one file as a listing shows it: its stored columns, timestamps kept as
// the database stores them (no parsing per row), and a summary of its tracks. A
// page of entries is what GET /api/files and `vpo files list` show.
type FileEntry struct {
	ID          int64
	Path        string // byte for byte as the file system gives it; need not be UTF-8
	Size        int64
	MtimeNS     int64 // the file's mtime in nanoseconds since the Unix epoch
	Fingerprint string
	Container   string
	Duration    float64
	BitRate     int64
	ProbeError  string
	// ProbedAt is "" when the file was never probed (or is to be probed again).
	ProbedAt  Timestamp
	Missing   bool
	FirstSeen Timestamp
	UpdatedAt Timestamp
	// Tracks are the file's tracks in index order, nil when it has none.
	Tracks []TrackSummary
}

// TrackSummary is what a listing shows of a track: enough to filter by language
// or codec without fetching the file.
type TrackSummary struct {
	Index    int
	Type     string // video, audio, subtitle, ...
	Codec    string
	Language string // as tagged in the file, "" when untagged
	Default  bool
	Forced   bool
}

// Timestamp is a time as the database stores it: UTC text with milliseconds,
// "YYYY-MM-DD HH:MM:SS.SSS" (see timeFormat). A listing passes it through as
// text; Time parses it and AppendRFC3339 rewrites it for JSON, neither allocating
// more than its result.
type Timestamp string

// IsZero reports whether the timestamp is unset.
func (t Timestamp) IsZero() bool { return t == "" }

// Time parses the timestamp; the zero time when it is unset or malformed.
func (t Timestamp) Time() time.Time { return parseTime(string(t)) }

// AppendRFC3339 appends the timestamp to b as encoding/json writes a UTC
// time.Time (RFC 3339 with the fraction's trailing zeros dropped:
// "2006-01-02T15:04:05.12Z"), by rewriting the stored text instead of parsing it.
// A value not in the stored format is parsed and formatted (the zero time if it
// does not parse).
func (t Timestamp) AppendRFC3339(b []byte) []byte {
	s := string(t)
	if len(s) != len(timeFormat) || s[4] != '-' || s[10] != ' ' || s[13] != ':' || s[19] != '.' {
		return t.Time().AppendFormat(b, time.RFC3339Nano)
	}
	frac := strings.TrimRight(s[20:], "0")
	b = append(b, s[:10]...)
	b = append(b, 'T')
	b = append(b, s[11:19]...)
	if frac != "" {
		b = append(b, '.')
		b = append(b, frac...)
	}
	return append(b, 'Z')
}

// ListFileEntries returns a page of files in id order, as ListFiles selects them,
// each with the summary of its tracks. It runs two queries, whatever the page
// size: the page of files, then the tracks of all of them (file_id IN the
// page's ids). They are two reads, not one transaction (a transaction here takes
// the write lock, see DSN): a file re-probed between them is listed with its new
// tracks; each file's tracks are always one probe's, since RecordFile replaces
// them in one transaction.
func (s *Store) ListFileEntries(ctx context.Context, f FileFilter) ([]FileEntry, error) {
	q, args := s.fileQuery(f)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", Classify(err))
	}
	defer rows.Close()
	out := make([]FileEntry, 0, min(max(f.Limit, 0), 1000))
	var path []byte
	var probedAt sql.NullString
	var duration sql.NullFloat64
	var bitRate sql.NullInt64
	for rows.Next() {
		var e FileEntry
		if err := rows.Scan(&e.ID, &path, &e.Size, &e.MtimeNS, &e.Fingerprint, &e.Container, &duration, &bitRate,
			&e.ProbeError, &probedAt, &e.Missing, &e.FirstSeen, &e.UpdatedAt); err != nil {
			return nil, fmt.Errorf("list files: %w", Classify(err))
		}
		e.Path = string(path)
		e.Duration, e.BitRate, e.ProbedAt = duration.Float64, bitRate.Int64, Timestamp(probedAt.String)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list files: %w", Classify(err))
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	if err := s.summarizeTracks(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// summarizeTracks fills in the tracks of entries, which are in id order, with one
// query that returns a row per file.
func (s *Store) summarizeTracks(ctx context.Context, entries []FileEntry) error {
	args := make([]any, len(entries))
	for i := range entries {
		args[i] = entries[i].ID
	}
	q := strings.Replace(s.q.tracksOfFiles, "(?)", "(?"+strings.Repeat(",?", len(entries)-1)+")", 1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("list tracks: %w", Classify(err))
	}
	defer rows.Close()
	// One backing array for the page's tracks.
	all := make([]TrackSummary, 0, 3*len(entries))
	i := 0
	var id int64
	var text []byte
	for rows.Next() {
		if err := rows.Scan(&id, &text); err != nil {
			return fmt.Errorf("list tracks: %w", Classify(err))
		}
		for i < len(entries) && entries[i].ID < id {
			i++
		}
		if i == len(entries) || entries[i].ID != id {
			return fmt.Errorf("list tracks: file %d is not on the page or out of order", id)
		}
		start := len(all)
		if all, err = decodeTrackSummaries(all, text); err != nil {
			return fmt.Errorf("list tracks of file %d: %w", id, err)
		}
		entries[i].Tracks = all[start:len(all):len(all)]
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tracks: %w", Classify(err))
	}
	return nil
}

// decodeTrackSummaries appends the tracks of a tracksOfFiles row to dst: a JSON
// array of [index, type, codec, language, default, forced] arrays, as the
// database's JSON functions write it. It is a small decoder for exactly that
// shape (encoding/json would cost more than the query saves).
func decodeTrackSummaries(dst []TrackSummary, b []byte) ([]TrackSummary, error) {
	d := trackDecoder{b: b}
	d.expect('[')
	if d.peek() == ']' {
		d.pos++
		return dst, d.end()
	}
	for d.err == nil {
		var t TrackSummary
		d.expect('[')
		t.Index = int(d.integer())
		d.expect(',')
		t.Type = d.str()
		d.expect(',')
		t.Codec = d.str()
		d.expect(',')
		t.Language = d.str()
		d.expect(',')
		t.Default = d.integer() != 0
		d.expect(',')
		t.Forced = d.integer() != 0
		d.expect(']')
		if d.err != nil {
			break
		}
		dst = append(dst, t)
		if d.peek() == ']' {
			d.pos++
			return dst, d.end()
		}
		d.expect(',')
	}
	return dst, d.err
}

type trackDecoder struct {
	b   []byte
	pos int
	err error
}

func (d *trackDecoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("malformed track summary at byte %d: %s", d.pos, what)
	}
}

func (d *trackDecoder) skipSpace() {
	for d.pos < len(d.b) && (d.b[d.pos] == ' ' || d.b[d.pos] == '\t' || d.b[d.pos] == '\n' || d.b[d.pos] == '\r') {
		d.pos++
	}
}

func (d *trackDecoder) peek() byte {
	d.skipSpace()
	if d.err != nil || d.pos >= len(d.b) {
		return 0
	}
	return d.b[d.pos]
}

func (d *trackDecoder) expect(c byte) {
	if d.peek() != c {
		d.fail(fmt.Sprintf("want %q", c))
		return
	}
	d.pos++
}

func (d *trackDecoder) end() error {
	if d.err == nil && d.peek() != 0 {
		d.fail("trailing data")
	}
	return d.err
}

func (d *trackDecoder) integer() int64 {
	d.skipSpace()
	start := d.pos
	if d.pos < len(d.b) && d.b[d.pos] == '-' {
		d.pos++
	}
	for d.pos < len(d.b) && d.b[d.pos] >= '0' && d.b[d.pos] <= '9' {
		d.pos++
	}
	n, err := strconv.ParseInt(string(d.b[start:d.pos]), 10, 64)
	if err != nil {
		d.fail("want an integer")
	}
	return n
}

// str reads a JSON string; null reads as "".
func (d *trackDecoder) str() string {
	if d.peek() == 'n' && bytes.HasPrefix(d.b[d.pos:], []byte("null")) {
		d.pos += 4
		return ""
	}
	d.expect('"')
	if d.err != nil {
		return ""
	}
	start := d.pos
	for d.pos < len(d.b) && d.b[d.pos] != '"' && d.b[d.pos] != '\\' {
		d.pos++
	}
	if d.pos < len(d.b) && d.b[d.pos] == '"' {
		d.pos++
		return string(d.b[start : d.pos-1])
	}
	// Escapes: find the closing quote and let encoding/json decode the string.
	for d.pos < len(d.b) && d.b[d.pos] != '"' {
		if d.b[d.pos] == '\\' {
			d.pos++
		}
		d.pos++
	}
	if d.pos >= len(d.b) {
		d.fail("unterminated string")
		return ""
	}
	d.pos++
	var s string
	if err := json.Unmarshal(d.b[start-1:d.pos], &s); err != nil {
		d.fail(err.Error())
	}
	return s
}
