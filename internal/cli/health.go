package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vpo-project/vpo/internal/config"
)

func newHealthCmd(env Env) *cobra.Command {
	var (
		configPath string
		url        string
		timeout    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check a running daemon's /health; exit 0 only when it is healthy",
		Long: `Call the running daemon's /health with a short timeout and print its answer.
Exits 0 only when the daemon answers 200 "healthy"; 1 otherwise (starting,
degraded, shutting down, or not answering). For scripts and monitoring.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return usagef("--timeout must be positive")
			}
			if url == "" {
				var flags config.Flags
				if cmd.Flags().Changed("config") {
					flags.ConfigPath = &configPath
				}
				cfg, err := config.Load(flags, config.Options{Getenv: env.Getenv})
				if err != nil {
					return &ExitError{Code: ExitConfig, Err: err}
				}
				url = healthURL(cfg)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return usagef("--url %q: %v", url, err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					return fmt.Errorf("%s did not answer within %s", url, timeout)
				}
				return fmt.Errorf("%s: %w", url, unwrapURLError(err))
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if err != nil {
				return fmt.Errorf("%s: %w", url, err)
			}
			fmt.Fprintln(env.Stdout, strings.TrimSpace(string(body)))
			var h struct {
				Status string `json:"status"`
			}
			_ = json.Unmarshal(body, &h)
			if resp.StatusCode != http.StatusOK || h.Status != "healthy" {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("vpo is not healthy: HTTP %d, status %q", resp.StatusCode, h.Status)}
			}
			return nil
		},
	}
	addConfigFlag(cmd, &configPath)
	cmd.Flags().StringVar(&url, "url", "", "health URL (default: from the config, http://BIND:PORT/health)")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Second, "how long to wait for the answer")
	return cmd
}

// healthURL is the daemon's /health on the configured address; a wildcard bind is
// reached through loopback.
func healthURL(cfg *config.Config) string {
	host := cfg.Server.Bind
	switch host {
	case "0.0.0.0", "":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(cfg.Server.Port)) + "/health"
}

func unwrapURLError(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}
