package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// jobTimeout bounds the wait for one start, stop or restart job; units
// have their own, shorter timeouts, so this only guards against a lost
// job result.
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
	a := &applier{Env: env, log: log, res: Applied{Failed: map[string]error{}}}
	byOp := map[Op][]Action{}
	for _, act := range p.Actions {
		byOp[act.Op] = append(byOp[act.Op], act)
	}
	a.jobs(ctx, byOp[OpStop])
	a.unitFiles(ctx, OpDisable, byOp[OpDisable])
	// Users, images, volumes and networks before units: an app whose
	// preparation fails is skipped for the rest of the pass, the others go
	// on.
	for _, op := range []Op{OpUser, OpPull, OpBuild, OpVolume, OpNetwork} {
		for _, act := range byOp[op] {
			if _, failed := a.res.Failed[act.App]; failed {
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
		if _, failed := a.res.Failed[act.App]; failed {
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
	a.unitFiles(ctx, OpEnable, byOp[OpEnable])
	if len(byOp[OpReload]) > 0 {
		if err := m.ReloadContext(ctx); err != nil {
			err = fmt.Errorf("daemon-reload: %w", err)
			a.log.Error("reload failed", zap.Error(err))
			a.res.Failed[""] = err
			return a.res, a.err()
		}
		a.ok(Action{Op: OpReload})
	}
	a.jobs(ctx, append(byOp[OpStart], byOp[OpRestart]...))
	return a.res, a.err()
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
		if _, failed := a.res.Failed[act.App]; !failed {
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
	type pending struct {
		act Action
		ch  chan string
	}
	var waits []pending
	for _, act := range acts {
		if _, failed := a.res.Failed[act.App]; failed {
			continue
		}
		if act.ResetFailed {
			_ = a.Manager.ResetFailedUnitContext(ctx, act.Unit)
		}
		ch := make(chan string, 1)
		var err error
		switch act.Op {
		case OpStop:
			_, err = a.Manager.StopUnitContext(ctx, act.Unit, "replace", ch)
		case OpStart:
			_, err = a.Manager.StartUnitContext(ctx, act.Unit, "replace", ch)
		case OpRestart:
			_, err = a.Manager.RestartUnitContext(ctx, act.Unit, "replace", ch)
		}
		if err != nil {
			a.fail(act.App, errorf(act.Unit, "%s: %v", act.Op, err))
			continue
		}
		waits = append(waits, pending{act, ch})
	}
	timeout := time.NewTimer(jobTimeout)
	defer timeout.Stop()
	for _, w := range waits {
		select {
		case res := <-w.ch:
			if res != "done" {
				a.fail(w.act.App, errorf(w.act.Unit, "%s job %s; see %s %s", w.act.Op, res, a.Journal, w.act.Unit))
				continue
			}
			a.ok(w.act)
		case <-timeout.C:
			a.fail(w.act.App, errorf(w.act.Unit, "%s job gave no result within %v", w.act.Op, jobTimeout))
		case <-ctx.Done():
			a.fail(w.act.App, errorf(w.act.Unit, "%s: %v", w.act.Op, ctx.Err()))
		}
	}
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
