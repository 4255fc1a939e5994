package cli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ynhd/ynhd/internal/daemon"
	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/logging"
	"github.com/ynhd/ynhd/internal/podman"
	"github.com/ynhd/ynhd/internal/reconcile"
	"github.com/ynhd/ynhd/internal/sysuser"
	"github.com/ynhd/ynhd/internal/units"
)

// layout is where one ynhd instance keeps its files.
type layout struct {
	declDir, unitDir, statusFile string
	target                       string
	system                       bool
}

// System mode's places: units where an administrator's go, and a status
// file in /run.
const (
	systemUnitDir    = "/etc/systemd/system"
	systemStatusFile = "/run/ynhd/status.json"
)

func (c *commonFlags) layout(e env) layout {
	if c.system {
		decl, _ := filepath.Abs(c.declDir(e))
		return layout{declDir: decl, unitDir: systemUnitDir, statusFile: systemStatusFile, target: "multi-user.target", system: true}
	}
	cfg := os.Getenv("XDG_CONFIG_HOME")
	if cfg == "" {
		cfg = filepath.Join(e.home, ".config")
	}
	run := os.Getenv("XDG_RUNTIME_DIR")
	if run == "" {
		run = filepath.Join(os.TempDir(), fmt.Sprintf("ynhd-%d", os.Getuid()))
	}
	decl, _ := filepath.Abs(c.declDir(e))
	return layout{
		declDir:    decl,
		unitDir:    filepath.Join(cfg, "systemd", "user"),
		statusFile: filepath.Join(run, "ynhd", "status.json"),
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
func newReconciler(ctx context.Context, l layout, e env, conn *sddbus.Conn, log *zap.Logger) *reconcile.Reconciler {
	rec := reconcile.New(l.reconcileConfig(e), conn, reconcile.UnitDir{Path: l.unitDir, Target: l.target}, log, nil)
	l.equip(ctx, conn, rec)
	return rec
}

// equipable is what both *reconcile.Reconciler and *daemon.Daemon offer.
type equipable interface {
	SetUnitLog(reconcile.UnitLog)
	SetUsers(reconcile.Users)
	SetPodman(reconcile.Podman)
}

// equip gives r what the layout's mode uses: the journal for failure
// diagnosis; in system mode the means to create static users and no
// podman API (each app has its own storage, which its unit prepares); in
// user mode the user's podman API, when it answers. It returns why the API
// did not.
func (l layout) equip(ctx context.Context, conn *sddbus.Conn, r equipable) error {
	r.SetUnitLog(journalTail{system: l.system})
	if l.system {
		r.SetUsers(&sysuser.Users{})
		return nil
	}
	pc, err := dialPodman(ctx, conn)
	if err != nil {
		return err
	}
	r.SetPodman(pc)
	return nil
}

// dialPodman connects to the user's podman API, starting podman.socket
// through the manager first. Without it ynhd still works: the units pull
// images and create volumes and networks themselves.
func dialPodman(ctx context.Context, conn *sddbus.Conn) (*podman.Client, error) {
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
// the system manager in system mode.
func connect(system bool) (*sddbus.Conn, error) {
	if system {
		conn, err := sddbus.NewSystemConnectionContext(context.Background())
		if err != nil {
			return nil, fmt.Errorf("connecting to the systemd system manager: %w (system mode runs as root on a host booted with systemd)", err)
		}
		return conn, nil
	}
	conn, err := sddbus.NewUserConnectionContext(context.Background())
	if err != nil {
		return nil, fmt.Errorf("connecting to the systemd user manager: %w (is this a login session with XDG_RUNTIME_DIR and DBUS_SESSION_BUS_ADDRESS set?)", err)
	}
	return conn, nil
}

func cmdRun(args []string, e env) int {
	var c commonFlags
	fs := newFlagSet("run", e, &c)
	interval := fs.Duration("interval", daemon.DefaultInterval, "time between full reconcile passes")
	debug := fs.Bool("debug", false, "log every pass")
	if _, err := parseFlags(fs, args); err != nil {
		return flagExit(err)
	}
	level := zapcore.InfoLevel
	if *debug {
		level = zapcore.DebugLevel
	}
	log, err := logging.New(logging.Options{Level: level, Output: e.stderr})
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd run: %v\n", err)
		return exitProblem
	}
	defer log.Sync()
	conn, err := connect(c.system)
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return exitProblem
	}
	defer conn.Close()
	l := c.layout(e)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	d := daemon.New(daemon.Config{Reconcile: l.reconcileConfig(e), UnitDir: l.unitDir, Interval: *interval, StatusFile: l.statusFile},
		conn, log.Named("daemon"), l.target)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
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
func oneShot(args []string, e env, name string) (*reconcile.Reconciler, layout, func(), int) {
	var c commonFlags
	fs := newFlagSet(name, e, &c)
	if _, err := parseFlags(fs, args); err != nil {
		return nil, layout{}, nil, flagExit(err)
	}
	conn, err := connect(c.system)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd %s: %v\n", name, err)
		return nil, layout{}, nil, exitProblem
	}
	l := c.layout(e)
	log, _ := logging.New(logging.Options{Level: zapcore.InfoLevel, Output: e.stderr, ForceConsole: true})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec := newReconciler(ctx, l, e, conn, log.Named("apply"))
	return rec, l, conn.Close, -1
}

func cmdPlan(args []string, e env) int {
	rec, _, done, code := oneShot(args, e, "plan")
	if code >= 0 {
		return code
	}
	defer done()
	p, err := rec.Plan(context.Background())
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd plan: %v\n", err)
		return exitProblem
	}
	if p.Empty() && len(p.Problems) == 0 {
		fmt.Fprintln(e.stderr, "nothing to do")
	}
	fmt.Fprint(e.stdout, p.String())
	return exitOK
}

