//go:build unix

package scan

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestFingerprintFIFO checks that a FIFO named like a video is refused at once
// rather than blocking in open until a writer appears.
func TestFingerprintFIFO(t *testing.T) {
	p := filepath.Join(t.TempDir(), "fifo.mkv")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Fingerprint(p, 0)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Fingerprint of a FIFO succeeded, want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fingerprint of a FIFO blocked")
	}
}
