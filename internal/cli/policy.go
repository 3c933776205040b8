package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/plans"
	"github.com/vpo-project/vpo/internal/policy"
	"github.com/vpo-project/vpo/internal/scan"
)

func newPolicyCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "List, check and dry-run policies",
		Long: `Policies say what every file of the library should look like: which audio and
subtitle tracks to keep, their order, their default and forced flags, the
container. They are YAML files (the original vpo's schema_version 13) in the
policies directory (policies.dir, default ~/.vpo/policies); a policy is named by
its file name without .yaml, or given as a path. See docs/policies.md.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newPolicyListCmd(env), newPolicyShowCmd(env), newPolicyValidateCmd(env), newPolicyRunCmd(env))
	return cmd
}

func newPolicyListCmd(env Env) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the policies of the policies directory, valid or not",
		Long: `List every *.yaml and *.yml file of the policies directory with its name,
description and file, and VALID "yes", or the first problem of an invalid one
(file:line:column: key: message). Exits 0 even when some are invalid: run
"vpo policy validate" on a file to see all its problems.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(env, cmd, configPath)
			if err != nil {
				return err
			}
			reg, err := policy.LoadRegistry(cfg.Policies.Dir)
			if err != nil {
				return err
			}
			entries := reg.Entries()
			if len(entries) == 0 {
				fmt.Fprintf(env.Stdout, "no policies in %s\n", cfg.Policies.Dir)
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDESCRIPTION\tFILE\tVALID")
			for _, e := range entries {
				desc, valid := "-", "yes"
				if e.Policy != nil && e.Policy.Description != "" {
					desc = oneLine(e.Policy.Description, 60)
				}
				if e.Err != nil {
					valid = firstProblem(e.Err)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, desc, e.Path, valid)
			}
			return tw.Flush()
		},
	}
	addConfigFlag(cmd, &configPath)
	return cmd
}

func newPolicyShowCmd(env Env) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "show NAME|FILE",
		Short: "Print a policy with every default filled in",
		Long: `Print the effective policy as YAML: the file as vpo reads it, with every
default filled in (languages, commentary patterns, on_error, minimum, ...).
NAME is a file of the policies directory without its extension; anything with
a slash or a .yaml/.yml extension is a path. Exits 1 with every problem of an
invalid policy.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(env, cmd, configPath)
			if err != nil {
				return err
			}
			p, err := resolvePolicy(env, cfg, args[0])
			if err != nil {
				return err
			}
			out, err := p.EffectiveYAML()
			if err != nil {
				return err
			}
			_, err = env.Stdout.Write(out)
			return err
		},
	}
	addConfigFlag(cmd, &configPath)
	return cmd
}

func newPolicyValidateCmd(env Env) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check policy files; print every problem with its position",
		Long: `Check each policy file strictly: unknown keys, wrong types and bad values are
problems, printed one per line on stderr as file:line:column: key.path: message.
A valid file prints "FILE: valid" on stdout. Exits 0 when every file is valid,
1 otherwise.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%q needs at least one policy file", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, file := range args {
				if _, err := policy.Load(file); err != nil {
					bad++
					writeProblems(env.Stderr, err)
					continue
				}
				fmt.Fprintf(env.Stdout, "%s: valid\n", file)
			}
			if bad > 0 {
				return &ExitError{Code: ExitFailure, Reported: true,
					Err: fmt.Errorf("%d of %d policy files are not valid", bad, len(args))}
			}
			return nil
		},
	}
}

// resolvePolicy finds NAME|FILE; an invalid policy prints its problems and
// is exit 1, a missing one exit 1 with one line.
func resolvePolicy(env Env, cfg *config.Config, nameOrPath string) (*policy.Policy, error) {
	p, err := policy.Resolve(cfg.Policies.Dir, nameOrPath)
	if err == nil {
		return p, nil
	}
	var es policy.Errors
	if errors.As(err, &es) {
		writeProblems(env.Stderr, err)
		return nil, &ExitError{Code: ExitFailure, Reported: true, Err: fmt.Errorf("policy %s is not valid", nameOrPath)}
	}
	return nil, &ExitError{Code: ExitFailure, Err: err}
}

// writeProblems prints every problem of a policy error, one per line.
func writeProblems(w io.Writer, err error) {
	var es policy.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintln(w, e.Error())
		}
		return
	}
	fmt.Fprintf(w, "vpo: %s\n", err)
}

// firstProblem is the first problem of a policy error, on one line.
func firstProblem(err error) string {
	var es policy.Errors
	if errors.As(err, &es) && len(es) > 0 {
		return es[0].Error()
	}
	return err.Error()
}

