package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/logging"
)

// TestDatabaseUnavailable: a store error that means the database server cannot
// be reached is 503 database_unavailable with Retry-After, not a 500.
func TestDatabaseUnavailable(t *testing.T) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/files", nil)
	writeError(rec, req, logging.Discard(), fmt.Errorf("list files: %w", catalog.ErrUnavailable))
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || body.Error.Code != "database_unavailable" || rec.Header().Get("Retry-After") != "5" {
		t.Errorf("got %d %q Retry-After %q, want 503 database_unavailable 5", rec.Code, body.Error.Code, rec.Header().Get("Retry-After"))
	}
}
