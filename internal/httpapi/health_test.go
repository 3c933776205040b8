package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/logging"
)

func openStore(t *testing.T) *catalog.Store {
	t.Helper()
	path := filepath.Join(t.TempDir(), "library.db")
	s, err := catalog.Open(context.Background(), path, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func getHealth(t *testing.T, h http.Handler) (Health, int, time.Duration) {
	t.Helper()
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, newRequest("GET", "/health", nil))
	took := time.Since(start)
	var body Health
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("health body %q: %v", rec.Body.String(), err)
	}
	return body, rec.Code, took
}

// hangingDB is a boundary fake for a database that never answers.
type hangingDB struct{}

func (hangingDB) Check(ctx context.Context) error {
	time.Sleep(3 * time.Second) // ignores ctx, like a blocked system call
	return nil
}

func TestHealthStates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		setup        func(t *testing.T, a *API, s *catalog.Store)
		db           func(s *catalog.Store) DatabaseChecker
		wantCode     int
		wantStatus   string
		wantDatabase string
	}{
		{name: "starting", setup: func(t *testing.T, a *API, s *catalog.Store) {},
			wantCode: 503, wantStatus: "starting", wantDatabase: "connected"},
		{name: "healthy", setup: func(t *testing.T, a *API, s *catalog.Store) { a.SetReady() },
			wantCode: 200, wantStatus: "healthy", wantDatabase: "connected"},
		{name: "database file deleted", setup: func(t *testing.T, a *API, s *catalog.Store) {
			a.SetReady()
			if err := os.Remove(s.Path()); err != nil {
				t.Fatal(err)
			}
		}, wantCode: 503, wantStatus: "degraded", wantDatabase: "disconnected"},
		{name: "database file replaced", setup: func(t *testing.T, a *API, s *catalog.Store) {
			a.SetReady()
			other := s.Path() + ".new"
			if err := os.WriteFile(other, []byte("not a database"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(other, s.Path()); err != nil {
				t.Fatal(err)
			}
		}, wantCode: 503, wantStatus: "degraded", wantDatabase: "disconnected"},
		{name: "database hangs", db: func(*catalog.Store) DatabaseChecker { return hangingDB{} },
			setup:    func(t *testing.T, a *API, s *catalog.Store) { a.SetReady() },
			wantCode: 503, wantStatus: "degraded", wantDatabase: "disconnected"},
		{name: "shutting down", setup: func(t *testing.T, a *API, s *catalog.Store) { a.SetReady(); a.StartDrain() },
			wantCode: 503, wantStatus: "unhealthy", wantDatabase: "connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := openStore(t)
			var db DatabaseChecker = s
			if tt.db != nil {
				db = tt.db(s)
			}
			a := New(Deps{Logger: logging.Discard(), Version: "test", Database: db, SchemaVersion: s.SchemaVersion(), Started: time.Now()})
			tt.setup(t, a, s)
			if tt.name == "database hangs" {
				// The probe hangs in the background; /health must say so after
				// HangAfter, and answer at once meanwhile.
				go a.ProbeNow(context.Background())
				time.Sleep(HangAfter + 200*time.Millisecond)
			} else {
				a.ProbeNow(context.Background())
			}
			body, code, took := getHealth(t, a.Handler())
			if code != tt.wantCode || body.Status != tt.wantStatus || body.Database != tt.wantDatabase {
				t.Errorf("got %d %s/%s (%s), want %d %s/%s", code, body.Status, body.Database, body.DatabaseError,
					tt.wantCode, tt.wantStatus, tt.wantDatabase)
			}
			if body.ShuttingDown != (tt.wantStatus == "unhealthy") {
				t.Errorf("shutting_down = %v", body.ShuttingDown)
			}
			if body.Version != "test" || body.SchemaVersion != catalog.LatestSchemaVersion() {
				t.Errorf("version %q schema %d", body.Version, body.SchemaVersion)
			}
			// Correctness bound, not a benchmark: /health never waits for a probe.
			if took > 500*time.Millisecond {
				t.Errorf("health took %s", took)
			}
			t.Logf("health answered in %s: %s", took, body.DatabaseError)
		})
	}
}

func TestDrainingRefusesMutations(t *testing.T) {
	t.Parallel()
	s := openStore(t)
	a := New(Deps{Logger: logging.Discard(), Database: s, Started: time.Now()})
	a.SetReady()
	a.StartDrain()
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, newRequest("POST", "/api/anything", nil))
	if rec.Code != 503 {
		t.Fatalf("POST while draining: %d %s", rec.Code, rec.Body)
	}
	var e errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != "shutting_down" {
		t.Fatalf("body %s", rec.Body)
	}
	rec = httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, newRequest("GET", "/nope", nil))
	if rec.Code != 404 {
		t.Fatalf("GET while draining: %d", rec.Code)
	}
}
