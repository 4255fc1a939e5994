package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
)

// jobWait bounds how long a pass waits for the results of its start,
// stop and restart jobs. A job still running then (an init system that
// boots slowly, a unit that pulls its own image) is left in flight: its
// result is taken by a later pass (see Env.Late), and nothing else waits
// for it.
var jobWait = 45 * time.Second

// jobTimeout bounds the wait for one job's result in the background; units
// have their own, shorter timeouts, so this only guards against a lost
// job result (the manager's connection dropped).
const jobTimeout = 10 * time.Minute

// Applied says what happened to the actions of a plan.
type Applied struct {
	// Failed maps apps to why one of their actions failed.
	Failed map[string]error
	// Done lists the actions carried out.
	Done []Action
	// Warnings maps apps to a problem found while preparing them that did
	// not stop them (a volume whose options differ from the declaration).
	Warnings map[string]string
	// Deferred are apps whose pull or build went to the background: the
	// rest of their actions waits for a later pass.
	Deferred map[string]bool
	// InFlight are jobs queued whose result did not come within jobWait.
	InFlight []Action
}

// applier carries out a plan; it keeps going past one app's failure and
// skips that app's later actions.
type applier struct {
	Env
	log *zap.Logger
	res Applied
}

// Env is what Apply acts on.
type Env struct {
	Manager Manager
	Files   Files
	Podman  Podman // nil without the podman API
	Users   Users  // nil in user mode
	// Journal is the command that shows a unit's log, named in errors:
	// "journalctl --user -u" (the default) or "journalctl -u".
	Journal string
	// Background, when set, takes a pull or build to run outside the pass
	// and reports whether it did; without it they run inline.
	Background func(Action) bool
	// Late, when set, is given the jobs whose result did not come within
	// jobWait, with the channel it will arrive on.
	Late func(Action, <-chan string)
	// Keep creates or recreates a persistent app's container (OpCreate,
	// OpRecreate); nil where there are none to keep (system mode).
	Keep func(context.Context, Action) error
	// CLI creates volumes and networks through the podman CLI when the
	// API did not answer this pass (APIDown) or there is none.
	CLI interface {
		EnsureVolume(ctx context.Context, v decl.Volume) error
		EnsureNetwork(ctx context.Context, name string) error
	}
	APIDown bool
}

// warn records something the user should know that is not a failure.
func (a *applier) warn(app, msg string) {
	if a.res.Warnings == nil {
		a.res.Warnings = map[string]string{}
	}
	if a.res.Warnings[app] != msg {
		a.res.Warnings[app] = msg
	}
}

func (a *applier) fail(app string, err error) {
	if _, seen := a.res.Failed[app]; !seen {
		a.res.Failed[app] = err
		a.log.Error("action failed", zap.String("app", app), zap.Error(err))
	}
}

func (a *applier) ok(act Action) {
	a.res.Done = append(a.res.Done, act)
	var fields []zap.Field
	for _, f := range [][2]string{{"app", act.App}, {"unit", act.Unit}, {"reason", act.Reason}} {
		if f[1] != "" {
			fields = append(fields, zap.String(f[0], f[1]))
		}
	}
	a.log.Info(act.Op.String(), fields...)
}

