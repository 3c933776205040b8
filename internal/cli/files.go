package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/catalog"
)

func newFilesCmd(env Env) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "files",
		Short: "Query the catalogue",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.PersistentFlags().StringVarP(&configPath, "config", "c", "", "config file (default ~/.vpo/config.toml, or $VPO_CONFIG_PATH)")

	var f catalog.FileFilter
	var missing string
	list := &cobra.Command{
		Use:   "list",
		Short: "List catalogued files",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if missing != "" {
				b, err := strconv.ParseBool(missing)
				if err != nil {
					return usagef("--missing %q is not true or false", missing)
				}
				f.Missing = &b
			}
			if f.Limit < 1 || f.Limit > 100000 {
				return usagef("--limit %d is out of range (1-100000)", f.Limit)
			}
			s, err := openSession(cmd.Context(), env, cmd, configPath)
			if err != nil {
				return err
			}
			defer s.close()
			files, err := s.store.ListFileEntries(cmd.Context(), f)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSIZE\tCONTAINER\tDURATION\tSTATUS\tLANGUAGES\tPATH")
			for _, file := range files {
				status := "ok"
				switch {
				case file.Missing:
					status = "missing"
				case file.ProbeError != "":
					status = "unreadable"
				}
				fmt.Fprintf(tw, "%d\t%d\t%s\t%.1f\t%s\t%s\t%s\n", file.ID, file.Size, dash(file.Container), file.Duration,
					status, dash(languages(file.Tracks)), strconv.QuoteToGraphic(file.Path)[1:len(strconv.QuoteToGraphic(file.Path))-1])
			}
			return tw.Flush()
		},
	}
	fl := list.Flags()
	fl.StringVar(&f.PathPrefix, "path-prefix", "", "only files under this directory")
	fl.StringVar(&f.Container, "container", "", "only files in this container (e.g. matroska, mp4)")
	fl.StringVar(&f.Codec, "codec", "", "only files with a track in this codec (e.g. h264, aac)")
	fl.StringVar(&f.Language, "language", "", "only files with a track in this language (e.g. eng)")
	fl.StringVar(&missing, "missing", "", "true: only missing files; false: only present files")
	fl.IntVar(&f.Limit, "limit", 1000, "how many files to list")
	cmd.AddCommand(list)
	return cmd
}

// languages is the LANGUAGES column of `vpo files list`: the audio and subtitle
// tracks' languages in track order, "und" for an untagged track, a forced track
// marked "(f)": "audio eng,fra  subs eng(f)". It is "" for a file with neither.
func languages(tracks []catalog.TrackSummary) string {
	var audio, subs []string
	for _, t := range tracks {
		lang := t.Language
		if lang == "" {
			lang = "und"
		}
		if t.Forced {
			lang += "(f)"
		}
		switch t.Type {
		case "audio":
			audio = append(audio, lang)
		case "subtitle":
			subs = append(subs, lang)
		}
	}
	var parts []string
	if len(audio) > 0 {
		parts = append(parts, "audio "+strings.Join(audio, ","))
	}
	if len(subs) > 0 {
		parts = append(parts, "subs "+strings.Join(subs, ","))
	}
	return strings.Join(parts, "  ")
}
