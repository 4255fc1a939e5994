// Package daemon is `ynhd run`: it reconciles the declarations directory
// with the systemd manager at start, on a timer, when declarations or
// ynhd's unit files change (fsnotify), when one of its units changes state
// (D-Bus signals, taken as hints: the timer re-reads everything), when a
// failing app's backoff falls due, and on SIGHUP. It speaks sd_notify:
// READY=1 after the first pass, STATUS= with a one-line summary,
// RELOADING=1 around SIGHUP, and watchdog pings.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/reconcile"
	"github.com/ynhd/ynhd/internal/sdnotify"
)

// Defaults for Config.
const (
	DefaultInterval = 60 * time.Second
	// fileDebounce gathers the events of one save (editors write, rename
	// and chmod in a burst) into one pass.
	fileDebounce = 100 * time.Millisecond
	// unitDebounce gathers the state changes of a start or stop.
	unitDebounce = time.Second
	// passTimeout bounds one pass, so the watchdog only fires when the
	// loop is truly stuck.
	passTimeout = 4 * time.Minute
)

// Config configures the daemon.
type Config struct {
	Reconcile reconcile.Config
	UnitDir   string        // where units are written
	Interval  time.Duration // periodic full pass
	// StatusFile is where the status after each pass is written, for
	// `ynhd status`.
	StatusFile string
}

// Conn is the D-Bus connection the daemon needs: the reconciler's Manager
// plus signal subscription.
type Conn interface {
	reconcile.Manager
	Subscribe() error
	SetPropertiesSubscriber(updateCh chan<- *sddbus.PropertiesUpdate, errCh chan<- error)
}

// Daemon runs the loop.
type Daemon struct {
	cfg    Config
	log    *zap.Logger
	conn   Conn
	rec    *reconcile.Reconciler
	notify *sdnotify.Notifier
	alive  chan struct{}
}

// New returns a daemon over conn. The unit directory is installed into
// target (default.target for a user manager).
func New(cfg Config, conn Conn, log *zap.Logger, target string) *Daemon {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	files := reconcile.UnitDir{Path: cfg.UnitDir, Target: target}
	return &Daemon{
		cfg:    cfg,
		log:    log,
		conn:   conn,
		rec:    reconcile.New(cfg.Reconcile, conn, files, log.Named("reconcile"), nil),
		notify: sdnotify.New(),
		alive:  make(chan struct{}, 1),
	}
}

// SetPodman gives the daemon the podman API (see reconcile.SetPodman).
func (d *Daemon) SetPodman(p reconcile.Podman) { d.rec.SetPodman(p) }

// SetUnitLog lets the daemon explain failed units from their journal (see
// reconcile.SetUnitLog).
func (d *Daemon) SetUnitLog(l reconcile.UnitLog) { d.rec.SetUnitLog(l) }

// SetUsers lets a system-mode daemon create static users (see
// reconcile.SetUsers).
func (d *Daemon) SetUsers(u reconcile.Users) { d.rec.SetUsers(u) }

