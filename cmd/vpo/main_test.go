package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/catalog/migrations"
	"github.com/vpo-project/vpo/internal/pgtest"
	"github.com/vpo-project/vpo/internal/testmedia"
	_ "modernc.org/sqlite"
)

var update = flag.Bool("update", false, "update testscript golden files")

// TestMain makes the test binary double as the vpo binary: testscript runs "vpo" in
// scripts as a real child process, so signals, exit codes and streams are real.
func TestMain(m *testing.M) {
	testscript.Main(pgtestMain{m}, map[string]func(){
		"vpo": func() { os.Exit(run()) },
	})
}

// pgtestMain runs the tests through pgtest.Main, which stops the PostgreSQL
// cluster of TestScriptsPostgres once the tests are done.
type pgtestMain struct{ m *testing.M }

func (p pgtestMain) Run() int { return pgtest.Main(p.m) }

// TestScripts runs the end-to-end scripts in testdata/script.
func TestScripts(t *testing.T) {
	testscript.Run(t, ScriptParams(t, "testdata/script"))
}

// ScriptParams are the testscript parameters shared by vpo's end-to-end scripts.
func ScriptParams(t *testing.T, dir string) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		UpdateScripts:       *update,
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			// A private HOME, so ~/.vpo is the script's own.
			env.Setenv("HOME", env.WorkDir+"/home")
			// The catalogue schema this vpo migrates to, so that scripts need
			// no edit when a migration is added.
			env.Setenv("SCHEMA", strconv.FormatInt(catalog.LatestSchemaVersion(), 10))
			env.Setenv("BACKEND", "sqlite")
			return os.MkdirAll(env.WorkDir+"/home", 0o755)
		},
		Condition: func(cond string) (bool, error) {
			// The backend: SQLite here; TestScriptsPostgres sets its own.
			switch cond {
			case "sqlite":
				return true, nil
			case "postgres":
				return false, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"freeport":   cmdFreeport,
			"waithealth": cmdWaitHealth,
			"http":       cmdHTTP,
			"signal":     cmdSignal,
			"exits":      cmdExits,
			"jsonlogs":   cmdJSONLogs,
			"holdport":   cmdHoldPort,
			"schemadown": cmdSchemaDown,
			"sqlexec":    cmdSQLExec,
			"rodir":      cmdReadOnlyDir,
			"mkmedia":    cmdMkMedia,
			"waitjob":    cmdWaitJob,
			"sqlquery":   cmdSQLQuery,
			"setjson":    cmdSetJSON,
			"sleep":      cmdSleep,
			"weirdnames": cmdWeirdNames,
			"waitlog":    cmdWaitLog,
			"noprocs":    cmdNoProcs,
			// policy_*.txtar (policy_cmds_test.go)
			"mkpolicymedia": cmdMkPolicyMedia,
			"mediastate":    cmdMediaState,
			"httpyaml":      cmdHTTPYAML,
		},
	}
}

// freeport VAR: sets VAR to a TCP port that was free a moment ago.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ts.Setenv(args[0], strconv.Itoa(port))
}

// holdport PORT: listens on 127.0.0.1:PORT until the script ends.
func cmdHoldPort(ts *testscript.TestScript, neg bool, args []string) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+args[0])
	ts.Check(err)
	ts.Defer(func() { ln.Close() })
}

