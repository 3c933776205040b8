package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// The apply kill rounds (testdata/faults/apply_kill_rounds.txtar): SIGKILL of
// the daemon at random moments while it applies plans to 60 MB files, with
// in-place metadata edits (mkvpropedit, journaled) and remuxes (mkvmerge, temp
// file + rename) side by side. See docs/reliability.md.

// mkbigmkv PATH: writes a 60 MB Matroska file made for the apply kill rounds:
// 300 s of tiny H.264 video, an English PCM mono 8 kHz track ("English", not
// default) and a French PCM stereo 48 kHz track ("French", default; most of the
// bytes). PCM and 2 fps video keep the generation to about a second.
func cmdMkBigMKV(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: mkbigmkv PATH")
	}
	out := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(filepath.Dir(out), 0o755))
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=2:duration=300",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=8000:duration=300",
		"-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=300",
		"-map", "0:v", "-map", "1:a", "-map", "2:a",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-c:a", "pcm_s16le", "-ac:a:0", "1", "-ac:a:1", "2",
		"-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=English",
		"-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=French",
		"-disposition:v:0", "default", "-disposition:a:0", "0", "-disposition:a:1", "default",
		out)
	if b, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("ffmpeg: %v: %s", err, b)
	}
	st, err := os.Stat(out)
	ts.Check(err)
	if st.Size() < 50<<20 || st.Size() > 100<<20 {
		ts.Fatalf("%s is %d bytes, want 50-100 MB", out, st.Size())
	}
}

// mkvTrack is what the rounds compare of one track, from mkvmerge -J.
type mkvTrack struct {
	Type, Codec, Language, Name string
	Default, Forced             bool
}

func (t mkvTrack) String() string {
	return fmt.Sprintf("%s/%s/%s/%q/default=%v/forced=%v", t.Type, t.Codec, t.Language, t.Name, t.Default, t.Forced)
}

// mkvSummary returns the tracks mkvmerge -J reports and ffprobe's duration.
func mkvSummary(path string) ([]mkvTrack, float64, error) {
	out, err := exec.Command("mkvmerge", "-J", path).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("mkvmerge -J %s: %w", path, err)
	}
	var id struct {
		Tracks []struct {
			Type       string `json:"type"`
			Codec      string `json:"codec"`
			Properties struct {
				Language     string `json:"language"`
				TrackName    string `json:"track_name"`
				DefaultTrack bool   `json:"default_track"`
				ForcedTrack  bool   `json:"forced_track"`
			} `json:"properties"`
		} `json:"tracks"`
	}
	if err := json.Unmarshal(out, &id); err != nil {
		return nil, 0, fmt.Errorf("mkvmerge -J %s: %w", path, err)
	}
	var tracks []mkvTrack
	for _, t := range id.Tracks {
		p := t.Properties
		tracks = append(tracks, mkvTrack{Type: t.Type, Codec: t.Codec, Language: p.Language, Name: p.TrackName,
			Default: p.DefaultTrack, Forced: p.ForcedTrack})
	}
	d, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	if err != nil {
		return nil, 0, fmt.Errorf("ffprobe %s: %w", path, err)
	}
	dur, err := strconv.ParseFloat(strings.TrimSpace(string(d)), 64)
	if err != nil {
		return nil, 0, fmt.Errorf("ffprobe %s: duration %q: %w", path, d, err)
	}
	return tracks, dur, nil
}

// roundsFile is one file of the rounds and what its new version must be.
type roundsFile struct {
	path string
	want []mkvTrack // the tracks of a correct new version
	// news are the hashes of the verified new versions seen.
	news map[string]bool
}

// fileSHA returns the hex sha256 of a file's content.
func fileSHA(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// check returns "orig" or "new" if the file is bit-identical to the original
// or is a verified new version (tracks as wanted by mkvmerge -J, duration
// within 1 % of the original's by ffprobe), else an error.
func (f *roundsFile) check(origSHA string, origDur float64) (string, error) {
	sum, err := fileSHA(f.path)
	if err != nil {
		return "", err
	}
	if sum == origSHA {
		return "orig", nil
	}
	if f.news[sum] {
		return "new", nil
	}
	tracks, dur, err := mkvSummary(f.path)
	if err != nil {
		return "", fmt.Errorf("neither the original nor readable: %w", err)
	}
	if !slices.Equal(tracks, f.want) {
		return "", fmt.Errorf("neither the original nor the planned result: tracks %v, want %v", tracks, f.want)
	}
	if math.Abs(dur-origDur) > origDur/100 {
		return "", fmt.Errorf("duration %.3f s, the original's is %.3f s", dur, origDur)
	}
	f.news[sum] = true
	return "new", nil
}

// skips returns the reasons of the files the round's log says were skipped
// ("; skipped: plan is stale x2"), or "".
func skips(logPath string) string {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return ""
	}
	n := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		_, rest, ok := strings.Cut(line, `message="file skipped: `)
		if !ok {
			continue
		}
		reason, _, _ := strings.Cut(rest, `"`)
		n[reason]++
	}
	if len(n) == 0 {
		return ""
	}
	var parts []string
	for r, c := range n {
		parts = append(parts, fmt.Sprintf("%s x%d", r, c))
	}
	slices.Sort(parts)
	return "; skipped: " + strings.Join(parts, ", ")
}