func cmdApply(args []string, e env) int {
	rec, _, done, code := oneShot(args, e, "apply")
	if code >= 0 {
		return code
	}
	defer done()
	st, err := rec.Pass(context.Background())
	fmt.Fprintln(e.stdout, st.Summary())
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd apply: %v\n", err)
		return exitProblem
	}
	return exitOK
}

// cmdUnit runs start, stop or restart of one app's unit and waits for the
// job.
func cmdUnit(verb string, args []string, e env) int {
	var c commonFlags
	fs := newFlagSet(verb, e, &c)
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		fmt.Fprintf(e.stderr, "usage: ynhd %s APP\n", verb)
		return exitUsage
	}
	conn, err := connect(c.system)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd %s: %v\n", verb, err)
		return exitProblem
	}
	defer conn.Close()
	unit := pos[0] + ".service"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
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
		fmt.Fprintf(e.stderr, "ynhd %s %s: %v\n", verb, pos[0], err)
		return exitProblem
	}
	if res := <-ch; res != "done" {
		fmt.Fprintf(e.stderr, "ynhd %s %s: job %s; see ynhd logs %s\n", verb, pos[0], res, pos[0])
		return exitProblem
	}
	if verb == "stop" {
		// A container killed after its stop timeout leaves the unit
		// failed; it was stopped on purpose, so clear that.
		_ = conn.ResetFailedUnitContext(ctx, unit)
	}
	return exitOK
}

func cmdLogs(args []string, e env) int {
	var c commonFlags
	fs := newFlagSet("logs", e, &c)
	follow := fs.Bool("f", false, "follow")
	lines := fs.Int("n", 100, "number of lines")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return flagExit(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(e.stderr, "usage: ynhd logs [-f] [-n N] APP")
		return exitUsage
	}
	jargs := []string{"journalctl", "--user", "-u", pos[0] + ".service", "--no-pager", "-n", fmt.Sprint(*lines)}
	if c.system {
		jargs = append(jargs[:1], jargs[2:]...)
	}
	if *follow {
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

func flagExit(err error) int {
	if isFlagHelp(err) {
		return exitOK
	}
	return exitUsage
}