// oneLine shortens s to one line of at most n runes.
func oneLine(s string, n int) string {
	for i, r := range s {
		if r == '\n' || r == '\r' {
			s = s[:i] + "…"
			break
		}
	}
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// displayPath shows a path on one line: non-printable bytes (a newline, bytes
// that are not UTF-8) are escaped as in a Go string.
func displayPath(p string) string {
	q := strconv.QuoteToGraphic(p)
	return q[1 : len(q)-1]
}

func newPolicyRunCmd(env Env) *cobra.Command {
	var (
		configPath string
		name       string
		dryRun     bool
		asJSON     bool
		yes        bool
	)
	cmd := &cobra.Command{
		Use:   "run --policy NAME|FILE [--dry-run [--json] | --yes] PATH...",
		Short: "Show (--dry-run) or apply what a policy changes in the video files under PATH",
		Long: `Evaluate a policy against every video file at or under each PATH (the
extensions of library.extensions) and print, per file that would change, a
before → after track table and what each phase does, then a summary: files,
conformant, would change, unsupported, errors.

Each file's tracks come from the catalogue when its size, mtime and fingerprint
still match the file; otherwise the file is probed with ffprobe and its
catalogue entry refreshed. Each plan that changes something is stored, pending
(vpo plans list, vpo plans approve ID), superseding the file's earlier open plan
of the policy (an identical one is kept, with its approval); a file the policy
now finds conformant supersedes its open plan. Plans are stored by policy name:
with --policy FILE nothing is stored. Media files are only read.

--json prints one JSON object per file (JSON lines) and then a summary object.
Exits 0 when every file was evaluated, 1 when a file could not be read or a
phase failed (or a phase with on_error: fail stopped the run).

Without --dry-run the policy (a name in policies.dir) is applied in the
foreground: the paths are scanned into the catalogue, then each file's approved
plan is carried out (see vpo plans); --yes skips approval and applies what a
fresh plan says. One line per file, then a summary; exits 1 when a file failed.
On a terminal, stderr shows the counters (files done, changed, conformant,
skipped, failed, bytes written) on one line redrawn after each file.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%q needs at least one file or directory", cmd.CommandPath())
			}
			if name == "" {
				return usagef("%q needs --policy NAME|FILE", cmd.CommandPath())
			}
			if !dryRun && asJSON {
				return usagef("--json goes with --dry-run")
			}
			if dryRun && yes {
				return usagef("--yes goes without --dry-run: a dry run applies nothing")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if !dryRun {
				return runPolicyApply(ctx, env, cmd, configPath, name, yes, args)
			}
			cfg, err := loadConfig(env, cmd, configPath)
			if err != nil {
				return err
			}
			p, err := resolvePolicy(env, cfg, name)
			if err != nil {
				return err
			}
			ev, err := policy.Compile(p)
			if err != nil {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("policy %s: %w", name, err)}
			}
			s, err := openSession(ctx, env, cmd, configPath)
			if err != nil {
				return err
			}
			defer s.close()
			r := &policyRun{env: env, s: s, ev: ev, json: asJSON, seen: map[string]bool{}}
			// Plans are stored by policy name: a policy given as a file is
			// only shown.
			if plans.CheckPolicyName(name) == nil {
				if l, err := plans.LoadPolicy(cfg.Policies.Dir, name); err == nil && l.SHA256() == p.SHA256 {
					r.loaded = l
				}
			}
			if r.loaded == nil {
				fmt.Fprintf(env.Stderr, "vpo: the plans are not stored: %s is a file, not a policy name in policies.dir\n", name)
			}
			if r.exts, err = scan.NewExtSet(cfg.Library.Extensions); err != nil {
				return &ExitError{Code: ExitConfig, Err: fmt.Errorf("library.extensions: %w", err)}
			}
			// Check every path before reading any file.
			var targets []target
			for _, a := range args {
				t, err := r.resolve(a)
				if err != nil {
					return usageError(err)
				}
				targets = append(targets, t)
			}
			for _, t := range targets {
				if err := r.runTarget(ctx, t); err != nil {
					if ctx.Err() != nil {
						return &ExitError{Code: 130, Err: errors.New("dry run interrupted")}
					}
					return err
				}
				if r.stopped {
					break
				}
			}
			if err := r.writeSummary(); err != nil {
				return err
			}
			if r.sum.Errors > 0 || r.stopped {
				return &ExitError{Code: ExitFailure, Reported: true, Err: errors.New("some files could not be evaluated")}
			}
			return nil
		},
	}
	addConfigFlag(cmd, &configPath)
	f := cmd.Flags()
	f.StringVarP(&name, "policy", "p", "", "the policy: a name in policies.dir, or a file")
	f.BoolVar(&dryRun, "dry-run", false, "only show what would change; nothing is written")
	f.BoolVar(&yes, "yes", false, "apply without approval: what a fresh plan says, at once")
	f.BoolVar(&asJSON, "json", false, "print one JSON object per file, then a summary object")
	return cmd
}

// runSummary counts a dry run's files by outcome.
type runSummary struct {
	Files       int  `json:"files"`
	Conformant  int  `json:"conformant"`
	WouldChange int  `json:"would_change"`
	Unsupported int  `json:"unsupported"`
	Errors      int  `json:"errors"`
	Stopped     bool `json:"stopped,omitempty"`
}

// policyRun is one `vpo policy run --dry-run`.
type policyRun struct {
	env     Env
	s       *session
	ev      *policy.Evaluator
	exts    scan.ExtSet
	json    bool
	sum     runSummary
	stopped bool
	// seen are the files evaluated so far: a file under two PATHs is
	// evaluated once.
	seen map[string]bool
	// loaded is the policy as plans are stored (by name); nil when the
	// policy is a file: the plans are then not stored.
	loaded *plans.Loaded
}

// target is one PATH argument, resolved.
type target struct {
	path string
	dir  bool
}

func (r *policyRun) resolve(arg string) (target, error) {
	p := absPath(arg)
	st, err := os.Stat(p)
	if err != nil {
		return target{}, fmt.Errorf("%s: %w", arg, unwrapPathErr(err))
	}
	if st.IsDir() {
		dir, err := r.s.app.Scanner.ResolveDir(p)
		return target{path: dir, dir: true}, err
	}
	file, err := r.s.app.Scanner.ResolveFile(p)
	return target{path: file}, err
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// runTarget evaluates the files of one PATH, in path order.
func (r *policyRun) runTarget(ctx context.Context, t target) error {
	var entries []scan.Entry
	if t.dir {
		err := scan.Walk(ctx, t.path, r.exts, func(e scan.Entry) error {
			entries = append(entries, e)
			return nil
		}, func(path string, err error) {
			r.s.logger.Warn("skipping unreadable path", "file_path", path, "error", err.Error())
		})
		if err != nil {
			return err
		}
		slices.SortFunc(entries, func(a, b scan.Entry) int {
			if a.Path < b.Path {
				return -1
			} else if a.Path > b.Path {
				return 1
			}
			return 0
		})
	} else {
		st, err := os.Stat(t.path)
		if err != nil {
			return fmt.Errorf("stat %s: %w", t.path, err)
		}
		entries = []scan.Entry{{Path: t.path, Size: st.Size(), ModTime: st.ModTime()}}
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if r.seen[e.Path] {
			continue
		}
		r.seen[e.Path] = true
		f, source, ferr := r.tracks(ctx, e)
		switch {
		case ferr != nil && ctx.Err() != nil:
			return ctx.Err()
		case isStoreFailure(ferr):
			// The catalogue, not the file, failed: every other file would too.
			return ferr
		}
		if err := r.report(ctx, e.Path, f, source, ferr); err != nil {
			return err
		}
		if r.stopped {
			return nil
		}
	}
	return nil
}

// Where a file's tracks came from.
const (
	sourceCatalogue = "catalogue"
	sourceProbe     = "probe"
)

// tracks reads a file's current catalogue entry: the catalogue's when the
// entry still matches the file (size, mtime and fingerprint), else a fresh
// probe that also refreshes the entry.
func (r *policyRun) tracks(ctx context.Context, e scan.Entry) (catalog.File, string, error) {
	f, err := r.s.store.GetFileByPath(ctx, e.Path)
	switch {
	case err == nil && f.ProbedAt != nil && f.Size == e.Size && f.ModTime.Equal(e.ModTime):
		fp, ferr := scan.Fingerprint(e.Path, e.Size)
		if ferr != nil {
			return catalog.File{}, "", fmt.Errorf("read file: %w", ferr)
		}
		if fp == f.Fingerprint {
			if f.ProbeError != "" {
				return catalog.File{}, sourceCatalogue, fmt.Errorf("file could not be read: %s", f.ProbeError)
			}
			return f, sourceCatalogue, nil
		}
	case err != nil && !errors.Is(err, catalog.ErrNotFound):
		return catalog.File{}, "", err
	}
	rec, err := r.s.app.Scanner.ProbeEntry(ctx, e, r.s.logger)
	if err != nil {
		return catalog.File{}, sourceProbe, err
	}
	f, err = r.s.store.GetFile(ctx, rec.ID)
	if err != nil {
		return catalog.File{}, sourceProbe, err
	}
	return f, sourceProbe, nil
}

// isStoreFailure reports whether err is the catalogue failing (busy, full,
// read-only, corrupt, unreachable), as opposed to one file that cannot be read.
func isStoreFailure(err error) bool {
	for _, s := range []error{catalog.ErrBusy, catalog.ErrFull, catalog.ErrReadOnly, catalog.ErrCorrupt, catalog.ErrUnavailable} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func fileInfo(f catalog.File) policy.FileInfo {
	info := policy.FileInfo{Path: f.Path, Container: f.Container, Size: f.Size, Duration: f.Duration,
		Tracks: make([]policy.Track, len(f.Tracks))}
	for i, t := range f.Tracks {
		info.Tracks[i] = policy.TrackFromProbe(t)
	}
	return info
}

// fileLine is one file of `--json` output.
type fileLine struct {
	Path string `json:"path"`
	// PathBytes is the path's bytes, base64, when it is not valid UTF-8.
	PathBytes string       `json:"path_bytes,omitempty"`
	Outcome   string       `json:"outcome"`
	Source    string       `json:"source,omitempty"`
	Error     string       `json:"error,omitempty"`
	Plan      *policy.Plan `json:"plan,omitempty"`
	// PlanID and PlanState are the stored plan's, when the plan was stored.
	PlanID    int64  `json:"plan_id,omitempty"`
	PlanState string `json:"plan_state,omitempty"`
	// NotStored says why a plan that changes something was not stored.
	NotStored string `json:"not_stored,omitempty"`
}

// report prints one file's plan (or its error), stores it, and counts it.
func (r *policyRun) report(ctx context.Context, path string, f catalog.File, source string, ferr error) error {
	r.sum.Files++
	var plan policy.Plan
	var stored *catalog.StoredPlan
	notStored := ""
	outcome := policy.OutcomeError
	if ferr == nil {
		plan = r.ev.Evaluate(fileInfo(f))
		outcome = plan.Outcome()
		if plan.Stopped {
			r.stopped, r.sum.Stopped = true, true
		}
		if r.loaded != nil {
			var err error
			if stored, notStored, err = r.store(ctx, f, plan); err != nil {
				return err
			}
		}
	}
	switch outcome {
	case policy.OutcomeConformant:
		r.sum.Conformant++
	case policy.OutcomeChange:
		r.sum.WouldChange++
	case policy.OutcomeUnsupported:
		r.sum.Unsupported++
	default:
		r.sum.Errors++
	}
	if r.json {
		line := fileLine{Path: path, Outcome: outcome, Source: source}
		if !utf8.ValidString(path) {
			line.PathBytes = base64.StdEncoding.EncodeToString([]byte(path))
		}
		if ferr != nil {
			line.Error = ferr.Error()
		} else {
			line.Plan = &plan
		}
		if stored != nil {
			line.PlanID, line.PlanState = stored.ID, stored.State
		}
		line.NotStored = notStored
		return writeJSONLine(r.env.Stdout, line)
	}
	switch {
	case ferr != nil:
		_, err := fmt.Fprintf(r.env.Stdout, "%s: error: %s\n", displayPath(path), ferr)
		return err
	case outcome == policy.OutcomeConformant:
		return nil // counted in the summary
	}
	plan.File.Path = displayPath(path)
	if err := plan.WriteText(r.env.Stdout); err != nil {
		return err
	}
	var err error
	switch {
	case stored != nil:
		_, err = fmt.Fprintf(r.env.Stdout, "  stored as plan %d (%s)\n", stored.ID, stored.State)
	case notStored != "":
		_, err = fmt.Fprintf(r.env.Stdout, "  not stored: %s\n", notStored)
	}
	return err
}

// store stores the file's plan as pending (superseding an older open plan of
// the file and policy), unless the policy does not converge on this version
// of the file. It returns the stored plan, or why a plan that changes
// something was not stored.
func (r *policyRun) store(ctx context.Context, f catalog.File, plan policy.Plan) (*catalog.StoredPlan, string, error) {
	nc, err := r.s.app.Plans.DoesNotConverge(ctx, r.loaded, f)
	if err != nil {
		return nil, "", err
	}
	if nc {
		if plan.Conformant() {
			return nil, "", nil
		}
		return nil, "does not converge: an earlier apply of this policy left this version of the file still not conformant", nil
	}
	sp, err := r.s.app.Plans.StorePlan(ctx, r.loaded, f, plan, catalog.PlanPending, 0)
	return sp, "", err
}

func (r *policyRun) writeSummary() error {
	if r.json {
		return writeJSONLine(r.env.Stdout, struct {
			Summary runSummary `json:"summary"`
		}{r.sum})
	}
	s := r.sum
	_, err := fmt.Fprintf(r.env.Stdout, "%d files: %d conformant, %d would change, %d unsupported, %d errors\n",
		s.Files, s.Conformant, s.WouldChange, s.Unsupported, s.Errors)
	if err == nil && s.Stopped {
		_, err = fmt.Fprintln(r.env.Stdout, "stopped: a phase with on_error: fail failed; later files were not evaluated")
	}
	return err
}

func writeJSONLine(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
