package httpapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
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
	dir := tb.TempDir()
	store, err := catalog.Open(context.Background(), filepath.Join(dir, "library.db"), logging.Discard())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { store.Close(context.Background()) })
	if err := jobs.Migrate(context.Background(), store.DB(), logging.Discard()); err != nil {
		tb.Fatal(err)
	}
	root := tb.TempDir()
	scanner, err := library.NewScanner(library.Options{Store: store, Roots: []string{root}, Extensions: []string{"mkv"},
		Workers: 1, Logger: logging.Discard()})
	if err != nil {
		tb.Fatal(err)
	}
	workers := library.NewWorkers(scanner, store, logging.Discard())
	engine, err := jobs.New(store.DB(), jobs.Config{Workers: 1, Logger: logging.Discard()}, workers.Register)
	if err != nil {
		tb.Fatal(err)
	}
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