// Apply carries out p in op order: stops, disables, file removals and
// writes, enables, one daemon-reload, then all starts and restarts as
// parallel jobs whose results are awaited. The error joins every app's
// failure.
func Apply(ctx context.Context, env Env, log *zap.Logger, p *Plan) (Applied, error) {
	m, f := env.Manager, env.Files
	if env.Journal == "" {
		env.Journal = "journalctl --user -u"
	}
	a := &applier{Env: env, log: log, res: Applied{Failed: map[string]error{}, Deferred: map[string]bool{}}}
	byOp := map[Op][]Action{}
	for _, act := range p.Actions {
		byOp[act.Op] = append(byOp[act.Op], act)
	}
	a.jobs(ctx, byOp[OpStop])
	a.unitFiles(ctx, OpDisable, byOp[OpDisable])
	// Users, images, volumes and networks before units: an app whose
	// preparation fails is skipped for the rest of the pass, the others go
	// on.
	for _, op := range []Op{OpUser, OpPull, OpBuild, OpVolume, OpNetwork, OpSecret, OpCreate, OpRecreate} {
		for _, act := range byOp[op] {
			if a.skip(act.App) {
				continue
			}
			slow := op == OpPull || op == OpBuild || op == OpRecreate || op == OpCreate
			if slow && a.Background != nil && a.Podman != nil && a.Background(act) {
				a.res.Deferred[act.App] = true
				a.log.Info(op.String(), zap.String("app", act.App), zap.String("unit", act.Unit), zap.String("image", act.Image),
					zap.String("reason", act.Reason+"; in the background"))
				continue
			}
			out := &logWriter{log: a.log, app: act.App}
			if err := a.prepare(ctx, act, out); err != nil {
				a.fail(act.App, &PrepError{Op: op, Err: err})
				continue
			}
			a.ok(act)
		}
	}
	for _, act := range append(byOp[OpRemove], byOp[OpWrite]...) {
		if a.skip(act.App) {
			continue
		}
		var err error
		if act.Op == OpRemove {
			err = f.Remove(act.Unit)
		} else {
			err = f.Write(act.Unit, act.Content)
		}
		if err != nil {
			a.fail(act.App, errorf(act.Unit, "%s: %v", act.Op, err))
			continue
		}
		a.ok(act)
	}
	if len(byOp[OpReload]) > 0 {
		if err := m.ReloadContext(ctx); err != nil {
			err = fmt.Errorf("daemon-reload: %w", err)
			a.log.Error("reload failed", zap.Error(err))
			a.res.Failed[""] = err
			return a.res, a.err()
		}
		a.ok(Action{Op: OpReload})
	}
	// Jobs are queued before units are enabled: enabling only matters at
	// the manager's next start, and a start should not wait for it.
	waits := a.queue(ctx, append(byOp[OpStart], byOp[OpRestart]...))
	a.unitFiles(ctx, OpEnable, byOp[OpEnable])
	a.await(ctx, waits)
	return a.res, a.err()
}

// skip reports whether an app's remaining actions are skipped this pass:
// one of them failed, or it waits for a background job.
func (a *applier) skip(app string) bool {
	_, failed := a.res.Failed[app]
	return failed || a.res.Deferred[app]
}

func (a *applier) err() error {
	var errs []error
	for _, app := range sortedKeys(a.res.Failed) {
		errs = append(errs, a.res.Failed[app])
	}
	return errors.Join(errs...)
}

// unitFiles enables or disables units in one D-Bus call.
func (a *applier) unitFiles(ctx context.Context, op Op, acts []Action) {
	var names []string
	var todo []Action
	for _, act := range acts {
		if !a.skip(act.App) {
			names = append(names, act.Unit)
			todo = append(todo, act)
		}
	}
	if len(names) == 0 {
		return
	}
	var err error
	if op == OpEnable {
		_, _, err = a.Manager.EnableUnitFilesContext(ctx, names, false, false)
	} else {
		_, err = a.Manager.DisableUnitFilesContext(ctx, names, false)
	}
	for _, act := range todo {
		if err != nil {
			a.fail(act.App, errorf(act.Unit, "%s: %v", op, err))
		} else {
			a.ok(act)
		}
	}
}

// jobs queues a start, stop or restart job per action, then waits for all
// of them: independent apps start in parallel, and systemd orders
// dependent ones.
func (a *applier) jobs(ctx context.Context, acts []Action) {
	a.await(ctx, a.queue(ctx, acts))
}

// pending is a queued job and the channel its result comes on.
type pending struct {
	act Action
	ch  chan string
}

// queue queues a job per action. A unit the manager reports as not found
// (a unit file it has not loaded yet, in a state it does not load at a
// start) gets one reload and one more try.
func (a *applier) queue(ctx context.Context, acts []Action) []pending {
	var waits []pending
	reloaded := false
	for _, act := range acts {
		if a.skip(act.App) {
			continue
		}
		if act.ResetFailed {
			_ = a.Manager.ResetFailedUnitContext(ctx, act.Unit)
		}
		ch := make(chan string, 1)
		err := a.queueOne(ctx, act, ch)
		if err != nil && act.Op != OpStop && notFound(err) && !reloaded {
			reloaded = true
			if rerr := a.Manager.ReloadContext(ctx); rerr == nil {
				a.log.Info("reloaded for a unit the manager had not loaded", zap.String("unit", act.Unit))
				err = a.queueOne(ctx, act, ch)
			}
		}
		if err != nil {
			a.fail(act.App, errorf(act.Unit, "%s: %v", act.Op, err))
			continue
		}
		waits = append(waits, pending{act, ch})
	}
	return waits
}

