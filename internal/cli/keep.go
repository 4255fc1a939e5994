package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/keep"
	"github.com/ynhd/ynhd/internal/podman"
	"github.com/ynhd/ynhd/internal/reconcile"
)

// keepTimeout bounds recreate and rollback: a snapshot copies the whole
// file system the container wrote.
const keepTimeout = time.Hour

// persistentApp returns the declaration of a declared persistent app, or
// an exit code (>= 0) after saying why not.
func persistentApp(c commonFlags, e env, verb, app string) (*decl.App, layout, int) {
	l := c.layout(e)
	if c.system {
		fmt.Fprintf(e.stderr, "ynhd %s: persistent containers are kept in user mode only\n", verb)
		return nil, l, exitUsage
	}
	if code := requireApp(l, e, verb, app); code >= 0 {
		return nil, l, code
	}
	loaded := loadSet([]string{filepath.Join(l.declDir, app+".toml")}, e, false)[0]
	if !loaded.OK() {
		for _, d := range loaded.Diagnostics.Errors() {
			fmt.Fprintln(e.stderr, d.String())
		}
		fmt.Fprintf(e.stderr, "ynhd %s: %s's declaration has errors; fix them first\n", verb, app)
		return nil, l, exitProblem
	}
	a := loaded.Parsed.App
	if !a.Persistent {
		fmt.Fprintf(e.stderr, "ynhd %s: %s is not persistent: its container is created afresh at each start and has nothing to keep; set persistent = true in %s to keep it\n",
			verb, app, loaded.File)
		return nil, l, exitUsage
	}
	return a, l, -1
}

// cmdSnapshots lists a persistent app's snapshots.
func cmdSnapshots(c commonFlags, asJSON bool, app string, e env) int {
	if _, _, code := persistentApp(c, e, "snapshots", app); code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	snaps, err := userKeeper().Snapshots(ctx, app)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd snapshots %s: %v\n", app, err)
		return exitProblem
	}
	if asJSON {
		if snaps == nil {
			snaps = []keep.Snapshot{}
		}
		writeJSON(e.stdout, struct {
			SchemaVersion int             `json:"schema_version"`
			App           string          `json:"app"`
			Snapshots     []keep.Snapshot `json:"snapshots"`
		}{jsonSchemaVersion, app, snaps})
		return exitOK
	}
	if len(snaps) == 0 {
		fmt.Fprintf(e.stdout, "%s has no snapshots yet: one is taken before every change that needs a new container, and by `ynhd snapshot %s`\n", app, app)
		return exitOK
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tTAKEN\tWHY\tSIZE\tBASE")
	for _, s := range snaps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Ref, s.Created.Local().Format("2006-01-02 15:04:05"), s.Reason, humanBytes(s.Size), s.Base)
	}
	tw.Flush()
	return exitOK
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// cmdSnapshot takes a snapshot of a running or stopped persistent app's
// container now (paused while it is committed).
func cmdSnapshot(c commonFlags, app string, e env) int {
	a, _, code := persistentApp(c, e, "snapshot", app)
	if code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), keepTimeout)
	defer cancel()
	k := userKeeper()
	ct, ok, err := k.Inspect(ctx, app)
	if err == nil && !ok {
		err = errors.New("it has no container yet (the daemon creates it when it starts the app)")
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd snapshot %s: %v\n", app, err)
		return exitProblem
	}
	start := time.Now()
	fmt.Fprintf(e.stdout, "committing %s's container (paused meanwhile)...\n", app)
	snap, err := k.TakeLive(ctx, app, ct.Base, "by-hand", start)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd snapshot %s: %v\n", app, err)
		return exitProblem
	}
	fmt.Fprintf(e.stdout, "snapshot %s taken in %s\n", snap.Ref, time.Since(start).Round(time.Millisecond))
	pruneSnapshots(ctx, e, k, app, a.KeepSnapshots)
	return exitOK
}

func pruneSnapshots(ctx context.Context, e env, k keep.Podman, app string, n int) {
	gone, err := k.Prune(ctx, app, n)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd: pruning %s's snapshots: %v\n", app, err)
	}
	for _, g := range gone {
		fmt.Fprintf(e.stdout, "removed old snapshot %s (keep_snapshots = %d)\n", g, n)
	}
}

// cmdRecreate gives a persistent app a new container from its declared
// image (applying a pending image change), after a snapshot of the old
// one.
func cmdRecreate(c commonFlags, app string, e env) int {
	a, l, code := persistentApp(c, e, "recreate", app)
	if code >= 0 {
		return code
	}
	return replaceContainer(e, l, a, "recreate", a.ImageRef(), a.ImageRef(), "before-recreate")
}

