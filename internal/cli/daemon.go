package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ynhd/ynhd/internal/daemon"
	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/keep"
	"github.com/ynhd/ynhd/internal/logging"
	"github.com/ynhd/ynhd/internal/podman"
	"github.com/ynhd/ynhd/internal/reconcile"
	"github.com/ynhd/ynhd/internal/sdbus"
	"github.com/ynhd/ynhd/internal/sysuser"
	"github.com/ynhd/ynhd/internal/units"
	updates "github.com/ynhd/ynhd/internal/update"
)

// layout is where one ynhd instance keeps its files.
type layout struct {
	declDir, unitDir, statusFile string
	// stateDir keeps what outlives a process: the lock, apps stopped by
	// `ynhd stop`, owed restarts (see reconcile.Intents).
	stateDir string
	target   string
	system   bool
}

// System mode's places: units where an administrator's go, and a status
// file in /run.
const (
	systemUnitDir    = "/etc/systemd/system"
	systemStatusFile = "/run/ynhd/status.json"
	// systemStateDir is hidden inside /var/lib/ynhd, which holds the
	// apps' StateDirectory=ynhd/NAME and must stay traversable (0755) by
	// their users; app names cannot start with a dot.
	systemStateDir = "/var/lib/ynhd/.daemon"
)

func (c *commonFlags) layout(e env) layout {
	if c.system {
		decl, _ := filepath.Abs(c.declDir(e))
		return layout{declDir: decl, unitDir: systemUnitDir, statusFile: systemStatusFile, stateDir: systemStateDir, target: "multi-user.target", system: true}
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(e.home, ".config")
	}
	run := os.Getenv("XDG_RUNTIME_DIR")
	status := ""
	if run == "" {
		run, _ = privateRuntimeDir() // "" when unsafe: no status file then
	}
	if run != "" {
		status = filepath.Join(run, "ynhd", "status.json")
	}
	state := os.Getenv("XDG_STATE_HOME")
	if state == "" {
		state = filepath.Join(e.home, ".local", "state")
	}
	decl, _ := filepath.Abs(c.declDir(e))
	return layout{
		declDir:    decl,
		stateDir:   filepath.Join(state, "ynhd"),
		unitDir:    filepath.Join(cfg, "systemd", "user"),
		statusFile: status,
		target:     "default.target",
	}
}

func (l layout) reconcileConfig(e env) reconcile.Config {
	mode := units.User
	if l.system {
		mode = units.System
	}
	return reconcile.Config{DeclDir: l.declDir, Home: e.home, Host: hostFacts(l.system), Mode: mode, Podman: podmanPath()}
}

// hostFacts are the facts validation uses. Apps are rootless in both modes:
// in system mode podman runs as the app's system user.
func hostFacts(system bool) decl.Host {
	h := decl.HostFacts(true)
	h.System = system
	return h
}

// newReconciler makes the reconciler for a layout, equipped by equip.
func newReconciler(ctx context.Context, l layout, e env, conn *sdbus.Bus, log *zap.Logger) *reconcile.Reconciler {
	rec := reconcile.New(l.reconcileConfig(e), conn, l.units(ctx, conn), log, nil)
	l.equip(ctx, conn, rec)
	return rec
}

// units is the layout's unit directory, with the manager's search path
// so that names held elsewhere are left alone.
func (l layout) units(ctx context.Context, conn *sdbus.Bus) reconcile.UnitDir {
	sp, _ := conn.UnitPath(ctx) // without it, masks and links in the unit directory are still seen
	return reconcile.NewUnitDir(l.unitDir, l.target, sp)
}

// equipable is what both *reconcile.Reconciler and *daemon.Daemon offer.
type equipable interface {
	SetUnitLog(reconcile.UnitLog)
	SetUsers(reconcile.Users)
	SetPodman(reconcile.Podman)
	SetIntents(reconcile.Intents)
	SetKeeper(reconcile.Keeper)
}

