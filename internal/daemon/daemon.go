// Package daemon is `ynhd run`: it reconciles the declarations directory
// with the systemd manager at start, on a timer, when declarations or
// ynhd's unit files change (fsnotify), when one of its units changes state
// (D-Bus signals, taken as hints: the timer re-reads everything), when a
// failing app's backoff or a failed step's retry falls due, when a
// background pull or build ends, and on SIGHUP. It speaks sd_notify:
// READY=1 once it watches and has looked at the manager (slow work comes
// after), STATUS= with a one-line summary, RELOADING=1 around SIGHUP, and
// watchdog pings only while passes can observe the manager.
//
// Nothing it depends on is trusted to answer: every D-Bus and podman call
// has a deadline, the D-Bus connection is redialled when lost, a pass
// that cannot observe is retried with backoff, and a declarations
// directory that cannot be read keeps every app as it is.
package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/logging"
	"github.com/ynhd/ynhd/internal/reconcile"
	"github.com/ynhd/ynhd/internal/sdnotify"
	"github.com/ynhd/ynhd/internal/update"
)

// Defaults for Config.
const (
	DefaultInterval = 60 * time.Second
	// fileDebounce gathers the events of one save (editors write, rename
	// and chmod in a burst) into one pass.
	fileDebounce = 100 * time.Millisecond
	// unitDebounce gathers the state changes of a start or stop.
	unitDebounce = time.Second
	// passTimeout bounds one pass; every call in it has its own, shorter
	// deadline, so this only guards against a bug.
	passTimeout = 4 * time.Minute
	// minPassGap is the least time between the end of one pass and the
	// start of the next, whatever asks for it: no loop spins.
	minPassGap = 50 * time.Millisecond
	// failedPassBackoff is the wait after a pass that could not observe
	// the manager, doubling up to maxFailedPassBackoff.
	failedPassBackoff    = time.Second
	maxFailedPassBackoff = 30 * time.Second
	// stallLimit is how long passes may fail to observe the manager
	// before the daemon stops feeding the watchdog, so that systemd
	// restarts it.
	stallLimit = 3 * time.Minute
	// firstLookTimeout bounds the observation made before READY=1.
	firstLookTimeout = 20 * time.Second
)

// Config configures the daemon.
type Config struct {
	Reconcile reconcile.Config
	Units     reconcile.UnitDir // where units are written
	Interval  time.Duration     // periodic full pass
	// StatusFile is where the status after each pass is written, for
	// `ynhd status`.
	StatusFile string
	// StateDir holds what outlives the process (see reconcile.StateDir);
	// the caller holds its lock.
	StateDir string
}

// Conn is the D-Bus connection the daemon needs: the reconciler's Manager
// plus unit property signals, attached again after every reconnection
// (see sdbus.Bus).
type Conn interface {
	reconcile.Manager
	Subscribe(updateCh chan<- *sddbus.PropertiesUpdate, errCh chan<- error) error
}

// Daemon runs the loop.
type Daemon struct {
	sig    signals // unit states signalled since the last pass
	cfg    Config
	log    *zap.Logger
	conn   Conn
	rec    *reconcile.Reconciler
	notify *sdnotify.Notifier
	alive  chan struct{}
	wake   chan struct{}
	// started is when Run began; the watchdog allows stallLimit from it.
	started time.Time
	// lastStatus is the status file's last content, written only when it
	// changes.
	lastStatus []byte
	// lastSummary is the STATUS= last sent to the manager.
	lastSummary string
	// upd runs image update checks; nil without the podman API.
	upd *update.Runner
	// keep and intents are given to updates of persistent apps.
	keep    update.Keeper
	intents reconcile.Intents
	// ctx is Run's: work that outlives a pass (update checks) ends with it.
	ctx context.Context
}

// New returns a daemon over conn.
func New(cfg Config, conn Conn, log *zap.Logger) *Daemon {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	files := cfg.Units
	d := &Daemon{
		cfg:    cfg,
		log:    log,
		conn:   conn,
		rec:    reconcile.New(cfg.Reconcile, conn, files, log.Named("reconcile"), nil),
		notify: sdnotify.New(),
		alive:  make(chan struct{}, 1),
		wake:   make(chan struct{}, 1),
	}
	d.rec.SetWake(func() {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	})
	return d
}

// SetPodman gives the daemon the podman API (see reconcile.SetPodman).
func (d *Daemon) SetPodman(p reconcile.Podman) { d.rec.SetPodman(p) }

