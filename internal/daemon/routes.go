package daemon

import (
	"net/http"

	"github.com/vpo-project/vpo/internal/httpapi"
)

// routes builds the daemon's one router: every HTTP handler of vpo is mounted here,
// and the whole is wrapped in the API's edge middleware (panics, write deadlines,
// Host and Origin checks, drain refusal, body limit), so that no route escapes it.
// The bearer token and the JSON content-type rule guard /api/ only.
func routes(api *httpapi.API) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/health", api.HealthHandler())
	mux.Handle("/api/", api.APIHandler())
	// Later: the web UI (mux.Handle("/ui/", ui.Handler())) with its own sessions and
	// CSRF tokens, and mux.Handle("GET /metrics", metrics.Handler()).
	mux.Handle("/", api.NotFoundHandler())
	return api.Edge(mux)
}
