package update

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/keep"
	"github.com/ynhd/ynhd/internal/podman"
	"github.com/ynhd/ynhd/internal/reconcile"
)

// Keeper is what updates of persistent apps need from keep.Podman: their
// container is created once, so an update replaces it by one created from
// the new image after a snapshot, and a rollback by one created from that
// snapshot.
type Keeper interface {
	Inspect(ctx context.Context, app string) (keep.Container, bool, error)
	Take(ctx context.Context, app, base, reason string, now time.Time) (keep.Snapshot, error)
	Remove(ctx context.Context, app string, stopSeconds int) error
	Create(ctx context.Context, args []string) error
	Prune(ctx context.Context, app string, keep int) ([]string, error)
}

// SnapshotReason is the reason recorded on the snapshot an update takes.
const SnapshotReason = "update"

// baseID is the image a persistent app's container started from. Its
// container runs the tag's image (created from it) or a snapshot (created
// from one after a change); in the second case the image recorded by the
// last check or update is its base, or, before any, the image the tag
// names locally (the one ynhd created the container from).
func baseID(running, localID string, st *State) string {
	switch {
	case running == "":
		return ""
	case running == localID:
		return localID
	case st.ImageID != "":
		return st.ImageID
	}
	return localID
}

// replace stops the app, and replaces its container by one created from
// image (whose file system started from base). The target is recorded in
// the intents first, so that a daemon killed half-way creates it at its
// next pass.
func (u *Updater) replace(ctx context.Context, a *decl.App, image, base string) error {
	if err := u.Intents.SetKept(a.Name, image+" "+base); err != nil {
		return fmt.Errorf("recording the new container: %w", err)
	}
	if err := u.Keep.Remove(ctx, a.Name, podman.StopSeconds(a)); err != nil {
		return err
	}
	if err := u.Keep.Create(ctx, podman.CreateArgs(a, reconcile.KeepRunOptions, image, base)); err != nil {
		return err
	}
	if err := u.Intents.SetKept(a.Name, ""); err != nil {
		u.Log.Warn("recording a created container", zap.String("app", a.Name), zap.Error(err))
	}
	return nil
}

// applyPersistent updates a persistent app: it stops it, commits its
// container to a snapshot (reason "update"), creates the container again
// from newID and starts it; if it does not run, healthy when it has a
// check, within the window, the container is created again from the
// snapshot, so the file system is as it was before the update.
func (u *Updater) applyPersistent(ctx context.Context, a *decl.App, st *State, ref, oldID, newID, digest string, startDeps func()) (string, error) {
	log := u.Log.With(zap.String("app", a.Name), zap.String("from", shortID(oldID)), zap.String("to", shortID(newID)))
	if u.Keep == nil || u.Intents == nil {
		startDeps()
		return "", fmt.Errorf("%s is persistent and this daemon does not keep containers (user mode only)", a.Name)
	}
	c, ok, err := u.Keep.Inspect(ctx, a.Name)
	if err == nil && !ok {
		err = fmt.Errorf("%s has no container yet", a.Name)
	}
	if err != nil {
		startDeps()
		return "", err
	}
	wasRunning := c.State == "running"
	if err := u.Units.Stop(ctx, a.UnitName()); err != nil {
		startDeps()
		return "", fmt.Errorf("stopping %s before its snapshot: %w", a.UnitName(), err)
	}
	snap, err := u.Keep.Take(ctx, a.Name, c.Base, SnapshotReason, u.now())
	if err != nil {
		if wasRunning {
			if serr := u.Units.Start(ctx, a.UnitName()); serr != nil {
				log.Warn("starting the app again after a failed snapshot", zap.Error(serr))
			}
		}
		startDeps()
		return "", fmt.Errorf("the snapshot before the update failed, nothing was changed: %w", err)
	}
	log.Info("updating a persistent app", zap.String("snapshot", snap.Ref))
	why := ""
	if err := u.replace(ctx, a, newID, ref); err != nil {
		why = "creating the container from the new image: " + err.Error()
	} else {
		why = u.restartOn(ctx, a, newID)
	}
	now := u.now()
	if ctx.Err() != nil {
		st.add(Event{Time: now, Kind: KindFailed, From: oldID, To: newID, Digest: digest, Snapshot: snap.Ref,
			Reason: "interrupted while waiting for the new image; it was kept (`ynhd rollback " + a.Name + "` brings the snapshot back)"})
		return "", fmt.Errorf("interrupted while waiting for %s to come up; it runs the new image", a.Name)
	}
	if why == "" {
		st.ImageID, st.Digest = newID, orDefault(digest, st.Digest)
		st.add(Event{Time: now, Kind: KindUpdated, From: oldID, To: newID, Digest: digest, Snapshot: snap.Ref})
		st.Kept = append([]string{oldID}, remove(st.Kept, oldID, newID)...)
		u.pruneSnapshots(ctx, a)
		u.prune(ctx, a, st)
		startDeps()
		log.Info("updated")
		return fmt.Sprintf("updated from %s to %s (snapshot %s)", shortID(oldID), shortID(newID), snap.Ref), nil
	}
	log.Warn("new image failed; rolling back to the snapshot", zap.String("reason", why), zap.String("snapshot", snap.Ref))
	bad := digest
	if bad == "" {
		bad = newID
	}
	st.markBad(bad)
	if err := u.Units.Stop(ctx, a.UnitName()); err != nil {
		log.Warn("stopping the app before the rollback", zap.Error(err))
	}
	if err := u.replace(ctx, a, snap.Ref, c.Base); err != nil {
		st.add(Event{Time: now, Kind: KindFailed, From: oldID, To: newID, Digest: digest, Snapshot: snap.Ref, Reason: why + "; rollback failed: " + err.Error()})
		startDeps()
		return "", fmt.Errorf("%s, and creating the container from snapshot %s failed (`ynhd rollback %s` tries again): %w", why, snap.Ref, a.Name, err)
	}
	if oldID != "" {
		if err := u.Podman.TagImage(ctx, oldID, ref); err != nil {
			log.Warn("tagging the previous image back", zap.Error(err))
		}
	}
	back := u.restartOn(ctx, a, snap.ID)
	st.ImageID = oldID
	st.add(Event{Time: u.now(), Kind: KindRolledBack, From: oldID, To: newID, Digest: digest, Snapshot: snap.Ref, Reason: why})
	if err := u.Podman.RemoveImage(ctx, newID); err != nil {
		log.Debug("the rolled back image stays in local storage", zap.Error(err))
	}
	startDeps()
	if back != "" {
		return "", fmt.Errorf("rolled back to snapshot %s after %s, but it did not come back: %s", snap.Ref, why, back)
	}
	return fmt.Sprintf("rolled back to snapshot %s: %s", snap.Ref, why), nil
}

func (u *Updater) pruneSnapshots(ctx context.Context, a *decl.App) {
	gone, err := u.Keep.Prune(ctx, a.Name, a.KeepSnapshots)
	if err != nil {
		u.Log.Warn("pruning snapshots", zap.String("app", a.Name), zap.Error(err))
	} else if len(gone) > 0 {
		u.Log.Info("old snapshots removed", zap.String("app", a.Name), zap.Strings("snapshots", gone))
	}
}
