// Command benchcatalog is the helper of scripts/bench-catalog.sh. It does the parts
// of the catalogue benchmark that are awkward in bash and prints its results as
// key=value lines on stdout, for the script to read.
//
//	benchcatalog port                          a free loopback TCP port
//	benchcatalog media -dir DIR -n N           N small distinct valid .mkv files (testmedia.WriteMany)
//	benchcatalog fakeprobe -from FILE -out SH  a fake ffprobe: a /bin/sh script that prints what the
//	                                           real ffprobe says about FILE, whatever it is asked
//	benchcatalog wait -url URL                 poll URL until it answers 200
//	benchcatalog scan -url BASE -path DIR -pid PID [-reset-hwm]
//	                                           POST a scan job, poll it every 100 ms until it ends
//	                                           while sampling VmRSS of PID every 100 ms, then read
//	                                           VmHWM; -reset-hwm resets VmHWM first (clear_refs)
//	benchcatalog run -- CMD ARGS...            run CMD, print its wall time and peak RSS
//	benchcatalog fill -db PATH -files N        a catalogue of N probed files (2-4 tracks each) at
//	                                           PATH, written through catalog.Store.RecordFile
//	benchcatalog query -db PATH -cursor ID     time catalog.Store.ListFileEntries pages of 100 in this
//	                                           process, serially: the floor under GET /api/files
//
// It talks to loopback only and starts no daemon itself.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vpo-project/vpo/internal/testmedia"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: benchcatalog port|media|fakeprobe|wait|scan|run|fill|query ...")
	}
	cmd, args := os.Args[1], os.Args[2:]
	var err error
	switch cmd {
	case "port":
		err = port()
	case "media":
		err = media(args)
	case "fakeprobe":
		err = fakeprobe(args)
	case "wait":
		err = wait(args)
	case "scan":
		err = scanJob(args)
	case "run":
		err = run(args)
	case "fill":
		err = fill(args)
	case "query":
		err = query(args)
	default:
		err = fmt.Errorf("unknown subcommand %q", cmd)
	}
	if err != nil {
		fail(err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "benchcatalog:", msg)
	os.Exit(1)
}

func port() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

func media(args []string) error {
	fs := flag.NewFlagSet("media", flag.ExitOnError)
	dir := fs.String("dir", "", "directory to write into")
	n := fs.Int("n", 200, "number of files")
	_ = fs.Parse(args)
	start := time.Now()
	paths, err := testmedia.WriteMany(*dir, *n)
	if err != nil {
		return err
	}
	var size int64
	if st, err := os.Stat(paths[0]); err == nil {
		size = st.Size()
	}
	fmt.Printf("files=%d\nbytes_each=%d\nfirst=%s\nseconds=%.3f\n", len(paths), size, paths[0], time.Since(start).Seconds())
	return nil
}

