package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/plans"
	"github.com/vpo-project/vpo/internal/policy"
)

// newPlansCmd is `vpo plans list|show|approve|reject`: the stored plans, read and
// decided on in the catalogue directly (as `vpo files` does), daemon or not.
func newPlansCmd(env Env) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "plans",
		Short: "Review, approve and reject stored plans",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVarP(&configPath, "config", "c", "", "config file (default ~/.vpo/config.toml, or $VPO_CONFIG_PATH)")

	var f catalog.PlanFilter
	list := &cobra.Command{
		Use:   "list",
		Short: "List stored plans",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.State != "" && !contains(catalog.PlanStates, f.State) {
				return usagef("--state %q is not one of %s", f.State, strings.Join(catalog.PlanStates, ", "))
			}
			if f.Limit < 1 || f.Limit > 100000 {
				return usagef("--limit %d is out of range (1-100000)", f.Limit)
			}
			s, err := openSession(cmd.Context(), env, cmd, configPath)
			if err != nil {
				return err
			}
			defer s.close()
			ps, err := s.store.ListPlans(cmd.Context(), f)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tPOLICY\tFILE\tPATH")
			for _, p := range ps {
				state := p.State
				if !p.Converges {
					state += " (does not converge)"
				}
				q := strconv.QuoteToGraphic(p.Path)
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", p.ID, state, p.Policy, p.FileID, q[1:len(q)-1])
			}
			return tw.Flush()
		},
	}
	fl := list.Flags()
	fl.StringVar(&f.State, "state", "", "only plans in this state ("+strings.Join(catalog.PlanStates, ", ")+")")
	fl.StringVar(&f.Policy, "policy", "", "only plans of this policy")
	fl.StringVar(&f.PathPrefix, "path-prefix", "", "only plans of files under this directory")
	fl.IntVar(&f.Limit, "limit", 1000, "how many plans to list")

	var asJSON bool
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show one plan",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := planID(args[0])
			if err != nil {
				return err
			}
			s, err := openSession(cmd.Context(), env, cmd, configPath)
			if err != nil {
				return err
			}
			defer s.close()
			p, err := s.store.GetPlan(cmd.Context(), id)
			if errors.Is(err, catalog.ErrNotFound) {
				return fmt.Errorf("no plan %d", id)
			}
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(p)
			}
			fmt.Fprintf(env.Stdout, "plan %d: %s\npolicy: %s (sha256 %s)\nfile: %d %s\n", p.ID, p.State, p.Policy, p.PolicyHash, p.FileID, p.Path)
			if p.Error != "" {
				fmt.Fprintf(env.Stdout, "error: %s\n", p.Error)
			}
			var plan policy.Plan
			if err := json.Unmarshal(p.Plan, &plan); err != nil {
				return fmt.Errorf("plan %d is not valid JSON: %w", id, err)
			}
			return plan.WriteText(env.Stdout)
		},
	}
	show.Flags().BoolVar(&asJSON, "json", false, "print the stored plan as JSON")

	decide := func(use, short string, from []string, to string) *cobra.Command {
		return &cobra.Command{
			Use:   use + " ID...",
			Short: short,
			Args: func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return usagef("%q needs at least one plan ID", cmd.CommandPath())
				}
				return nil
			},
			RunE: func(cmd *cobra.Command, args []string) error {
				ids := make([]int64, len(args))
				for i, a := range args {
					id, err := planID(a)
					if err != nil {
						return err
					}
					ids[i] = id
				}
				s, err := openSession(cmd.Context(), env, cmd, configPath)
				if err != nil {
					return err
				}
				defer s.close()
				var errs []error
				for _, id := range ids {
					p, err := s.store.SetPlanState(cmd.Context(), id, from, to, "")
					switch {
					case errors.Is(err, catalog.ErrNotFound):
						errs = append(errs, fmt.Errorf("no plan %d", id))
					case errors.Is(err, catalog.ErrPlanState):
						cur, _ := s.store.GetPlan(cmd.Context(), id)
						errs = append(errs, fmt.Errorf("plan %d is %s; only a plan that is %s can become %s", id, cur.State, strings.Join(from, " or "), to))
					case err != nil:
						return err
					default:
						fmt.Fprintf(env.Stdout, "plan %d %s: %s\n", p.ID, to, p.Path)
					}
				}
				return errors.Join(errs...)
			},
		}
	}
	cmd.AddCommand(list, show,
		decide("approve", "Approve plans, so that an apply job carries them out", []string{catalog.PlanPending, catalog.PlanApproved}, catalog.PlanApproved),
		decide("reject", "Reject plans", []string{catalog.PlanPending, catalog.PlanApproved, catalog.PlanRejected}, catalog.PlanRejected))
	return cmd
}

func planID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("%q is not a plan ID", s)
	}
	return id, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// newFilesHistoryCmd is `vpo files history ID`: what applies did to a file.
func newFilesHistoryCmd(env Env, configPath *string) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history ID",
		Short: "Show what applies did to a file",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usagef("%q is not a file ID", args[0])
			}
			s, err := openSession(cmd.Context(), env, cmd, *configPath)
			if err != nil {
				return err
			}
			defer s.close()
			if _, err := s.store.GetFile(cmd.Context(), id); errors.Is(err, catalog.ErrNotFound) {
				return fmt.Errorf("no file %d", id)
			} else if err != nil {
				return err
			}
			hs, err := s.store.FileHistory(cmd.Context(), id, 0, 100000)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(hs)
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWHEN\tRESULT\tPOLICY\tTOOL\tBYTES\tDURATION_MS\tPATH")
			for _, h := range hs {
				res := h.Result
				if h.Error != "" {
					res += ": " + h.Error
				}
				q := strconv.QuoteToGraphic(h.NewPath)
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", h.ID, h.CreatedAt.Format("2006-01-02 15:04:05"), res, h.Policy,
					dash(h.Tool), h.Bytes, h.DurationMS, q[1:len(q)-1])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the entries as JSON")
	return cmd
}