// waithealth URL STATUS [SECONDS [BODYREGEXP]]: polls URL until it answers with
// STATUS (and a body that matches BODYREGEXP, when given).
func cmdWaitHealth(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: waithealth URL STATUS [SECONDS [BODYREGEXP]]")
	}
	var bodyRE *regexp.Regexp
	if len(args) > 3 {
		bodyRE = regexp.MustCompile(args[3])
	}
	want, err := strconv.Atoi(args[1])
	ts.Check(err)
	limit := 20 * time.Second
	if len(args) > 2 {
		s, err := strconv.Atoi(args[2])
		ts.Check(err)
		limit = time.Duration(s) * time.Second
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	last := "no answer"
	for time.Now().Before(deadline) {
		resp, err := client.Get(args[0])
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == want && (bodyRE == nil || bodyRE.Match(body)) {
				fmt.Fprintf(ts.Stdout(), "%s", body)
				return
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not answer %d within %s; last: %s", args[0], want, limit, last)
}

// http [-H 'Name: value']... METHOD URL [BODYFILE]: sends BODYFILE ($VARS expanded,
// as application/json unless -H sets Content-Type) with the given headers (-H
// 'Host: x' sets the Host header) and prints "HTTP <status>" and the body to stdout.
func cmdHTTP(ts *testscript.TestScript, neg bool, args []string) {
	var headers [][2]string
	for len(args) > 1 && args[0] == "-H" {
		name, value, ok := strings.Cut(args[1], ":")
		if !ok {
			ts.Fatalf("http: -H %q is not 'Name: value'", args[1])
		}
		headers = append(headers, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
		args = args[2:]
	}
	if len(args) < 2 {
		ts.Fatalf("usage: http [-H 'Name: value']... METHOD URL [BODYFILE]")
	}
	var body io.Reader
	if len(args) > 2 {
		// $VARS in the body file are expanded, like in script lines.
		body = strings.NewReader(os.Expand(ts.ReadFile(args[2]), ts.Getenv))
	}
	req, err := http.NewRequest(args[0], args[1], body)
	ts.Check(err)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok := ts.Getenv("VPO_TEST_TOKEN"); tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for _, h := range headers {
		if strings.EqualFold(h[0], "Host") {
			req.Host = h[1]
		} else {
			req.Header.Set(h[0], h[1])
		}
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	ts.Check(err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "HTTP %d\n%s", resp.StatusCode, b)
}

// signal SIG: sends SIGTERM, SIGINT, SIGKILL, SIGSTOP or SIGCONT to every background
// command still running.
func cmdSignal(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: signal TERM|INT|HUP|KILL|STOP|CONT")
	}
	sig := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "HUP": syscall.SIGHUP,
		"KILL": syscall.SIGKILL, "STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT}[args[0]]
	if sig == 0 {
		ts.Fatalf("unknown signal %s", args[0])
	}
	n := 0
	for _, c := range ts.BackgroundCmds() {
		if c.Process != nil && c.ProcessState == nil {
			if err := c.Process.Signal(sig); err == nil {
				n++
			}
		}
	}
	if n == 0 {
		ts.Fatalf("no running background command to signal")
	}
}

// exits CODE PROGRAM ARGS...: runs the program, which must exit with CODE.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// jsonlogs FILE: every line of FILE (or "stderr") is a JSON object with the keys
// timestamp, level, logger and message.
func cmdJSONLogs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: jsonlogs FILE")
	}
	sc := bufio.NewScanner(strings.NewReader(ts.ReadFile(args[0])))
	n := 0
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			ts.Fatalf("line %d is not JSON: %q", n+1, sc.Text())
		}
		for _, k := range []string{"timestamp", "level", "logger", "message"} {
			if _, ok := rec[k].(string); !ok {
				ts.Fatalf("line %d has no string %q: %q", n+1, k, sc.Text())
			}
		}
		n++
	}
	if n == 0 {
		ts.Fatalf("no log lines")
	}
}

// sqlexec DB SQL: runs one statement on a SQLite database.
func cmdSQLExec(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: sqlexec DB SQL")
	}
	db, err := sql.Open("sqlite", ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	_, err = db.Exec(args[1])
	if neg {
		if err == nil {
			ts.Fatalf("statement succeeded")
		}
		return
	}
	ts.Check(err)
}

// schemadown DB VERSION: takes the SQLite catalogue DB down to schema VERSION by
// its migrations' own down steps, as an older vpo would have left it.
func cmdSchemaDown(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: schemadown DB VERSION")
	}
	version, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	db, err := sql.Open("sqlite", ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	ts.Check(err)
	_, err = p.DownTo(context.Background(), version)
	ts.Check(err)
}

// rodir DIR: makes DIR read-only for vpo until the script ends. As root, whom mode
// bits do not stop, it bind-mounts DIR read-only; otherwise it takes the write bits.
func cmdReadOnlyDir(ts *testscript.TestScript, neg bool, args []string) {
	dir := ts.MkAbs(args[0])
	if os.Geteuid() != 0 {
		ts.Check(os.Chmod(dir, 0o555))
		ts.Defer(func() {
			if err := os.Chmod(dir, 0o755); err != nil {
				ts.Logf("restore the mode of %s: %v", dir, err)
			}
		})
		return
	}
	ts.Check(syscall.Mount(dir, dir, "", syscall.MS_BIND, ""))
	ts.Defer(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			ts.Logf("unmount %s: %v", dir, err)
		}
	})
	ts.Check(syscall.Mount("", dir, "", syscall.MS_REMOUNT|syscall.MS_BIND|syscall.MS_RDONLY, ""))
}

// mkmedia DIR [N]: writes the test media (sample.mkv, sample.mp4, truncated.mkv,
// empty.mkv, notvideo.mp4) into DIR, or N small valid videos when N is given.
func cmdMkMedia(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: mkmedia DIR [N]")
	}
	dir := ts.MkAbs(args[0])
	if len(args) == 2 {
		n, err := strconv.Atoi(args[1])
		ts.Check(err)
		_, err = testmedia.WriteMany(dir, n)
		ts.Check(err)
		return
	}
	_, err := testmedia.Write(dir)
	ts.Check(err)
}