func (a *applier) queueOne(ctx context.Context, act Action, ch chan string) error {
	var err error
	switch act.Op {
	case OpStop:
		_, err = a.Manager.StopUnitContext(ctx, act.Unit, "replace", ch)
	case OpStart:
		_, err = a.Manager.StartUnitContext(ctx, act.Unit, "replace", ch)
	case OpRestart:
		_, err = a.Manager.RestartUnitContext(ctx, act.Unit, "replace", ch)
	}
	return err
}

// notFound reports whether a job failed to queue because the manager does
// not know the unit.
func notFound(err error) bool {
	s := err.Error()
	return strings.Contains(s, "not found") || strings.Contains(s, "NoSuchUnit") || strings.Contains(s, "not loaded")
}

// connected is what a Manager offers when it can tell that its
// connection was lost (sdbus.Bus): job results queued on a lost
// connection never come.
type connected interface{ Connected() bool }

// await waits for queued jobs' results, at most jobWait in all, and no
// longer once the manager's connection is lost (a daemon-reexec drops it,
// and with it every pending job result).
func (a *applier) await(ctx context.Context, waits []pending) {
	timeout := time.NewTimer(jobWait)
	defer timeout.Stop()
	var lost <-chan time.Time
	c, canTell := a.Manager.(connected)
	if canTell && len(waits) > 0 {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		lost = tick.C
	}
	expired := false
	for i := 0; i < len(waits); i++ {
		w := waits[i]
		if expired {
			a.late(w.act, w.ch)
			continue
		}
		select {
		case <-lost:
			if !c.Connected() {
				a.log.Info("connection to the manager lost while waiting for jobs; following them in later passes")
				expired = true
			}
			i-- // wait for this one again (or hand it on)
			continue
		case res := <-w.ch:
			if res != "done" {
				a.fail(w.act.App, &JobError{Op: w.act.Op, Unit: w.act.Unit, Result: res, Journal: a.Journal})
				continue
			}
			a.ok(w.act)
		case <-timeout.C:
			expired = true
			a.late(w.act, w.ch)
		case <-ctx.Done():
			expired = true
			a.late(w.act, w.ch)
		}
	}
}

// late hands a job whose result has not come to Env.Late.
func (a *applier) late(act Action, ch <-chan string) {
	a.res.InFlight = append(a.res.InFlight, act)
	a.log.Info(act.Op.String()+" still running; not waiting for it", zap.String("app", act.App), zap.String("unit", act.Unit))
	if a.Late != nil {
		a.Late(act, ch)
	}
}

// JobError is a start, stop or restart job that ran and did not end
// "done": the unit's own failure, which systemd's state and the crash
// backoff handle (it is not retried as a failed step).
type JobError struct {
	Op      Op
	Unit    string
	Result  string // failed, canceled, timeout, dependency, skipped
	Journal string // the command that shows the unit's log
}

func (e *JobError) Error() string {
	return fmt.Sprintf("%s: %s job %s; see %s %s", e.Unit, e.Op, e.Result, e.Journal, e.Unit)
}

// PrepError is the failure of a pull, build, volume or network: the app
// waits and retries with backoff.
type PrepError struct {
	Op  Op
	Err error
}

func (e *PrepError) Error() string { return e.Err.Error() }
func (e *PrepError) Unwrap() error { return e.Err }

// logWriter sends a build's output to the log, one entry per line.
type logWriter struct {
	log  *zap.Logger
	app  string
	part []byte
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.part = append(w.part, b...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			return len(b), nil
		}
		if line := strings.TrimSpace(string(w.part[:i])); line != "" {
			w.log.Info("build output", zap.String("app", w.app), zap.String("line", line))
		}
		w.part = w.part[i+1:]
	}
}