// runPolicyApply is `vpo policy run` without --dry-run: scan the paths into the
// catalogue, then apply the policy's plans to their files in the foreground
// (approved plans only, unless yes).
func runPolicyApply(ctx context.Context, env Env, cmd *cobra.Command, configPath, name string, yes bool, args []string) error {
	if err := plans.CheckPolicyName(name); err != nil {
		return usagef("applying needs the name of a policy in policies.dir (plans are stored by name), not %q", name)
	}
	paths := make([]string, len(args))
	for i, a := range args {
		abs, err := filepath.Abs(a)
		if err != nil {
			return usageError(err)
		}
		if _, err := os.Stat(abs); err != nil {
			return usagef("%s: %v", a, unwrapPathErr(err))
		}
		paths[i] = abs
	}
	// On a terminal, stderr carries one line of counters, redrawn after each
	// file, around the log lines; anywhere else (a pipe, a file, a journal)
	// nothing but the lines.
	var prog *applyProgress
	if isTerminal(env.Stderr) {
		prog = &applyProgress{w: env.Stderr}
		if w, _, err := term.GetSize(int(env.Stderr.(*os.File).Fd())); err == nil {
			prog.width = w
		}
		env.Stderr = prog
	}
	s, err := openSession(ctx, env, cmd, configPath)
	if err != nil {
		return err
	}
	defer s.close()
	if _, err := s.app.Plans.LoadPolicy(name); err != nil {
		return err
	}
	// The catalogue must describe the files as they are: an incremental scan
	// probes only what changed.
	for _, p := range paths {
		if st, _ := os.Stat(p); st != nil && st.IsDir() {
			dir, err := s.app.Scanner.ResolveDir(p)
			if err != nil {
				return usageError(err)
			}
			if _, err := s.app.Scanner.Scan(ctx, dir, s.logger, nil); err != nil {
				return err
			}
		} else {
			f, err := s.app.Scanner.ResolveFile(p)
			if err != nil {
				return usageError(err)
			}
			if _, err := s.app.Scanner.ProbeFile(ctx, f, s.logger); err != nil {
				return err
			}
		}
	}
	report := func(path string, o plans.Outcome) {
		line := o.Result + " " + displayPath(path)
		if o.Reason != "" {
			line += ": " + o.Reason
		}
		prog.clear() // the per-file line must not land inside the counters
		fmt.Fprintln(env.Stdout, line)
		prog.add(o)
	}
	c, err := s.app.Plans.RunForeground(ctx, name, paths, !yes, report)
	prog.clear()
	fmt.Fprintf(env.Stdout, "%d files: %d changed, %d conformant, %d skipped, %d failed; %d bytes written\n",
		c.Done, c.Changed, c.Conformant, c.Skipped, c.Failed, c.Bytes)
	if err != nil {
		if ctx.Err() != nil {
			return &ExitError{Code: 130, Err: errors.New("apply interrupted; the files being rewritten are untouched")}
		}
		return err
	}
	if c.Failed > 0 {
		return &ExitError{Code: ExitFailure, Reported: true, Err: errors.New("some files could not be applied")}
	}
	return nil
}

// applyProgress is the counters of a foreground apply, as one line redrawn in
// place on a terminal: files done, changed, conformant, skipped, failed, and
// bytes written. It is also the run's stderr: a log line written while the
// counters are shown erases them first and redraws them after, so that the
// two never share a row. A nil *applyProgress draws nothing.
type applyProgress struct {
	mu sync.Mutex
	w  io.Writer
	// width is the terminal's width in columns, 0 when unknown: a longer
	// line would wrap, and "\r" would then redraw only its last row.
	width int
	c     catalog.Counts
	drawn bool
}

// Write writes stderr output (log lines) around the counters.
func (p *applyProgress) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	was := p.drawn
	p.erase()
	n, err := p.w.Write(b)
	if was && bytes.HasSuffix(b, []byte("\n")) {
		p.draw()
	}
	return n, err
}

// add counts one file's outcome and redraws the line.
func (p *applyProgress) add(o plans.Outcome) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.c.Done++
	switch o.Result {
	case plans.ResultChanged:
		p.c.Changed++
		p.c.Bytes += o.Bytes
	case plans.ResultConformant:
		p.c.Conformant++
	case plans.ResultSkipped:
		p.c.Skipped++
	case plans.ResultFailed:
		p.c.Failed++
	}
	p.erase()
	p.draw()
}

func (p *applyProgress) draw() {
	text := fmt.Sprintf("%d done: %d changed, %d conformant, %d skipped, %d failed; %s written",
		p.c.Done, p.c.Changed, p.c.Conformant, p.c.Skipped, p.c.Failed, byteSize(p.c.Bytes))
	if p.width > 1 && len(text) >= p.width {
		text = text[:p.width-1] // ASCII only
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", text)
	p.drawn = true
}

func (p *applyProgress) erase() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// clear erases the line, if drawn.
func (p *applyProgress) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.erase()
}

// byteSize shows a byte count in binary units: 512 B, 1.5 KiB, 2.0 GiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
