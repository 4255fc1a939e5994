// Package update moves apps to newer images of their tag: it asks the
// registry (policy registry) or local storage (policy local) whether the
// tag names another image, pulls it, restarts the app on it and waits for
// it to run, healthy when it has a check, within the app's health window;
// otherwise it tags the previous image back, restarts the app on it and
// remembers the image as bad until the tag moves again. Apps that require
// the updated one are stopped first and started again, in order, once it
// is healthy. Every step is recorded in a per-app State (see Store).
//
// A persistent app's container is replaced instead (see applyPersistent):
// committed to a snapshot first, created from the new image, and created
// from that snapshot again when the new image does not come up.
//
// Updates run one at a time, in one goroutine (see Runner), so no two
// apps of one dependency chain are ever updated at once. Volume data is
// not part of an image and is never rolled back.
package update

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
	"github.com/ynhd/ynhd/internal/reconcile"
)

// Podman is what updates need from podman; *podman.Client satisfies it.
type Podman interface {
	Containers(ctx context.Context, withHealth map[string]bool) (map[string]podman.Container, error)
	LocalImage(ctx context.Context, ref string) (id string, digests []string, err error)
	PullImage(ctx context.Context, ref string, tlsVerify bool) (string, error)
	TagImage(ctx context.Context, id, ref string) error
	RemoveImage(ctx context.Context, id string) error
}

// Registry returns the digest a registry serves for ref's tag now
// (podman.RemoteDigest).
type Registry func(ctx context.Context, ref string, tlsVerify bool) (string, error)

// Units starts and stops units and waits for the job's result;
// JobManager adapts the reconciler's Manager.
type Units interface {
	Start(ctx context.Context, unit string) error
	Stop(ctx context.Context, unit string) error
	Restart(ctx context.Context, unit string) error
}

// Updater carries out checks and updates of one app at a time.
type Updater struct {
	Podman   Podman
	Registry Registry
	Units    Units
	Store    Store
	// Keep and Intents replace persistent apps' containers (user mode;
	// without them an update of a persistent app fails and changes
	// nothing).
	Keep    Keeper
	Intents reconcile.Intents
	Log     *zap.Logger
	Now     func() time.Time
	// Poll is how often the app's container is looked at while waiting
	// for it (default 1 s).
	Poll time.Duration
}

// Outcome is what one check did, in words, for `ynhd update`.
type Outcome struct {
	App    string
	Result string
	Err    error
}

func (u *Updater) now() time.Time {
	if u.Now == nil {
		return time.Now()
	}
	return u.Now()
}

// Check checks app and, unless checkOnly, updates it. all are the
// declared apps (for the apps that depend on it). The result is recorded
// in the app's State as well as returned.
func (u *Updater) Check(ctx context.Context, a *decl.App, all []*decl.App, checkOnly bool) Outcome {
	st, err := u.Store.Load(a.Name)
	if err != nil {
		return Outcome{App: a.Name, Err: err}
	}
	result, err := u.check(ctx, a, all, st, checkOnly)
	st.LastCheck = u.now()
	if err != nil {
		st.Failures++
		st.Result = "check failed: " + err.Error()
		st.add(Event{Time: st.LastCheck, Kind: KindFailed, Reason: err.Error()})
		u.Log.Warn("update check failed; the app keeps running as it is", zap.String("app", a.Name), zap.Int("failures", st.Failures), zap.Error(err))
	} else {
		st.Failures = 0
		st.Result = result
		u.Log.Info("update check", zap.String("app", a.Name), zap.String("result", result))
	}
	if serr := u.Store.Save(a.Name, st); serr != nil {
		u.Log.Warn("recording an update check", zap.String("app", a.Name), zap.Error(serr))
	}
	return Outcome{App: a.Name, Result: st.Result, Err: err}
}

