// Command benchpolicy measures a policy dry run over a large catalogue, as
// docs/benchmarks.md ("Policy dry run") reports it:
//
//	benchpolicy build -db FILE -n N                 a catalogue of N files with varied tracks,
//	                                                written through catalog.Store.RecordFile
//	benchpolicy run -db FILE -policy FILE -mode M   stream every catalogued file with its tracks
//	                                                (catalog.Store.EachFile) and, by mode:
//	                                                floor: only read the rows;
//	                                                evaluate: evaluate the policy and take the outcome
//	                                                (what vpo policy run --dry-run does per file);
//	                                                json: evaluate and encode each plan as JSON
//	                                                (vpo policy run --dry-run --json)
//
// run prints key=value lines: files, seconds, files_per_s, peak_rss_kb (VmHWM of
// this process, which does nothing else), and the outcome counts. Each mode runs
// in its own process so that each peak RSS is its own.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/probe"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: benchpolicy build|run ...")
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = build(os.Args[2:])
	case "run":
		err = run(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "benchpolicy:", msg)
	os.Exit(1)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

var (
	languages = []string{"eng", "eng", "eng", "fra", "ger", "jpn", "spa", "und", ""}
	subTitles = []string{"", "", "SDH", "Forced", "Signs & Songs", "Commentary"}
	audTitles = []string{"", "", "Stereo", "5.1", "Director's Commentary", "Audio Description"}
	codecs    = []string{"aac", "ac3", "eac3", "dts", "truehd", "opus"}
)

// synth returns file i's probe result: one video track, 1 to 4 audio tracks,
// 0 to 6 subtitles and sometimes a font, in varied languages, titles and
// flags, so that a policy has real work (about one file in three is already
// conformant with the benchmark policy, the rest would change).
func synth(r *rand.Rand) *probe.Result {
	res := &probe.Result{Container: "matroska,webm", Duration: 1200 + r.Float64()*6000, BitRate: 4_000_000}
	add := func(t probe.Track) {
		t.Index = len(res.Tracks)
		res.Tracks = append(res.Tracks, t)
	}
	add(probe.Track{Type: probe.TypeVideo, Codec: "h264", Width: 1920, Height: 1080, FrameRate: 23.976, Default: true})
	for i := range 1 + r.IntN(4) {
		add(probe.Track{Type: probe.TypeAudio, Codec: codecs[r.IntN(len(codecs))], Channels: 2 + 4*r.IntN(2),
			Language: languages[r.IntN(len(languages))], Title: audTitles[r.IntN(len(audTitles))], Default: i == 0})
	}
	for range r.IntN(7) {
		add(probe.Track{Type: probe.TypeSubtitle, Codec: "subrip", Language: languages[r.IntN(len(languages))],
			Title: subTitles[r.IntN(len(subTitles))], Forced: r.IntN(8) == 0})
	}
	if r.IntN(4) == 0 {
		add(probe.Track{Type: probe.TypeAttachment, Codec: "ttf"})
	}
	return res
}

func build(args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	db := fs.String("db", "", "database file (created)")
	n := fs.Int("n", 100000, "files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" {
		return errors.New("build: -db is required")
	}
	ctx := context.Background()
	store, err := openStore(ctx, *db, true)
	if err != nil {
		return err
	}
	defer store.Close(ctx)
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	mtime := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range *n {
		o := catalog.Observation{
			Path:        fmt.Sprintf("/srv/media/show-%03d/season-%02d/episode-%07d.mkv", i/1000, (i/50)%20, i),
			Size:        int64(500_000_000 + r.IntN(2_000_000_000)),
			ModTime:     mtime.Add(time.Duration(i) * time.Second),
			Fingerprint: fmt.Sprintf("xxh3:%032x", i),
			Result:      synth(r),
		}
		if _, err := store.RecordFile(ctx, o); err != nil {
			return err
		}
	}
	fmt.Printf("files=%d\nbuild_seconds=%.1f\n", *n, time.Since(start).Seconds())
	return nil
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	db := fs.String("db", "", "database file")
	policyFile := fs.String("policy", "", "policy file")
	mode := fs.String("mode", "evaluate", "floor, evaluate or json")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		pf, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var ev *policy.Evaluator
	if *mode != "floor" {
		p, err := policy.Load(*policyFile)
		if err != nil {
			return err
		}
		if ev, err = policy.Compile(p); err != nil {
			return err
		}
	}
	if *mode != "floor" && *mode != "evaluate" && *mode != "json" {
		return fmt.Errorf("run: -mode %q is not floor, evaluate or json", *mode)
	}
	ctx := context.Background()
	store, err := openStore(ctx, *db, false)
	if err != nil {
		return err
	}
	defer store.Close(ctx)
	enc := json.NewEncoder(io.Discard)
	counts := map[string]int{}
	files, tracks := 0, 0
	start := time.Now()
	err = store.EachFile(ctx, catalog.FileFilter{}, func(f catalog.File) error {
		files++
		tracks += len(f.Tracks)
		if ev == nil {
			return nil
		}
		info := policy.FileInfo{Path: f.Path, Container: f.Container, Size: f.Size, Duration: f.Duration,
			Tracks: make([]policy.Track, len(f.Tracks))}
		for i, t := range f.Tracks {
			info.Tracks[i] = policy.TrackFromProbe(t)
		}
		plan := ev.Evaluate(info)
		counts[plan.Outcome()]++
		if *mode == "json" {
			return enc.Encode(&plan)
		}
		return nil
	})
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	cpu := cpuSeconds()
	fmt.Printf("mode=%s\nfiles=%d\ntracks=%d\nseconds=%.2f\nfiles_per_s=%.0f\ncpu_seconds=%.2f\nfiles_per_cpu_s=%.0f\npeak_rss_kb=%d\n",
		*mode, files, tracks, secs, float64(files)/secs, cpu, float64(files)/cpu, peakRSS())
	for _, o := range []string{policy.OutcomeConformant, policy.OutcomeChange, policy.OutcomeUnsupported, policy.OutcomeError} {
		fmt.Printf("%s=%d\n", strings.ReplaceAll(o, " ", "_"), counts[o])
	}
	return nil
}

// cpuSeconds is the user and system CPU time this process used so far. On a
// shared machine it is the steadier figure: wall time also counts the time
// other processes held the cores.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// peakRSS is this process's VmHWM in KiB, or -1.
func peakRSS() int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// openStore opens the catalogue; create brings a new file's schema up to date.
func openStore(ctx context.Context, path string, create bool) (*catalog.Store, error) {
	if !create {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open catalogue: %w", err)
		}
	}
	if create {
		return catalog.OpenMode(ctx, path, quiet(), catalog.ApplyMigrations)
	}
	return catalog.Open(ctx, path, quiet())
}
