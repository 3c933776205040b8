// Package cli holds vpo's command-line interface: the root command and one file per
// subcommand.
package cli

import (
	"io"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/version"
)

// Env is what commands need from the process: its streams and environment.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) (string, bool)
}

// NewRoot builds the vpo command tree.
func NewRoot(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:   "vpo",
		Short: "Video Policy Orchestrator: catalogue a video library and keep it conformant",
		Long: `vpo scans directories for video files, reads their containers and tracks with
ffprobe, keeps the catalogue in SQLite (~/.vpo/library.db) and runs the work as
background jobs. Run "vpo serve" to start the daemon.`,
		Version:       version.String(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetVersionTemplate("vpo {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.CompletionOptions.DisableDefaultCmd = true

	root.AddCommand(newServeCmd(env), newScanCmd(env), newInspectCmd(env), newJobsCmd(env), newFilesCmd(env), newHealthCmd(env), newRootsCmd(env),
		newConfigCmd(env), newDoctorCmd(env), newMigrateCmd(env), newPolicyCmd(env))
	root.AddCommand(newCompletionCmd(env))
	root.AddCommand(newPlansCmd(env))
	return root
}

// noArgs rejects positional arguments as a usage error; on the root command it names
// the unknown subcommand.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return usagef("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return usagef("%q takes no arguments, got %q", cmd.CommandPath(), args[0])
}

// exactArgs requires n positional arguments, as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%q needs %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}
