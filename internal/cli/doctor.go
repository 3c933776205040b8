package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/app"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/doctor"
	"github.com/vpo-project/vpo/internal/policy"
)

func newDoctorCmd(env Env) *cobra.Command {
	var (
		configPath string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check the setup: tools, data dir, database, policies, library roots; exit 0 when all is well",
		Long: `Check what "vpo serve" needs, with the configuration it would load, and print
one line per check: ok, warn or FAIL, what was checked, and what was found.

  - ffprobe, ffmpeg, mkvmerge and mkvpropedit: the path each resolves to, and
    its version;
  - the data dir: a writable directory, not group- or world-writable;
  - the database, opened read-only (never migrated, never written): PRAGMA
    quick_check, the catalogue's and the job queue's schema versions against
    this vpo's, and whether a vpo serve holds it;
  - the policies dir, and each policy file in it: valid, or its first error;
  - each library root: a directory that can be read;
  - the kernel's inotify limits.

Exits 0 when no check failed (warnings allowed), 1 when one did, 78 on a
configuration error.`,
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
			report := doctor.Run(cmd.Context(), cfg, doctor.Options{Policies: loadPolicies, Node: app.NodeName(cfg)})
			if asJSON {
				err = writeReportJSON(cmd.OutOrStdout(), report)
			} else {
				err = writeReportText(cmd.OutOrStdout(), report)
			}
			if err != nil {
				return err
			}
			if n := report.Failed(); n > 0 {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("doctor: %d of %d checks failed", n, len(report))}
			}
			return nil
		},
	}
	addConfigFlag(cmd, &configPath)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"status", "checks": [{name, status, detail}]} as JSON`)
	return cmd
}

func writeReportText(w io.Writer, report doctor.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range report {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Status, r.Name, r.Detail)
	}
	return tw.Flush()
}

func writeReportJSON(w io.Writer, report doctor.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(report)
}

// loadPolicies validates a policies dir with the loader `vpo policy` uses.
func loadPolicies(dir string) ([]doctor.PolicyStatus, error) {
	entries, err := policy.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]doctor.PolicyStatus, len(entries))
	for i, e := range entries {
		out[i] = doctor.PolicyStatus{Name: e.Name, File: e.Path, Err: e.Err}
	}
	return out, nil
}
