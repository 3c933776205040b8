package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/testmedia"
)

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
	env := map[string]string{"VPO_SERVER_PORT": strconv.Itoa(port), "VPO_JOBS_WORKERS": "2"}
	cfg, err := config.Load(config.Flags{}, config.Options{Home: home,
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}

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
	json.NewDecoder(resp.Body).Decode(&job)
	resp.Body.Close()
	for {
		resp, err := client.Get(base + "/api/jobs/" + strconv.FormatInt(job.ID, 10))
		if err != nil {
			t.Fatal(err)
		}
		var j struct{ State string }
		json.NewDecoder(resp.Body).Decode(&j)
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
