// Package sdnotify is the daemon's side of systemd's Type=notify protocol:
// READY=1, RELOADING=1, STOPPING=1, STATUS= and watchdog pings. Every call
// is a no-op when the process was not started by systemd (NOTIFY_SOCKET
// unset), so the daemon calls them unconditionally.
package sdnotify

import (
	"context"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends notifications to the service manager.
type Notifier struct {
	// send delivers one notification; tests replace it.
	send func(state string)
	// watchdog reports the watchdog interval, zero when disabled.
	watchdog func() time.Duration
}

// New returns a Notifier that talks to $NOTIFY_SOCKET.
func New() *Notifier {
	return &Notifier{
		send: func(state string) { _, _ = daemon.SdNotify(false, state) },
		watchdog: func() time.Duration {
			d, err := daemon.SdWatchdogEnabled(false)
			if err != nil {
				return 0
			}
			return d
		},
	}
}

// Ready says start-up (or a reload) is complete.
func (n *Notifier) Ready() { n.send(daemon.SdNotifyReady) }

// Reloading says a reload (SIGHUP) began; Ready must follow. go-systemd's
// SdNotifyMonotonicUsec returns the whole "MONOTONIC_USEC=N\n" line (or ""
// without a monotonic clock).
func (n *Notifier) Reloading() {
	n.send(daemon.SdNotifyReloading + "\n" + strings.TrimSuffix(daemon.SdNotifyMonotonicUsec(), "\n"))
}

// Stopping says the service is shutting down.
func (n *Notifier) Stopping() { n.send(daemon.SdNotifyStopping) }

// Status sets the one-line status `systemctl status` shows.
func (n *Notifier) Status(line string) {
	n.send("STATUS=" + strings.NewReplacer("\n", " ", "\r", " ").Replace(line))
}

// Watchdog feeds the watchdog once.
func (n *Notifier) Watchdog() { n.send(daemon.SdNotifyWatchdog) }

// RunWatchdog feeds the watchdog every half interval while healthy()
// reports true, until ctx is done. It returns at once when the unit has no
// WatchdogSec=.
func (n *Notifier) RunWatchdog(ctx context.Context, healthy func() bool) {
	d := n.watchdog()
	if d <= 0 {
		return
	}
	t := time.NewTicker(d / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if healthy() {
				n.Watchdog()
			}
		}
	}
}
