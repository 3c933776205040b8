package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/probe"
)

// BenchmarkListFiles serves GET /api/files pages of 100 from a real catalogue of
// 10,000 files (2 to 4 tracks each) through the API's handler, in process: the
// time and allocations per page without the network. scripts/bench-listing.sh
// measures the daemon under load. Run:
//
//	go test -run '^$' -bench ListFiles -benchmem ./internal/httpapi
func BenchmarkListFiles(b *testing.B) {
	bd := newBundle(b, nil)
	ctx := context.Background()
	for i := range 10000 {
		tracks := []probe.Track{{Index: 0, Type: "video", Codec: "h264"},
			{Index: 1, Type: "audio", Codec: "aac", Language: "eng", Default: true, Channels: 2}}
		if i%2 == 0 {
			tracks = append(tracks, probe.Track{Index: 2, Type: "audio", Codec: "ac3", Language: "fra", Channels: 6})
		}
		if i%3 == 0 {
			tracks = append(tracks, probe.Track{Index: len(tracks), Type: "subtitle", Codec: "subrip", Language: "eng", Forced: true})
		}
		_, err := bd.store.RecordFile(ctx, catalog.Observation{Path: fmt.Sprintf("/lib/show %03d/episode %06d.mkv", i/100, i),
			Size: 7e8, ModTime: time.Unix(1.7e9, int64(i)), Fingerprint: "xxh3:0123456789abcdef",
			Result: &probe.Result{Container: "matroska,webm", Duration: 2700.5, BitRate: 4e6, Tracks: tracks}})
		if err != nil {
			b.Fatal(err)
		}
	}
	h := bd.api.Handler()
	for _, bb := range []struct{ name, target string }{
		{"first", "/api/files?limit=100"},
		{"cursor", "/api/files?limit=100&cursor=5000"},
		{"language", "/api/files?limit=100&language=fra"},
	} {
		target := bb.target
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			// CPU time per page as well as wall time: on a shared machine the
			// wall time is mostly waiting for a core.
			cpu0 := processCPU(b)
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, newRequest("GET", target, nil))
				if w.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", target, w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// processCPU is the process's user + system CPU time.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
