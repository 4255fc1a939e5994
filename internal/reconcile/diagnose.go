package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"
)

// UnitLog reads the end of a unit's journal. The reconciler uses it to say
// why an app's unit failed when podman's message there names a cause the
// declaration can fix.
type UnitLog interface {
	Tail(ctx context.Context, unit string, lines int) (string, error)
}

// SetUnitLog lets the reconciler read failed units' journals. Call it
// before the first pass.
func (r *Reconciler) SetUnitLog(l UnitLog) { r.journal = l }

// diagnosis is what the journal of one failure of an app said; content is
// the unit it was made for, so an edit makes a fresh one.
type diagnosis struct {
	content string
	msg     string
}

// diagTail is how many journal lines a diagnosis reads, and diagTimeout
// how long it may take (journald may be stopped or slow).
const (
	diagTail    = 60
	diagTimeout = 5 * time.Second
)

// diagnose looks, once per failure and unit content, at the journal of
// every failed unit and remembers an explanation when it finds one; an app
// that runs again loses it.
func (r *Reconciler) diagnose(ctx context.Context, desired []Desired, w *World) {
	for _, d := range desired {
		o := w.Units[d.Unit]
		if o == nil || d.Content == nil || o.ActiveState == "active" {
			delete(r.diag, d.App)
			continue
		}
		if r.journal == nil || o.ActiveState != "failed" {
			continue
		}
		if dg, ok := r.diag[d.App]; ok && dg.content == string(d.Content) {
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, diagTimeout)
		log, err := r.journal.Tail(tctx, d.Unit, diagTail)
		cancel()
		if err != nil {
			r.log.Debug("reading the journal of a failed unit", zap.String("unit", d.Unit), zap.Error(err))
			continue
		}
		msg := ExplainFailure(log, d, r.cfg.Mode.String())
		r.diag[d.App] = diagnosis{content: string(d.Content), msg: msg}
		if msg != "" {
			r.log.Error(msg, zap.String("app", d.App), zap.String("unit", d.Unit))
		}
	}
	for app := range r.diag {
		if !hasApp(desired, app) {
			delete(r.diag, app)
		}
	}
}

func hasApp(ds []Desired, app string) bool {
	for _, d := range ds {
		if d.App == app {
			return true
		}
	}
	return false
}

// ExplainFailure turns what podman wrote in a failed unit's journal into
// what to do, or "" when it recognizes nothing. mode is "user" or
// "system"; d.User is set for a system app that runs as a static user.
func ExplainFailure(log string, d Desired, mode string) string {
	for _, ctl := range []string{"memory", "pids", "cpu"} {
		if strings.Contains(log, "opening file `"+ctl+".max` for writing") || strings.Contains(log, "opening file '"+ctl+".max' for writing") {
			return fmt.Sprintf("the %s limit in [resources] of %s cannot be applied: this host does not delegate the %s controller to your user manager; delegate it (ynhd doctor shows how) or remove the limit", ctl, d.Source, ctl)
		}
	}
	if !strings.Contains(log, "insufficient UIDs or GIDs available in user namespace") {
		return ""
	}
	if mode == "system" && d.User == "" {
		return fmt.Sprintf("the image has files owned by more than one user, and a DynamicUser maps a single id, so it cannot be unpacked: add system_user = \"static\" to %s (ynhd then runs it as a static user with subordinate ids)", d.Source)
	}
	who := "your user"
	if d.User != "" {
		who = d.User
	}
	return fmt.Sprintf("the image uses ids beyond the subordinate ids of %s: give it a range of 65536 in /etc/subuid and /etc/subgid (see ynhd doctor), then run podman system migrate", who)
}