// equip gives r what the layout's mode uses: the journal for failure
// diagnosis; in system mode the means to create static users and no
// podman API (each app has its own storage, which its unit prepares); in
// user mode the user's podman API, when it answers. It returns why the API
// did not.
func (l layout) equip(ctx context.Context, conn reconcile.Manager, r equipable) error {
	r.SetUnitLog(journalTail{system: l.system})
	r.SetIntents(reconcile.StateDir(l.stateDir))
	if l.system {
		r.SetUsers(&sysuser.Users{})
		return nil
	}
	r.SetKeeper(userKeeper())
	pc, err := dialPodman(ctx, conn)
	if err != nil {
		return err
	}
	r.SetPodman(pc)
	if u, ok := r.(interface {
		SetUpdates(updates.Podman, updates.Registry)
	}); ok {
		u.SetUpdates(pc, podman.RemoteDigest)
	}
	return nil
}

// userKeeper runs the podman commands of persistent apps for the user
// manager: a container created in systemd mode reports readiness to the
// manager's notification socket.
func userKeeper() keep.Podman {
	return keep.Podman{Bin: podmanPath(), NotifySocket: filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "systemd", "notify")}
}

// dialPodman connects to the user's podman API, starting podman.socket
// through the manager first. Without it ynhd still works: the units pull
// images and create volumes and networks themselves.
func dialPodman(ctx context.Context, conn reconcile.Manager) (*podman.Client, error) {
	ch := make(chan string, 1)
	if _, err := conn.StartUnitContext(ctx, "podman.socket", "replace", ch); err == nil {
		select {
		case <-ch:
		case <-ctx.Done():
		}
	}
	return podman.Dial(ctx, podman.SocketPath())
}

// journalTail reads the end of a unit's journal with journalctl, for the
// reconciler's failure diagnosis.
type journalTail struct{ system bool }

func (j journalTail) Tail(ctx context.Context, unit string, lines int) (string, error) {
	args := []string{"-u", unit, "-n", strconv.Itoa(lines), "-o", "cat", "--no-pager"}
	if !j.system {
		args = append([]string{"--user"}, args...)
	}
	out, err := exec.CommandContext(ctx, "journalctl", args...).Output()
	return string(out), err
}

// connect opens a D-Bus connection to the user's systemd manager, or to
// the system manager in system mode (its private socket, else the bus;
// see sdbus). The connection redials by itself when it is lost.
func connect(system bool) (*sdbus.Bus, error) {
	b := sdbus.New(system)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := b.Connect(ctx); err != nil {
		if system {
			return nil, fmt.Errorf("connecting to the systemd system manager: %w (system mode runs as root on a host booted with systemd)", err)
		}
		return nil, fmt.Errorf("connecting to the systemd user manager: %w (is this a login session with XDG_RUNTIME_DIR set? for another user, use systemctl --user -M USER@ or log in as them)", err)
	}
	return b, nil
}

// lockState takes the state directory's lock for a command that acts, or
// says who holds it.
func lockState(l layout, e env, name string) (func(), bool) {
	unlock, holder, err := reconcile.StateDir(l.stateDir).Lock()
	switch {
	case errors.Is(err, reconcile.ErrLocked):
		who := "another ynhd process"
		if holder > 0 {
			who = fmt.Sprintf("another ynhd process (pid %d)", holder)
		}
		hint := "systemctl --user reload ynhd"
		if l.system {
			hint = "systemctl reload ynhd"
		}
		fmt.Fprintf(e.stderr, "ynhd %s: %s is applying declarations (it holds %s); the daemon applies them by itself: `%s` makes it pass now, `ynhd status` shows the result\n",
			name, who, filepath.Join(l.stateDir, "lock"), hint)
		return nil, false
	case err != nil:
		fmt.Fprintf(e.stderr, "ynhd %s: taking the lock in %s: %v\n", name, l.stateDir, err)
		return nil, false
	}
	return unlock, true
}

// runFlags are run's own flags.
type runFlags struct {
	interval time.Duration
	debug    bool
}

