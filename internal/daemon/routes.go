package daemon

import (
	"net/http"

	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/web"
)

// routes builds the daemon's one router: every HTTP handler of vpo is mounted here,
// and the whole is wrapped in the API's edge middleware (panics, write deadlines,
// Host and Origin checks, drain refusal, body limit), so that no route escapes it.
// The bearer token and the JSON content-type rule guard /api/ only; the web UI under
// /ui/ has its own login sessions and CSRF tokens, and "/" sends a browser to it.
func routes(api *httpapi.API, ui *web.UI) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/health", api.HealthHandler())
	mux.Handle("/api/", api.APIHandler())
	mux.Handle(web.Prefix, ui)
	mux.Handle("GET /{$}", http.RedirectHandler(web.Prefix, http.StatusFound))
	mux.Handle("GET /favicon.ico", ui.Favicon())
	// Later: mux.Handle("GET /metrics", metrics.Handler()).
	mux.Handle("/", api.NotFoundHandler())
	return api.Edge(mux)
}
