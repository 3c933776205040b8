package metrics_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/logging"
	"github.com/vpo-project/vpo/internal/metrics"
)

// BenchmarkScrape100k scrapes /metrics over a real catalogue of 100,000 files
// (1% missing, 2% failed) and a job queue of 1,000 finished jobs: uncached, every
// scrape counts the files table and River's table; cached, the default CacheFor
// reuses the counts. It reports the exposition's size.
//
//	go test -run '^$' -bench Scrape100k -benchtime 50x ./internal/metrics
func BenchmarkScrape100k(b *testing.B) {
	ctx := context.Background()
	store, err := catalog.OpenMode(ctx, filepath.Join(b.TempDir(), "library.db"), logging.Discard(), catalog.ApplyMigrations)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close(context.Background()) })
	if err := jobs.Migrate(ctx, store.DB(), logging.Discard()); err != nil {
		b.Fatal(err)
	}
	fill(b, store)
	engine, err := jobs.New(store.DB(), jobs.Config{Workers: 1}, nil)
	if err != nil {
		b.Fatal(err)
	}
	sources := metrics.Sources{
		Jobs: func(ctx context.Context) ([]metrics.JobCount, error) {
			c, err := engine.CountsByKind(ctx)
			out := make([]metrics.JobCount, len(c))
			for i, k := range c {
				out[i] = metrics.JobCount{Kind: k.Kind, State: k.State, N: k.N}
			}
			return out, err
		},
		Files: func(ctx context.Context) (metrics.FileCounts, error) {
			f, err := store.FileStats(ctx)
			return metrics.FileCounts{OK: f.OK(), Failed: f.Failed, Missing: f.Missing}, err
		},
		Health: func() metrics.Health { return metrics.Health{Status: "healthy", DatabaseOK: true, WorkersOK: true} },
	}
	for _, bc := range []struct {
		name     string
		cacheFor time.Duration
	}{{"uncached", -1}, {"cached", 0}} {
		b.Run(bc.name, func(b *testing.B) {
			m := metrics.New(metrics.Options{Version: "bench", JobKinds: []string{"scan", "probe"}, JobStates: jobs.States,
				CacheFor: bc.cacheFor, ScrapeTimeout: 10 * time.Second})
			m.SetSources(sources)
			h := m.Handler()
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
				if rec.Code != 200 {
					b.Fatal(rec.Code)
				}
				size = rec.Body.Len()
				_, _ = io.Copy(io.Discard, rec.Body)
			}
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
	b.Run("filestats", func(b *testing.B) {
		for b.Loop() {
			if _, err := store.FileStats(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	f, _ := store.FileStats(ctx)
	if f.Catalogued != 100_000 {
		b.Fatalf("catalogue holds %d files", f.Catalogued)
	}
}

// fill inserts 100,000 files and 1,000 completed jobs in one transaction each.
func fill(b *testing.B, store *catalog.Store) {
	b.Helper()
	ctx := context.Background()
	tx, err := store.DB().BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	const ts = "2026-01-01 00:00:00.000"
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO files (path, size, mtime_ns, fingerprint, container, probe_error,
		probed_at, missing, first_seen, last_seen, updated_at) VALUES (?, 1000, 1, 'xxh3:00', 'matroska,webm', ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 100_000 {
		probeErr, missing := "", i%100 == 0
		if i%50 == 1 {
			probeErr = "ffprobe failed"
		}
		if _, err := stmt.ExecContext(ctx, []byte(fmt.Sprintf("/media/d%03d/f%06d.mkv", i/100, i)), probeErr, ts, missing, ts, ts, ts); err != nil {
			b.Fatal(err)
		}
	}
	stmt.Close()
	jstmt, err := tx.PrepareContext(ctx, `INSERT INTO river_job (args, kind, max_attempts, queue, state, finalized_at, attempted_at)
		VALUES ('{}', ?, 3, 'default', 'completed', ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		kind := "scan"
		if i%2 == 0 {
			kind = "probe"
		}
		if _, err := jstmt.ExecContext(ctx, kind, ts, ts); err != nil {
			b.Fatal(err)
		}
	}
	jstmt.Close()
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