func (u *Updater) check(ctx context.Context, a *decl.App, all []*decl.App, st *State, checkOnly bool) (string, error) {
	ref := podman.NormalizeRef(a.ImageRef())
	tls := a.Update.TLSVerify == nil || *a.Update.TLSVerify
	cs, err := u.Podman.Containers(ctx, nil)
	if err != nil {
		return "", err
	}
	running := cs[a.Name].ImageID
	localID, digests, err := u.Podman.LocalImage(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("looking at the local image %s: %w", ref, err)
	}
	idle := false // a stopped persistent app: updated while it runs
	if a.Persistent {
		// Its container runs a snapshot or the image it was created
		// from: the tag is compared with that base, never with the
		// snapshot.
		running = baseID(running, localID, st)
		idle = running != "" && cs[a.Name].State != "running"
	}
	available := func(what string) string {
		if idle {
			return what + "; " + a.Name + " is stopped: it is updated at a check while it runs"
		}
		return what
	}
	oldID := running
	if oldID == "" {
		oldID = localID
	}
	var newID, digest string
	switch a.UpdatePolicy() {
	case "registry":
		if digest, err = u.Registry(ctx, ref, tls); err != nil {
			return "", err
		}
		st.Digest = digest
		if hasDigest(digests, digest) && (running == "" || running == localID) {
			st.ImageID = localID
			return "up to date (" + shortDigest(digest) + ")", nil
		}
		if st.isBad(digest) {
			return fmt.Sprintf("%s was rolled back before; waiting for the tag to move", shortDigest(digest)), nil
		}
		if checkOnly || idle {
			return available(fmt.Sprintf("update available: %s names %s", ref, shortDigest(digest))), nil
		}
		if hasDigest(digests, digest) {
			newID = localID // pulled before, not yet running
		} else if newID, err = u.Podman.PullImage(ctx, ref, tls); err != nil {
			return "", err
		}
	case "local":
		if localID == "" {
			return "", fmt.Errorf("%s is not in local storage", ref)
		}
		if running == "" || running == localID {
			st.ImageID = localID
			return "up to date (" + shortID(localID) + ")", nil
		}
		if st.isBad(localID) {
			return fmt.Sprintf("image %s was rolled back before; waiting for the tag to move", shortID(localID)), nil
		}
		if checkOnly || idle {
			return available(fmt.Sprintf("update available: %s names image %s", ref, shortID(localID))), nil
		}
		newID = localID
	default:
		return "updates are off", nil
	}
	if newID == oldID || running == "" {
		// Nothing runs an older image: the next start uses the new one.
		st.ImageID = newID
		return "up to date (" + shortID(newID) + ")", nil
	}
	return u.apply(ctx, a, all, st, ref, oldID, newID, digest)
}

// apply restarts the app on newID and keeps it there if it comes up
// within the window, or rolls back to oldID.
func (u *Updater) apply(ctx context.Context, a *decl.App, all []*decl.App, st *State, ref, oldID, newID, digest string) (string, error) {
	log := u.Log.With(zap.String("app", a.Name), zap.String("from", shortID(oldID)), zap.String("to", shortID(newID)))
	deps := dependents(a.Name, all)
	cs, err := u.Podman.Containers(ctx, nil)
	if err != nil {
		return "", err
	}
	var stopped []string
	for i := len(deps) - 1; i >= 0; i-- {
		if c, ok := cs[deps[i].Name]; ok && c.State == "running" {
			if err := u.Units.Stop(ctx, deps[i].UnitName()); err != nil {
				log.Warn("stopping a dependent before the update", zap.String("dependent", deps[i].Name), zap.Error(err))
			}
			stopped = append([]string{deps[i].Name}, stopped...)
		}
	}
	startDeps := func() {
		for _, d := range deps {
			if contains(stopped, d.Name) {
				if err := u.Units.Start(ctx, d.UnitName()); err != nil {
					log.Warn("starting a dependent after the update", zap.String("dependent", d.Name), zap.Error(err))
				}
			}
		}
	}
	if a.Persistent {
		return u.applyPersistent(ctx, a, st, ref, oldID, newID, digest, startDeps)
	}
	log.Info("updating")
	why := u.restartOn(ctx, a, newID)
	now := u.now()
	if ctx.Err() != nil {
		// ynhd is stopping: the app stays on the new image, checked
		// again at the next start.
		st.add(Event{Time: now, Kind: KindFailed, From: oldID, To: newID, Digest: digest, Reason: "interrupted while waiting for the new image; it was kept"})
		return "", fmt.Errorf("interrupted while waiting for %s to come up; it runs it", a.Name)
	}
	if why == "" {
		st.ImageID, st.Digest = newID, orDefault(digest, st.Digest)
		st.add(Event{Time: now, Kind: KindUpdated, From: oldID, To: newID, Digest: digest})
		st.Kept = append([]string{oldID}, remove(st.Kept, oldID, newID)...)
		u.prune(ctx, a, st)
		startDeps()
		log.Info("updated")
		return fmt.Sprintf("updated from %s to %s", shortID(oldID), shortID(newID)), nil
	}
	log.Warn("new image failed; rolling back", zap.String("reason", why))
	bad := digest
	if bad == "" {
		bad = newID
	}
	st.markBad(bad)
	if err := u.Podman.TagImage(ctx, oldID, ref); err != nil {
		st.add(Event{Time: now, Kind: KindFailed, From: oldID, To: newID, Digest: digest, Reason: why + "; rollback failed: " + err.Error()})
		startDeps()
		return "", fmt.Errorf("%s, and tagging the previous image back failed: %w", why, err)
	}
	back := u.restartOn(ctx, a, oldID)
	st.ImageID = oldID
	st.add(Event{Time: u.now(), Kind: KindRolledBack, From: oldID, To: newID, Digest: digest, Reason: why})
	if err := u.Podman.RemoveImage(ctx, newID); err != nil {
		log.Debug("the rolled back image stays in local storage", zap.Error(err))
	}
	startDeps()
	if back != "" {
		return "", fmt.Errorf("rolled back to %s after %s, but the previous image did not come back: %s", shortID(oldID), why, back)
	}
	return fmt.Sprintf("rolled back to %s: %s", shortID(oldID), why), nil
}

