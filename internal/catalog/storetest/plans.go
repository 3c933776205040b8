package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
)

func newPlan(fileID int64, path, fp, plan string) catalog.NewPlan {
	return catalog.NewPlan{FileID: fileID, Path: path, Policy: "std", PolicyHash: "h1", Size: 10,
		ModTime: time.Unix(1700000000, 5), Fingerprint: fp, Plan: []byte(plan), State: catalog.PlanPending}
}

// testPlans: a plan is stored and read back; planning again the same is a no-op;
// a different plan supersedes the open one; states move only along allowed edges;
// filters and the cursor select.
func testPlans(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	a, err := s.RecordFile(ctx, obs("/lib/tv/a.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.RecordFile(ctx, obs("/lib/films/b.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	p1, created, err := s.SavePlan(ctx, newPlan(a, "/lib/tv/a.mkv", "xxh3:1", `{"phases": [1]}`))
	if err != nil || !created {
		t.Fatalf("SavePlan = %v, created %v", err, created)
	}
	if p1.State != catalog.PlanPending || p1.Path != "/lib/tv/a.mkv" || !p1.ModTime.Equal(time.Unix(1700000000, 5)) ||
		!p1.Converges || string(p1.Plan) != `{"phases": [1]}` {
		t.Errorf("stored plan %+v", p1)
	}
	// The same plan again (JSON spelled differently): kept, not duplicated.
	again, created, err := s.SavePlan(ctx, newPlan(a, "/lib/tv/a.mkv", "xxh3:1", `{"phases":[1]}`))
	if err != nil || created || again.ID != p1.ID {
		t.Errorf("same plan again: id %d created %v err %v; want plan %d kept", again.ID, created, err, p1.ID)
	}
	// A different one supersedes it.
	p2, created, err := s.SavePlan(ctx, newPlan(a, "/lib/tv/a.mkv", "xxh3:2", `{"phases":[2]}`))
	if err != nil || !created {
		t.Fatalf("new plan: %v", err)
	}
	if got, _ := s.GetPlan(ctx, p1.ID); got.State != catalog.PlanSuperseded {
		t.Errorf("old plan is %s, want superseded", got.State)
	}
	if open, err := s.OpenPlan(ctx, a, "std"); err != nil || open.ID != p2.ID {
		t.Errorf("OpenPlan = %d, %v; want %d", open.ID, err, p2.ID)
	}
	// Approve, then approving a rejected plan fails.
	if p, err := s.SetPlanState(ctx, p2.ID, []string{catalog.PlanPending}, catalog.PlanApproved, ""); err != nil || p.State != catalog.PlanApproved {
		t.Errorf("approve: %v, %+v", err, p)
	}
	pb, _, err := s.SavePlan(ctx, newPlan(b, "/lib/films/b.mkv", "xxh3:3", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPlanState(ctx, pb.ID, []string{catalog.PlanPending}, catalog.PlanRejected, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPlanState(ctx, pb.ID, []string{catalog.PlanPending}, catalog.PlanApproved, ""); !errors.Is(err, catalog.ErrPlanState) {
		t.Errorf("approve a rejected plan: %v, want ErrPlanState", err)
	}
	if _, err := s.SetPlanState(ctx, 9999, []string{catalog.PlanPending}, catalog.PlanApproved, ""); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("approve plan 9999: %v, want ErrNotFound", err)
	}
	if _, err := s.GetPlan(ctx, 9999); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("GetPlan(9999): %v, want ErrNotFound", err)
	}
	tests := []struct {
		name string
		f    catalog.PlanFilter
		want []int64
	}{
		{name: "all", f: catalog.PlanFilter{}, want: []int64{p1.ID, p2.ID, pb.ID}},
		{name: "state", f: catalog.PlanFilter{State: catalog.PlanApproved}, want: []int64{p2.ID}},
		{name: "policy", f: catalog.PlanFilter{Policy: "other"}, want: nil},
		{name: "path prefix", f: catalog.PlanFilter{PathPrefix: "/lib/films"}, want: []int64{pb.ID}},
		{name: "file", f: catalog.PlanFilter{FileID: a}, want: []int64{p1.ID, p2.ID}},
		{name: "cursor and limit", f: catalog.PlanFilter{After: p1.ID, Limit: 1}, want: []int64{p2.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps, err := s.ListPlans(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []int64
			for _, p := range ps {
				got = append(got, p.ID)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
	if err := s.SupersedeOpenPlan(ctx, a, "std"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenPlan(ctx, a, "std"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("OpenPlan after SupersedeOpenPlan: %v, want ErrNotFound", err)
	}
}

// testApplyRecord: RecordApply updates the file and its tracks, the plan and the
// history together; a conversion moves the file row to its new path; a plan that
// did not converge is found for its result fingerprint only.
func testApplyRecord(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	v := probe.Track{Index: 0, Type: "video", Codec: "h264"}
	au := probe.Track{Index: 1, Type: "audio", Codec: "aac", Language: "eng"}
	id, err := s.RecordFile(ctx, obs("/m/x.mp4", v, au))
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := s.SavePlan(ctx, newPlan(id, "/m/x.mp4", "xxh3:old", `{}`))
	if err != nil {
		t.Fatal(err)
	}
	after := obs("/m/x.mkv", v)
	after.Fingerprint = "xxh3:new"
	err = s.RecordApply(ctx, catalog.ApplyRecord{PlanID: p.ID, JobID: 7, State: catalog.PlanApplied, FileID: id, File: &after,
		Converges: false, ResultFingerprint: "xxh3:new", Error: "does not converge",
		History: &catalog.HistoryEntry{Path: "/m/x.mp4", NewPath: "/m/x.mkv", Policy: "std", PolicyHash: "h1",
			Phases: json.RawMessage(`[{"name":"a"}]`), TracksBefore: json.RawMessage(`[1,2]`), TracksAfter: json.RawMessage(`[1]`),
			Tool: "mkvmerge", ToolVersion: "v80", Bytes: 123, DurationMS: 5, Result: catalog.HistoryApplied}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.GetFile(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != "/m/x.mkv" || f.Fingerprint != "xxh3:new" || len(f.Tracks) != 1 {
		t.Errorf("file after apply: %+v", f)
	}
	if _, err := s.GetFileByPath(ctx, "/m/x.mp4"); !errors.Is(err, catalog.ErrNotFound) {
		t.Errorf("old path still catalogued: %v", err)
	}
	got, _ := s.GetPlan(ctx, p.ID)
	if got.State != catalog.PlanApplied || got.Converges || got.JobID != 7 || got.Error != "does not converge" {
		t.Errorf("plan after apply: %+v", got)
	}
	for _, tt := range []struct {
		hash, fp string
		want     bool
	}{{"h1", "xxh3:new", true}, {"h1", "xxh3:old", false}, {"h2", "xxh3:new", false}} {
		if nc, err := s.DoesNotConverge(ctx, id, tt.hash, tt.fp); err != nil || nc != tt.want {
			t.Errorf("DoesNotConverge(%s, %s) = %v, %v; want %v", tt.hash, tt.fp, nc, err, tt.want)
		}
	}
	hs, err := s.FileHistory(ctx, id, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 1 || hs[0].Tool != "mkvmerge" || hs[0].Bytes != 123 || hs[0].PlanID != p.ID || hs[0].NewPath != "/m/x.mkv" ||
		string(hs[0].TracksBefore) != "[1,2]" || hs[0].Result != catalog.HistoryApplied {
		t.Errorf("history %+v", hs)
	}
	if hs, _ := s.FileHistory(ctx, id, hs[0].ID, 10); len(hs) != 0 {
		t.Errorf("history after the cursor: %+v", hs)
	}
	// A failed record (a history entry for a file that does not exist breaks
	// the foreign key) leaves nothing behind.
	err = s.RecordApply(ctx, catalog.ApplyRecord{PlanID: p.ID, State: catalog.PlanFailed, FileID: 424242,
		History: &catalog.HistoryEntry{Result: catalog.HistoryFailed}})
	if err == nil {
		t.Fatal("RecordApply for a missing file succeeded")
	}
	if got, _ := s.GetPlan(ctx, p.ID); got.State != catalog.PlanApplied {
		t.Errorf("a failed RecordApply changed the plan to %s", got.State)
	}
}

// testClaims: one job at a time holds a file.
func testClaims(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	id, err := s.RecordFile(ctx, obs("/m/c.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimFile(ctx, id, "/m/c.mkv", 1); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimFile(ctx, id, "/m/c.mkv", 1); err != nil {
		t.Errorf("the same job claims again: %v", err)
	}
	if err := s.ClaimFile(ctx, id, "/m/c.mkv", 2); !errors.Is(err, catalog.ErrClaimed) {
		t.Errorf("another job claims: %v, want ErrClaimed", err)
	}
	cs, err := s.Claims(ctx)
	if err != nil || len(cs) != 1 || cs[0].JobID != 1 || cs[0].Path != "/m/c.mkv" {
		t.Errorf("claims %+v, %v", cs, err)
	}
	if err := s.ReleaseFile(ctx, id, 2); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimFile(ctx, id, "/m/c.mkv", 2); !errors.Is(err, catalog.ErrClaimed) {
		t.Errorf("another job's release freed the file: %v", err)
	}
	if err := s.ReleaseJobClaims(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimFile(ctx, id, "/m/c.mkv", 2); err != nil {
		t.Errorf("claim after release: %v", err)
	}
	if err := s.ClearClaims(ctx); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.Claims(ctx); len(cs) != 0 {
		t.Errorf("claims after ClearClaims: %+v", cs)
	}
}

// testApplyProgress: the apply counters round-trip beside the scan ones.
func testApplyProgress(t *testing.T, s *catalog.Store) {
	ctx := context.Background()
	want := catalog.Counts{Found: 4, Done: 4, Planned: 1, Changed: 2, Conformant: 1, Skipped: 1, Failed: 0, Bytes: 12345}
	if err := s.SaveProgress(ctx, 3, want); err != nil {
		t.Fatal(err)
	}
	p, err := s.GetProgress(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if p[3].Counts != want {
		t.Errorf("progress %+v, want %+v", p[3].Counts, want)
	}
}
