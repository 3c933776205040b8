package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vpo-project/vpo/internal/probe"
)

// File is one catalogued video file.
type File struct {
	ID          int64
	Path        string // byte for byte as the file system gives it (stored as bytes; need not be UTF-8)
	Size        int64
	ModTime     time.Time
	Fingerprint string
	Container   string
	Duration    float64
	BitRate     int64
	// ProbeError is why ffprobe could not read the file, or "".
	ProbeError string
	ProbedAt   *time.Time
	// Missing is set when a rescan no longer found the file; the row is kept.
	Missing   bool
	FirstSeen time.Time
	UpdatedAt time.Time
	// Tracks is filled by GetFile only.
	Tracks []probe.Track
}

// Known is what an incremental rescan needs to know about a catalogued file.
type Known struct {
	ID      int64
	Size    int64
	MtimeNS int64
	Missing bool
	// Probed is set once ffprobe's result (or its error) is recorded.
	Probed bool
}

// Observation is what a scan found for one file and what ffprobe said about it.
type Observation struct {
	Path        string
	Size        int64
	ModTime     time.Time
	Fingerprint string
	Result      *probe.Result // nil when ProbeError is set
	ProbeError  string
	// Retry leaves the file unprobed (probed_at NULL) so that the next scan probes
	// it again: for failures that are not the file's fault, like a missing ffprobe.
	Retry bool
}

// timeFormat is the database's one timestamp representation, River's and SQLite's
// own: UTC text with milliseconds, which sorts as it reads and which SQLite's date
// functions understand. (File mtimes are integers of nanoseconds: a rescan compares
// them exactly.)
const timeFormat = "2006-01-02 15:04:05.000"

func formatTime(t time.Time) string { return t.UTC().Round(time.Millisecond).Format(timeFormat) }

// parseTime reads a timeFormat timestamp; a value of another shape goes to
// time.ParseInLocation (and a malformed one is the zero time). The fast path
// matters to EachFile, which reads three timestamps a file.
func parseTime(s string) time.Time {
	if len(s) == len(timeFormat) && s[4] == '-' && s[7] == '-' && s[10] == ' ' && s[13] == ':' && s[16] == ':' && s[19] == '.' {
		n := func(i, j int) int {
			v := 0
			for ; i < j; i++ {
				c := s[i]
				if c < '0' || c > '9' {
					return -1
				}
				v = v*10 + int(c-'0')
			}
			return v
		}
		y, mo, d, h, mi, sec, ms := n(0, 4), n(5, 7), n(8, 10), n(11, 13), n(14, 16), n(17, 19), n(20, 23)
		if y >= 0 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h >= 0 && h < 24 && mi >= 0 && mi < 60 && sec >= 0 && sec < 60 && ms >= 0 {
			// time.Date normalises February 30 to March 2: only a valid day keeps its day.
			if t := time.Date(y, time.Month(mo), d, h, mi, sec, ms*int(time.Millisecond), time.UTC); t.Day() == d {
				return t
			}
		}
	}
	t, _ := time.ParseInLocation(timeFormat, s, time.UTC)
	return t
}

// Paths are stored as bytes (BLOB): a file name need not be UTF-8. pathArg is the
// parameter for a path; File.Path is the string of the same bytes.
func pathArg(p string) []byte { return []byte(p) }

// prefixRange returns the half-open range [lo, hi) of paths that start with dir
// followed by a slash, so that a prefix query uses the path index (bytes compare
// bytewise).
func prefixRange(dir string) (lo, hi []byte) {
	dir = strings.TrimSuffix(dir, "/")
	return pathArg(dir + "/"), pathArg(dir + "0") // '0' is the byte after '/'
}

// KnownFiles returns the catalogued files under root, keyed by path.
func (s *Store) KnownFiles(ctx context.Context, root string) (map[string]Known, error) {
	lo, hi := prefixRange(root)
	rows, err := s.db.QueryContext(ctx, s.q.knownFiles, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("list catalogued files under %s: %w", root, Classify(err))
	}
	defer rows.Close()
	known := make(map[string]Known)
	for rows.Next() {
		var k Known
		var path []byte
		if err := rows.Scan(&k.ID, &path, &k.Size, &k.MtimeNS, &k.Missing, &k.Probed); err != nil {
			return nil, fmt.Errorf("list catalogued files under %s: %w", root, err)
		}
		known[string(path)] = k
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list catalogued files under %s: %w", root, Classify(err))
	}
	return known, nil
}