// restartOn restarts the app and waits until its container runs imageID,
// healthy if it has a check, within its health window. It returns why it
// did not, or "".
func (u *Updater) restartOn(ctx context.Context, a *decl.App, imageID string) string {
	window := a.Update.HealthWindow.Duration
	start := u.now()
	if err := u.Units.Restart(ctx, a.UnitName()); err != nil {
		return "restarting " + a.UnitName() + ": " + err.Error()
	}
	poll := u.Poll
	if poll <= 0 {
		poll = time.Second
	}
	health := map[string]bool{a.Name: a.Health != nil}
	last := "the container did not start"
	var ran string // the first container seen running imageID
	for {
		cs, err := u.Podman.Containers(ctx, health)
		if err == nil {
			c, ok := cs[a.Name]
			if ok && c.ImageID == imageID && c.ID != "" {
				run := c.ID
				if a.Persistent {
					// Its unit starts the same container again.
					run += " " + c.StartedAt.String()
				}
				if ran != "" && run != ran {
					// podman killed it (health on_failure) or it exited,
					// and its unit started another.
					return "it did not stay up (its container was replaced or restarted; see ynhd logs " + a.Name + ")"
				}
				ran = run
			}
			if a.Persistent && ran != "" && (!ok || c.State != "running") {
				return "it did not stay up (its container stopped; see ynhd logs " + a.Name + ")"
			}
			switch {
			case !ok || c.State != "running":
				last = "the container was not running"
				if ok {
					last = "the container was " + c.State
				}
			case c.ImageID != imageID:
				last = "the container ran image " + shortID(c.ImageID)
			case a.Health == nil || c.Health == "healthy":
				return ""
			case c.Health == "unhealthy":
				return "its health check failed"
			default:
				last = "its health check had not passed"
			}
		}
		if u.now().Sub(start) >= window {
			return fmt.Sprintf("%s within %s", last, window)
		}
		select {
		case <-ctx.Done():
			return "interrupted: " + ctx.Err().Error()
		case <-time.After(poll):
		}
	}
}

// prune removes kept images beyond the app's keep count.
func (u *Updater) prune(ctx context.Context, a *decl.App, st *State) {
	keep := a.Update.KeepImages
	if len(st.Kept) <= keep {
		return
	}
	var left []string
	for _, id := range st.Kept[keep:] {
		if err := u.Podman.RemoveImage(ctx, id); err != nil {
			u.Log.Debug("an old image stays (in use or named elsewhere)", zap.String("app", a.Name), zap.String("image", shortID(id)), zap.Error(err))
			left = append(left, id)
		}
	}
	st.Kept = append(st.Kept[:keep:keep], left...)
	if len(st.Kept) > 4*keep {
		st.Kept = st.Kept[:4*keep] // forget images that cannot be removed
	}
}

// dependents returns the apps that require app, directly or through
// others, in the order they start (dependencies first).
func dependents(app string, all []*decl.App) []*decl.App {
	byName := map[string]*decl.App{}
	for _, a := range all {
		byName[a.Name] = a
	}
	needs := func(a *decl.App) []string { return append(append([]string(nil), a.Requires...), a.RequiresHealthy...) }
	in := map[string]bool{app: true}
	for changed := true; changed; {
		changed = false
		for _, a := range all {
			if in[a.Name] {
				continue
			}
			for _, d := range needs(a) {
				if in[d] {
					in[a.Name], changed = true, true
					break
				}
			}
		}
	}
	var out []*decl.App
	done := map[string]bool{app: true}
	var visit func(a *decl.App, depth int)
	visit = func(a *decl.App, depth int) {
		if done[a.Name] || depth > len(all) {
			return
		}
		for _, d := range needs(a) {
			if b := byName[d]; b != nil && in[d] {
				visit(b, depth+1)
			}
		}
		if !done[a.Name] {
			done[a.Name] = true
			out = append(out, a)
		}
	}
	names := make([]string, 0, len(in))
	for n := range in {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if b := byName[n]; b != nil {
			visit(b, 0)
		}
	}
	return out
}

func hasDigest(digests []string, d string) bool {
	for _, x := range digests {
		if strings.HasSuffix(x, "@"+d) {
			return true
		}
	}
	return false
}

func shortDigest(d string) string {
	if i := strings.Index(d, ":"); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func remove(xs []string, drop ...string) []string {
	var out []string
	for _, x := range xs {
		if !contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// ErrBusy is returned when the app is busy with a pull, build or another
// update; the check is tried again later.
var ErrBusy = errors.New("the app is busy with a pull, build or another update")