// cmdRollback gives a persistent app a container created from one of its
// snapshots (the newest by default), after a snapshot of the current one.
func cmdRollback(c commonFlags, app, name string, e env) int {
	a, l, code := persistentApp(c, e, "rollback", app)
	if code >= 0 {
		return code
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	snaps, err := userKeeper().Snapshots(ctx, a.Name)
	if err == nil {
		var s keep.Snapshot
		if s, err = keep.Find(snaps, a.Name, name); err == nil {
			return replaceContainer(e, l, a, "rollback", s.Ref, s.Base, "before-rollback")
		}
	}
	fmt.Fprintf(e.stderr, "ynhd rollback %s: %v\n", a.Name, err)
	return exitProblem
}

// replaceContainer stops a persistent app, snapshots its container,
// replaces the container by one created from `from` (an image or a
// snapshot, whose file system started from base) with the declaration's
// settings, and starts the app again if it ran. The daemon leaves the app
// alone meanwhile (a person's stop), and the target is recorded before
// the old container goes, so a command killed half-way is finished by
// the daemon at the next `ynhd start`.
func replaceContainer(e env, l layout, a *decl.App, verb, from, base, why string) int {
	app, unit := a.Name, a.Name+".service"
	fail := func(format string, args ...any) int {
		fmt.Fprintf(e.stderr, "ynhd %s %s: %s\n", verb, app, fmt.Sprintf(format, args...))
		return exitProblem
	}
	ctx, cancel := context.WithTimeout(context.Background(), keepTimeout)
	defer cancel()
	intents := reconcile.StateDir(l.stateDir)
	stopped, err := intents.Stopped()
	if err != nil {
		return fail("reading %s: %v", l.stateDir, err)
	}
	wasStopped := stopped[app]
	if err := intents.SetStopped(app, true); err != nil {
		return fail("recording the stop in %s: %v", l.stateDir, err)
	}
	conn, err := connect(false)
	if err != nil {
		return fail("%v", err)
	}
	defer conn.Close()
	fmt.Fprintf(e.stdout, "stopping %s\n", unit)
	ch := make(chan string, 1)
	if _, err := conn.StopUnitContext(ctx, unit, "replace", ch); err == nil {
		select {
		case <-ch:
		case <-ctx.Done():
			return fail("the stop did not end")
		}
	}
	_ = conn.ResetFailedUnitContext(ctx, unit)
	k := userKeeper()
	old, have, err := k.Inspect(ctx, app)
	if err != nil {
		return fail("%v", err)
	}
	if have {
		start := time.Now()
		fmt.Fprintf(e.stdout, "committing the current container to a snapshot...\n")
		snap, err := k.Take(ctx, app, old.Base, why, start)
		if err != nil {
			return fail("the snapshot failed, nothing was changed (the app stays stopped; `ynhd start %s` starts it as it was): %v", app, err)
		}
		fmt.Fprintf(e.stdout, "snapshot %s taken in %s\n", snap.Ref, time.Since(start).Round(time.Millisecond))
	}
	if err := intents.SetKept(app, from+" "+base); err != nil {
		return fail("recording the recreate in %s: %v", l.stateDir, err)
	}
	if have {
		if err := k.Remove(ctx, app, podman.StopSeconds(a)); err != nil {
			return fail("%v", err)
		}
	}
	fmt.Fprintf(e.stdout, "creating the container from %s\n", from)
	if err := k.Create(ctx, podman.CreateArgs(a, keepRunOptions(), from, base)); err != nil {
		return fail("%v (the daemon creates it from %s at `ynhd start %s`)", err, from, app)
	}
	if err := intents.SetKept(app, ""); err != nil {
		fmt.Fprintf(e.stderr, "ynhd %s %s: recording the new container: %v\n", verb, app, err)
	}
	pruneSnapshots(ctx, e, k, app, a.KeepSnapshots)
	if wasStopped {
		fmt.Fprintf(e.stdout, "%s stays stopped, as it was: `ynhd start %s` starts it\n", app, app)
		return exitOK
	}
	if err := intents.SetStopped(app, false); err != nil {
		return fail("clearing the stop in %s: %v", l.stateDir, err)
	}
	fmt.Fprintf(e.stdout, "starting %s\n", unit)
	if _, err := conn.StartUnitContext(ctx, unit, "replace", ch); err != nil {
		return fail("%v", err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			return fail("start job %s; see ynhd logs %s", res, app)
		}
	case <-ctx.Done():
		return fail("the start did not end")
	}
	return exitOK
}

func keepRunOptions() podman.RunOptions { return reconcile.KeepRunOptions }
