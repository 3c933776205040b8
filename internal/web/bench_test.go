package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/probe"
)

// BenchmarkPages measures the server time of the UI's pages over a big catalogue:
// VPO_WEB_BENCH_FILES files (default 100,000), three or four tracks each, written
// through the scanner's write path (RecordFile). Building it takes minutes; with
// VPO_WEB_BENCH_DIR the catalogue is kept there and reused by later runs.
//
//	VPO_WEB_BENCH_DIR=/tmp/webbench go test -run '^$' -bench Pages -benchtime 50x ./internal/web
//
// ns/op is the handler's time for one page (no network); B/page is the HTML sent.
func BenchmarkPages(b *testing.B) {
	n := 100000
	if s := os.Getenv("VPO_WEB_BENCH_FILES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatalf("VPO_WEB_BENCH_FILES=%q: %v", s, err)
		}
	}
	bb := benchCatalogue(b, n)
	pages := []struct{ name, path string }{
		{"library_first_page", "/ui/library"},
		{"library_container_mp4", "/ui/library?container=mp4"},
		{"library_codec_hevc", "/ui/library?codec=hevc"},
		{"library_language_fin_1pct", "/ui/library?language=fin"},
		{"library_prefix", "/ui/library?path_prefix=/media/d7"},
		{"library_language_no_match", "/ui/library?language=xxx"},
		{"library_container_no_match", "/ui/library?container=xxx"},
		{"library_prefix_no_match", "/ui/library?path_prefix=/nowhere"},
		{"library_page_1000", "/ui/library?cursor=" + strconv.Itoa(n/2)},
		{"library_search_100_at_the_end", "/ui/library?q=episode+0999"},
		{"library_search_no_match", "/ui/library?q=zzz"},
		{"library_sort_path", "/ui/library?sort=path"},
		{"library_sort_size_desc", "/ui/library?sort=size&order=desc"},
		{"library_sort_modified_page_1000", "/ui/library?sort=modified&cursor=" + strconv.Itoa(n/2)},
		{"library_sort_path_language_fin", "/ui/library?sort=path&language=fin"},
		{"library_codec_no_match", "/ui/library?codec=xxx"},
		{"library_not_conformant", "/ui/library?policy=english&conformant=no"},
		{"file_detail", "/ui/files/" + strconv.Itoa(n/2)},
		{"file_detail_with_plan", "/ui/files/3"},
		{"plans_pending", "/ui/plans?state=pending"},
		{"plans_pending_page_20", "/ui/plans?state=pending&cursor=1000"},
		{"plan_detail", "/ui/plans/1"},
		{"policies", "/ui/policies"},
		{"policy", "/ui/policies/english"},
		{"dashboard", "/ui/"},
		{"jobs", "/ui/jobs"},
		{"settings", "/ui/settings"},
	}
	// Count the totals once, so that the dashboard reads them from the cache.
	if _, ok := bb.ui.totals.get(time.Minute, time.Time{}); !ok {
		b.Fatal("no totals")
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			var size int
			for b.Loop() {
				rec := httptest.NewRecorder()
				bb.ui.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.path, nil))
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d %s", p.path, rec.Code, rec.Body.String())
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "B/page")
		})
	}
	// The floors, in the same run: a trivial handler sending 20 KB of fixed
	// HTML (what any page costs at least, through the same recorder), and the
	// store's first page of 51 files alone (the SQL of a page, no rendering).
	static := bytes.Repeat([]byte("<p>vpo</p>\n"), 20<<10/11)
	b.Run("floor_static_20KB", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(static)
		})
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ui/library", nil))
		}
	})
	b.Run("floor_store_first_page", func(b *testing.B) {
		for b.Loop() {
			if _, err := bb.app.Store.ListFiles(context.Background(), catalog.FileFilter{Limit: pageSize + 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("totals", func(b *testing.B) {
		for b.Loop() {
			if _, err := computeTotals(context.Background(), bb.app.Store); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// benchPlans is how many files of the benchmark catalogue are planned.
const benchPlans = 60000

var errBenchDone = errors.New("done")

type benchBundle struct {
	app *app.App
	ui  *UI
}

var (
	benchOnce sync.Once
	benchB    *benchBundle
	benchErr  error
)

func benchCatalogue(b *testing.B, n int) *benchBundle {
	benchOnce.Do(func() { benchB, benchErr = buildBenchCatalogue(n) })
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchB
}

func buildBenchCatalogue(n int) (*benchBundle, error) {
	ctx := context.Background()
	dir := os.Getenv("VPO_WEB_BENCH_DIR")
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "vpo-web-bench-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := config.Default(dir)
	cfg.DatabasePath = filepath.Join(dir, fmt.Sprintf("bench-%d.db", n))
	cfg.Policies.Dir = filepath.Join(dir, "policies")
	if err := os.MkdirAll(cfg.Policies.Dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Policies.Dir, "english.yaml"), []byte(englishPolicy), 0o644); err != nil {
		return nil, err
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler), app.Migrate)
	if err != nil {
		return nil, err
	}
	have, err := a.Store.ListFiles(ctx, catalog.FileFilter{After: int64(n - 1), Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(have) == 0 {
		start := time.Now()
		for i := 1; i <= n; i++ {
			if _, err := a.Store.RecordFile(ctx, benchObservation(i)); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(os.Stderr, "built a catalogue of %d files in %s\n", n, time.Since(start).Round(time.Second))
	}
	// Plans: the english policy's plans of the first benchPlans files that it
	// would change (a third: their audio is Japanese), pending.
	ps, err := a.Store.ListPlans(ctx, catalog.PlanFilter{Limit: 1})
	if err != nil {
		return nil, err
	}
	if len(ps) == 0 {
		l, err := a.Plans.LoadPolicy("english")
		if err != nil {
			return nil, err
		}
		start := time.Now()
		err = a.Store.EachFile(ctx, catalog.FileFilter{}, func(f catalog.File) error {
			if f.ID > benchPlans {
				return errBenchDone
			}
			_, _, err := a.Plans.PlanFile(ctx, l, f, catalog.PlanPending, 0)
			return err
		})
		if err != nil && !errors.Is(err, errBenchDone) {
			return nil, err
		}
		fmt.Fprintf(os.Stderr, "planned %d files in %s\n", benchPlans, time.Since(start).Round(time.Second))
	}
	reg, err := policy.LoadRegistry(cfg.Policies.Dir)
	if err != nil {
		return nil, err
	}
	ui, err := New(Deps{Store: a.Store, Jobs: a.Jobs, Scanner: a.Scanner, Plans: a.Plans, Policies: reg, Config: cfg, Version: "bench"})
	if err != nil {
		return nil, err
	}
	return &benchBundle{app: a, ui: ui}, nil
}

// benchObservation is file i of the benchmark catalogue: a third are MP4 with
// Japanese audio, a fifth HEVC, one in a hundred has a Finnish subtitle.
func benchObservation(i int) catalog.Observation {
	container, lang, vcodec := "matroska,webm", "eng", "h264"
	if i%3 == 0 {
		container, lang = "mov,mp4,m4a,3gp,3g2,mj2", "jpn"
	}
	if i%5 == 0 {
		vcodec = "hevc"
	}
	tracks := []probe.Track{
		{Index: 0, Type: "video", Codec: vcodec, Default: true, Width: 1920, Height: 1080, FrameRate: 23.976},
		{Index: 1, Type: "audio", Codec: "aac", Language: lang, Title: "Main audio", Default: true, Channels: 6, ChannelLayout: "5.1(side)"},
		{Index: 2, Type: "subtitle", Codec: "subrip", Language: "eng", Title: "English"},
	}
	if i%100 == 0 {
		tracks = append(tracks, probe.Track{Index: 3, Type: "subtitle", Codec: "subrip", Language: "fin"})
	}
	return catalog.Observation{
		Path:        fmt.Sprintf("/media/d%d/Show %d/Episode %06d.mkv", i%10, i/100, i),
		Size:        int64(700<<20 + i),
		ModTime:     time.Unix(1700000000+int64(i), 0),
		Fingerprint: fmt.Sprintf("%016x", i),
		Result:      &probe.Result{Container: container, Duration: 1300 + float64(i%600), BitRate: 4000000, Tracks: tracks},
	}
}
