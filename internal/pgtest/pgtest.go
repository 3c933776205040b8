// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb and
// pg_ctl from Debian's postgresql package (/usr/lib/postgresql/VERSION/bin, or
// the ones on PATH), in a temporary directory, listening on a unix socket in
// that directory and on 127.0.0.1 at a free port. One cluster is shared by a
// test binary: its TestMain calls Main, the first test that needs the server
// starts it (Shared), and Main stops it and removes its directory after the
// tests. Each test takes a database of its own (NewDatabase).
//
// A test that cannot start the cluster fails; it never skips: a missing
// PostgreSQL where the tests run is a broken test machine
// (scripts/install-test-deps.sh installs it).
//
// initdb refuses to run as root. When the tests run as root, the cluster's
// directory belongs to the "postgres" user (which Debian's package creates) and
// initdb, pg_ctl and the server run as that user through runuser.
package pgtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Superuser and Password are the cluster's superuser and its password (for
// connections over TCP, which use password authentication; the unix socket
// trusts every local connection).
const (
	Superuser = "postgres"
	Password  = "vpo-test-password"
)

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	// Dir holds the data directory, the socket and the log.
	Dir  string
	Port int
	bin  string
	// runAs is the user the server runs as when the tests run as root ("" otherwise).
	runAs string
	admin *sql.DB
	next  atomic.Int64
	opts  string // the server's options (pg_ctl -o)
}

// prefix names the clusters' directories, so that a later run finds and
// removes those of a test binary that was killed before it could.
const prefix = "vpo-pgtest-"

// Start initialises and starts a new cluster. Stop it with Stop.
func Start() (*Cluster, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	removeStale()
	c := &Cluster{bin: bin}
	if os.Geteuid() == 0 {
		c.runAs = "postgres"
	}
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	c.Dir = dir
	ok := false
	defer func() {
		if !ok {
			c.Stop()
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if c.runAs != "" {
		u, err := user.Lookup(c.runAs)
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root, the server must run as user %q: %w (install the postgresql package)", c.runAs, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "pwfile"), []byte(Password+"\n"), 0o644); err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run("initdb", "-D", data, "-U", Superuser, "--pwfile", filepath.Join(dir, "pwfile"),
		"-E", "UTF8", "--locale", "C", "--auth-local", "trust", "--auth-host", "scram-sha-256", "--no-sync"); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w: %s", err, out)
	}
	// A free port for TCP (the socket's name has it too); a collision with
	// another process between here and the server's bind fails the start,
	// which is retried on another port.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		c.Port = port
		opts := strings.Join([]string{
			"-c listen_addresses=127.0.0.1",
			"-c port=" + strconv.Itoa(port),
			"-c unix_socket_directories=" + dir,
			"-c max_connections=300",
			// A throwaway cluster: durability buys nothing.
			"-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
			"-c log_min_messages=warning",
		}, " ")
		c.opts = opts
		out, err := c.run("pg_ctl", "start", "-D", data, "-w", "-t", "60", "-l", filepath.Join(dir, "server.log"), "-o", opts)
		if err == nil {
			lastErr = nil
			break
		}
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		lastErr = fmt.Errorf("pgtest: pg_ctl start: %w: %s%s", err, out, tail(log))
	}
	if lastErr != nil {
		return nil, lastErr
	}
	admin, err := sql.Open("pgx", c.URL("postgres"))
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	admin.SetMaxOpenConns(2)
	c.admin = admin
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("pgtest: connect to the new cluster: %w", err)
	}
	ok = true
	return c, nil
}

func tail(b []byte) string {
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	if len(b) == 0 {
		return ""
	}
	return "\nserver log:\n" + string(b)
}

// run runs one of the cluster's programs (as c.runAs when set).
func (c *Cluster) run(prog string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, prog)
	var cmd *exec.Cmd
	if c.runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Dir = c.Dir
	// The server must not be in the test's process group: a signal for the
	// test's children (a testscript's interrupt) is not for it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// Stop stops the server at once and removes the cluster's directory.
