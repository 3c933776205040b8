package cli

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vpo-project/vpo/internal/testmedia"
)

// applyHome is a policy home whose config applies at once (settle 0), with a
// library of a file the movies policy changes and one it finds conformant.
func applyHome(t *testing.T) (home, lib string) {
	t.Helper()
	home, _ = policyHome(t)
	if err := os.WriteFile(filepath.Join(home, ".vpo", "config.toml"), []byte("[apply]\nsettle = 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lib = filepath.Join(home, "lib")
	testmedia.MakePolicyMKV(t, lib)
	m := testmedia.Make(t, lib)
	for _, p := range []string{m.Truncated, m.Empty, m.NotVideo, m.MP4} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	return home, lib
}

// TestPolicyRunApplyNoTTY: when stderr is not a terminal (a pipe, a file, the
// journal) a foreground apply writes no progress line and no terminal
// control bytes anywhere: stdout is one line per file and the summary.
func TestPolicyRunApplyNoTTY(t *testing.T) {
	home, lib := applyHome(t)
	out, stderr, err := runVPO(t, home, nil, "policy", "run", "--yes", "--policy", "movies", lib)
	if err != nil {
		t.Fatalf("err %v, stderr %s", err, stderr)
	}
	if strings.ContainsAny(out+stderr, "\r\x1b") {
		t.Errorf("control bytes in the output:\nstdout %q\nstderr %q", out, stderr)
	}
	if strings.Contains(stderr, " done: ") {
		t.Errorf("progress on a stderr that is not a terminal: %q", stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[2], "2 files: 1 changed, 1 conformant, 0 skipped, 0 failed; ") {
		t.Fatalf("stdout = %q, want two file lines and the summary", out)
	}
	for _, want := range []string{"changed " + filepath.Join(lib, "tracks.mkv"), "conformant " + filepath.Join(lib, "sample.mkv")} {
		if lines[0] != want && lines[1] != want {
			t.Errorf("stdout = %q, lacks the line %q", out, want)
		}
	}
}

// openPTY opens a pseudo-terminal pair (/dev/ptmx and its /dev/pts/N): a real
// terminal for isTerminal, without a library.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pts: %v", err)
	}
	// Raw output: the terminal must not turn "\n" into "\r\n" for the
	// comparison below.
	tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	tio.Oflag &^= unix.OPOST
	if err := unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(); _ = s.Close() })
	return m, s
}

// TestPolicyRunApplyTTY: with stderr on a real terminal (a pty) a foreground
// apply redraws one line of counters after each file (files done, changed,
// conformant, skipped, failed, bytes written), erases it before each
// per-file line and at the end; stdout stays clean.
func TestPolicyRunApplyTTY(t *testing.T) {
	home, lib := applyHome(t)
	master, slave := openPTY(t)
	if !isTerminal(slave) {
		t.Fatal("the pty is not a terminal to isTerminal")
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(master) // ends with EIO once the slave is closed
		got <- b
	}()
	t.Setenv("HOME", home)
	var stdout bytes.Buffer
	root := NewRoot(Env{Stdout: &stdout, Stderr: slave, Getenv: func(string) (string, bool) { return "", false }})
	root.SetArgs([]string{"policy", "run", "--yes", "--policy", "movies", lib})
	err := root.Execute()
	_ = slave.Close()
	tty := string(<-got)
	if err != nil {
		t.Fatalf("err %v, terminal %q", err, tty)
	}
	if strings.ContainsAny(stdout.String(), "\r\x1b") {
		t.Errorf("control bytes on stdout: %q", stdout.String())
	}
	const clr = "\r\x1b[K"
	first := clr + "1 done: " // the files come in catalogue order
	second := clr + "2 done: 1 changed, 1 conformant, 0 skipped, 0 failed; "
	i, j := strings.Index(tty, first), strings.Index(tty, second)
	if i < 0 || j < i {
		t.Fatalf("terminal output %q lacks %q then %q", tty, first, second)
	}
	if !strings.HasSuffix(tty, " written"+clr) {
		t.Errorf("the progress line is not erased at the end: %q", tty)
	}
	// Draw, erase, draw, erase; more when a log line came while the
	// counters were shown (erased before it, redrawn after).
	if n := strings.Count(tty, clr); n < 4 {
		t.Errorf("%d redraws and erasures, want at least 4 (draw, erase, draw, erase): %q", n, tty)
	}
	for i := strings.Index(tty, "timestamp="); i >= 0; {
		if i > 0 && !strings.HasSuffix(tty[:i], clr) && !strings.HasSuffix(tty[:i], "\n") {
			t.Errorf("a log line does not start its own row: %q", tty[max(0, i-40):i+10])
		}
		next := strings.Index(tty[i+1:], "timestamp=")
		if next < 0 {
			break
		}
		i += 1 + next
	}
	if !strings.Contains(tty, " KiB written") {
		t.Errorf("bytes written not shown in binary units: %q", tty)
	}
}

