package web

import (
	"fmt"
	"net/http"
	"runtime"
	"sort"
	"time"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/jobs"
	"github.com/vpo-project/vpo/internal/watch"
)

// dashboardJobs is how many running and failed jobs the dashboard lists.
const dashboardJobs = 10

// firstTotalsWait is how long the dashboard waits for the first totals, before it
// shows that they are being computed.
// It keeps the page within its budget (50 ms) on a big catalogue, where counting
// takes longer and the page shows the previous totals meanwhile.
const firstTotalsWait = 40 * time.Millisecond

type toolStatus struct{ Name, Status string }

type dashboardData struct {
	Health    *httpapi.Health
	Tools     []toolStatus
	Watched   []watch.RootState
	Queued    int
	Running   int
	Active    []jobView
	Failures  []jobView
	Totals    totals
	HasTotals bool
	TotalsAge string
	ScanForm  scanForm
}

func (u *UI) handleDashboard(w http.ResponseWriter, r *http.Request, v visitor) error {
	ctx := r.Context()
	d := dashboardData{ScanForm: u.scanForm(v, "")}
	if u.deps.Health != nil {
		h, _ := u.deps.Health.Health(ctx)
		d.Health = &h
		for name, st := range h.Tools {
			d.Tools = append(d.Tools, toolStatus{name, st})
		}
		sort.Slice(d.Tools, func(i, j int) bool { return d.Tools[i].Name < d.Tools[j].Name })
	}
	if u.deps.WatchStates != nil {
		d.Watched = u.deps.WatchStates()
	}
	var err error
	if d.Queued, d.Running, err = u.deps.Jobs.Counts(ctx); err != nil {
		return err
	}
	active, err := u.deps.Jobs.List(ctx, jobs.ListParams{State: jobs.StateRunning, Limit: dashboardJobs})
	if err != nil {
		return err
	}
	if len(active) < dashboardJobs {
		queued, err := u.deps.Jobs.List(ctx, jobs.ListParams{State: jobs.StateQueued, Limit: dashboardJobs - len(active)})
		if err != nil {
			return err
		}
		active = append(active, queued...)
	}
	failed, err := u.deps.Jobs.List(ctx, jobs.ListParams{State: jobs.StateFailed, Limit: 5})
	if err != nil {
		return err
	}
	views, err := jobViews(ctx, u.deps.Store, append(active, failed...))
	if err != nil {
		return err
	}
	d.Active, d.Failures = views[:len(active)], views[len(active):]
	// A job that finished since the totals were counted may have changed them.
	var changed time.Time
	done, err := u.deps.Jobs.List(ctx, jobs.ListParams{State: jobs.StateCompleted, Limit: 1})
	if err != nil {
		return err
	}
	if len(done) > 0 && done[0].FinalizedAt != nil {
		changed = *done[0].FinalizedAt
	}
	d.Totals, d.HasTotals = u.totals.get(firstTotalsWait, changed)
	if d.HasTotals {
		d.TotalsAge = age(time.Since(d.Totals.At))
	}
	return u.render(w, r, v, view{name: "dashboard", title: "Dashboard", nav: "dashboard", data: d,
		liveJobs: unfinished(d.Active)})
}

// age writes a duration for "computed ... ago".
func age(d time.Duration) string {
	switch {
	case d < 2*time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d.Seconds()))
	default:
		return fmt.Sprintf("%d min ago", int(d.Minutes()))
	}
}

type settingRow struct {
	Key, Value, Source string
}

type settingsData struct {
	Version       string
	GoVersion     string
	SchemaVersion int64
	DataDir       string
	ConfigFile    string
	DatabasePath  string
	PoliciesDir   string
	Settings      []settingRow
	Tools         []toolStatus
	AuthRequired  bool
	Sessions      int
}

func (u *UI) handleSettings(w http.ResponseWriter, r *http.Request, v visitor) error {
	d := settingsData{Version: u.deps.Version, GoVersion: runtime.Version(), AuthRequired: u.authRequired(),
		Sessions: u.sessions.count()}
	if u.deps.Store != nil {
		d.SchemaVersion = u.deps.Store.SchemaVersion()
	}
	if c := u.rl.Load().cfg; c != nil {
		d.DataDir, d.ConfigFile, d.DatabasePath, d.PoliciesDir = c.DataDir, c.File, c.DatabasePath, c.Policies.Dir
		for _, s := range c.Settings() {
			d.Settings = append(d.Settings, settingRow{Key: s.Key, Value: settingValue(s), Source: string(s.Source)})
		}
		if u.deps.Health != nil {
			h, _ := u.deps.Health.Health(r.Context())
			for name, st := range h.Tools {
				d.Tools = append(d.Tools, toolStatus{name, st})
			}
		}
		configured := map[string]string{"ffprobe": c.Tools.FFprobe, "ffmpeg": c.Tools.FFmpeg,
			"mkvmerge": c.Tools.MKVMerge, "mkvpropedit": c.Tools.MKVPropEdit}
		for i := range d.Tools {
			if p := configured[d.Tools[i].Name]; p != "" {
				d.Tools[i].Name += " (" + p + ")"
			}
		}
		sort.Slice(d.Tools, func(i, j int) bool { return d.Tools[i].Name < d.Tools[j].Name })
	}
	return u.render(w, r, v, view{name: "settings", title: "Settings and about", nav: "settings", data: d})
}

// settingValue writes an effective setting's value; config.Settings has already
// redacted the secrets.
func settingValue(s config.Setting) string {
	switch v := s.Value.(type) {
	case []string:
		if len(v) == 0 {
			return "(none)"
		}
		out := ""
		for i, e := range v {
			if i > 0 {
				out += ", "
			}
			out += e
		}
		return out
	case string:
		if v == "" {
			return "(empty)"
		}
		return v
	}
	return fmt.Sprint(s.Value)
}