// Run loops until ctx is done. It returns an error only when it cannot
// start (no declarations directory can be made, no watcher).
func (d *Daemon) Run(ctx context.Context) error {
	log := d.log
	for _, dir := range []string{d.cfg.Reconcile.DeclDir, d.cfg.UnitDir} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	for _, dir := range []string{d.cfg.Reconcile.DeclDir, d.cfg.UnitDir} {
		if err := w.Add(dir); err != nil {
			return err
		}
	}
	updates := make(chan *sddbus.PropertiesUpdate, 256)
	subErrs := make(chan error, 16)
	if err := d.conn.Subscribe(); err != nil {
		log.Warn("no unit state signals; relying on the timer", zap.Error(err))
	} else {
		d.conn.SetPropertiesSubscriber(updates, subErrs)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	log.Info("starting", zap.String("declarations", d.cfg.Reconcile.DeclDir), zap.String("units", d.cfg.UnitDir),
		zap.Duration("interval", d.cfg.Interval))
	d.pass(ctx, "start")
	d.notify.Ready()
	go d.notify.RunWatchdog(ctx, d.healthy)

	ticker := time.NewTicker(d.cfg.Interval)
	defer ticker.Stop()
	heartbeat := time.NewTicker(5 * time.Second)
	defer heartbeat.Stop()
	soon := newTimer()    // debounced pass after events
	backoff := newTimer() // a failing app's next restart
	backoff.at(d.rec.NextWake())
	reason := ""
	for {
		select {
		case <-ctx.Done():
			d.notify.Stopping()
			log.Info("stopping")
			return nil
		case <-heartbeat.C:
			d.beat()
		case <-ticker.C:
			d.pass(ctx, "timer")
		case <-hup:
			d.notify.Reloading()
			d.pass(ctx, "reload")
			d.notify.Ready()
		case ev := <-w.Events:
			if d.relevant(ev) {
				reason = "files changed"
				soon.after(fileDebounce)
			}
		case err := <-w.Errors:
			log.Warn("file watcher", zap.Error(err))
			reason = "watcher overflow"
			soon.after(fileDebounce)
		case u := <-updates:
			if d.rec.Units()[u.UnitName] {
				if _, ok := u.Changed["ActiveState"]; ok && reason == "" {
					reason = "unit state changed"
				}
				soon.after(unitDebounce)
			}
		case err := <-subErrs:
			log.Debug("unit signal subscription", zap.Error(err))
		case <-soon.c():
			if reason == "" {
				reason = "unit state changed"
			}
			d.pass(ctx, reason)
			reason = ""
		case <-backoff.c():
			d.pass(ctx, "backoff")
		}
		backoff.at(d.rec.NextWake())
	}
}

// relevant filters file events: declarations (not dotfiles, editor swap or
// backup files) and ynhd's own unit files.
func (d *Daemon) relevant(ev fsnotify.Event) bool {
	if ev.Op == fsnotify.Chmod {
		return false
	}
	dir, name := filepath.Dir(ev.Name), filepath.Base(ev.Name)
	switch filepath.Clean(dir) {
	case filepath.Clean(d.cfg.Reconcile.DeclDir):
		return decl.IsDeclarationFile(name)
	case filepath.Clean(d.cfg.UnitDir):
		return d.rec.Units()[name] && !strings.HasPrefix(name, ".")
	}
	return false
}

// pass runs one reconcile pass and publishes its status.
func (d *Daemon) pass(ctx context.Context, reason string) {
	d.beat()
	ctx, cancel := context.WithTimeout(ctx, passTimeout)
	defer cancel()
	start := time.Now()
	st, err := d.rec.Pass(ctx)
	d.beat()
	if err != nil && !errors.Is(err, context.Canceled) {
		d.log.Debug("pass had failures", zap.String("reason", reason), zap.Error(err))
	}
	d.log.Debug("pass", zap.String("reason", reason), zap.Duration("took", time.Since(start)), zap.String("status", st.Summary()))
	d.notify.Status(st.Summary())
	if d.cfg.StatusFile != "" {
		if err := writeStatus(d.cfg.StatusFile, st); err != nil {
			d.log.Warn("writing status file", zap.String("file", d.cfg.StatusFile), zap.Error(err))
		}
	}
}

func (d *Daemon) beat() {
	select {
	case d.alive <- struct{}{}:
	default:
	}
}

// healthy consumes the loop's heartbeat: the watchdog is fed only while the
// loop keeps turning.
func (d *Daemon) healthy() bool {
	select {
	case <-d.alive:
		return true
	default:
		return false
	}
}

// writeStatus writes st as JSON atomically.
func writeStatus(path string, st reconcile.Status) error {
	// 0755: in system mode the directory is /run/ynhd, which also holds the
	// apps' RuntimeDirectory (ynhd/NAME); their users must traverse it.
	// The file itself is 0600.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadStatus reads the status the daemon last wrote.
func ReadStatus(path string) (reconcile.Status, error) {
	var st reconcile.Status
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	err = json.Unmarshal(b, &st)
	return st, err
}

// timer is a resettable one-shot timer whose channel is nil while unset.
type timer struct{ t *time.Timer }

func newTimer() *timer { return &timer{} }

func (t *timer) c() <-chan time.Time {
	if t.t == nil {
		return nil
	}
	return t.t.C
}

func (t *timer) after(d time.Duration) {
	if t.t == nil {
		t.t = time.NewTimer(d)
		return
	}
	t.t.Stop()
	t.t.Reset(d)
}

// at arms the timer for when (or disarms it for the zero time).
func (t *timer) at(when time.Time) {
	if when.IsZero() {
		if t.t != nil {
			t.t.Stop()
			t.t = nil
		}
		return
	}
	t.after(max(time.Until(when), 0))
}
