package plans

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/testmedia"
)

const englishPolicy = `schema_version: 13
phases:
  - name: only
    keep_audio:
      languages: [eng]
`

type bundle struct {
	svc   *Service
	store *catalog.Store
	file  catalog.File
	pol   *Loaded
}

// setup catalogues a real MKV (testmedia's, with a French track the policy
// removes) with a real scan, beside a policies directory holding "english".
func setup(t *testing.T, approval bool) *bundle {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	store, err := catalog.Open(ctx, filepath.Join(dir, "library.db"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	lib := filepath.Join(dir, "lib")
	files := testmedia.Make(t, lib)
	pdir := filepath.Join(dir, "policies")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pdir, "english.yaml"), []byte(englishPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	sc, err := library.NewScanner(library.Options{Store: store, Extensions: []string{"mkv", "mp4"}, Logger: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Scan(ctx, lib, logging.Discard(), nil); err != nil {
		t.Fatal(err)
	}
	svc := New(Options{Store: store, Scanner: sc, Executor: &apply.Executor{Logger: logging.Discard()},
		PoliciesDir: pdir, RequireApproval: approval, Logger: logging.Discard()})
	f, err := store.GetFileByPath(ctx, files.MKV)
	if err != nil {
		t.Fatal(err)
	}
	pol, err := svc.LoadPolicy("english")
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{svc: svc, store: store, file: f, pol: pol}
}

func TestCheckPolicyName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"english", true},
		{"", false},
		{"../etc/passwd", false},
		{"a/b", false},
		{"..", false},
		{"nul\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := CheckPolicyName(tt.name); (err == nil) != tt.ok {
				t.Errorf("CheckPolicyName(%q) = %v, want ok %v", tt.name, err, tt.ok)
			}
		})
	}
}