// RecordFile writes one file and its tracks in one transaction: either all of it is
// in the catalogue or none of it is. It returns the file's id.
func (s *Store) RecordFile(ctx context.Context, o Observation) (int64, error) {
	now := formatTime(time.Now())
	var id int64
	err := s.withTx(ctx, func(tx *sql.Tx) (err error) {
		id, err = s.recordFileTx(ctx, tx, o, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record file %q: %w", o.Path, err)
	}
	return id, nil
}

// recordFileTx writes one file and its tracks in tx; now is the time to record.
func (s *Store) recordFileTx(ctx context.Context, tx *sql.Tx, o Observation, now string) (int64, error) {
	probedAt := sql.NullString{String: now, Valid: !o.Retry}
	var id int64
	var container string
	var duration sql.NullFloat64
	var bitRate sql.NullInt64
	var tracks []probe.Track
	if o.Result != nil {
		tracks = o.Result.Tracks
		container = o.Result.Container
		duration = sql.NullFloat64{Float64: o.Result.Duration, Valid: o.Result.Duration > 0}
		bitRate = sql.NullInt64{Int64: o.Result.BitRate, Valid: o.Result.BitRate > 0}
	}
	err := tx.QueryRowContext(ctx, s.q.upsertFile,
		pathArg(o.Path), o.Size, o.ModTime.UnixNano(), o.Fingerprint, container, duration, bitRate, o.ProbeError,
		probedAt, now, now, now, string(packTracks(nil, tracks))).Scan(&id)
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, s.q.deleteTracks, id); err != nil {
		return 0, fmt.Errorf("record tracks: %w", err)
	}
	if o.Result == nil || len(o.Result.Tracks) == 0 {
		return id, nil
	}
	stmt, err := tx.PrepareContext(ctx, s.q.insertTrack)
	if err != nil {
		return 0, fmt.Errorf("record tracks: %w", err)
	}
	defer stmt.Close()
	for _, t := range o.Result.Tracks {
		_, err := stmt.ExecContext(ctx, id, t.Index, t.Type, t.Codec, t.Language, t.Title, t.Default, t.Forced,
			nullInt(t.Channels), t.ChannelLayout, nullInt(t.Width), nullInt(t.Height), nullFloat(t.FrameRate))
		if err != nil {
			return 0, fmt.Errorf("record track %d: %w", t.Index, err)
		}
	}
	return id, nil
}

// MarkPresent clears the missing flag of files that a rescan found again unchanged.
func (s *Store) MarkPresent(ctx context.Context, ids []int64) error {
	return s.setMissing(ctx, ids, false)
}

// MarkMissing flags files that a rescan no longer found. Their rows and tracks stay.
func (s *Store) MarkMissing(ctx context.Context, ids []int64) error {
	return s.setMissing(ctx, ids, true)
}

func (s *Store) setMissing(ctx context.Context, ids []int64, missing bool) error {
	if len(ids) == 0 {
		return nil
	}
	now := formatTime(time.Now())
	return s.withTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.q.setMissing)
		if err != nil {
			return fmt.Errorf("update missing flags: %w", err)
		}
		defer stmt.Close()
		for _, id := range ids {
			if _, err := stmt.ExecContext(ctx, missing, now, id); err != nil {
				return fmt.Errorf("update missing flag of file %d: %w", id, err)
			}
		}
		return nil
	})
}

func nullInt(v int) sql.NullInt64 { return sql.NullInt64{Int64: int64(v), Valid: v != 0} }

func nullFloat(v float64) sql.NullFloat64 { return sql.NullFloat64{Float64: v, Valid: v != 0} }

// FileFilter selects files for ListFiles. Zero fields do not filter.
type FileFilter struct {
	PathPrefix string // a directory: files under it
	Container  string // substring of ffprobe's format name, e.g. "matroska"
	Codec      string // files with a track of this codec
	Language   string // files with a track in this language
	Missing    *bool
	// Search keeps the files whose path contains this text, ignoring the case
	// of ASCII letters (a substring, not a pattern: % and _ match themselves).
	Search string
	// Sort orders the page: SortID (the zero value: the order vpo first saw
	// the files), SortPath, SortSize or SortModified, ties by id; Desc
	// reverses it.
	Sort string
	Desc bool
	// After is the cursor: the id of the last file of the previous page; the
	// page holds the files after it in the sort order.
	After int64
	Limit int
}

// File sorts for FileFilter.Sort.
const (
	SortID       = ""
	SortPath     = "path"
	SortSize     = "size"
	SortModified = "modified"
)

// FileSorts lists the sorts FileFilter.Sort takes, SortID first.
var FileSorts = []string{SortID, SortPath, SortSize, SortModified}

// ListFiles returns a page of files in the filter's order.
func (s *Store) ListFiles(ctx context.Context, f FileFilter) ([]File, error) {
	q, args, err := s.fileQuery(ctx, s.q.selectFiles, f)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", Classify(err))
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		file, err := scanFile(rows)
		if err != nil {
			return nil, fmt.Errorf("list files: %w", Classify(err))
		}
		out = append(out, file)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list files: %w", Classify(err))
	}
	return out, nil
}

