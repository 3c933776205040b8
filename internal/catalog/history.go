package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// History results.
const (
	HistoryApplied = "applied"
	HistoryFailed  = "failed"
)

// HistoryEntry is one apply of a plan to a file, as the history keeps it.
type HistoryEntry struct {
	ID     int64 `json:"id"`
	FileID int64 `json:"file_id"`
	PlanID int64 `json:"plan_id,omitempty"`
	JobID  int64 `json:"job_id,omitempty"`
	// Path is the file's path before the apply; NewPath after (they differ after
	// a container conversion).
	Path       string `json:"path"`
	NewPath    string `json:"new_path"`
	Policy     string `json:"policy"`
	PolicyHash string `json:"policy_hash"`
	// Phases are the plan's phases (what was done), as JSON.
	Phases json.RawMessage `json:"phases"`
	// TracksBefore and TracksAfter are the file's tracks (policy.Track JSON).
	TracksBefore json.RawMessage `json:"tracks_before"`
	TracksAfter  json.RawMessage `json:"tracks_after"`
	Tool         string          `json:"tool,omitempty"`
	ToolVersion  string          `json:"tool_version,omitempty"`
	// Bytes is the size of the new version written.
	Bytes      int64     `json:"bytes"`
	DurationMS int64     `json:"duration_ms"`
	Result     string    `json:"result"`
	Error      string    `json:"error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

// ApplyRecord is what an apply of one plan leaves in the catalogue, written in one
// transaction by RecordApply.
type ApplyRecord struct {
	PlanID int64
	JobID  int64
	// State is the plan's new state (PlanApplied, PlanFailed, PlanStale) and Error
	// why, if not applied.
	State string
	Error string
	// Converges false marks the plan "does not converge" for ResultFingerprint.
	Converges         bool
	ResultFingerprint string
	// File is the file's new version as re-probed, nil when the file did not
	// change. FileID is the catalogued file; its path becomes File.Path.
	FileID int64
	File   *Observation
	// History is appended when set (its FileID is filled in).
	History *HistoryEntry
}

// RecordApply writes the outcome of one apply in one transaction: the re-probed
// file and its tracks, the plan's state, and the history entry. Either all of it
// is in the catalogue or none of it is.
func (s *Store) RecordApply(ctx context.Context, r ApplyRecord) error {
	now := formatTime(time.Now())
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		if r.File != nil {
			// A container conversion renames the file: its row follows it.
			if _, err := tx.ExecContext(ctx, s.q.dropOtherAtPath, pathArg(r.File.Path), r.FileID); err != nil {
				return fmt.Errorf("rename file: %w", err)
			}
			if _, err := tx.ExecContext(ctx, s.q.renameFile, pathArg(r.File.Path), now, r.FileID); err != nil {
				return fmt.Errorf("rename file: %w", err)
			}
			if _, err := s.recordFileTx(ctx, tx, *r.File, now); err != nil {
				return err
			}
		}
		if r.PlanID != 0 {
			_, err := tx.ExecContext(ctx, s.q.finishPlan, r.State, r.Error, r.Converges, r.ResultFingerprint,
				sql.NullInt64{Int64: r.JobID, Valid: r.JobID != 0}, now, r.PlanID)
			if err != nil {
				return fmt.Errorf("update plan %d: %w", r.PlanID, err)
			}
		}
		if h := r.History; h != nil {
			_, err := tx.ExecContext(ctx, s.q.insertHistory, r.FileID, sql.NullInt64{Int64: r.PlanID, Valid: r.PlanID != 0},
				sql.NullInt64{Int64: r.JobID, Valid: r.JobID != 0}, pathArg(h.Path), pathArg(h.NewPath), h.Policy, h.PolicyHash,
				rawOr(h.Phases), rawOr(h.TracksBefore), rawOr(h.TracksAfter), h.Tool, h.ToolVersion, h.Bytes, h.DurationMS,
				h.Result, h.Error, now)
			if err != nil {
				return fmt.Errorf("append history: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record apply of file %d: %w", r.FileID, err)
	}
	return nil
}

func rawOr(m json.RawMessage) string {
	if len(m) == 0 {
		return "[]"
	}
	return string(m)
}

// FileHistory returns a page of a file's history, oldest first, after the cursor.
func (s *Store) FileHistory(ctx context.Context, fileID, after int64, limit int) ([]HistoryEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.db.QueryContext(ctx, s.q.historyOfFile, fileID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("history of file %d: %w", fileID, Classify(err))
	}
	defer rows.Close()
	out := []HistoryEntry{}
	for rows.Next() {
		var h HistoryEntry
		var planID, jobID sql.NullInt64
		var path, newPath []byte
		var phases, before, after, created string
		if err := rows.Scan(&h.ID, &h.FileID, &planID, &jobID, &path, &newPath, &h.Policy, &h.PolicyHash, &phases,
			&before, &after, &h.Tool, &h.ToolVersion, &h.Bytes, &h.DurationMS, &h.Result, &h.Error, &created); err != nil {
			return nil, fmt.Errorf("history of file %d: %w", fileID, Classify(err))
		}
		h.PlanID, h.JobID = planID.Int64, jobID.Int64
		h.Path, h.NewPath = string(path), string(newPath)
		h.Phases, h.TracksBefore, h.TracksAfter = json.RawMessage(phases), json.RawMessage(before), json.RawMessage(after)
		h.CreatedAt = parseTime(created)
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history of file %d: %w", fileID, Classify(err))
	}
	return out, nil
}
