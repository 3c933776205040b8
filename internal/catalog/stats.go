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
