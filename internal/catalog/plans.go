package catalog

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Plan states. A plan is made pending (or approved at once when approval is not
// required); an owner approves or rejects it; an apply job ends it applied, failed
// or stale; a newer plan of the same file and policy supersedes an open one.
const (
	PlanPending    = "pending"
	PlanApproved   = "approved"
	PlanRejected   = "rejected"
	PlanApplied    = "applied"
	PlanFailed     = "failed"
	PlanStale      = "stale"
	PlanSuperseded = "superseded"
)

// PlanStates lists every plan state.
var PlanStates = []string{PlanPending, PlanApproved, PlanRejected, PlanApplied, PlanFailed, PlanStale, PlanSuperseded}

var (
	// ErrPlanState is wrapped when a plan is not in a state that allows the
	// change asked for (approving an applied plan, say).
	ErrPlanState = errors.New("plan is not in a state that allows this")
	// ErrClaimed is wrapped by ClaimFile when another job is working on the file.
	ErrClaimed = errors.New("file is claimed by another job")
)

// StoredPlan is a plan as the catalogue keeps it.
type StoredPlan struct {
	ID     int64  `json:"id"`
	FileID int64  `json:"file_id"`
	Path   string `json:"path"`
	Policy string `json:"policy"`
	// PolicyHash is the sha256 of the policy file the plan was made with.
	PolicyHash string `json:"policy_hash"`
	// Size, ModTime and Fingerprint are the file's when the plan was made.
	Size        int64     `json:"size"`
	ModTime     time.Time `json:"mtime"`
	Fingerprint string    `json:"fingerprint"`
	// Plan is the policy.Plan as JSON.
	Plan  json.RawMessage `json:"plan"`
	State string          `json:"state"`
	// Error is why the plan failed, is stale or does not converge.
	Error string `json:"error,omitempty"`
	// Converges is false when, right after the apply, the policy still wanted
	// changes: the plan is not applied again to the file version
	// ResultFingerprint with this PolicyHash.
	Converges         bool      `json:"converges"`
	ResultFingerprint string    `json:"result_fingerprint,omitempty"`
	JobID             int64     `json:"job_id,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// NewPlan is a plan to store.
type NewPlan struct {
	FileID      int64
	Path        string
	Policy      string
	PolicyHash  string
	Size        int64
	ModTime     time.Time
	Fingerprint string
	Plan        []byte // the policy.Plan as JSON
	// State is PlanPending or PlanApproved (approval not required).
	State string
	JobID int64
}

func scanPlan(r rowScanner) (StoredPlan, error) {
	var p StoredPlan
	var path []byte
	var plan string
	var mtime int64
	var jobID sql.NullInt64
	var created, updated string
	err := r.Scan(&p.ID, &p.FileID, &path, &p.Policy, &p.PolicyHash, &p.Size, &mtime, &p.Fingerprint, &plan,
		&p.State, &p.Error, &p.Converges, &p.ResultFingerprint, &jobID, &created, &updated)
	if err != nil {
		return p, err
	}
	p.Path, p.Plan, p.JobID = string(path), json.RawMessage(plan), jobID.Int64
	p.ModTime = time.Unix(0, mtime).UTC()
	p.CreatedAt, p.UpdatedAt = parseTime(created), parseTime(updated)
	return p, nil
}

// SavePlan stores a plan for a file and policy. When an open (pending or approved)
// plan of the same file and policy was made from the same file version and policy
// file and says the same, it is kept and returned with created false: planning
// twice changes nothing, and an approval stands. Otherwise the open plan is
// superseded and the new one stored, in one transaction.
func (s *Store) SavePlan(ctx context.Context, np NewPlan) (p StoredPlan, created bool, err error) {
	if np.State != PlanPending && np.State != PlanApproved {
		return p, false, fmt.Errorf("save plan of %q: state %q is not %s or %s", np.Path, np.State, PlanPending, PlanApproved)
	}
	now := formatTime(time.Now())
	err = s.withTx(ctx, func(tx *sql.Tx) error {
		old, err := scanPlan(tx.QueryRowContext(ctx, s.q.openPlan, np.FileID, np.Policy))
		switch {
		case err == nil:
			if old.PolicyHash == np.PolicyHash && old.Fingerprint == np.Fingerprint && old.Size == np.Size &&
				old.ModTime.Equal(np.ModTime.UTC()) && jsonEqual(old.Plan, np.Plan) {
				if np.State == PlanApproved && old.State == PlanPending {
					if _, err := tx.ExecContext(ctx, fmt.Sprintf(s.q.setPlanState, "?"), PlanApproved, "", now, old.ID, PlanPending); err != nil {
						return err
					}
					old.State = PlanApproved
				}
				p = old
				return nil
			}
			if _, err := tx.ExecContext(ctx, s.q.supersedeOpen, now, np.FileID, np.Policy); err != nil {
				return err
			}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		var id int64
		err = tx.QueryRowContext(ctx, s.q.insertPlan, np.FileID, pathArg(np.Path), np.Policy, np.PolicyHash, np.Size,
			np.ModTime.UnixNano(), np.Fingerprint, string(np.Plan), np.State, sql.NullInt64{Int64: np.JobID, Valid: np.JobID != 0},
			now, now).Scan(&id)
		if err != nil {
			return err
		}
		p, err = scanPlan(tx.QueryRowContext(ctx, s.q.planByID, id))
		created = true
		return err
	})
	if err != nil {
		return p, false, fmt.Errorf("save plan of %q: %w", np.Path, err)
	}
	return p, created, nil
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// SupersedeOpenPlan marks the open plan of a file and policy superseded: the file
// is conformant now, or a plan could not be made.
func (s *Store) SupersedeOpenPlan(ctx context.Context, fileID int64, policy string) error {
	if _, err := s.db.ExecContext(ctx, s.q.supersedeOpen, formatTime(time.Now()), fileID, policy); err != nil {
		return fmt.Errorf("supersede the open plan of file %d: %w", fileID, Classify(err))
	}
	return nil
}

// GetPlan returns one plan, or ErrNotFound.
func (s *Store) GetPlan(ctx context.Context, id int64) (StoredPlan, error) {
	p, err := scanPlan(s.db.QueryRowContext(ctx, s.q.planByID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("get plan %d: %w", id, Classify(err))
	}
	return p, nil
}

// OpenPlan returns the pending or approved plan of a file and policy, or
// ErrNotFound.
func (s *Store) OpenPlan(ctx context.Context, fileID int64, policy string) (StoredPlan, error) {
	p, err := scanPlan(s.db.QueryRowContext(ctx, s.q.openPlan, fileID, policy))
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, fmt.Errorf("get the open plan of file %d: %w", fileID, Classify(err))
	}
	return p, nil
}

// PlanFilter selects plans for ListPlans. Zero fields do not filter.
type PlanFilter struct {
	State      string
	Policy     string
	PathPrefix string // a directory: plans of files under it
	FileID     int64
	After      int64 // cursor: plans with a larger id
	Limit      int
}

// ListPlans returns a page of plans in id order.
func (s *Store) ListPlans(ctx context.Context, f PlanFilter) ([]StoredPlan, error) {
	var where []string
	var args []any
	if f.After > 0 {
		where = append(where, s.q.filterAfter)
		args = append(args, f.After)
	}
	if f.State != "" {
		where = append(where, s.q.planFilterState)
		args = append(args, f.State)
	}
	if f.Policy != "" {
		where = append(where, s.q.planFilterPolicy)
		args = append(args, f.Policy)
	}
	if f.FileID != 0 {
		where = append(where, s.q.planFilterFile)
		args = append(args, f.FileID)
	}
	if f.PathPrefix != "" {
		lo, hi := prefixRange(f.PathPrefix)
		where = append(where, s.q.filterPrefix)
		args = append(args, lo, hi)
	}
	q := s.q.selectPlans
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += s.q.orderByIDLimit
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", Classify(err))
	}
	defer rows.Close()
	var out []StoredPlan
	for rows.Next() {
		p, err := scanPlan(rows)
		if err != nil {
			return nil, fmt.Errorf("list plans: %w", Classify(err))
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list plans: %w", Classify(err))
	}
	return out, nil
}

// SetPlanState moves a plan to state to, with errText as its error, if it is in
// one of the states from; else the error wraps ErrPlanState (or ErrNotFound).
func (s *Store) SetPlanState(ctx context.Context, id int64, from []string, to, errText string) (StoredPlan, error) {
	var p StoredPlan
	err := s.withTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanPlan(tx.QueryRowContext(ctx, s.q.planByID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		ph := strings.TrimSuffix(strings.Repeat("?,", len(from)), ",")
		args := []any{to, errText, formatTime(time.Now()), id}
		for _, f := range from {
			args = append(args, f)
		}
		res, err := tx.ExecContext(ctx, fmt.Sprintf(s.q.setPlanState, ph), args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: plan %d is %s (want %s)", ErrPlanState, id, cur.State, strings.Join(from, " or "))
		}
		p, err = scanPlan(tx.QueryRowContext(ctx, s.q.planByID, id))
		return err
	})
	if err != nil {
		return p, fmt.Errorf("set state of plan %d: %w", id, err)
	}
	return p, nil
}

// DoesNotConverge reports whether applying the policy with hash policyHash to
// this file left it at version fingerprint still not conformant: vpo must not
// apply it again.
func (s *Store) DoesNotConverge(ctx context.Context, fileID int64, policyHash, fingerprint string) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, s.q.noConverge, fileID, policyHash, fingerprint).Scan(&n); err != nil {
		return false, fmt.Errorf("check convergence of file %d: %w", fileID, Classify(err))
	}
	return n > 0, nil
}

// Claim is a file an apply job is working on.
type Claim struct {
	FileID    int64
	Path      string
	JobID     int64
	ClaimedAt time.Time
}

// ClaimFile records that job jobID works on the file; it fails wrapping
// ErrClaimed when another job holds the file. Claiming a file again by the same
// job succeeds.
func (s *Store) ClaimFile(ctx context.Context, fileID int64, path string, jobID int64) error {
	var holder int64
	err := s.db.QueryRowContext(ctx, s.q.claimFile, fileID, pathArg(path), jobID, formatTime(time.Now())).Scan(&holder)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("claim file %q: %w", path, ErrClaimed)
	}
	if err != nil {
		return fmt.Errorf("claim file %q: %w", path, Classify(err))
	}
	return nil
}

// ReleaseFile drops job jobID's claim of the file.
func (s *Store) ReleaseFile(ctx context.Context, fileID, jobID int64) error {
	if _, err := s.db.ExecContext(ctx, s.q.releaseFile, fileID, jobID); err != nil {
		return fmt.Errorf("release file %d: %w", fileID, Classify(err))
	}
	return nil
}

// ReleaseJobClaims drops every claim of job jobID.
func (s *Store) ReleaseJobClaims(ctx context.Context, jobID int64) error {
	if _, err := s.db.ExecContext(ctx, s.q.releaseJobClaims, jobID); err != nil {
		return fmt.Errorf("release the files of job %d: %w", jobID, Classify(err))
	}
	return nil
}

// Claims lists the claimed files.
func (s *Store) Claims(ctx context.Context) ([]Claim, error) { return s.claims(ctx, s.q.listClaims) }

// StaleClaims lists the claims a starting daemon may clean up: on SQLite all of
// them (its lock says no other daemon runs), on PostgreSQL those whose job is
// not running on another node (node is this one's River client ID).
func (s *Store) StaleClaims(ctx context.Context, node string) ([]Claim, error) {
	if s.pg == nil {
		return s.Claims(ctx)
	}
	return s.claims(ctx, s.q.staleClaims, node)
}

func (s *Store) claims(ctx context.Context, q string, args ...any) ([]Claim, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list file claims: %w", Classify(err))
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		var c Claim
		var path []byte
		var at string
		if err := rows.Scan(&c.FileID, &path, &c.JobID, &at); err != nil {
			return nil, fmt.Errorf("list file claims: %w", Classify(err))
		}
		c.Path, c.ClaimedAt = string(path), parseTime(at)
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list file claims: %w", Classify(err))
	}
	return out, nil
}

// ClearClaims drops every claim: at daemon startup, when the database lock says no
// job runs.
func (s *Store) ClearClaims(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, s.q.clearClaims); err != nil {
		return fmt.Errorf("clear file claims: %w", Classify(err))
	}
	return nil
}