// SetUpdates lets the daemon check apps' images for updates on their
// schedules and when `ynhd update` asks (see package update). p is the
// podman API; reg asks registries. Call it after SetKeeper and
// SetIntents: persistent apps are updated with them.
func (d *Daemon) SetUpdates(p update.Podman, reg update.Registry) {
	d.upd = &update.Runner{
		U: &update.Updater{Podman: p, Registry: reg, Units: update.JobManager{M: d.conn},
			Store: update.StoreIn(d.cfg.StateDir), Keep: d.keep, Intents: d.intents, Log: d.log.Named("update")},
		Hold: d.rec.Hold, Log: d.log.Named("update"),
	}
}

// updates queues the update checks that are due, and on a reload the
// ones `ynhd update` asked for. It makes no podman call itself.
func (d *Daemon) updates(reason string) {
	if d.upd == nil {
		return
	}
	var reqs []update.Request
	if reason == "reload" || reason == "start" {
		var err error
		if reqs, err = d.upd.U.Store.Take(); err != nil {
			d.log.Warn("reading update requests", zap.Error(err))
		}
	}
	d.upd.Due(d.ctx, time.Now(), d.rec.Apps(), reqs)
}

// SetUnitLog lets the daemon explain failed units from their journal (see
// reconcile.SetUnitLog).
func (d *Daemon) SetUnitLog(l reconcile.UnitLog) { d.rec.SetUnitLog(l) }

// SetKeeper lets a user-mode daemon keep persistent apps' containers
// (see reconcile.SetKeeper).
func (d *Daemon) SetKeeper(k reconcile.Keeper) {
	d.rec.SetKeeper(k)
	d.keep, _ = k.(update.Keeper)
}

// SetUsers lets a system-mode daemon create static users (see
// reconcile.SetUsers).
func (d *Daemon) SetUsers(u reconcile.Users) { d.rec.SetUsers(u) }

// SetIntents gives the daemon the record of stops and owed restarts that
// outlives it (see reconcile.Intents).
func (d *Daemon) SetIntents(i reconcile.Intents) {
	d.rec.SetIntents(i)
	d.intents = i
}