// TestApplyFileConverges: a fresh plan (no approval needed) is applied with the
// real mkvmerge; the catalogue, the plan and the history say so; applying again
// finds the file conformant and writes nothing.
func TestApplyFileConverges(t *testing.T) {
	b := setup(t, false)
	ctx := context.Background()
	o, err := b.svc.ApplyFile(ctx, b.pol, b.file, nil, false, 1, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if o.Result != ResultChanged || !o.Converges || o.Bytes == 0 {
		t.Fatalf("outcome %+v, want changed and converging", o)
	}
	f, err := b.store.GetFile(ctx, b.file.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tracks) != len(b.file.Tracks)-1 || f.Fingerprint == b.file.Fingerprint {
		t.Errorf("catalogue after apply: %d tracks, fingerprint %s (was %s)", len(f.Tracks), f.Fingerprint, b.file.Fingerprint)
	}
	p, err := b.store.GetPlan(ctx, o.Plan.ID)
	if err != nil || p.State != catalog.PlanApplied || !p.Converges {
		t.Errorf("plan after apply: %+v, %v", p, err)
	}
	hs, err := b.store.FileHistory(ctx, f.ID, 0, 10)
	if err != nil || len(hs) != 1 || hs[0].Tool != apply.ToolMKVMerge || hs[0].Result != catalog.HistoryApplied {
		t.Fatalf("history %+v, %v", hs, err)
	}
	before, _ := os.ReadFile(f.Path)
	st1, _ := os.Stat(f.Path)
	o, err = b.svc.ApplyFile(ctx, b.pol, f, nil, false, 2, logging.Discard())
	if err != nil || o.Result != ResultConformant {
		t.Fatalf("second apply: %+v, %v; want conformant", o, err)
	}
	after, _ := os.ReadFile(f.Path)
	st2, _ := os.Stat(f.Path)
	if !bytes.Equal(before, after) || !st1.ModTime().Equal(st2.ModTime()) {
		t.Error("the second apply changed the file")
	}
}

// TestApplyFileNotConverging: a file this policy once failed to converge on is
// neither planned nor applied again at that version.
func TestApplyFileNotConverging(t *testing.T) {
	b := setup(t, false)
	ctx := context.Background()
	sp, _, err := b.store.SavePlan(ctx, catalog.NewPlan{FileID: b.file.ID, Path: b.file.Path, Policy: "english",
		PolicyHash: b.pol.pol.SHA256, Size: b.file.Size, ModTime: b.file.ModTime, Fingerprint: "xxh3:earlier",
		Plan: []byte(`{}`), State: catalog.PlanApproved})
	if err != nil {
		t.Fatal(err)
	}
	err = b.store.RecordApply(ctx, catalog.ApplyRecord{PlanID: sp.ID, State: catalog.PlanApplied, FileID: b.file.ID,
		Converges: false, ResultFingerprint: b.file.Fingerprint, Error: "does not converge: ..."})
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(b.file.Path)
	o, err := b.svc.ApplyFile(ctx, b.pol, b.file, nil, false, 1, logging.Discard())
	if err != nil || o.Result != ResultSkipped {
		t.Fatalf("apply: %+v, %v; want skipped", o, err)
	}
	if now, _ := os.ReadFile(b.file.Path); !bytes.Equal(orig, now) {
		t.Error("a non-converging file was rewritten")
	}
	made, c, err := b.svc.PlanFile(ctx, b.pol, b.file, catalog.PlanPending, 1)
	if err != nil || made != nil || c.Skipped != 1 {
		t.Errorf("plan: %+v, %+v, %v; want skipped", made, c, err)
	}
}

// TestApplyFileClaimedAndApproval: a file another job holds is skipped; with
// approval required a pending plan is not applied, an approved one is.
func TestApplyFileClaimedAndApproval(t *testing.T) {
	b := setup(t, true)
	ctx := context.Background()
	sp, c, err := b.svc.PlanFile(ctx, b.pol, b.file, catalog.PlanPending, 1)
	if err != nil || sp == nil || c.Planned != 1 {
		t.Fatalf("plan: %+v, %+v, %v", sp, c, err)
	}
	orig, _ := os.ReadFile(b.file.Path)
	o, err := b.svc.ApplyFile(ctx, b.pol, b.file, nil, true, 2, logging.Discard())
	if err != nil || o.Result != ResultSkipped {
		t.Fatalf("apply of a pending plan: %+v, %v; want skipped", o, err)
	}
	if _, err := b.store.SetPlanState(ctx, sp.ID, []string{catalog.PlanPending}, catalog.PlanApproved, ""); err != nil {
		t.Fatal(err)
	}
	if err := b.store.ClaimFile(ctx, b.file.ID, b.file.Path, 99); err != nil {
		t.Fatal(err)
	}
	o, err = b.svc.ApplyFile(ctx, b.pol, b.file, nil, true, 2, logging.Discard())
	if err != nil || o.Result != ResultSkipped || o.Reason != "another job is working on the file" {
		t.Fatalf("apply of a claimed file: %+v, %v; want skipped", o, err)
	}
	if now, _ := os.ReadFile(b.file.Path); !bytes.Equal(orig, now) {
		t.Fatal("a skipped file was rewritten")
	}
	if err := b.store.ReleaseJobClaims(ctx, 99); err != nil {
		t.Fatal(err)
	}
	o, err = b.svc.ApplyFile(ctx, b.pol, b.file, nil, true, 2, logging.Discard())
	if err != nil || o.Result != ResultChanged {
		t.Fatalf("apply of the approved plan: %+v, %v; want changed", o, err)
	}
	if cs, _ := b.store.Claims(ctx); len(cs) != 0 {
		t.Errorf("claims left after the apply: %+v", cs)
	}
}

// TestRunForeground: the CLI's foreground apply (`--yes`: no approval) changes the
// MKV, leaves the conformant MP4 alone, and releases its claims.
func TestRunForeground(t *testing.T) {
	b := setup(t, true)
	ctx := context.Background()
	var seen []string
	c, err := b.svc.RunForeground(ctx, "english", []string{filepath.Dir(b.file.Path)}, false,
		func(path string, o Outcome) { seen = append(seen, filepath.Base(path)+":"+o.Result) })
	if err != nil {
		t.Fatal(err)
	}
	if c.Done != 2 || c.Changed != 1 || c.Conformant != 1 || c.Bytes == 0 {
		t.Errorf("counts %+v (%v), want 2 done: 1 changed, 1 conformant", c, seen)
	}
	if cs, _ := b.store.Claims(ctx); len(cs) != 0 {
		t.Errorf("claims left: %+v", cs)
	}
	if _, err := b.svc.RunForeground(ctx, "../x", []string{filepath.Dir(b.file.Path)}, false, nil); !errors.Is(err, ErrBadPolicy) {
		t.Errorf("a path as policy name: %v, want ErrBadPolicy", err)
	}
}
