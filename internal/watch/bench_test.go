package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/logging"
)

// BenchmarkWatch10000Dirs measures setting up the watches of a root of 10,000
// directories (100 x 100), and then the CPU the watcher uses while nothing
// happens, over 10 s (idle-cpu-%: of one core, the whole test process, with the
// watcher alone in it). docs/benchmarks.md has the figures:
//
//	go test -run '^$' -bench Watch10000Dirs -benchtime 5x ./internal/watch
func BenchmarkWatch10000Dirs(b *testing.B) {
	root := b.TempDir()
	for i := range 100 {
		for j := range 100 {
			if err := os.MkdirAll(filepath.Join(root, fmt.Sprintf("d%02d", i), fmt.Sprintf("e%02d", j)), 0o755); err != nil {
				b.Fatal(err)
			}
		}
	}
	store, err := catalog.Open(context.Background(), filepath.Join(b.TempDir(), "library.db"), logging.Discard())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close(context.Background())
	newWatcher := func() *Watcher {
		w, err := New(Options{Roots: []Root{{Path: root, Handler: &recorder{}}}, Settle: 60 * time.Second,
			Extensions: []string{"mkv"}, Catalogue: store, Logger: logging.Discard()})
		if err != nil {
			b.Fatal(err)
		}
		return w
	}
	b.ResetTimer()
	for range b.N {
		w := newWatcher()
		if err := w.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if st := w.States()[0]; st.Watch != StateOK || st.Directories != 10101 {
			b.Fatalf("state %+v, want ok with 10,101 directories", st)
		}
		w.Stop(context.Background())
		b.StartTimer()
	}
	b.StopTimer()

	w := newWatcher()
	if err := w.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer w.Stop(context.Background())
	time.Sleep(time.Second) // the startup reconciliation
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0, t0 := cpu(), time.Now()
	time.Sleep(10 * time.Second)
	b.ReportMetric(100*float64(cpu()-c0)/float64(time.Since(t0)), "idle-cpu-%")
}