// Run loops until ctx is done. It returns an error only when it cannot
// start (no declarations directory can be made, no watcher).
func (d *Daemon) Run(ctx context.Context) error {
	log := d.log
	d.started = time.Now()
	d.ctx = ctx
	defer d.rec.Close()
	for _, dir := range []string{d.cfg.Reconcile.DeclDir, d.cfg.Units.Path} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	sweep(log, d.cfg.Units.Path, filepath.Dir(d.cfg.StatusFile), d.cfg.StateDir,
		string(update.StoreIn(d.cfg.StateDir)), filepath.Join(string(update.StoreIn(d.cfg.StateDir)), "requests"))
	w, err := newWatch(d.cfg.Reconcile.DeclDir, d.cfg.Units.Path, log)
	if err != nil {
		return err
	}
	defer w.Close()
	updates := make(chan *sddbus.PropertiesUpdate, 256)
	subErrs := make(chan error, 16)
	unitsChanged := make(chan bool, 1) // true: an ActiveState changed
	go d.drain(ctx, updates, subErrs, unitsChanged)
	if err := d.conn.Subscribe(updates, subErrs); err != nil {
		log.Warn("no unit state signals; relying on the timer", zap.Error(err))
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	log.Info("starting", zap.String("declarations", d.cfg.Reconcile.DeclDir), zap.String("units", d.cfg.Units.Path),
		zap.Duration("interval", d.cfg.Interval))
	// Ready once watching and after a first look at the manager: slow work
	// (pulls, builds, slow starts) happens after, in passes that never
	// hold the start-up back.
	lctx, cancel := context.WithTimeout(ctx, firstLookTimeout)
	if _, err := d.rec.Plan(lctx); err != nil {
		log.Warn("first look at the manager failed; retrying in passes", zap.Error(err))
	}
	cancel()
	d.notify.Ready()
	go d.notify.RunWatchdog(ctx, d.healthy)

	ticker := time.NewTicker(d.cfg.Interval)
	defer ticker.Stop()
	heartbeat := time.NewTicker(5 * time.Second)
	defer heartbeat.Stop()
	s := &schedule{}
	s.due("start", time.Now())
	for {
		// A wake time no later than the last pass was seen by that pass,
		// which did what it could: it is not asked for again.
		if nw := d.rec.NextWake(); nw.After(s.last) {
			s.due("backoff", nw)
		}
		select {
		case <-ctx.Done():
			d.notify.Stopping()
			log.Info("stopping")
			return nil
		case <-heartbeat.C:
			d.beat()
		case <-ticker.C:
			s.due("timer", time.Now())
		case <-hup:
			d.notify.Reloading()
			d.rec.Refresh()
			d.pass(ctx, "reload", s)
			d.notify.Ready()
		case ev, ok := <-w.Events():
			if ok && w.relevant(ev, d.rec.Units(), d.rec.OwnChange) {
				// A file renamed into place (the documented way to write
				// one) is whole: pass now. A write in place may be followed
				// by more: wait a moment for the rest.
				// A removal waits a moment too: rm -rf of the directory
				// removes its files first, and a pass in between would take
				// them for deleted declarations.
				wait := fileDebounce
				if ev.Op&fsnotify.Rename != 0 || ev.Op&fsnotify.Create != 0 && !empty(ev.Name) {
					wait = 0
				}
				s.due("files changed", time.Now().Add(wait))
			}
		case <-w.Closed():
			// Written in place and closed: whole, pass now.
			s.due("files changed", time.Now())
		case err, ok := <-w.Errors():
			if ok {
				log.Warn("file watcher", zap.Error(err))
				s.due("watcher overflow", time.Now().Add(fileDebounce))
			}
		case state := <-unitsChanged:
			reason := "unit signal"
			if state {
				reason = "unit state changed"
			}
			s.due(reason, time.Now().Add(unitDebounce))
		case <-d.wake:
			s.due("background work ended", time.Now())
		case <-s.c():
			reason := s.take()
			if unitReason(reason) && d.sig.seenAlready(d.rec.Seen()) {
				log.Debug("unit signals show what the last pass saw; no pass")
				continue
			}
			d.pass(ctx, reason, s)
			if w.ensure() {
				// The directory came back: what changed while it was
				// away is read now.
				s.due("declarations directory back", time.Now())
			}
		}
	}
}

// drain takes unit signals off go-systemd's channels as they come, so
// they never fill (go-systemd logs to stderr when they are full), and
// tells the loop, coalesced, that units of ours may have changed.
func (d *Daemon) drain(ctx context.Context, updates <-chan *sddbus.PropertiesUpdate, errs <-chan error, out chan<- bool) {
	for {
		var state bool
		select {
		case <-ctx.Done():
			return
		case u := <-updates:
			if !d.rec.Units()[u.UnitName] {
				continue
			}
			state = d.sig.add(u)
		case err := <-errs:
			d.log.Debug("unit signal subscription", zap.Error(err))
			continue
		}
		select {
		case out <- state:
		default:
		}
	}
}

// signals gathers the unit states the manager signalled since the last
// pass, so a pass is not run for changes the last pass already saw (the
// start or restart it made itself).
type signals struct {
	mu     sync.Mutex
	states map[string]reconcile.UnitState
	other  bool // a signal that carried no state
}

// add records a signal and reports whether it carried an ActiveState.
func (g *signals) add(u *sddbus.PropertiesUpdate) bool {
	active, ok := u.Changed["ActiveState"].Value().(string)
	sub, _ := u.Changed["SubState"].Value().(string)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !ok {
		g.other = true
		return false
	}
	if g.states == nil {
		g.states = map[string]reconcile.UnitState{}
	}
	g.states[u.UnitName] = reconcile.UnitState{Active: active, Sub: sub}
	return true
}

// seenAlready reports whether every unit signalled since the last call is
// active, as the last pass saw it, and forgets the signals. A unit that
// stopped or failed always gets a pass: the last pass may have seen it
// only after it had planned.
func (g *signals) seenAlready(seen map[string]reconcile.UnitState) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	ok := !g.other
	for unit, st := range g.states {
		if st.Active != "active" || seen[unit] != st {
			ok = false
		}
	}
	g.states, g.other = nil, false
	return ok
}