// TestPolicyRunApplyNarrowTTY: on a terminal narrower than the counters the
// line is cut to the width, so that it never wraps (a wrapped line cannot be
// redrawn in place); a log line written while the counters are shown (the
// second changed file's "file applied") erases them first, so that the two
// never share a row, and they are redrawn after it.
func TestPolicyRunApplyNarrowTTY(t *testing.T) {
	home, lib := applyHome(t)
	data, err := os.ReadFile(filepath.Join(lib, "tracks.mkv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lib, "tracks2.mkv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	master, slave := openPTY(t)
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 30}); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(master)
		got <- b
	}()
	t.Setenv("HOME", home)
	var stdout bytes.Buffer
	root := NewRoot(Env{Stdout: &stdout, Stderr: slave, Getenv: func(string) (string, bool) { return "", false }})
	root.SetArgs([]string{"policy", "run", "--yes", "--policy", "movies", lib})
	err = root.Execute()
	_ = slave.Close()
	tty := string(<-got)
	if err != nil {
		t.Fatalf("err %v", err)
	}
	const clr = "\r\x1b[K"
	drawn := 0
	for _, part := range strings.Split(tty, clr) {
		counters, _, _ := strings.Cut(part, "timestamp=") // a log line may follow a redraw
		if !strings.Contains(counters, " done: ") {
			continue
		}
		drawn++
		if len(counters) > 29 {
			t.Errorf("line of %d columns on a 30-column terminal: %q", len(counters), counters)
		}
		if strings.Contains(part, "timestamp=") {
			t.Errorf("a log line shares the row of the counters: %q", part)
		}
	}
	if drawn < 3 || !strings.Contains(tty, clr+"3 done: 2 changed, 1 conform") {
		t.Errorf("terminal output %q, want the counters of three files cut to 29 columns", tty)
	}
	if !strings.Contains(tty, "1 done: ") || strings.Count(tty, `message="file applied"`) != 2 {
		t.Fatalf("terminal output %q, want two file applied logs", tty)
	}
	// The second "file applied" came while the first file's counters were
	// shown: they were erased before it.
	second := strings.LastIndex(tty, "timestamp=")
	if !strings.HasSuffix(tty[:second], clr) && !strings.HasSuffix(tty[:second], "\n") {
		t.Errorf("a log line does not start its own row: %q", tty[max(0, second-40):second+10])
	}
}

// TestPolicyRunDryRunNotConverging: after an apply the real tools could not
// realise (the policy tells commentary by its title, then converts to MP4,
// which stores no titles), a dry run still shows what the policy wants of the
// new version but stores no plan of it: the policy does not converge there.
func TestPolicyRunDryRunNotConverging(t *testing.T) {
	home, dir := policyHome(t)
	if err := os.WriteFile(filepath.Join(home, ".vpo", "config.toml"), []byte("[apply]\nsettle = 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const convert = `schema_version: 13
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
	if err := os.WriteFile(filepath.Join(dir, "convert.yaml"), []byte(convert), 0o600); err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(home, "lib")
	if err := os.MkdirAll(lib, 0o755); err != nil {
		t.Fatal(err)
	}
	rich := testmedia.MakeRich(t, lib)
	for _, p := range []string{rich.MP4, rich.Swapped} {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	out, stderr, err := runVPO(t, home, nil, "policy", "run", "--yes", "--policy", "convert", lib)
	if err != nil || !strings.Contains(out, "changed "+rich.MKV+"\n") {
		t.Fatalf("apply: %v\n%s%s", err, out, stderr)
	}
	mp4 := strings.TrimSuffix(rich.MKV, ".mkv") + ".mp4"
	out, stderr, err = runVPO(t, home, nil, "policy", "run", "--dry-run", "--policy", "convert", lib)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, mp4+": would change\n") || !strings.Contains(out, "  not stored: does not converge: ") || strings.Contains(out, "stored as plan") {
		t.Errorf("dry run output:\n%s", out)
	}
	out, _, err = runVPO(t, home, nil, "plans", "list", "--state", "pending")
	if err != nil || strings.Contains(out, "convert") {
		t.Errorf("pending plans after the dry run: %v\n%s", err, out)
	}
	out, _, err = runVPO(t, home, nil, "plans", "list", "--state", "applied")
	if err != nil || !strings.Contains(out, "applied (does not converge)") {
		t.Errorf("applied plans: %v\n%s", err, out)
	}
}
