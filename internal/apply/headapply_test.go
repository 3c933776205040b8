package apply_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vpo-project/vpo/internal/apply"
	"github.com/vpo-project/vpo/internal/probe"
	"github.com/vpo-project/vpo/internal/testmedia"
)

// languagesAndForced changes languages and forced flags (and, with
// flagsFrench or clearTitles, the rest of what mkvpropedit edits).
const languagesAndForced = header + `phases:
  - name: meta
    rules:
      match: all
      items:
        - name: german subtitles
          when: {exists: {track_type: subtitle, language: fra}}
          then:
            - set_language: {track_type: subtitle, new_language: deu, match_language: fra}
            - set_forced: {track_type: subtitle, language: eng, value: false}
`

// TestApplyInPlaceInProcess: a metadata-only edit, in place or on a copy,
// runs neither ffprobe nor mkvmerge (the header is read and verified
// in-process), and
// the ffprobe report it hands the catalogue is what ffprobe says of the
// edited file. Files made by ffmpeg and by mkvmerge, with non-ASCII titles;
// policies changing default and forced flags, languages and titles.
func TestApplyInPlaceInProcess(t *testing.T) {
	t.Parallel()
	policies := map[string]string{"flags": flagsFrench, "titles": clearTitles, "languages": languagesAndForced}
	for _, combo := range []struct{ maker, mode string }{
		{"ffmpeg", apply.InPlaceAuto}, {"mkvmerge", apply.InPlaceAuto}, {"ffmpeg", apply.InPlaceNever}, {"mkvmerge", apply.InPlaceNever},
	} {
		maker, mode := combo.maker, combo.mode
		for name, pol := range policies {
			t.Run(maker+"/"+mode+"/"+name, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				path := testmedia.MakeRich(t, dir).MKV
				if maker == "mkvmerge" {
					remux := filepath.Join(dir, "remux.mkv")
					cmd := exec.Command("mkvmerge", "-q", "-o", remux, "--track-name", "1:Anglais «stéréo» ✓", path)
					cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("mkvmerge: %v\n%s", err, out)
					}
					path = remux
				}
				p, req := planFor(t, path, pol)
				if !req.Plan.Changed() {
					t.Fatalf("the plan changes nothing:\n%s", planText(req.Plan))
				}
				e, _ := inPlaceExecutor(t)
				e.InPlace = mode
				var ffprobeRuns, mkvmergeRuns string
				e.Tools.FFprobe, ffprobeRuns = countingTool(t, "ffprobe")
				e.Tools.MKVMerge, mkvmergeRuns = countingTool(t, "mkvmerge")
				res, err := e.Apply(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Changed || res.InPlace != (mode == apply.InPlaceAuto) {
					t.Fatalf("res = %+v", res)
				}
				assertNoTemp(t, dir)
				if n, m := runs(t, ffprobeRuns), runs(t, mkvmergeRuns); n != 0 || m != 0 {
					t.Errorf("ffprobe ran %d times, mkvmerge %d; want 0 and 0", n, m)
				}
				probed, err := probe.Runner{}.Probe(context.Background(), path)
				if err != nil {
					t.Fatal(err)
				}
				got := *res.Probe
				if math.Abs(float64(got.BitRate-probed.BitRate)) > float64(probed.BitRate)/100 {
					t.Errorf("bit rate %d, ffprobe %d", got.BitRate, probed.BitRate)
				}
				got.BitRate = probed.BitRate
				if !reflect.DeepEqual(&got, probed) {
					t.Errorf("derived report\n%+v\nffprobe\n%+v", got, *probed)
				}
				if again := requestFor(t, p, path); !again.Plan.Conformant() {
					t.Errorf("not conformant after the apply:\n%s", planText(again.Plan))
				}
			})
		}
	}
}

// TestApplyInPlaceTracksPastClusters: after an in-place edit that grew the
// header, mkvpropedit put the Tracks past the clusters; a second edit of
// such a file rewrites bytes between the first Cluster and the old end,
// which the journal cannot undo, so apply edits a copy instead.
func TestApplyInPlaceTracksPastClusters(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := testmedia.MakeRich(t, dir).MKV
	long := strings.Repeat("long title ", 60)
	cmd := exec.Command("mkvpropedit", path, "--edit", "track:a1", "--set", "name="+long)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkvpropedit: %v\n%s", err, out)
	}
	// The premise: mkvpropedit rewrites the moved Tracks where they are.
	probeCopy := filepath.Join(t.TempDir(), "x.mkv")
	copyTo(t, path, probeCopy)
	before, _ := os.ReadFile(probeCopy)
	cmd = exec.Command("mkvpropedit", probeCopy, "--edit", "track:a1", "--set", "name="+long+"!")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mkvpropedit: %v\n%s", err, out)
	}
	after, _ := os.ReadFile(probeCopy)
	n := min(len(before), len(after))
	if bytes.Equal(before[n-1000:n], after[n-1000:n]) {
		t.Fatal("premise: mkvpropedit did not rewrite the Tracks past the clusters")
	}

	pol, req := planFor(t, path, flagsFrench)
	e, jdir := inPlaceExecutor(t)
	res, err := e.Apply(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.InPlace || res.Tool != apply.ToolMKVPropEdit {
		t.Fatalf("res = %+v, want mkvpropedit on a copy", res)
	}
	if again := requestFor(t, pol, path); !again.Plan.Conformant() {
		t.Errorf("not conformant:\n%s", planText(again.Plan))
	}
	assertEmptyDir(t, jdir)
	assertNoTemp(t, dir)
}

// TestApplyInPlaceInProcessCatchesWrongEdits: an in-place edit that did
// nothing, or edited another track than the plan says, fails the
// in-process verification, and the journal puts the original back.
func TestApplyInPlaceInProcessCatchesWrongEdits(t *testing.T) {
	t.Parallel()
	realTool, err := exec.LookPath("mkvpropedit")
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct{ body, errText string }{
		"nothing done": {body: "exit 0", errText: "verification failed: track 1 (was 1): default true, want false"},
		"wrong track":  {body: realTool + ` "$1" --edit track:a3 --set flag-default=1 >/dev/null`, errText: "verification failed: track 1 (was 1): default true, want false"},
		"title on another track": {body: realTool + ` "$@" >/dev/null && ` + realTool + ` "$1" --edit track:s1 --set name=X >/dev/null`,
			errText: `name "X", want "English Forced"`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := testmedia.MakeRich(t, dir).MKV
			_, req := planFor(t, path, flagsFrench)
			before := stateOf(t, path)
			e, jdir := inPlaceExecutor(t)
			e.Tools.MKVPropEdit = fakeTool(t, tt.body)
			var ffprobeRuns string
			e.Tools.FFprobe, ffprobeRuns = countingTool(t, "ffprobe")
			_, err := e.Apply(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tt.errText) {
				t.Fatalf("err = %v, want %q", err, tt.errText)
			}
			assertUntouched(t, path, before)
			assertEmptyDir(t, jdir)
			if n := runs(t, ffprobeRuns); n != 0 {
				t.Errorf("ffprobe ran %d times", n)
			}
		})
	}
}
