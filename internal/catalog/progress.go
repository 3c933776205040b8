package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Counts are a scan's progress counters.
type Counts struct {
	Found     int64 `json:"found"`     // video files the walk found
	Probed    int64 `json:"probed"`    // new or changed files probed and recorded
	Unchanged int64 `json:"unchanged"` // files skipped because size and mtime were unchanged
	Failed    int64 `json:"failed"`    // files ffprobe could not read (recorded with the error)
	Missing   int64 `json:"missing"`   // catalogued files the walk no longer found

	// The counters of plan and apply jobs; zero (and absent from JSON) for scans.
	Done       int64 `json:"done,omitempty"`       // files handled
	Planned    int64 `json:"planned,omitempty"`    // plans stored (plan jobs)
	Changed    int64 `json:"changed,omitempty"`    // files rewritten (apply jobs)
	Conformant int64 `json:"conformant,omitempty"` // files the policy leaves as they are
	Skipped    int64 `json:"skipped,omitempty"`    // files left for later: stale plan, still settling, not approved, in use
	Bytes      int64 `json:"bytes_written,omitempty"`
}

// Note is one entry of a job's history, such as an interruption by shutdown.
type Note struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// Progress is a job's recorded progress and history.
type Progress struct {
	Counts
	Notes     []Note    `json:"notes"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SaveProgress records a job's counters.
func (s *Store) SaveProgress(ctx context.Context, jobID int64, c Counts) error {
	_, err := s.db.ExecContext(ctx, s.q.saveProgress,
		jobID, c.Found, c.Probed, c.Unchanged, c.Failed, c.Missing,
		c.Done, c.Planned, c.Changed, c.Conformant, c.Skipped, c.Bytes, formatTime(time.Now()))
	if err != nil {
		return fmt.Errorf("save progress of job %d: %w", jobID, Classify(err))
	}
	return nil
}

// AddNote appends a note to a job's history.
func (s *Store) AddNote(ctx context.Context, jobID int64, text string) error {
	now := time.Now()
	note, _ := json.Marshal(Note{At: now.UTC(), Text: text})
	_, err := s.db.ExecContext(ctx, s.q.addNote,
		jobID, string(note), formatTime(now), string(note))
	if err != nil {
		return fmt.Errorf("add note to job %d: %w", jobID, Classify(err))
	}
	return nil
}

// GetProgress returns the progress of the given jobs; jobs without any are absent.
func (s *Store) GetProgress(ctx context.Context, ids ...int64) (map[int64]Progress, error) {
	out := make(map[int64]Progress, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := s.db.QueryContext(ctx, strings.Replace(s.q.getProgress, "(?)", "(?"+strings.Repeat(",?", len(ids)-1)+")", 1), args...)
	if err != nil {
		return nil, fmt.Errorf("get job progress: %w", Classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var p Progress
		var notes, updated string
		if err := rows.Scan(&id, &p.Found, &p.Probed, &p.Unchanged, &p.Failed, &p.Missing,
			&p.Done, &p.Planned, &p.Changed, &p.Conformant, &p.Skipped, &p.Bytes, &notes, &updated); err != nil {
			return nil, fmt.Errorf("get job progress: %w", Classify(err))
		}
		if err := json.Unmarshal([]byte(notes), &p.Notes); err != nil {
			return nil, fmt.Errorf("job %d has malformed notes: %w", id, err)
		}
		p.UpdatedAt = parseTime(updated)
		out[id] = p
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("get job progress: %w", Classify(err))
	}
	return out, nil
}