func cmdRun(c commonFlags, o runFlags, e env) int {
	level := zapcore.InfoLevel
	if o.debug {
		level = zapcore.DebugLevel
	}
	log, err := logging.New(logging.Options{Level: level, Output: e.stderr})
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd run: %v\n", err)
		return exitProblem
	}
	defer log.Sync()
	logging.IgnoreSIGPIPE()
	l := c.layout(e)
	unlock, ok := lockState(l, e, "run")
	if !ok {
		return exitProblem
	}
	defer unlock()
	conn, err := connect(c.system)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return exitProblem
	}
	defer conn.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	d := daemon.New(daemon.Config{Reconcile: l.reconcileConfig(e), Units: l.units(dctx, conn), Interval: o.interval, StatusFile: l.statusFile, StateDir: l.stateDir},
		conn, log.Named("daemon"))
	if err := l.equip(dctx, conn, d); err != nil {
		log.Warn("no podman API; images, volumes and networks are left to the units", zap.Error(err))
	}
	cancel()
	if err := d.Run(ctx); err != nil {
		log.Error("cannot start", zap.Error(err))
		return exitProblem
	}
	return exitOK
}

// oneShot builds a reconciler for plan and apply.
func oneShot(c commonFlags, e env, name string) (*reconcile.Reconciler, layout, func(), int) {
	l := c.layout(e)
	release := func() {}
	if name == "apply" {
		unlock, ok := lockState(l, e, name)
		if !ok {
			return nil, layout{}, nil, exitProblem
		}
		release = unlock
	}
	conn, err := connect(c.system)
	if err != nil {
		release()
		fmt.Fprintf(e.stderr, "ynhd %s: %v\n", name, err)
		return nil, layout{}, nil, exitProblem
	}
	log, _ := logging.New(logging.Options{Level: zapcore.InfoLevel, Output: e.stderr, ForceConsole: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := newReconciler(ctx, l, e, conn, log.Named(name))
	return rec, l, func() { rec.Close(); conn.Close(); release() }, -1
}

func cmdPlan(c commonFlags, asJSON bool, e env) int {
	rec, _, done, code := oneShot(c, e, "plan")
	if code >= 0 {
		return code
	}
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p, err := rec.Plan(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd plan: %v\n", err)
		return exitProblem
	}
	if asJSON {
		writeJSON(e.stdout, newPlanJSON(p))
	} else {
		if p.Empty() && len(p.Problems) == 0 {
			fmt.Fprintln(e.stderr, "nothing to do")
		}
		fmt.Fprint(e.stdout, p.String())
	}
	if !p.Empty() {
		return exitPending
	}
	return exitOK
}

// applyPasses bounds how many passes `ynhd apply` makes while pulls and
// builds finish.
const applyPasses = 20

func cmdApply(c commonFlags, e env) int {
	rec, _, done, code := oneShot(c, e, "apply")
	if code >= 0 {
		return code
	}
	defer done()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Hour)
	defer cancel()
	var st reconcile.Status
	var err error
	for i := 0; i < applyPasses; i++ {
		st, err = rec.Pass(ctx)
		if !rec.Busy() {
			break
		}
		waitShowing(ctx, rec, newJobProgress(e.stderr))
	}
	fmt.Fprintln(e.stdout, st.Summary())
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd apply: %v\n", err)
		return exitProblem
	}
	return exitOK
}

// waitShowing waits for the reconciler's pulls and builds, showing them
// every second.
func waitShowing(ctx context.Context, rec *reconcile.Reconciler, p *jobProgress) {
	idle := make(chan struct{})
	go func() {
		rec.WaitBackground(ctx)
		close(idle)
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		p.show(rec.Preparing())
		select {
		case <-idle:
			p.done()
			return
		case <-tick.C:
		}
	}
}

// unitTimeout bounds `ynhd start|stop|restart`.
const unitTimeout = 10 * time.Minute

