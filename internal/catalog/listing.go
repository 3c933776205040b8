package catalog

import (
	"context"
	"database/sql"
	"fmt"
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
// each with the summary of its tracks, in one query: selectFilesWithTracks, the
// files' columns and each file's packed tracks as stored beside it (EachFile's
// query), so a page reads one row per file, never one per track.
func (s *Store) ListFileEntries(ctx context.Context, f FileFilter) ([]FileEntry, error) {
	where, args := s.fileWhere(f, whereOpts{idCursor: true})
	q := s.q.selectFilesWithTracks
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += s.q.orderByIDLimit
	args = append(args, f.Limit)
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", Classify(err))
	}
	defer rows.Close()
	out := make([]FileEntry, 0, min(max(f.Limit, 0), 1000))
	// One backing array for the page's track summaries, and one string per
	// distinct type, codec or language on the page.
	all := make([]TrackSummary, 0, 3*cap(out))
	intern := make(map[string]string)
	// RawBytes and strings: database/sql copies a []byte for each row, and
	// converts to a named string type (Timestamp) through reflection.
	var path, packed sql.RawBytes
	var firstSeen, updatedAt string
	var probedAt sql.NullString
	var duration sql.NullFloat64
	var bitRate sql.NullInt64
	for rows.Next() {
		var e FileEntry
		if err := rows.Scan(&e.ID, &path, &e.Size, &e.MtimeNS, &e.Fingerprint, &e.Container, &duration, &bitRate,
			&e.ProbeError, &probedAt, &e.Missing, &firstSeen, &updatedAt, &packed); err != nil {
			return nil, fmt.Errorf("list files: %w", Classify(err))
		}
		e.Path = string(path)
		e.Duration, e.BitRate = duration.Float64, bitRate.Int64
		e.ProbedAt, e.FirstSeen, e.UpdatedAt = Timestamp(probedAt.String), Timestamp(firstSeen), Timestamp(updatedAt)
		start := len(all)
		if all, err = appendSummaries(all, packed, intern); err != nil {
			return nil, fmt.Errorf("list tracks of file %d: %w", e.ID, err)
		}
		if len(all) > start {
			e.Tracks = all[start:len(all):len(all)]
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list files: %w", Classify(err))
	}
	return out, nil
}
