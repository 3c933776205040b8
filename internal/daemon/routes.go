package daemon

import (
	"net"
	"net/http"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/metrics"
	"github.com/vpo-project/vpo/internal/web"
)

// routes builds the daemon's one router: every HTTP handler of vpo is mounted here,
// and the whole is wrapped in the API's edge middleware (panics, write deadlines,
// Host and Origin checks, drain refusal, body limit), so that no route escapes it,
// and outside that in the metrics' request counter, so that refused requests count.
// The bearer token and the JSON content-type rule guard /api/; the token guards
// GET /metrics too unless metricsOpen (see metricsOpen; m nil: no /metrics). The
// web UI under /ui/ has its own login sessions and CSRF tokens, and "/" sends a
// browser to it.
func routes(api *httpapi.API, ui *web.UI, m *metrics.Metrics, metricsOpen bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/health", api.HealthHandler())
	mux.Handle("/api/", api.APIHandler())
	mux.Handle(web.Prefix, ui)
	mux.Handle("GET /{$}", http.RedirectHandler(web.Prefix, http.StatusFound))
	mux.Handle("GET /favicon.ico", ui.Favicon())
	if m != nil {
		h := m.Handler()
		if !metricsOpen {
			h = api.RequireToken(h)
		}
		mux.Handle("GET /metrics", h)
	}
	mux.Handle("/", api.NotFoundHandler())
	return m.Instrument(api.Edge(mux))
}

// metricsOpen says whether GET /metrics is served without the token: always when
// the daemon listens on loopback only (a local Prometheus or node agent scrapes
// it; nothing beyond the machine reaches it), and beyond loopback only with
// server.metrics_public. Without a configured token there is nothing to ask for.
func metricsOpen(cfg *config.Config, addr net.Addr) bool {
	if cfg.Server.MetricsPublic {
		return true
	}
	host, _, err := net.SplitHostPort(addr.String())
	return err == nil && config.IsLoopback(host)
}