// cmdUnit runs start, stop or restart of one declared app's unit (or, when
// no app has that name, of a group: cmdGroupUnit) and waits for the job. stop records that a person stopped the app, so the daemon
// leaves it stopped until `ynhd start`, `ynhd restart` or an edit of its
// declaration; start and restart clear that.
func cmdUnit(verb string, c commonFlags, app string, e env) int {
	l := c.layout(e)
	// An app's name first; otherwise a group (part_of) of that name.
	if !isDeclared(l, app) {
		if members, enabled := groupMembers(l, e, app); len(members) > 0 {
			return cmdGroupUnit(verb, l, e, app, members, enabled)
		}
	}
	if code := requireApp(l, e, verb, app); code >= 0 {
		return code
	}
	intents := reconcile.StateDir(l.stateDir)
	// The intent first: a pass between the job and the record would undo
	// the stop.
	if err := intents.SetStopped(app, verb == "stop"); err != nil {
		fmt.Fprintf(e.stderr, "ynhd %s %s: recording it in %s: %v\n", verb, app, l.stateDir, err)
		return exitProblem
	}
	conn, err := connect(c.system)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd %s: %v\n", verb, err)
		return exitProblem
	}
	defer conn.Close()
	unit := app + ".service"
	ctx, cancel := context.WithTimeout(context.Background(), unitTimeout)
	defer cancel()
	ch := make(chan string, 1)
	switch verb {
	case "start":
		_ = conn.ResetFailedUnitContext(ctx, unit)
		_, err = conn.StartUnitContext(ctx, unit, "replace", ch)
	case "stop":
		_, err = conn.StopUnitContext(ctx, unit, "replace", ch)
	case "restart":
		_ = conn.ResetFailedUnitContext(ctx, unit)
		_, err = conn.RestartUnitContext(ctx, unit, "replace", ch)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd %s %s: %v\n", verb, app, err)
		return exitProblem
	}
	select {
	case res := <-ch:
		if res != "done" {
			fmt.Fprintf(e.stderr, "ynhd %s %s: job %s; see ynhd logs %s\n", verb, app, res, app)
			return exitProblem
		}
	case <-ctx.Done():
		fmt.Fprintf(e.stderr, "ynhd %s %s: no result within %v; the job may still run: systemctl %sstatus %s\n", verb, app, unitTimeout, userFlag(l), unit)
		return exitProblem
	}
	if verb == "stop" {
		// A container killed after its stop timeout leaves the unit
		// failed; it was stopped on purpose, so clear that.
		_ = conn.ResetFailedUnitContext(ctx, unit)
	}
	return exitOK
}

func userFlag(l layout) string {
	if l.system {
		return ""
	}
	return "--user "
}

// requireApp checks that app is declared in the layout's directory and
// returns -1, or says which apps are and returns the exit code.
func requireApp(l layout, e env, verb, app string) int {
	files, err := decl.DeclarationFiles(l.declDir)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd %s: reading %s: %v\n", verb, l.declDir, err)
		return exitProblem
	}
	var apps []string
	for _, f := range files {
		if decl.AppName(f) == app {
			return -1
		}
		apps = append(apps, decl.AppName(f))
	}
	list := "none"
	if len(apps) > 0 {
		list = strings.Join(apps, ", ")
	}
	fmt.Fprintf(e.stderr, "ynhd %s: no app named %q in %s; apps are: %s\n", verb, app, l.declDir, list)
	return exitUsage
}

// logsFlags are logs' own flags.
type logsFlags struct {
	follow bool
	lines  int
}

func cmdLogs(c commonFlags, o logsFlags, app string, e env) int {
	if code := requireApp(c.layout(e), e, "logs", app); code >= 0 {
		return code
	}
	jargs := []string{"journalctl", "--user", "-u", app + ".service", "--no-pager", "-n", fmt.Sprint(o.lines)}
	if c.system {
		jargs = append(jargs[:1], jargs[2:]...)
	}
	if o.follow {
		jargs = append(jargs, "-f")
	}
	path, err := lookPath("journalctl")
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd logs: %v\n", err)
		return exitProblem
	}
	if err := syscall.Exec(path, jargs, os.Environ()); err != nil {
		fmt.Fprintf(e.stderr, "ynhd logs: %v\n", err)
	}
	return exitProblem
}