func (c *Cluster) Stop() {
	if c.admin != nil {
		c.admin.Close()
	}
	if c.Dir == "" {
		return
	}
	data := filepath.Join(c.Dir, "data")
	if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
		_, _ = c.run("pg_ctl", "stop", "-D", data, "-m", "immediate", "-w", "-t", "30")
	}
	_ = os.RemoveAll(c.Dir)
}

// StopServer stops the server (fast shutdown: sessions are ended) and leaves
// the cluster in place, for tests of a database that goes away; StartServer
// starts it again on the same port.
func (c *Cluster) StopServer() error {
	if out, err := c.run("pg_ctl", "stop", "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "-t", "60"); err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

// StartServer starts the server that StopServer stopped.
func (c *Cluster) StartServer() error {
	out, err := c.run("pg_ctl", "start", "-D", filepath.Join(c.Dir, "data"), "-w", "-t", "60",
		"-l", filepath.Join(c.Dir, "server.log"), "-o", c.opts)
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl start: %w: %s", err, out)
	}
	return nil
}

// URL returns the connection URL of database name over the unix socket, as
// the superuser (trusted, no password).
func (c *Cluster) URL(name string) string {
	q := url.Values{}
	q.Set("host", c.Dir)
	q.Set("port", strconv.Itoa(c.Port))
	q.Set("sslmode", "disable")
	return (&url.URL{Scheme: "postgres", User: url.User(Superuser), Path: "/" + name, RawQuery: q.Encode()}).String()
}

// TCPURL returns the connection URL of database name over TCP on 127.0.0.1 as
// user with password (empty: none in the URL).
func (c *Cluster) TCPURL(name, user, password string) string {
	u := &url.URL{Scheme: "postgres", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port)), Path: "/" + name,
		RawQuery: "sslmode=disable"}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}

// Admin returns a pool connected to the "postgres" database as the superuser.
func (c *Cluster) Admin() *sql.DB { return c.admin }

// CreateDatabase creates a new empty database and returns its name.
func (c *Cluster) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("vpo_test_%d", c.next.Add(1))
	if _, err := c.admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return name, nil
}

// DropDatabase drops a database, ending its connections first.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	if _, err := c.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pgtest: drop database %s: %w", name, err)
	}
	return nil
}

// NewDatabase creates a database for t, dropped when t ends, and returns its
// URL (unix socket, superuser).
func (c *Cluster) NewDatabase(t testing.TB) string {
	t.Helper()
	name, err := c.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.DropDatabase(context.Background(), name); err != nil {
			t.Error(err)
		}
	})
	return c.URL(name)
}

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
	mainCalled atomic.Bool
)

// Shared returns the test binary's cluster, starting it on first use; a
// failure to start fails t (and every later test that asks). The test
// binary's TestMain must call Main, which stops it.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if !mainCalled.Load() {
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main (it stops the shared cluster)")
	}
	sharedOnce.Do(func() { shared, sharedErr = Start() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// NewDatabase is Shared(t).NewDatabase(t).
func NewDatabase(t testing.TB) string {
	t.Helper()
	return Shared(t).NewDatabase(t)
}

// Main runs the tests, stops the shared cluster if a test started one, and
// returns m.Run's exit code, for TestMain: os.Exit(pgtest.Main(m)).
func Main(m interface{ Run() int }) int {
	mainCalled.Store(true)
	code := m.Run()
	if shared != nil {
		shared.Stop()
	}
	return code
}

// findBin returns the directory of initdb and pg_ctl: the newest
// /usr/lib/postgresql/VERSION/bin, else the directory of pg_ctl on PATH.
func findBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", errors.New("pgtest: PostgreSQL's initdb and pg_ctl not found in /usr/lib/postgresql/*/bin or on PATH: install the postgresql package (scripts/install-test-deps.sh)")
}

func version(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// removeStale stops and removes the clusters of test binaries that are gone
// (killed before their TestMain could stop them).
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) == nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue
		}
		c := &Cluster{Dir: d}
		c.bin, _ = findBin()
		if os.Geteuid() == 0 {
			c.runAs = "postgres"
		}
		c.Stop()
	}
}
