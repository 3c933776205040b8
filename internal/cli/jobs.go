package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/httpapi"
	"github.com/vpo-project/vpo/internal/jobs"
)

func newJobsCmd(env Env) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "jobs",
		Short: "List, show and cancel jobs",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVarP(&configPath, "config", "c", "", "config file (default ~/.vpo/config.toml, or $VPO_CONFIG_PATH)")

	var state, kind string
	var limit int
	list := &cobra.Command{
		Use:   "list",
		Short: "List jobs, newest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := openSession(cmd.Context(), env, cmd, configPath)
			if err != nil {
				return err
			}
			defer s.close()
			e, err := s.engine()
			if err != nil {
				return err
			}
			js, err := e.List(cmd.Context(), jobs.ListParams{State: state, Kind: kind, Limit: limit})
			if errors.Is(err, jobs.ErrInvalidState) {
				return usagef("--state %q is not one of queued, running, completed, failed, cancelled", state)
			}
			if err != nil {
				return err
			}
			views, err := httpapi.JobViews(cmd.Context(), s.store, js)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTYPE\tSTATE\tFOUND\tPROBED\tUNCHANGED\tFAILED\tCREATED\tPATH")
			for _, v := range views {
				p := v.Progress
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", v.ID, v.Type, v.State, p.Found, p.Probed,
					p.Unchanged, p.Failed, v.CreatedAt.Local().Format(time.DateTime), v.Path)
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&state, "state", "", "only jobs in this state: queued, running, completed, failed, cancelled")
	list.Flags().StringVar(&kind, "type", "", "only jobs of this type: scan, probe, plan, apply")
	list.Flags().IntVar(&limit, "limit", 50, "how many jobs to list (at most 1000)")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one job with its progress, errors and history, as JSON",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withJob(env, cmd, configPath, args[0], func(s *session, e *jobs.Engine, id int64) error {
				j, err := e.Get(cmd.Context(), id)
				if err != nil {
					return jobError(id, err)
				}
				return printJob(env, s, cmd, j)
			})
		},
	}

	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a queued or running job",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withJob(env, cmd, configPath, args[0], func(s *session, e *jobs.Engine, id int64) error {
				j, err := e.Get(cmd.Context(), id)
				if err != nil {
					return jobError(id, err)
				}
				if j.State != jobs.StateQueued && j.State != jobs.StateRunning {
					fmt.Fprintf(env.Stdout, "job %d: already %s; nothing to cancel\n", id, j.State)
					return nil
				}
				if j, err = e.Cancel(cmd.Context(), id); err != nil {
					return jobError(id, err)
				}
				switch j.State {
				case jobs.StateRunning:
					fmt.Fprintf(env.Stdout, "job %d: cancel requested; the running daemon stops it shortly\n", id)
				case jobs.StateCancelled:
					fmt.Fprintf(env.Stdout, "job %d: cancelled\n", id)
				default: // it finished meanwhile
					fmt.Fprintf(env.Stdout, "job %d: already %s; nothing to cancel\n", id, j.State)
				}
				return nil
			})
		},
	}
	cmd.AddCommand(list, show, cancel)
	return cmd
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, usagef("%q is not a job id", s)
	}
	return id, nil
}

// printJob prints the job as the API shows it (GET /api/jobs/{id}), indented.
func printJob(env Env, s *session, cmd *cobra.Command, j jobs.Job) error {
	views, err := httpapi.JobViews(cmd.Context(), s.store, []jobs.Job{j})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(views[0])
}

// withJob parses a job id, opens the catalogue and a job engine, and runs fn.
func withJob(env Env, cmd *cobra.Command, configPath, arg string, fn func(*session, *jobs.Engine, int64) error) error {
	id, err := parseID(arg)
	if err != nil {
		return err
	}
	s, err := openSession(cmd.Context(), env, cmd, configPath)
	if err != nil {
		return err
	}
	defer s.close()
	e, err := s.engine()
	if err != nil {
		return err
	}
	return fn(s, e, id)
}

func jobError(id int64, err error) error {
	if errors.Is(err, jobs.ErrNotFound) {
		return fmt.Errorf("no job %d", id)
	}
	return err
}
