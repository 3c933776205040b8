package catalog

import (
	"context"
	"fmt"
)

// FileStats are the catalogue's files counted by state. The states partition the
// catalogue: Catalogued = OK + Failed + Missing.
type FileStats struct {
	// Catalogued is every file the catalogue holds.
	Catalogued int64
	// Missing are files no longer found where they were.
	Missing int64
	// Failed are present files that ffprobe could not read (recorded with the error).
	Failed int64
}

// OK are the present files probed without an error.
func (f FileStats) OK() int64 { return f.Catalogued - f.Missing - f.Failed }

// FileStats counts the catalogue's files by state, in one pass over the files table
// (tens of milliseconds at 100,000 files; the metrics scrape caches it).
func (s *Store) FileStats(ctx context.Context) (FileStats, error) {
	var f FileStats
	if err := s.db.QueryRowContext(ctx, s.q.fileStats).Scan(&f.Catalogued, &f.Missing, &f.Failed); err != nil {
		return FileStats{}, fmt.Errorf("count catalogued files: %w", Classify(err))
	}
	return f, nil
}

// JobCount is how many jobs of one kind are in one of River's states.
type JobCount struct {
	Kind  string
	State string // River's state word (available, running, discarded, ...)
	N     int64
}

// CountByKind counts River's jobs by kind and state, finished jobs still kept
// included, for the metrics scrape.
func (j *JobQueue) CountByKind(ctx context.Context) ([]JobCount, error) {
	rows, err := j.db.QueryContext(ctx, j.q.jobCountsByKind)
	if err != nil {
		return nil, fmt.Errorf("count jobs by kind: %w", Classify(err))
	}
	defer rows.Close()
	var out []JobCount
	for rows.Next() {
		var c JobCount
		if err := rows.Scan(&c.Kind, &c.State, &c.N); err != nil {
			return nil, fmt.Errorf("count jobs by kind: %w", Classify(err))
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count jobs by kind: %w", Classify(err))
	}
	return out, nil
}

// Count is one row of a breakdown: a name and how many files have it.
type Count struct {
	Name string
	N    int64
}

// LibraryTotals are the catalogue's totals as the dashboard shows them: the
// files, the missing ones, the failed probes, and the most common containers,
// codecs and languages with how many files have each.
type LibraryTotals struct {
	Files, Missing, FailedProbes  int64
	Containers, Codecs, Languages []Count
}

// LibraryTotals counts the whole catalogue: one pass over the files table and
// one over each of the files_container, tracks_codec and tracks_language
// indexes, keeping the top most common names of each breakdown (ties by name).
// It takes tens of milliseconds at 100,000 files: callers cache it (the web
// UI's dashboard counts in the background, at most every 30 seconds).
func (s *Store) LibraryTotals(ctx context.Context, top int) (LibraryTotals, error) {
	var t LibraryTotals
	if err := s.db.QueryRowContext(ctx, s.q.totalsFiles).Scan(&t.Files, &t.Missing, &t.FailedProbes); err != nil {
		return t, fmt.Errorf("count files: %w", Classify(err))
	}
	for _, b := range []struct {
		into *[]Count
		q    string
		what string
	}{
		{&t.Containers, s.q.totalsContainers, "containers"},
		{&t.Codecs, s.q.totalsCodecs, "codecs"},
		{&t.Languages, s.q.totalsLanguages, "languages"},
	} {
		cs, err := s.breakdown(ctx, b.q, top)
		if err != nil {
			return t, fmt.Errorf("count files by %s: %w", b.what, Classify(err))
		}
		*b.into = cs
	}
	return t, nil
}

// breakdown runs one GROUP BY query of (name, count) rows.
func (s *Store) breakdown(ctx context.Context, q string, top int) ([]Count, error) {
	rows, err := s.db.QueryContext(ctx, q, top)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Count
	for rows.Next() {
		var c Count
		if err := rows.Scan(&c.Name, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
