package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/vpo-project/vpo/internal/catalog"
	"github.com/vpo-project/vpo/internal/logging"
)

func newScanCmd(env Env) *cobra.Command {
	var configPath string
	cmd := &cobra.Command{
		Use:   "scan DIR...",
		Short: "Scan directories into the catalogue, in the foreground",
		Long: `Scan directories into the catalogue in the foreground: find video files, probe
new and changed ones with ffprobe, and mark files that disappeared as missing.
Works whether or not the daemon is running. On a terminal it shows a progress
line; otherwise it logs. Ctrl-C stops it cleanly: every file recorded so far is
complete, and nothing is marked missing.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("%q needs at least one directory", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			s, err := openSession(ctx, env, cmd, configPath)
			if err != nil {
				return err
			}
			defer s.close()
			scanner := s.app.Scanner
			log := logging.Component(s.logger, "scan")
			// Check every directory before scanning any.
			dirs := make([]string, len(args))
			for i, a := range args {
				if dirs[i], err = scanner.ResolveDir(absPath(a)); err != nil {
					return usageError(err)
				}
			}
			tty := isTerminal(env.Stderr)
			for _, dir := range dirs {
				var p *progressLine
				report := func(catalog.Counts) {}
				if tty {
					p = &progressLine{w: env.Stderr, start: time.Now()}
					report = p.update
				}
				counts, err := scanner.Scan(ctx, dir, log, report)
				if p != nil {
					p.finish(counts)
				}
				if err != nil {
					if ctx.Err() != nil {
						return &ExitError{Code: 130, Err: errors.New("scan interrupted; files recorded so far are complete")}
					}
					return err
				}
				fmt.Fprintf(env.Stdout, "%s: %d found, %d probed, %d unchanged, %d failed, %d missing\n",
					dir, counts.Found, counts.Probed, counts.Unchanged, counts.Failed, counts.Missing)
			}
			return nil
		},
	}
	addConfigFlag(cmd, &configPath)
	return cmd
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// progressLine redraws one line of counters on a terminal.
type progressLine struct {
	w     io.Writer
	start time.Time
}

func (p *progressLine) update(c catalog.Counts) {
	secs := time.Since(p.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(c.Found) / secs
	}
	fmt.Fprintf(p.w, "\r\x1b[K%d found  %d probed  %d unchanged  %d failed  %.0f files/s",
		c.Found, c.Probed, c.Unchanged, c.Failed, rate)
}

func (p *progressLine) finish(c catalog.Counts) {
	p.update(c)
	fmt.Fprintln(p.w)
}