// fakeprobe writes a /bin/sh script that prints ffprobe's real output for one file
// with the shell's builtin printf: one exec of /bin/sh per "probe", no ffprobe.
func fakeprobe(args []string) error {
	fs := flag.NewFlagSet("fakeprobe", flag.ExitOnError)
	from := fs.String("from", "", "a media file to probe once with the real ffprobe")
	out := fs.String("out", "", "the script to write")
	ffprobe := fs.String("ffprobe", "ffprobe", "the real ffprobe")
	_ = fs.Parse(args)
	raw, err := exec.Command(*ffprobe, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
		"--", "file:"+*from).Output()
	if err != nil {
		return fmt.Errorf("ffprobe %s: %w", *from, err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return fmt.Errorf("ffprobe output: %w", err)
	}
	quoted := "'" + strings.ReplaceAll(compact.String(), "'", `'\''`) + "'"
	script := "#!/bin/sh\n# fake ffprobe for scripts/bench-catalog.sh: prints the real ffprobe's output for\n# " +
		*from + " whatever it is asked about.\nprintf '%s\\n' " + quoted + "\n"
	if err := os.WriteFile(*out, []byte(script), 0o755); err != nil {
		return err
	}
	var parsed struct {
		Streams []json.RawMessage `json:"streams"`
	}
	_ = json.Unmarshal(raw, &parsed)
	fmt.Printf("tracks=%d\njson_bytes=%d\n", len(parsed.Streams), compact.Len())
	return nil
}

var client = &http.Client{Timeout: 10 * time.Second}

func wait(args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	url := fs.String("url", "", "URL to poll")
	timeout := fs.Duration("timeout", 15*time.Second, "give up after")
	_ = fs.Parse(args)
	deadline := time.Now().Add(*timeout)
	for {
		resp, err := client.Get(*url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body) // drain, to reuse the connection
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer 200 within %v", *url, *timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type jobView struct {
	ID       int64  `json:"id"`
	State    string `json:"state"`
	Progress struct {
		Found, Probed, Unchanged, Failed, Missing int64
	} `json:"progress"`
	Errors     []string   `json:"errors"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// procStatus returns the kB values of the given fields of /proc/PID/status.
func procStatus(pid int, keys ...string) (map[string]int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		for _, want := range keys {
			if k == want {
				n, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
				out[k] = n
			}
		}
	}
	return out, sc.Err()
}

func scanJob(args []string) error {
	fs := flag.NewFlagSet("scan", flag.ExitOnError)
	base := fs.String("url", "", "daemon base URL, http://127.0.0.1:PORT")
	path := fs.String("path", "", "directory to scan")
	pid := fs.Int("pid", 0, "daemon PID, for VmRSS/VmHWM")
	resetHWM := fs.Bool("reset-hwm", false, "reset VmHWM before the scan (write 5 to /proc/PID/clear_refs)")
	interval := fs.Duration("interval", 100*time.Millisecond, "poll and sample interval")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up after")
	_ = fs.Parse(args)

	hwmReset := false
	if *resetHWM {
		hwmReset = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", *pid), []byte("5"), 0) == nil
	}
	before, err := procStatus(*pid, "VmRSS", "VmHWM")
	if err != nil {
		return err
	}

	body, _ := json.Marshal(map[string]string{"type": "scan", "path": *path})
	t0 := time.Now()
	resp, err := client.Post(*base+"/api/jobs", "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("POST /api/jobs: %s: %s", resp.Status, b)
	}
	var sub struct{ ID int64 }
	if err := json.Unmarshal(b, &sub); err != nil || sub.ID == 0 {
		return fmt.Errorf("POST /api/jobs: unexpected answer %s", b)
	}

	maxRSS, samples := before["VmRSS"], 0
	sample := func() {
		if st, err := procStatus(*pid, "VmRSS"); err == nil {
			samples++
			maxRSS = max(maxRSS, st["VmRSS"])
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	tick := time.NewTicker(*interval)
	defer tick.Stop()
	var job jobView
	var tEnd time.Time
	for {
		sample()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/jobs/%d", *base, sub.ID), nil)
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("GET job %d: %w", sub.ID, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET job %d: %s: %s", sub.ID, resp.Status, b)
		}
		job = jobView{}
		if err := json.Unmarshal(b, &job); err != nil {
			return fmt.Errorf("GET job %d: %w", sub.ID, err)
		}
		if job.State != "queued" && job.State != "running" {
			tEnd = time.Now()
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("job %d still %s after %v", sub.ID, job.State, *timeout)
		}
	}
	after, err := procStatus(*pid, "VmRSS", "VmHWM")
	if err != nil {
		return err
	}
	maxRSS = max(maxRSS, after["VmRSS"])
	jobSecs := -1.0
	if job.StartedAt != nil && job.FinishedAt != nil {
		jobSecs = job.FinishedAt.Sub(*job.StartedAt).Seconds()
	}
	p := job.Progress
	fmt.Printf("job_id=%d\nstate=%s\nfound=%d\nprobed=%d\nunchanged=%d\nfailed=%d\nmissing=%d\n",
		job.ID, job.State, p.Found, p.Probed, p.Unchanged, p.Failed, p.Missing)
	fmt.Printf("job_seconds=%.3f\nclient_seconds=%.3f\n", jobSecs, tEnd.Sub(t0).Seconds())
	fmt.Printf("rss_before_kb=%d\nrss_after_kb=%d\nrss_max_sampled_kb=%d\nsamples=%d\nhwm_kb=%d\nhwm_reset=%t\n",
		before["VmRSS"], after["VmRSS"], maxRSS, samples, after["VmHWM"], hwmReset)
	if job.State != "completed" {
		fmt.Printf("errors=%q\n", strings.Join(job.Errors, " | "))
		return fmt.Errorf("scan job %d ended %s: %s", job.ID, job.State, strings.Join(job.Errors, " | "))
	}
	return nil
}

// run runs a command with the caller's environment and stdio and prints its wall
// time and peak RSS (getrusage maxrss of the child) on fd 3 if open, else stderr,
// so that the command's own stdout stays intact.
func run(args []string) error {
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		return errors.New("run: no command")
	}
	c := exec.Command(args[0], args[1:]...)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	// Pass SIGTERM and SIGINT on, so that stopping the benchmark stops CMD too.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	t0 := time.Now()
	if err := c.Start(); err != nil {
		return err
	}
	go func() {
		for sig := range sigs {
			_ = c.Process.Signal(sig)
		}
	}()
	err := c.Wait()
	wall := time.Since(t0)
	signal.Stop(sigs)
	var maxRSS int64
	var user, sys float64
	if c.ProcessState != nil {
		if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
			maxRSS = ru.Maxrss
		}
		user, sys = c.ProcessState.UserTime().Seconds(), c.ProcessState.SystemTime().Seconds()
	}
	out := os.NewFile(3, "results")
	if _, serr := out.Stat(); serr != nil {
		out = os.Stderr
	}
	fmt.Fprintf(out, "wall_seconds=%.3f\nmaxrss_kb=%d\nuser_seconds=%.3f\nsys_seconds=%.3f\n", wall.Seconds(), maxRSS, user, sys)
	return err
}
