// Package systemd is vpo's side of the systemd service contract: readiness, status
// and stopping notifications (Type=notify), stop-timeout extension during a long
// drain, a watchdog that pings only while the daemon really works, and socket
// activation. Without NOTIFY_SOCKET, LISTEN_FDS and WATCHDOG_USEC every part of it
// is a silent no-op, so vpo behaves the same in a terminal.
package systemd

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/activation"
	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// Notifier sends sd_notify messages to the service manager.
type Notifier struct {
	enabled bool
	logger  *slog.Logger
}

// NewNotifier returns a Notifier; it does nothing unless NOTIFY_SOCKET is set.
func NewNotifier(logger *slog.Logger) *Notifier {
	return &Notifier{enabled: os.Getenv("NOTIFY_SOCKET") != "", logger: logger}
}

// Enabled reports whether a service manager listens.
func (n *Notifier) Enabled() bool { return n.enabled }

func (n *Notifier) send(state string) {
	if !n.enabled {
		return
	}
	if _, err := daemon.SdNotify(false, state); err != nil {
		n.logger.Warn("cannot notify systemd", "state", strings.SplitN(state, "\n", 2)[0], "error", err.Error())
	}
}

// Ready reports that startup has finished, with a status line.
func (n *Notifier) Ready(status string) {
	n.send(daemon.SdNotifyReady + "\nSTATUS=" + oneLine(status))
}

// Status updates the one-line status that `systemctl status` shows.
func (n *Notifier) Status(status string) { n.send("STATUS=" + oneLine(status)) }

// Reloading reports that a reload (SIGHUP) has begun, with a status line; Ready
// reports its end. MONOTONIC_USEC goes with it, as systemd (since 253) wants for
// Type=notify-reload units; vpo's unit is Type=notify, where it is harmless.
func (n *Notifier) Reloading(status string) {
	var ts unix.Timespec
	msg := "RELOADING=1\nSTATUS=" + oneLine(status)
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err == nil {
		msg += fmt.Sprintf("\nMONOTONIC_USEC=%d", ts.Nano()/1000)
	}
	n.send(msg)
}

// Stopping reports that shutdown has begun.
func (n *Notifier) Stopping(status string) {
	n.send(daemon.SdNotifyStopping + "\nSTATUS=" + oneLine(status))
}

// ExtendTimeout asks systemd to wait d more for the current start or stop, so that
// a drain within shutdown_timeout is not cut short by TimeoutStopSec.
func (n *Notifier) ExtendTimeout(d time.Duration) {
	n.send(fmt.Sprintf("EXTEND_TIMEOUT_USEC=%d", d.Microseconds()))
}

// KeepStatus sends the status line that status returns every interval, for as long
// as ctx lives. Without NOTIFY_SOCKET it returns at once.
func (n *Notifier) KeepStatus(ctx context.Context, interval time.Duration, status func(context.Context) string) {
	if !n.enabled {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.Status(status(ctx))
		}
	}
}

// Watchdog pings systemd's watchdog at a third of WatchdogSec for as long as ctx
// lives, but only while check succeeds: a daemon whose database or job workers are
// stuck stops pinging, and systemd restarts it. Without WATCHDOG_USEC (for this
// process) it returns at once.
func (n *Notifier) Watchdog(ctx context.Context, check func(context.Context) error) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.logger.Warn("ignoring malformed watchdog settings", "error", err.Error())
		return
	}
	if interval <= 0 || !n.enabled {
		return
	}
	period := interval / 3
	n.logger.Info("systemd watchdog enabled", "watchdog_sec", interval.Seconds(), "ping_every_s", period.Seconds())
	t := time.NewTicker(period)
	defer t.Stop()
	withheld := false
	for {
		cctx, cancel := context.WithTimeout(ctx, period/2)
		err := check(cctx)
		cancel()
		switch {
		case err == nil:
			n.send(daemon.SdNotifyWatchdog)
			if withheld {
				n.logger.Info("watchdog pings resumed")
				withheld = false
			}
		case ctx.Err() == nil && !withheld:
			n.logger.Error("withholding watchdog ping: the daemon is not healthy", "error", err.Error())
			withheld = true
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Listener returns the TCP listener systemd passed (socket activation), or nil when
// none was passed. More than one socket, or one that is not a TCP listener, is an
// error naming what was passed.
func Listener() (net.Listener, error) {
	if os.Getenv("LISTEN_FDS") == "" {
		return nil, nil
	}
	lns, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("socket activation: %w", err)
	}
	var found []net.Listener
	for _, ln := range lns {
		if ln != nil {
			found = append(found, ln)
		}
	}
	switch {
	case len(found) == 0:
		return nil, fmt.Errorf("socket activation: LISTEN_FDS is set but no listening socket was passed (LISTEN_FDS=%s)", os.Getenv("LISTEN_FDS"))
	case len(found) > 1:
		for _, ln := range found {
			ln.Close()
		}
		return nil, fmt.Errorf("socket activation: %d sockets were passed; vpo serves exactly one", len(found))
	}
	if _, ok := found[0].(*net.TCPListener); !ok {
		found[0].Close()
		return nil, fmt.Errorf("socket activation: the passed socket is not a TCP stream socket")
	}
	return found[0], nil
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
