package cli

import (
	"bufio"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/testmedia"
)

const moviesPolicy = `schema_version: 13
name: Movies
description: English first, keep forced subtitles
config:
  audio_languages: [eng, fra]
  subtitle_languages: [eng]
phases:
  - name: tracks
    keep_audio:
      languages: [eng, fra]
    keep_subtitles:
      languages: [eng]
      preserve_forced: true
    filter_attachments:
      remove_all: true
    track_order: [video, audio_main, audio_alternate, audio_commentary, subtitle_main, subtitle_forced]
    default_flags:
      set_first_video_default: true
      set_preferred_audio_default: true
      clear_other_defaults: true
`

const brokenPolicy = `schema_version: 13
phases:
  - name: x
    keep_audio:
      minimum: 0
      bogus: 1
`

// policyHome is a home directory with ~/.vpo/policies holding movies.yaml
// and broken.yaml; it returns the home and the policies directory.
func policyHome(t *testing.T) (string, string) {
	t.Helper()
	home := t.TempDir()
	dir := filepath.Join(home, ".vpo", "policies")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"movies.yaml": moviesPolicy, "broken.yaml": brokenPolicy} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return home, dir
}

func TestPolicyCommands(t *testing.T) {
	home, dir := policyHome(t)
	broken := filepath.Join(dir, "broken.yaml")
	movies := filepath.Join(dir, "movies.yaml")
	brokenErrs := broken + ":5:7: phases[0].keep_audio.languages: is required\n" +
		broken + ":5:16: phases[0].keep_audio.minimum: must be >= 1\n" +
		broken + ":6:7: phases[0].keep_audio.bogus: unknown key\n"
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		code       int
		stdout     []string // substrings
		stderr     string   // exact, when not empty
		wantErr    string   // exact error text, when not empty
		wantStdout string   // exact, when not empty
	}{
		{name: "validate valid", args: []string{"policy", "validate", movies}, wantStdout: movies + ": valid\n"},
		{name: "validate broken and valid", args: []string{"policy", "validate", broken, movies}, code: 1,
			wantStdout: movies + ": valid\n", stderr: brokenErrs},
		{name: "validate missing file", args: []string{"policy", "validate", filepath.Join(dir, "nope.yaml")}, code: 1,
			stderr: "vpo: read policy: open " + filepath.Join(dir, "nope.yaml") + ": no such file or directory\n"},
		{name: "validate no args", args: []string{"policy", "validate"}, code: 2,
			wantErr: `"vpo policy validate" needs at least one policy file`},
		{name: "list", args: []string{"policy", "list"}, stdout: []string{
			"NAME", "broken  -", broken + ":5:7: phases[0].keep_audio.languages: is required",
			"movies  English first, keep forced subtitles  " + movies + "  yes"}},
		{name: "list empty dir", env: map[string]string{"VPO_POLICIES_DIR": filepath.Join(home, "none")},
			args: []string{"policy", "list"}, wantStdout: "no policies in " + filepath.Join(home, "none") + "\n"},
		{name: "show by name", args: []string{"policy", "show", "movies"}, stdout: []string{
			"schema_version: 13\nname: Movies\n", "  commentary_patterns:\n    - commentary\n", "on_error: continue", "minimum: 1"}},
		{name: "show by path", args: []string{"policy", "show", movies}, stdout: []string{"name: Movies"}},
		{name: "show unknown", args: []string{"policy", "show", "nope"}, code: 1,
			wantErr: `resolve policy "nope": no nope.yaml in ` + dir + `: policy not found`},
		{name: "show broken", args: []string{"policy", "show", "broken"}, code: 1, stderr: brokenErrs},
		{name: "run without dry-run", args: []string{"policy", "run", "--policy", "movies", home}, code: 2,
			wantErr: "applying a policy is not yet available in this vpo; use --dry-run to see what it would change"},
		{name: "run without policy", args: []string{"policy", "run", "--dry-run", home}, code: 2,
			wantErr: `"vpo policy run" needs --policy NAME|FILE`},
		{name: "run without path", args: []string{"policy", "run", "--dry-run", "--policy", "movies"}, code: 2,
			wantErr: `"vpo policy run" needs at least one file or directory`},
		{name: "run broken policy", args: []string{"policy", "run", "--dry-run", "--policy", "broken", home}, code: 1,
			stderr: brokenErrs},
		{name: "run missing path", args: []string{"policy", "run", "--dry-run", "--policy", "movies", filepath.Join(home, "gone")}, code: 2,
			wantErr: filepath.Join(home, "gone") + ": no such file or directory"},
		{name: "run bad config", env: map[string]string{"VPO_LOG_LEVEL": "loud"},
			args: []string{"policy", "run", "--dry-run", "--policy", "movies", home}, code: 78},
		{name: "list bad config", env: map[string]string{"VPO_LOG_LEVEL": "loud"}, args: []string{"policy", "list"}, code: 78},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := runVPO(t, home, tt.env, tt.args...)
			if got := ExitCode(err); got != tt.code {
				t.Fatalf("exit code %d, want %d (err %v, stderr %q)", got, tt.code, err, stderr)
			}
			if tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
			if tt.code != 0 && tt.stderr != "" && !Reported(err) {
				t.Errorf("the problems were printed but the error is not marked reported: %v", err)
			}
			if tt.stderr != "" && stderr != tt.stderr {
				t.Errorf("stderr =\n%s\nwant\n%s", stderr, tt.stderr)
			}
			if tt.wantStdout != "" && out != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", out, tt.wantStdout)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
		})
	}
}

