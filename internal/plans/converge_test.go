package plans

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/scan"
	"github.com/vpo-project/vpo/internal/testmedia"
)

// titleConvert is a policy the real tools cannot realise: its first phase
// tells the commentary track by its title (it goes first, without the
// default), the second converts to MP4, which stores no titles. On the MP4 the
// former commentary is the first English dialogue track, which the first phase
// now makes default: the policy wants more after every apply.
const titleConvert = `schema_version: 13
config: {audio_languages: [eng]}
phases:
  - name: arrange
    keep_subtitles: {remove_all: true}
    filter_attachments: {remove_all: true}
    track_order: [video, audio_commentary, audio_main, audio_alternate]
    default_flags: {}
  - name: convert
    container: {target: mp4}
`

// TestApplyFileDoesNotConverge: with the real ffmpeg, a file the policy still
// finds not conformant right after its apply is marked "does not converge"
// with the difference, and that policy file is neither planned nor applied
// again on that version of the file.
func TestApplyFileDoesNotConverge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store, err := catalog.Open(ctx, filepath.Join(dir, "library.db"), logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close(context.Background()) })
	lib := filepath.Join(dir, "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	rich := testmedia.MakeRich(t, lib)
	for _, p := range []string{rich.MP4, rich.Swapped} { // rich.mp4 is the conversion's name
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	pdir := filepath.Join(dir, "policies")
	if err := os.MkdirAll(pdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pdir, "convert.yaml"), []byte(titleConvert), 0o644); err != nil {
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
		PoliciesDir: pdir, RequireApproval: false, Logger: logging.Discard()})
	pol, err := svc.LoadPolicy("convert")
	if err != nil {
		t.Fatal(err)
	}
	f, err := store.GetFileByPath(ctx, rich.MKV)
	if err != nil {
		t.Fatal(err)
	}

	o, err := svc.ApplyFile(ctx, pol, f, nil, false, 1, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if o.Result != ResultChanged || o.Converges {
		t.Fatalf("outcome %+v, want changed and not converging", o)
	}
	sp, err := store.GetPlan(ctx, o.Plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "does not converge: right after the apply the policy still wants: "
	if sp.State != catalog.PlanApplied || sp.Converges || !strings.HasPrefix(sp.Error, prefix) ||
		!strings.Contains(sp.Error, "track 1 default: false → true") || !strings.Contains(sp.Error, "track 2 default: true → false") {
		t.Fatalf("plan after the apply: state %s, converges %t, error %q", sp.State, sp.Converges, sp.Error)
	}
	hs, err := store.FileHistory(ctx, f.ID, 0, 10)
	if err != nil || len(hs) != 1 || hs[0].Result != catalog.HistoryApplied || !strings.HasPrefix(hs[0].Error, prefix) {
		t.Fatalf("history %+v, %v", hs, err)
	}

	// The catalogue follows the conversion; the new version is marked.
	nf, err := store.GetFile(ctx, f.ID)
	if err != nil {
		t.Fatal(err)
	}
	mp4 := strings.TrimSuffix(rich.MKV, ".mkv") + ".mp4"
	if nf.Path != mp4 {
		t.Fatalf("catalogue path %s, want %s", nf.Path, mp4)
	}
	st, err := os.Stat(mp4)
	if err != nil {
		t.Fatal(err)
	}
	if fp, err := scan.Fingerprint(mp4, st.Size()); err != nil || fp != nf.Fingerprint {
		t.Fatalf("catalogue fingerprint %s, file %s (%v)", nf.Fingerprint, fp, err)
	}
	if nc, err := store.DoesNotConverge(ctx, nf.ID, pol.SHA256(), nf.Fingerprint); err != nil || !nc {
		t.Fatalf("DoesNotConverge = %t, %v; want true", nc, err)
	}
	// The policy indeed still wants the change.
	if p := pol.evaluate(nf); p.Conformant() {
		t.Fatal("the policy finds the new version conformant")
	}

	// Neither applied nor planned again: the file is untouched.
	data, _ := os.ReadFile(mp4)
	o, err = svc.ApplyFile(ctx, pol, nf, nil, false, 2, logging.Discard())
	if err != nil || o.Result != ResultSkipped || !strings.Contains(o.Reason, "does not converge") {
		t.Fatalf("second apply: %+v, %v; want skipped: does not converge", o, err)
	}
	st2, _ := os.Stat(mp4)
	if now, _ := os.ReadFile(mp4); string(now) != string(data) || !st2.ModTime().Equal(st.ModTime()) {
		t.Error("the non-converging file was rewritten")
	}
	made, c, err := svc.PlanFile(ctx, pol, nf, catalog.PlanPending, 3)
	if err != nil || made != nil || c.Skipped != 1 {
		t.Errorf("plan: %+v, %+v, %v; want skipped", made, c, err)
	}
	if hs, _ := store.FileHistory(ctx, f.ID, 0, 10); len(hs) != 1 {
		t.Errorf("%d history entries, want the one apply", len(hs))
	}
}