// writing reports whether a tool is writing a file of lib: mkvmerge with
// --output, or mkvpropedit (past the gate or not: the kill is random anyway).
func writing(lib string) bool {
	for _, p := range processesOn(lib) {
		if strings.Contains(p, "mkvpropedit ") || strings.Contains(p, "gatededit ") || strings.Contains(p, " --output ") {
			return true
		}
	}
	return false
}

// leftovers lists the apply temp files under lib and the journals in jdir.
func leftovers(lib, jdir string) (temps, journals []string, err error) {
	err = filepath.WalkDir(lib, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasPrefix(d.Name(), ".") && strings.Contains(d.Name(), ".vpo-tmp-") {
			temps = append(temps, p)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	ents, err := os.ReadDir(jdir)
	if err != nil && !os.IsNotExist(err) {
		return nil, nil, err
	}
	for _, e := range ents {
		if strings.Contains(e.Name(), ".vpo-journal") {
			journals = append(journals, e.Name())
		}
	}
	return temps, journals, nil
}

// processesOn returns the live processes (not zombies) whose command line
// mentions dir: the tools vpo ran on the library's files, and their wrappers.
func processesOn(dir string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte(dir)) {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
			continue
		}
		found = append(found, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
	}
	return found
}

// applyrounds ROUNDS LIBDIR PORT ORIG: the SIGKILL rounds of apply. LIBDIR
// holds meta/*.mkv (applied with the policy english-default: in-place flag
// edits) and remux/*.mkv (policy french: the English track dropped), each a
// copy of ORIG. The media tools are wrappers that wait while $WORK/gate exists.
// ROUNDS times:
//
//  1. with no job left to run, put the original back over a random half of
//     the files already applied (so that every round has work to interrupt);
//  2. close the gate, start vpo, wait until it is healthy: it has recovered,
//     and no tool can write while the gate is closed. Check: every temp file
//     the last kill left is gone, every journal it left was replayed or
//     removed (logged), and every file is bit-identical to ORIG or a verified
//     new version;
//  3. submit a scan and the two apply jobs unless jobs are waiting (re-queued);
//  4. open the gate, sleep a random 0-3 s, SIGKILL vpo; then no tool may still
//     run on the library's files (2 s grace), and every file must exist.
//
// APPLY_KILL_ROUNDS (go test's environment) overrides ROUNDS; FAULT_SEED
// replays a run's random choices. Each round's log is $WORK/apply-round-NN.log.
func cmdApplyRounds(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: applyrounds ROUNDS LIBDIR PORT ORIG")
	}
	roundsArg := args[0]
	if s := os.Getenv("APPLY_KILL_ROUNDS"); s != "" {
		roundsArg = s
	}
	rounds, err := strconv.Atoi(roundsArg)
	ts.Check(err)
	lib := ts.MkAbs(args[1])
	url := "http://127.0.0.1:" + args[2]
	orig := ts.MkAbs(args[3])
	gate := ts.MkAbs("gate")
	jdir := filepath.Join(ts.Getenv("HOME"), ".vpo", "journal")
	dbPath := filepath.Join(ts.Getenv("HOME"), ".vpo", "library.db")

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FAULT_SEED"); s != "" {
		seed, err = strconv.ParseUint(s, 10, 64)
		ts.Check(err)
	}
	ts.Logf("applyrounds: seed %d (FAULT_SEED=%d replays this run)", seed, seed)
	fmt.Fprintf(ts.Stdout(), "seed %d\n", seed)
	rng := rand.New(rand.NewPCG(seed, 0x61707079))

	origSHA, err := fileSHA(orig)
	ts.Check(err)
	origTracks, origDur, err := mkvSummary(orig)
	ts.Check(err)
	var files []*roundsFile
	for _, kind := range []string{"meta", "remux"} {
		paths, err := filepath.Glob(filepath.Join(lib, kind, "*.mkv"))
		ts.Check(err)
		if len(paths) == 0 {
			ts.Fatalf("no files in %s/%s", lib, kind)
		}
		var want []mkvTrack
		for _, t := range origTracks {
			switch {
			case kind == "meta" && t.Type == "audio":
				t.Default = t.Language == "eng"
			case kind == "remux" && t.Type == "audio" && t.Language == "eng":
				continue
			}
			want = append(want, t)
		}
		for _, p := range paths {
			files = append(files, &roundsFile{path: p, want: want, news: map[string]bool{}})
		}
	}
	bodies := []string{
		fmt.Sprintf(`{"type":"scan","path":%q}`, lib),
		fmt.Sprintf(`{"type":"apply","policy":"english-default","path":%q}`, filepath.Join(lib, "meta")),
		fmt.Sprintf(`{"type":"apply","policy":"french","path":%q}`, filepath.Join(lib, "remux")),
	}

	var prevTemps, prevJournals []string
	var delays []time.Duration
	replayed, tempsRemoved, resets := 0, 0, 0
	start := time.Now()
	for round := 1; round <= rounds; round++ {
		// 1. Reset some applied files when no job is left to run.
		pending, err := pendingJobs(dbPath)
		ts.Check(err)
		if pending == 0 && len(prevJournals) == 0 {
			for _, f := range files {
				st, err := f.check(origSHA, origDur)
				if err != nil {
					ts.Fatalf("round %d: before the start, with no job left and no journal, %s: %v", round, f.path, err)
				}
				if st == "new" && rng.IntN(2) == 0 {
					resetFile(ts, orig, f.path, round)
					resets++
				}
			}
		}

		// 2. Start behind the closed gate and check what the recovery left.
		ts.Check(os.WriteFile(gate, nil, 0o644))
		logPath := ts.MkAbs(fmt.Sprintf("apply-round-%02d.log", round))
		logf, err := os.Create(logPath)
		ts.Check(err)
		cmd := vpoCommand(ts, "serve", "--port", args[2])
		cmd.Stderr = logf
		ts.Check(cmd.Start())
		exited := make(chan struct{})
		var waitErr error
		go func() { waitErr = cmd.Wait(); close(exited) }()
		kill := func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			logf.Close()
		}
		fail := func(format string, a ...any) {
			kill()
			ts.Fatalf("round %d: %s\nlog:\n%s", round, fmt.Sprintf(format, a...), tail(logPath, 30))
		}
		health, err := waitHealthy(ts, url, 60*time.Second, exited)
		if err != nil {
			fail("%v", err)
		}
		for _, p := range prevTemps {
			if _, err := os.Lstat(p); err == nil {
				fail("temp file %s left by the last kill is still there after the start", p)
			}
		}
		logText, err := os.ReadFile(logPath)
		ts.Check(err)
		for _, j := range prevJournals {
			if !bytes.Contains(logText, []byte(j)) {
				fail("journal %s left by the last kill was not replayed or removed at the start", j)
			}
		}
		replayed += len(prevJournals)
		tempsRemoved += len(prevTemps)
		summary := map[string]int{}
		for _, f := range files {
			st, err := f.check(origSHA, origDur)
			if err != nil {
				fail("after the restart, %s: %v", f.path, err)
			}
			summary[st]++
		}

		// 3. Give it work unless re-queued jobs are waiting.
		var h struct {
			Jobs struct{ Queued, Running int } `json:"jobs"`
		}
		_ = json.Unmarshal(health, &h)
		submitted := 0
		if h.Jobs.Queued+h.Jobs.Running == 0 {
			for _, b := range bodies {
				code, resp, err := request(ts, "POST", url+"/api/jobs", b, 10*time.Second)
				if err != nil || code != http.StatusAccepted {
					fail("POST /api/jobs %s: %d %s %v", b, code, resp, err)
				}
				submitted++
			}
		}

		// 4. Open the gate, kill at a random moment.
		// Half the rounds kill at any moment of the work (scans included);
		// the others once a tool is writing (a remux or an in-place edit).
		ts.Check(os.Remove(gate))
		opened := time.Now()
		moment := "any time"
		if rng.IntN(2) == 0 && summary["orig"] > 0 {
			moment = "during a write"
			for deadline := time.Now().Add(15 * time.Second); !writing(lib) && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(time.Duration(rng.IntN(700)) * time.Millisecond)
		} else {
			time.Sleep(time.Duration(rng.IntN(3000)) * time.Millisecond)
		}
		delay := time.Since(opened)
		delays = append(delays, delay)
		select {
		case <-exited:
			ts.Fatalf("round %d: vpo exited by itself (%v) before the kill\nlog:\n%s", round, waitErr, tail(logPath, 30))
		default:
		}
		kill()
		var alive []string
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if alive = processesOn(lib); len(alive) == 0 || time.Now().After(deadline) {
				break
			}
		}
		if len(alive) > 0 {
			ts.Fatalf("round %d: tools still running on the library 2 s after the kill:\n%s", round, strings.Join(alive, "\n"))
		}
		for _, f := range files {
			if _, err := os.Stat(f.path); err != nil {
				ts.Fatalf("round %d: after the kill: %v", round, err)
			}
		}
		prevTemps, prevJournals, err = leftovers(lib, jdir)
		ts.Check(err)
		line := fmt.Sprintf("round %2d: at start orig %d new %d; submitted %d jobs, killed %4d ms later (%s); left %d temp files, %d journals%s",
			round, summary["orig"], summary["new"], submitted, delay.Milliseconds(), moment, len(prevTemps), len(prevJournals), skips(logPath))
		ts.Logf("%s", line)
		fmt.Fprintln(ts.Stdout(), line)
	}
	slices.Sort(delays)
	summary := fmt.Sprintf("%d rounds survived in %s; kill delays min %d ms, median %d ms, max %d ms; %d temp files removed and %d journals replayed at restarts; %d files reset to the original",
		rounds, time.Since(start).Round(100*time.Millisecond), delays[0].Milliseconds(),
		delays[len(delays)/2].Milliseconds(), delays[len(delays)-1].Milliseconds(), tempsRemoved, replayed, resets)
	ts.Logf("%s", summary)
	fmt.Fprintln(ts.Stdout(), summary)
}

