package daemon

import (
	"context"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/library"
	"github.com/vpo-project/vpo/internal/metrics"
	"github.com/vpo-project/vpo/internal/version"
)

// newMetrics builds the daemon's metrics on a registry of its own.
func newMetrics() *metrics.Metrics {
	return metrics.New(metrics.Options{Version: version.String(), JobKinds: library.Kinds, JobStates: jobs.States})
}

// metricsSources are what a scrape reads: the job engine's and the catalogue's
// counts (queried at scrape time, cached by the metrics for a few seconds), and
// the latest health probe round, the one /health reports.
func metricsSources(api *httpapi.API, a *app.App) metrics.Sources {
	return metrics.Sources{
		Jobs: func(ctx context.Context) ([]metrics.JobCount, error) {
			counts, err := a.Jobs.CountsByKind(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]metrics.JobCount, len(counts))
			for i, c := range counts {
				out[i] = metrics.JobCount{Kind: c.Kind, State: c.State, N: c.N}
			}
			return out, nil
		},
		Files: func(ctx context.Context) (metrics.FileCounts, error) {
			f, err := a.Store.FileStats(ctx)
			if err != nil {
				return metrics.FileCounts{}, err
			}
			return metrics.FileCounts{OK: f.OK(), Failed: f.Failed, Missing: f.Missing}, nil
		},
		Health: func() metrics.Health {
			h, _ := api.Health(context.Background())
			return metrics.Health{Status: h.Status, DatabaseOK: h.Database == "connected", WorkersOK: h.WorkersAlive()}
		},
	}
}
