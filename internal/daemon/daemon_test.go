package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/testmedia"
)

// testConfig loads the configuration for a daemon on port with its data directory
// under home, and creates that directory.
func testConfig(t *testing.T, home string, port int) *config.Config {
	t.Helper()
	env := map[string]string{"VPO_SERVER_PORT": strconv.Itoa(port), "VPO_JOBS_WORKERS": "2"}
	cfg, err := config.Load(config.Flags{}, config.Options{Home: home,
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestShutdownLeavesNoGoroutines runs the whole daemon in-process on a real SQLite
// file and a real listener, runs a scan through the API, stops it with a signal, and
// checks that every goroutine it started has ended: the HTTP server, the job engine
// and River's services, the health probes, the watchdog and status loops.
func TestShutdownLeavesNoGoroutines(t *testing.T) {
	home := t.TempDir()
	media := filepath.Join(t.TempDir(), "lib")
	testmedia.Make(t, media)
	port := freePort(t)
	cfg := testConfig(t, home, port)

	// Goroutines that exist before the daemon (the test framework's, the testmedia
	// cache's) are not the daemon's.
	ignore := goleak.IgnoreCurrent()

	signals := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), cfg, logging.Discard(), Options{Signals: signals, Started: time.Now()})
	}()

	base := "http://127.0.0.1:" + strconv.Itoa(port)
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not healthy: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	body, _ := json.Marshal(map[string]string{"type": "scan", "path": media})
	resp, err := client.Post(base+"/api/jobs", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("submit scan: %v %v", resp, err)
	}
	var job struct{ ID int64 }
	if err := json.NewDecoder(resp.Body).Decode(&job); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for {
		resp, err := client.Get(base + "/api/jobs/" + strconv.FormatInt(job.ID, 10))
		if err != nil {
			t.Fatal(err)
		}
		var j struct{ State string }
		if err := json.NewDecoder(resp.Body).Decode(&j); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if j.State == "completed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scan not completed: %s", j.State)
		}
		time.Sleep(20 * time.Millisecond)
	}
	client.CloseIdleConnections()

	signals <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v after SIGTERM", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop")
	}
	close(signals)
	goleak.VerifyNone(t, ignore)
}

// TestSecondDaemonRefused: while another daemon holds the database's lock, Run fails
// with the holder's PID before it touches the database or binds its port.
func TestSecondDaemonRefused(t *testing.T) {
	port := freePort(t)
	cfg := testConfig(t, t.TempDir(), port)
	held, err := LockDatabase(cfg.DatabasePath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = held.Release() }()
	ignore := goleak.IgnoreCurrent()

	err = Run(context.Background(), cfg, logging.Discard(), Options{Signals: make(chan os.Signal), Started: time.Now()})
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.PID != os.Getpid() || inUse.LockFile != cfg.DatabasePath+".lock" {
		t.Fatalf("Run beside a lock holder = %v", err)
	}
	if _, err := os.Stat(cfg.DatabasePath); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused daemon created or opened the database: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Errorf("the refused daemon left its port bound: %v", err)
	} else {
		ln.Close()
	}
	goleak.VerifyNone(t, ignore)
}

// TestStartupFailureUnwinds: a startup that fails after the lock and the database
// (the port is taken) stops what had started: the database is checkpointed and
// closed, the lock released, and no goroutine is left.
func TestStartupFailureUnwinds(t *testing.T) {
	hold, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Close()
	cfg := testConfig(t, t.TempDir(), hold.Addr().(*net.TCPAddr).Port)
	ignore := goleak.IgnoreCurrent()

	err = Run(context.Background(), cfg, logging.Discard(), Options{Signals: make(chan os.Signal), Started: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Run on a taken port = %v", err)
	}
	if _, err := os.Stat(cfg.DatabasePath); err != nil {
		t.Errorf("the database was not created before the listener: %v", err)
	}
	if _, err := os.Stat(cfg.DatabasePath + "-wal"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the database was not checkpointed and closed: %v", err)
	}
	if _, held, err := Holder(cfg.DatabasePath); held || err != nil {
		t.Errorf("the lock is still held (%v) after a failed startup", err)
	}
	goleak.VerifyNone(t, ignore)
}