// waitjob BASEURL ID STATE [SECONDS]: polls GET BASEURL/api/jobs/ID until the job is
// in STATE, then prints the job.
func cmdWaitJob(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 3 {
		ts.Fatalf("usage: waitjob BASEURL ID STATE [SECONDS]")
	}
	limit := 30 * time.Second
	if len(args) > 3 {
		s, err := strconv.Atoi(args[3])
		ts.Check(err)
		limit = time.Duration(s) * time.Second
	}
	url := args[0] + "/api/jobs/" + args[1]
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	last := ""
	for time.Now().Before(deadline) {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var j struct {
				State string `json:"state"`
			}
			_ = json.Unmarshal(body, &j)
			last = string(body)
			if j.State == args[2] {
				fmt.Fprintf(ts.Stdout(), "%s", body)
				return
			}
		} else {
			last = err.Error()
		}
		time.Sleep(25 * time.Millisecond)
	}
	ts.Fatalf("job %s did not reach %s within %s; last: %s", args[1], args[2], limit, last)
}

// sqlquery DB SQL: prints the rows of a query, one per line, columns separated by |.
func cmdSQLQuery(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: sqlquery DB SQL")
	}
	db, err := sql.Open("sqlite", "file:"+ts.MkAbs(args[0])+"?_pragma=busy_timeout(5000)")
	ts.Check(err)
	defer db.Close()
	rows, err := db.Query(args[1])
	ts.Check(err)
	defer rows.Close()
	cols, err := rows.Columns()
	ts.Check(err)
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		ts.Check(rows.Scan(ptrs...))
		parts := make([]string, len(vals))
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			parts[i] = fmt.Sprint(v)
		}
		fmt.Fprintln(ts.Stdout(), strings.Join(parts, "|"))
	}
	ts.Check(rows.Err())
}

// setjson VAR PATH: sets VAR to the value at PATH (dot-separated keys and indexes,
// e.g. files.0.id) in the JSON of the last command's stdout (after an "HTTP nnn" line).
func cmdSetJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: setjson VAR PATH")
	}
	out := ts.ReadFile("stdout")
	if strings.HasPrefix(out, "HTTP ") {
		_, out, _ = strings.Cut(out, "\n")
	}
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		ts.Fatalf("stdout is not JSON: %v", err)
	}
	for _, key := range strings.Split(args[1], ".") {
		switch node := v.(type) {
		case map[string]any:
			v = node[key]
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(node) {
				ts.Fatalf("%s: no index %s", args[1], key)
			}
			v = node[i]
		default:
			ts.Fatalf("%s: cannot index %T with %s", args[1], v, key)
		}
	}
	if f, ok := v.(float64); ok {
		ts.Setenv(args[0], strconv.FormatFloat(f, 'f', -1, 64))
		return
	}
	ts.Setenv(args[0], fmt.Sprint(v))
}

// sleep DURATION: waits, e.g. "sleep 500ms".
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// weirdnames SRC DIR: copies SRC into DIR under names that are not valid UTF-8, that
// contain a newline, and that are 255 bytes long (the usual NAME_MAX).
func cmdWeirdNames(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: weirdnames SRC DIR")
	}
	data, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	dir := ts.MkAbs(args[1])
	ts.Check(os.MkdirAll(dir, 0o755))
	for _, name := range []string{"bad\xffname.mkv", "new\nline.mkv", strings.Repeat("x", 251) + ".mkv"} {
		ts.Check(os.WriteFile(dir+"/"+name, data, 0o644))
	}
}

// noprocs [SECONDS]: waits up to SECONDS (default 2) until no live process (zombies
// aside) has this script's WORK in its environment: every process vpo started (the
// media tools, the wrapper scripts standing in for them and their children) is
// gone. Processes of other scripts and other test runs on the machine do not count.
func cmdNoProcs(ts *testscript.TestScript, neg bool, args []string) {
	limit := 2 * time.Second
	if len(args) > 0 {
		s, err := strconv.Atoi(args[0])
		ts.Check(err)
		limit = time.Duration(s) * time.Second
	}
	mark := []byte("WORK=" + ts.Getenv("WORK") + "\x00")
	var alive []string
	for deadline := time.Now().Add(limit); ; time.Sleep(20 * time.Millisecond) {
		alive = alive[:0]
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
			if err != nil || !bytes.HasPrefix(env, mark) && !bytes.Contains(env, append([]byte{0}, mark...)) {
				continue
			}
			stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
			if err != nil {
				continue
			}
			if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
				continue
			}
			cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			alive = append(alive, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(alive) > 0 && !neg {
		ts.Fatalf("still running after %s:\n%s", limit, strings.Join(alive, "\n"))
	}
	if len(alive) == 0 && neg {
		ts.Fatalf("no process of this script is running")
	}
}