type rowScanner interface{ Scan(dest ...any) error }

func scanFile(r rowScanner) (File, error) {
	var f File
	var mtime int64
	var duration sql.NullFloat64
	var bitRate sql.NullInt64
	var probedAt sql.NullString
	var firstSeen, updatedAt string
	var path []byte
	if err := r.Scan(&f.ID, &path, &f.Size, &mtime, &f.Fingerprint, &f.Container, &duration, &bitRate,
		&f.ProbeError, &probedAt, &f.Missing, &firstSeen, &updatedAt); err != nil {
		return f, err
	}
	f.Path = string(path)
	f.ModTime = time.Unix(0, mtime).UTC()
	f.Duration = duration.Float64
	f.BitRate = bitRate.Int64
	if probedAt.Valid {
		t := parseTime(probedAt.String)
		f.ProbedAt = &t
	}
	f.FirstSeen = parseTime(firstSeen)
	f.UpdatedAt = parseTime(updatedAt)
	return f, nil
}

// GetFile returns one file with its tracks, or ErrNotFound.
func (s *Store) GetFile(ctx context.Context, id int64) (File, error) {
	return s.getFile(ctx, s.q.fileByID, id)
}

// GetFileByPath returns one file with its tracks, or ErrNotFound.
func (s *Store) GetFileByPath(ctx context.Context, path string) (File, error) {
	return s.getFile(ctx, s.q.fileByPath, pathArg(path))
}

func (s *Store) getFile(ctx context.Context, query string, arg any) (File, error) {
	f, err := scanFile(s.db.QueryRowContext(ctx, query, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return f, ErrNotFound
	}
	if err != nil {
		return f, fmt.Errorf("get file: %w", Classify(err))
	}
	rows, err := s.db.QueryContext(ctx, s.q.tracksOfFile, f.ID)
	if err != nil {
		return f, fmt.Errorf("get tracks of file %d: %w", f.ID, Classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var t probe.Track
		var ch, w, h sql.NullInt64
		var fr sql.NullFloat64
		if err := rows.Scan(&t.Index, &t.Type, &t.Codec, &t.Language, &t.Title, &t.Default, &t.Forced,
			&ch, &t.ChannelLayout, &w, &h, &fr); err != nil {
			return f, fmt.Errorf("get tracks of file %d: %w", f.ID, Classify(err))
		}
		t.Channels, t.Width, t.Height, t.FrameRate = int(ch.Int64), int(w.Int64), int(h.Int64), fr.Float64
		f.Tracks = append(f.Tracks, t)
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("get tracks of file %d: %w", f.ID, Classify(err))
	}
	return f, nil
}

// sortColumns are the files columns of the sorts.
var sortColumns = map[string]string{SortID: "id", SortPath: "path", SortSize: "size", SortModified: "mtime_ns"}

// fileQuery is selectQ with the filter's WHERE, ORDER BY and LIMIT, and its
// arguments. A sort other than id ascending pages by keyset: the rows after
// (key, id) of the cursor's file, one seek of its index.
func (s *Store) fileQuery(ctx context.Context, selectQ string, f FileFilter) (string, []any, error) {
	col, ok := sortColumns[f.Sort]
	if !ok {
		return "", nil, fmt.Errorf("list files: sort %q is not one of path, size, modified", f.Sort)
	}
	cmp, dir := ">", "ASC"
	if f.Desc {
		cmp, dir = "<", "DESC"
	}
	idAsc := f.Sort == SortID && !f.Desc
	o := whereOpts{idCursor: idAsc}
	var err error
	if o.codecIn, err = s.rareTrackValue(ctx, s.q.countCodec, f.Codec, f); err != nil {
		return "", nil, err
	}
	if o.languageIn, err = s.rareTrackValue(ctx, s.q.countLanguage, f.Language, f); err != nil {
		return "", nil, err
	}
	if o.containers, err = s.rareContainers(ctx, f); err != nil {
		return "", nil, err
	}
	where, args := s.fileWhere(f, o)
	if !idAsc && f.After > 0 {
		if f.Sort == SortID {
			where = append(where, fmt.Sprintf(s.q.filterIDCmp, cmp))
			args = append(args, f.After)
		} else {
			where = append(where, fmt.Sprintf(s.q.filterAfterKey, col, cmp))
			args = append(args, f.After, f.After)
		}
	}
	q := selectQ
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if idAsc {
		q += s.q.orderByIDLimit
	} else {
		q += fmt.Sprintf(s.q.orderByKeyLimit, col, dir)
	}
	return q, append(args, f.Limit), nil
}

// rareTracks is the number of matching tracks under which a codec or language
// filter is driven from its index (the file ids of the matching tracks, in id
// order) rather than by testing each file in the page's order. Testing each
// file costs about Limit/density files (all of them when nothing matches);
// the index costs one entry per matching track: at 100,000 files the two meet
// near sqrt(50 × 100,000) ≈ 2,000 tracks. Counting up to rareTracks is one
// bounded walk of the covering index. (A variable for the test that checks
// both plans give the same pages.)
var rareTracks = 5000

// rareTrackValue reports whether fewer than rareTracks tracks after the cursor
// have the codec or language value (countQ); false when value is "".
func (s *Store) rareTrackValue(ctx context.Context, countQ, value string, f FileFilter) (bool, error) {
	if value == "" {
		return false, nil
	}
	after := int64(0)
	if f.Sort == SortID && !f.Desc {
		after = f.After
	}
	var n int
	if err := s.db.QueryRowContext(ctx, countQ, value, after, rareTracks).Scan(&n); err != nil {
		return false, fmt.Errorf("list files: %w", Classify(err))
	}
	return n < rareTracks, nil
}

// rareContainers returns, when the container filter matches few files, the
// container names it matches (a non-nil, possibly empty list), so that the page
// is driven from the files_container index; nil when the filter is unset or
// matches many files (then each file is tested in the page's order, which finds
// a page quickly). The catalogue holds a handful of distinct names: they are
// read with one index seek each.
func (s *Store) rareContainers(ctx context.Context, f FileFilter) ([]string, error) {
	if f.Container == "" {
		return nil, nil
	}
	names, err := s.containersMatching(ctx, f.Container)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return names, nil
	}
	after := int64(0)
	if f.Sort == SortID && !f.Desc {
		after = f.After
	}
	args := make([]any, 0, len(names)+2)
	for _, n := range names {
		args = append(args, n)
	}
	var n int
	q := fmt.Sprintf(s.q.countContainersIn, placeholders(len(names)))
	if err := s.db.QueryRowContext(ctx, q, append(args, after, rareTracks)...).Scan(&n); err != nil {
		return nil, fmt.Errorf("list files: %w", Classify(err))
	}
	if n >= rareTracks {
		return nil, nil
	}
	return names, nil
}

// containersMatching lists the catalogue's container names that have part
// (a comma-separated part of the name, as filterContain tests it); an empty,
// non-nil list when none has.
func (s *Store) containersMatching(ctx context.Context, part string) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q.distinctContainers)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", Classify(err))
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list files: %w", Classify(err))
		}
		if strings.Contains(","+name+",", ","+part+",") {
			names = append(names, name)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list files: %w", Classify(err))
	}
	return names, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// whereOpts are how fileWhere writes some conditions.
