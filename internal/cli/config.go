package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/config"
)

func newConfigCmd(env Env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Show vpo's configuration",
		Args:  noArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newConfigShowCmd(env))
	return cmd
}

func newConfigShowCmd(env Env) *cobra.Command {
	var (
		configPath string
		asJSON     bool
		settings   *settingFlags
	)
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the effective settings and where each one comes from",
		Long: `Load the configuration as "vpo serve" would, from the same flags, config file,
environment (VPO_*) and built-in defaults, and print every effective setting with
its source: flag, file, env or default. Secrets are redacted. Exits 78 on a
configuration error, with the message "vpo serve" would log.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var flags config.Flags
			if cmd.Flags().Changed("config") {
				flags.ConfigPath = &configPath
			}
			settings.apply(&flags)
			cfg, err := config.Load(flags, config.Options{Getenv: env.Getenv})
			if err != nil {
				return &ExitError{Code: ExitConfig, Err: err}
			}
			if asJSON {
				return writeSettingsJSON(cmd.OutOrStdout(), cfg.Settings())
			}
			return writeSettingsText(cmd.OutOrStdout(), cfg.Settings())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "config file (default ~/.vpo/config.toml, or $VPO_CONFIG_PATH)")
	f.BoolVar(&asJSON, "json", false, "print a JSON array of {key, value, source}")
	settings = addSettingFlags(f)
	return cmd
}

// settingJSON is one setting in `vpo config show --json`.
type settingJSON struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source string `json:"source"`
}

func writeSettingsJSON(w io.Writer, settings []config.Setting) error {
	out := make([]settingJSON, len(settings))
	for i, s := range settings {
		out[i] = settingJSON{Key: s.Key, Value: s.Value, Source: string(s.Source)}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeSettingsText(w io.Writer, settings []config.Setting) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tVALUE\tSOURCE")
	for _, s := range settings {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, settingText(s.Value), s.Source)
	}
	return tw.Flush()
}

// settingText writes a value for the text table: strings bare (an empty one as ""),
// lists as TOML arrays.
func settingText(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []string:
		q := make([]string, len(v))
		for i, e := range v {
			q[i] = strconv.Quote(e)
		}
		return "[" + strings.Join(q, ", ") + "]"
	default:
		return fmt.Sprint(v)
	}
}