// pass runs one reconcile pass, publishes its status and schedules what
// follows a failure.
func (d *Daemon) pass(ctx context.Context, reason string, s *schedule) {
	d.beat()
	d.sig.seenAlready(nil) // this pass sees what they said
	ctx, cancel := context.WithTimeout(ctx, passTimeout)
	defer cancel()
	start := time.Now()
	st, err := d.rec.Pass(ctx)
	d.beat()
	s.ran(time.Now())
	switch {
	case err != nil && d.rec.Observed().Before(start):
		// The pass could not even look: the manager or its bus is gone.
		wait := s.failed()
		if s.failures == 1 || s.failures%10 == 0 || err.Error() != s.lastErr {
			d.log.Warn("pass failed; retrying", zap.String("reason", reason), zap.Int("failures", s.failures),
				zap.Duration("next_in", wait), zap.Error(err))
		}
		s.lastErr = err.Error()
		d.notify.Status("cannot reach the service manager: " + err.Error())
		d.lastSummary = ""
		return
	case err != nil && !errors.Is(err, context.Canceled):
		d.log.Debug("pass had failures", zap.String("reason", reason), zap.Error(err))
	}
	if s.failures > 0 {
		d.log.Info("passes work again", zap.Int("failed_passes", s.failures))
	}
	d.updates(reason)
	s.failures, s.lastErr = 0, ""
	d.log.Debug("pass", zap.String("reason", reason), zap.Duration("took", time.Since(start)), zap.String("status", st.Summary()))
	summary := st.Summary()
	if n := logging.Dropped(); n > 0 {
		summary += fmt.Sprintf(" (%d log entries dropped)", n)
	}
	if summary != d.lastSummary {
		d.notify.Status(summary)
		d.lastSummary = summary
	}
	if d.cfg.StatusFile != "" {
		if reason == "reload" {
			d.lastStatus = nil // asked for: written even if unchanged
		}
		if err := d.writeStatus(st); err != nil {
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

// healthy consumes the loop's heartbeat: the watchdog is fed only while
// the loop keeps turning and passes keep observing the manager.
func (d *Daemon) healthy() bool {
	select {
	case <-d.alive:
	default:
		return false
	}
	last := d.rec.Observed()
	if last.IsZero() {
		last = d.started
	}
	if time.Since(last) > stallLimit {
		d.log.Error("no pass could observe the manager; letting the watchdog restart ynhd", zap.Duration("for", time.Since(last).Round(time.Second)))
		return false
	}
	return true
}

// schedule decides when the next pass runs: the earliest time anything
// asked for, never sooner than minPassGap after the last pass, and not
// before a failed pass's backoff.
type schedule struct {
	at       time.Time // zero: nothing due
	reason   string
	last     time.Time
	notUntil time.Time
	failures int
	lastErr  string
	t        *time.Timer
}

// due asks for a pass at when (zero: nothing).
func (s *schedule) due(reason string, when time.Time) {
	if when.IsZero() {
		return
	}
	switch {
	case s.at.IsZero() || when.Before(s.at):
		if !s.at.IsZero() && unitReason(reason) && !unitReason(s.reason) {
			reason = s.reason // a pass owed for another reason is never skipped
		}
		s.at, s.reason = when, reason
	case unitReason(s.reason) && !unitReason(reason):
		// The pass already due runs for this reason too, and must not be
		// skipped as one that only follows unit signals.
		s.reason = reason
	}
}

// unitReason reports whether a pass is due only because of unit signals
// (such a pass is skipped when the signals show what the last pass saw).
func unitReason(r string) bool { return r == "unit state changed" || r == "unit signal" }

func (s *schedule) c() <-chan time.Time {
	if s.at.IsZero() {
		return nil
	}
	at := s.at
	if floor := s.last.Add(minPassGap); at.Before(floor) {
		at = floor
	}
	if at.Before(s.notUntil) {
		at = s.notUntil
	}
	if s.t == nil {
		s.t = time.NewTimer(time.Until(at))
	} else {
		s.t.Reset(time.Until(at))
	}
	return s.t.C
}

func (s *schedule) take() string {
	r := s.reason
	s.at, s.reason = time.Time{}, ""
	return r
}

func (s *schedule) ran(now time.Time) { s.last = now }

// failed counts a failed pass and returns the wait before the next.
func (s *schedule) failed() time.Duration {
	s.failures++
	wait := failedPassBackoff << min(s.failures-1, 6)
	wait = min(wait, maxFailedPassBackoff)
	s.notUntil = time.Now().Add(wait)
	s.due("retry", s.notUntil)
	return wait
}

// writeStatus writes st as JSON atomically, when it changed.
func (d *Daemon) writeStatus(st reconcile.Status) error {
	// The pass's cost and time change every pass; they are not worth a
	// write on their own.
	cmp := st
	cmp.Time, cmp.LastPass = time.Time{}, reconcile.PassStats{}
	key, err := json.Marshal(cmp)
	if err != nil {
		return err
	}
	if bytes.Equal(key, d.lastStatus) {
		return nil
	}
	if err := WriteStatus(d.cfg.StatusFile, st); err != nil {
		return err
	}
	d.lastStatus = key
	return nil
}

// WriteStatus writes st as JSON atomically.
func WriteStatus(path string, st reconcile.Status) error {
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
	return reconcile.WriteFileAtomic(path, b, 0o600)
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

// sweep removes the temporary files a process killed in the middle of an
// atomic write left in dirs (ynhd's own: ".ynhd-*" in the unit directory,
// ".NAME.tmp-*" beside its state and status files). It runs at start,
// under the state lock, when no other ynhd process writes there.
func sweep(log *zap.Logger, dirs ...string) {
	for _, dir := range dirs {
		es, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range es {
			n := e.Name()
			if !e.Type().IsRegular() || !(strings.HasPrefix(n, ".ynhd-") || strings.HasPrefix(n, ".") && strings.Contains(n, ".tmp-")) {
				continue
			}
			if err := os.Remove(filepath.Join(dir, n)); err == nil {
				log.Info("removed a temporary file left by an interrupted write", zap.String("file", filepath.Join(dir, n)))
			}
		}
	}
}

// empty reports whether a file just created is still empty: it is being
// written in place (`cat > web.toml`), not renamed into place.
func empty(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Size() == 0
}