type whereOpts struct {
	// containers, when not nil, are the container names the filter matches
	// (see rareContainers): the condition is "container IN" them.
	containers []string
	// idCursor: f.After is "id > After" (the id order's cursor).
	idCursor bool
	// codecIn, languageIn: the filter is driven from the tracks index (a rare
	// value, see rareTracks) instead of tested file by file.
	codecIn, languageIn bool
}

// likeEscaper escapes LIKE's wildcards and its escape character.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// fileWhere is the WHERE conditions of a FileFilter and their arguments.
func (s *Store) fileWhere(f FileFilter, o whereOpts) ([]string, []any) {
	var where []string
	var args []any
	if f.After > 0 && o.idCursor {
		where = append(where, s.q.filterAfter)
		args = append(args, f.After)
	}
	if f.Search != "" {
		where = append(where, s.q.filterSearch)
		args = append(args, "%"+likeEscaper.Replace(f.Search)+"%")
	}
	if f.PathPrefix != "" {
		lo, hi := prefixRange(f.PathPrefix)
		where = append(where, s.q.filterPrefix)
		args = append(args, lo, hi)
	}
	switch {
	case f.Container == "":
	case o.containers == nil:
		where = append(where, s.q.filterContain)
		args = append(args, f.Container)
	case len(o.containers) == 0:
		where = append(where, s.q.filterNothing)
	default:
		where = append(where, fmt.Sprintf(s.q.filterContainerIn, placeholders(len(o.containers))))
		for _, n := range o.containers {
			args = append(args, n)
		}
	}
	if f.Codec != "" {
		where = append(where, pick(o.codecIn, s.q.filterCodecIn, s.q.filterCodec))
		args = append(args, f.Codec)
	}
	if f.Language != "" {
		where = append(where, pick(o.languageIn, s.q.filterLanguageIn, s.q.filterLanguage))
		args = append(args, f.Language)
	}
	if f.Missing != nil {
		where = append(where, s.q.filterMissing)
		args = append(args, *f.Missing)
	}
	return where, args
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}
