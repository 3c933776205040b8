package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/logging"
)

// testHost is the Host header of the tests' requests: a loopback name, which the
// Host check always accepts.
const testHost = "localhost:8321"

// newRequest is httptest.NewRequest with Host set to testHost (httptest's default,
// example.com, is refused by the Host check).
func newRequest(method, target string, body io.Reader) *http.Request {
	r := httptest.NewRequest(method, target, body)
	r.Host = testHost
	return r
}

// bundle is the real API over a real catalogue and job queue in a temporary
// directory. The engine is not started, so submitted jobs stay queued and can be
// counted.
type bundle struct {
	api    *API
	engine *jobs.Engine
	store  *catalog.Store
	root   string // the one library root
}

// newBundle builds a bundle; mod, when not nil, adjusts the API's dependencies.
func newBundle(tb testing.TB, mod func(*Deps)) *bundle {
	tb.Helper()
	dir, root := tb.TempDir(), tb.TempDir()
	cfg := config.Default(dir)
	cfg.Library.Roots, cfg.Library.Extensions, cfg.Jobs.Workers = []string{root}, []string{"mkv"}, 1
	core, err := app.Open(context.Background(), cfg, logging.Discard(), app.Migrate)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { core.Close(context.Background()) })
	store, engine, scanner := core.Store, core.Jobs, core.Scanner
	deps := Deps{Logger: logging.Discard(), Database: store, Started: time.Now(), Jobs: engine, Store: store,
		Scanner: scanner, MaxQueued: 1000000}
	if mod != nil {
		mod(&deps)
	}
	a := New(deps)
	a.ProbeNow(context.Background())
	a.SetReady()
	return &bundle{api: a, engine: engine, store: store, root: root}
}

// queued counts the queued jobs.
func (b *bundle) queued(tb testing.TB) int {
	tb.Helper()
	q, _, err := b.engine.Counts(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return q
}