// fileState is what a dry run must not change: the bytes and the mtime.
type fileState struct {
	sum   [32]byte
	mtime time.Time
}

func stateOf(t *testing.T, path string) fileState {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fileState{sha256.Sum256(data), st.ModTime()}
}

type jsonLine struct {
	Path    string       `json:"path"`
	Outcome string       `json:"outcome"`
	Source  string       `json:"source"`
	Error   string       `json:"error"`
	Plan    *policy.Plan `json:"plan"`
	Summary *runSummary  `json:"summary"`
}

func parseLines(t *testing.T, out string) []jsonLine {
	t.Helper()
	var lines []jsonLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l jsonLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// TestPolicyRunDryRun runs the movies policy over real media: the first run
// probes (and catalogues) every file, the second reads the catalogue, a
// touched file is probed again; the plans are right, and no media file
// changes.
func TestPolicyRunDryRun(t *testing.T) {
	home, _ := policyHome(t)
	lib := filepath.Join(home, "lib")
	tracks := testmedia.MakePolicyMKV(t, lib)
	media := testmedia.Make(t, lib)
	before := map[string]fileState{}
	for _, p := range []string{tracks, media.MKV, media.MP4, media.Truncated} {
		before[p] = stateOf(t, p)
	}
	// truncated.mkv, empty.mkv and notvideo.mp4 cannot be read: exit 1.
	run := func(code int, args ...string) string {
		t.Helper()
		out, stderr, err := runVPO(t, home, nil, append([]string{"policy", "run", "--dry-run", "--policy", "movies"}, args...)...)
		if ExitCode(err) != code {
			t.Fatalf("exit code %d, want %d (err %v, stderr %s)", ExitCode(err), code, err, stderr)
		}
		return out
	}

	// Text: the changed file's table and the summary.
	out := run(1, lib)
	for _, want := range []string{
		tracks + ": would change\n",
		"  1   audio       aac     fra   Français               default  →  2*       =     =      -\n",
		"  3   audio       aac     eng   English 5.1            -        →  1*       =     =      default\n",
		"  9   attachment  ttf     -     -                      -        →  removed\n",
		"    remove track 7: keep_subtitles: language ger not in languages\n",
		media.Truncated + ": error: file could not be read: ffprobe failed",
		"6 files: 2 conformant, 1 would change, 0 unsupported, 3 errors\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, media.MKV+":") {
		t.Errorf("a conformant file is printed:\n%s", out)
	}

	jsonRun := func(code int, args ...string) []jsonLine {
		t.Helper()
		return parseLines(t, run(code, append([]string{"--json"}, args...)...))
	}
	lines := jsonRun(1, lib)
	if len(lines) != 7 {
		t.Fatalf("%d JSON lines, want 6 files and a summary", len(lines))
	}
	byPath := map[string]jsonLine{}
	for _, l := range lines[:6] {
		byPath[l.Path] = l
		if l.Source != "catalogue" {
			t.Errorf("%s: source %q on the second run, want catalogue", l.Path, l.Source)
		}
	}
	if s := lines[6].Summary; s == nil || *s != (runSummary{Files: 6, Conformant: 2, WouldChange: 1, Errors: 3}) {
		t.Errorf("summary = %+v", lines[6].Summary)
	}
	tl := byPath[tracks]
	if tl.Outcome != policy.OutcomeChange || tl.Plan == nil || len(tl.Plan.Phases) != 1 {
		t.Fatalf("tracks.mkv = %+v", tl)
	}
	if got := tl.Plan.Phases[0].Order; len(got) != 6 || got[1] != 3 {
		t.Errorf("order = %v, want English 5.1 (track 3) first among audio", got)
	}
	if e := byPath[media.Truncated]; e.Outcome != policy.OutcomeError || !strings.Contains(e.Error, "ffprobe failed") {
		t.Errorf("truncated.mkv = %+v", e)
	}

	// A touched file no longer matches its catalogue entry: it is probed.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(media.MKV, later, later); err != nil {
		t.Fatal(err)
	}
	before[media.MKV] = stateOf(t, media.MKV)
	lines = jsonRun(0, media.MKV, tracks, media.MKV) // named twice, evaluated once
	if len(lines) != 3 || lines[0].Source != "probe" || lines[1].Source != "catalogue" {
		t.Errorf("after touching sample.mkv: %+v", lines)
	}
	for p, want := range before {
		if got := stateOf(t, p); got != want {
			t.Errorf("%s changed during a dry run", p)
		}
	}
}
