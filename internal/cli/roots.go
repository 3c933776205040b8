package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/config"
)

// rootView is what `vpo roots` reads of GET /api/roots.
type rootView struct {
	Path        string `json:"path"`
	Policy      string `json:"policy"`
	Mode        string `json:"mode"`
	Watch       string `json:"watch"`
	WatchReason string `json:"watch_reason"`
	Directories int    `json:"directories"`
	Schedule    *struct {
		Schedule string    `json:"schedule"`
		NextRun  time.Time `json:"next_run"`
		LastRun  *struct {
			JobID   int64     `json:"job_id"`
			State   string    `json:"state"`
			Started time.Time `json:"started_at"`
		} `json:"last_run"`
	} `json:"schedule"`
}

func newRootsCmd(env Env) *cobra.Command {
	var (
		configPath string
		asJSON     bool
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "roots",
		Short: "List the library roots with their mode, watch state and schedule (asks the running daemon)",
		Long: `Ask the running daemon (GET /api/roots) for each library root: its path, policy
and mode, its watch state (ok, degraded or off, with the reason), and its
scheduled rescan's last and next run. The watch state is the daemon's, so the
daemon must be running.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var flags config.Flags
			if cmd.Flags().Changed("config") {
				flags.ConfigPath = &configPath
			}
			cfg, err := config.Load(flags, config.Options{Getenv: env.Getenv})
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			url := strings.TrimSuffix(healthURL(cfg), "/health") + "/api/roots"
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			if cfg.Server.AuthToken != "" {
				req.Header.Set("Authorization", "Bearer "+cfg.Server.AuthToken)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("%s did not answer within %s (is vpo serve running?)", url, timeout)
				}
				return fmt.Errorf("%s: %w (is vpo serve running?)", url, unwrapURLError(err))
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
			if err != nil {
				return fmt.Errorf("%s: %w", url, err)
			}
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
			}
			if asJSON {
				fmt.Fprintln(env.Stdout, strings.TrimSpace(string(body)))
				return nil
			}
			var out struct {
				Roots []rootView `json:"roots"`
			}
			if err := json.Unmarshal(body, &out); err != nil {
				return fmt.Errorf("%s: not the answer expected: %w", url, err)
			}
			return writeRoots(env.Stdout, out.Roots)
		},
	}
	addConfigFlag(cmd, &configPath)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print the daemon's answer, {"roots": [...]}, as JSON`)
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	return cmd
}

func writeRoots(w io.Writer, roots []rootView) error {
	if len(roots) == 0 {
		_, err := fmt.Fprintln(w, "no library roots are configured")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tMODE\tPOLICY\tWATCH\tSCHEDULE\tLAST RUN\tNEXT RUN")
	for _, r := range roots {
		policy, sched, last, next := dash(r.Policy), "-", "-", "-"
		watch := r.Watch
		if r.Watch == "ok" {
			watch = fmt.Sprintf("ok (%d dirs)", r.Directories)
		}
		if s := r.Schedule; s != nil {
			sched, next = s.Schedule, s.NextRun.Local().Format(time.DateTime)
			if s.LastRun != nil {
				last = fmt.Sprintf("%s (job %d, %s)", s.LastRun.Started.Local().Format(time.DateTime), s.LastRun.JobID, s.LastRun.State)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Path, r.Mode, policy, watch, sched, last, next)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range roots {
		if r.Watch != "ok" && r.WatchReason != "" {
			fmt.Fprintf(w, "%s: watch %s: %s\n", r.Path, r.Watch, r.WatchReason)
		}
	}
	return nil
}
