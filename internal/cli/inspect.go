package cli

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/config"
	"github.com/vpo-project/vpo/internal/probe"
)

func newInspectCmd(env Env) *cobra.Command {
	var (
		configPath string
		asJSON     bool
	)
	cmd := &cobra.Command{
		Use:   "inspect FILE",
		Short: "Show a video file's container and tracks, read with ffprobe",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var flags config.Flags
			if cmd.Flags().Changed("config") {
				flags.ConfigPath = &configPath
			}
			cfg, err := config.Load(flags, config.Options{Getenv: env.Getenv})
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			path, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			res, err := probe.Runner{Path: cfg.Tools.FFprobe, Timeout: cfg.Jobs.ProbeTimeout}.Probe(cmd.Context(), path)
			if err != nil {
				return fmt.Errorf("inspect %s: %w", args[0], err)
			}
			if asJSON {
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Path string `json:"path"`
					*probe.Result
				}{path, res})
			}
			printResult(env, path, res)
			return nil
		},
	}
	addConfigFlag(cmd, &configPath)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of a table")
	return cmd
}

func printResult(env Env, path string, r *probe.Result) {
	fmt.Fprintf(env.Stdout, "File:      %s\nContainer: %s\nDuration:  %.3f s\nBit rate:  %d b/s\n\n",
		path, r.Container, r.Duration, r.BitRate)
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tTYPE\tCODEC\tLANG\tDEFAULT\tFORCED\tDETAILS\tTITLE")
	for _, t := range r.Tracks {
		details := ""
		switch t.Type {
		case probe.TypeVideo:
			details = fmt.Sprintf("%dx%d %s fps", t.Width, t.Height, strconv.FormatFloat(t.FrameRate, 'f', -1, 64))
		case probe.TypeAudio:
			details = fmt.Sprintf("%d ch %s", t.Channels, t.ChannelLayout)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Index, t.Type, dash(t.Codec), dash(t.Language),
			yesNo(t.Default), yesNo(t.Forced), dash(details), dash(t.Title))
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