// applyfinal LIBDIR ORIG: after the rounds and a clean run of every job: each
// file of LIBDIR/meta and LIBDIR/remux is a verified new version, and no temp
// file or journal is left.
func cmdApplyFinal(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: applyfinal LIBDIR ORIG")
	}
	lib := ts.MkAbs(args[0])
	orig := ts.MkAbs(args[1])
	origSHA, err := fileSHA(orig)
	ts.Check(err)
	origTracks, origDur, err := mkvSummary(orig)
	ts.Check(err)
	n := 0
	for _, kind := range []string{"meta", "remux"} {
		paths, err := filepath.Glob(filepath.Join(lib, kind, "*.mkv"))
		ts.Check(err)
		for _, p := range paths {
			var want []mkvTrack
			for _, t := range origTracks {
				switch {
				case kind == "meta" && t.Type == "audio":
					t.Default = t.Language == "eng"
				case kind == "remux" && t.Type == "audio" && t.Language == "eng":
					continue
				}
				want = append(want, t)
			}
			f := &roundsFile{path: p, want: want, news: map[string]bool{}}
			st, err := f.check(origSHA, origDur)
			ts.Check(err)
			if st != "new" {
				ts.Fatalf("%s is still the original after every job completed", p)
			}
			n++
		}
	}
	temps, journals, err := leftovers(lib, filepath.Join(ts.Getenv("HOME"), ".vpo", "journal"))
	ts.Check(err)
	if len(temps)+len(journals) > 0 {
		ts.Fatalf("left behind: temp files %v, journals %v", temps, journals)
	}
	fmt.Fprintf(ts.Stdout(), "%d files applied and verified; no temp file or journal left\n", n)
}

// pendingJobs counts the jobs a start would run (neither finished nor
// cancelled), read-only.
func pendingJobs(dbPath string) (int, error) {
	if _, err := os.Stat(dbPath); os.IsNotExist(err) {
		return 0, nil
	}
	db, err := openRO(dbPath)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRow(`SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'cancelled', 'discarded')`).Scan(&n)
	return n, err
}

// resetFile puts the original back over path, as a new version of the file (a
// fresh mtime), atomically (copy beside it, rename).
func resetFile(ts *testscript.TestScript, orig, path string, round int) {
	tmp := filepath.Join(filepath.Dir(filepath.Dir(path)), "reset.tmp")
	in, err := os.Open(orig)
	ts.Check(err)
	defer in.Close()
	out, err := os.Create(tmp)
	ts.Check(err)
	_, err = io.Copy(out, in)
	ts.Check(err)
	ts.Check(out.Close())
	mt := time.Now().Add(-time.Hour).Add(time.Duration(round) * time.Second)
	ts.Check(os.Chtimes(tmp, mt, mt))
	ts.Check(os.Rename(tmp, path))
}
