package reconcile

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/units"
)

// Op is one kind of step in a plan, in the order Apply carries them out.
type Op int

// The ops, in execution order.
const (
	OpStop     Op = iota // stop the unit (deleted or disabled app)
	OpDisable            // remove the unit from the install target
	OpRemove             // delete the unit file
	OpUser               // create a system-mode app's static user and its subordinate ids
	OpPull               // pull a missing image
	OpBuild              // build an image (missing, or its context changed)
	OpVolume             // create a named volume if missing
	OpNetwork            // create a named network if missing
	OpSecret             // create or replace a podman secret from its source
	OpCreate             // create a persistent app's container
	OpRecreate           // snapshot a persistent app's container and create it again from the snapshot
	OpWrite              // write the unit file (new, changed or hand-edited)
	OpEnable             // add the unit to the install target
	OpReload             // daemon-reload, at most once
	OpStart              // start an app that is not running
	OpRestart            // restart an app whose unit changed
)

var opNames = [...]string{"stop", "disable", "remove", "user", "pull", "build", "volume", "network", "secret", "create", "recreate", "write", "enable", "reload", "start", "restart"}

func (o Op) String() string { return opNames[o] }

// Action is one step of a plan.
type Action struct {
	Op     Op
	App    string
	Unit   string
	Reason string
	// Content is the unit file to write (OpWrite).
	Content []byte
	// ResetFailed clears a failed state before OpStart.
	ResetFailed bool
	// Image is the image to pull or build; Build and ContextHash say how
	// to build it; Volume is the volume to create.
	Image       string
	Build       *decl.Build
	ContextHash string
	Volume      decl.Volume
	// Secret is the secret to create or replace (OpSecret); the value is
	// read from its source when the action is carried out, so a plan
	// never holds it.
	Secret decl.Secret
	// Decl is a persistent app's declaration (OpCreate, OpRecreate):
	// what its new container is created with, from Image.
	Decl *decl.App
	// Base is the base image the new container's file system comes from
	// (the declaration's, or the old container's for OpRecreate).
	Base string
}

func (a Action) String() string {
	s := a.Op.String()
	if a.Unit != "" {
		s += " " + a.Unit
	}
	if a.Reason != "" {
		s += " (" + a.Reason + ")"
	}
	return s
}

// Problem is something a plan cannot fix: an invalid declaration, a unit
// name taken by someone else's unit.
type Problem struct {
	App     string
	Message string
	// Held is set when the problem is a start held back until a
	// dependency is healthy: the start is still owed.
	Held bool
	// Waiting is set when the app waits for something ynhd is doing
	// (a pull or build in the background, a retry's backoff).
	Waiting bool
	// FromPodman is set when the problem comes from what podman said (an
	// image it does not have, a container's labels): a pass planned from
	// what it said earlier asks it again soon.
	FromPodman bool
}

// Plan is the sorted list of actions one pass takes, plus the problems it
// leaves alone.
type Plan struct {
	Actions  []Action
	Problems []Problem
	// Waiting is set when an app's start is held back until another app is
	// healthy: the caller should pass again soon.
	Waiting bool
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Actions) == 0 }

// Has reports whether the plan has an action of one of ops.
func (p *Plan) Has(ops ...Op) bool {
	for _, a := range p.Actions {
		if slices.Contains(ops, a.Op) {
			return true
		}
	}
	return false
}

// String prints one action per line, then one problem per line; tests
// compare plans as this text.
func (p *Plan) String() string {
	var b strings.Builder
	for _, a := range p.Actions {
		b.WriteString(a.String() + "\n")
	}
	for _, pr := range p.Problems {
		fmt.Fprintf(&b, "problem %s: %s\n", pr.App, pr.Message)
	}
	return b.String()
}

// Input is everything Plan looks at.
type Input struct {
	Desired []Desired
	World   *World
	Backoff map[string]*Backoff
	Now     time.Time
	// Held are apps whose start an earlier plan held back (Problem.Held);
	// they are started once they can be.
	Held map[string]bool
	// Stopped are apps a person stopped with `ynhd stop`: they are not
	// started until started again or edited.
	Stopped map[string]bool
	// Owed maps apps to the hash (UnitHash) of the unit a start or restart
	// was committed to and not seen done: a pass that was cut short.
	Owed map[string]string
	// Retry holds apps whose last pull, build or apply step failed: they
	// are left alone until Retry.Next.
	Retry map[string]*Retry
	// Preparing maps apps to the pull or build running for them in the
	// background; they are left alone until it ends.
	Preparing map[string]string
	// Vanishing are apps whose declaration was just seen gone: their
	// removal waits a moment, in case the whole directory is going away
	// (rm -rf removes the files before the directory) or the file is being
	// replaced.
	Vanishing map[string]bool
	// Incomplete is set when the set of declarations could not be read
	// whole (the directory is unreadable or missing): nothing is removed
	// for a declaration that merely could not be seen.
	Incomplete bool
	// Kept are the persistent apps whose container ynhd created, each
	// with the snapshot an unfinished recreate was taking it from.
	Kept map[string]string
	// StorageByCLI says volumes and networks can be created without the
	// podman API (through its CLI): they are planned even when the API
	// did not answer.
	StorageByCLI bool
	// Groups are the targets of the groups of apps (GroupTargets).
	Groups []GroupTarget

	// byApp indexes Desired by app, made when a plan first needs it.
	byApp map[string]int
}

// MakePlan compares what is desired with what is observed. It is pure.
func MakePlan(in Input) *Plan {
	p := &Plan{}
	reload := false
	wanted := map[string]bool{}
	for _, d := range in.Desired {
		wanted[d.Unit] = true
		o := in.World.Units[d.Unit]
		if o == nil {
			o = &Observed{Unit: d.Unit}
		}
		reload = planApp(p, &in, d, o) || reload
	}
	// Groups after their members: a target starts with the apps it wants.
	for _, g := range in.Groups {
		wanted[g.Unit] = true
		o := in.World.Units[g.Unit]
		if o == nil {
			o = &Observed{Unit: g.Unit}
		}
		reload = planGroup(p, &in, g, o) || reload
	}
	for name, o := range in.World.Units {
		if wanted[name] || !o.Ours || in.Incomplete {
			continue
		}
		if _, ok := units.GroupName(name); ok {
			reload = planGroupGone(p, &in, name, o) || reload
			continue
		}
		app := strings.TrimSuffix(name, ".service")
		if in.Vanishing[app] {
			p.Problems = append(p.Problems, Problem{App: app, Waiting: true,
				Message: "its declaration is gone; it is stopped and removed unless the file comes back in a moment"})
			continue
		}
		if isRunning(o) || o.ActiveState == "failed" {
			p.add(Action{Op: OpStop, App: app, Unit: name, Reason: "declaration removed", ResetFailed: o.ActiveState == "failed"})
		}
		if o.Enabled {
			p.add(Action{Op: OpDisable, App: app, Unit: name, Reason: "declaration removed"})
		}
		p.add(Action{Op: OpRemove, App: app, Unit: name, Reason: "declaration removed"})
		reload = true
	}
	if reload {
		p.add(Action{Op: OpReload})
	}
	p.sort()
	return p
}

// planApp adds the actions for one declared app and reports whether the
// manager must reload.
func planApp(p *Plan, in *Input, d Desired, o *Observed) bool {
	w, b, held, now := in.World, in.Backoff[d.App], in.Held[d.App], in.Now
	switch {
	case d.Problem != "":
		p.Problems = append(p.Problems, Problem{App: d.App, Message: d.Problem})
		return false
	case o.File != nil && !o.Ours:
		p.Problems = append(p.Problems, Problem{App: d.App, Message: fmt.Sprintf(
			"%s exists and was not written by ynhd; ynhd leaves it alone: remove it, or rename %s", d.Unit, d.Source)})
		return false
	case o.File == nil && o.Foreign:
		by := "another unit"
		if o.TakenBy != "" {
			by = o.TakenBy
		}
		p.Problems = append(p.Problems, Problem{App: d.App, Message: fmt.Sprintf(
			"the unit name %s is taken (%s); ynhd leaves it alone: rename %s", d.Unit, by, d.Source)})
		return false
	}
	if job := in.Preparing[d.App]; job != "" {
		p.Problems = append(p.Problems, Problem{App: d.App, Message: job + "; the app starts when it is done", Waiting: true})
		return false
	}
	if rt := in.Retry[d.App]; rt != nil && now.Before(rt.Next) {
		p.Problems = append(p.Problems, Problem{App: d.App, Message: fmt.Sprintf(
			"%s; retrying at %s", rt.Err, rt.Next.Format("15:04:05")), Waiting: true})
		return false
	}
	if d.User != "" && !w.Users[d.User] {
		p.add(Action{Op: OpUser, App: d.App, Unit: d.Unit, Reason: d.User})
	}
	canStart, replace := true, false
	if d.Enabled {
		canStart, replace = planImage(p, d, w)
	}
	secretsOK, secretChanged := planSecrets(p, d, w)
	if !canStart || !secretsOK {
		return false
	}
	if d.Keep != nil {
		// A kept container is started again as it is: a new image is a
		// change for `ynhd recreate`, not a restart.
		replace = false
	}
	reload := false
	changed := !bytes.Equal(o.File, d.Content)
	if changed {
		reason := "changed"
		switch {
		case o.File == nil:
			reason = "new"
		case !o.Intact:
			reason = "edited by hand; restoring"
		}
		p.add(Action{Op: OpWrite, App: d.App, Unit: d.Unit, Reason: reason, Content: d.Content})
		// The manager loads a unit it does not know at its first start;
		// only a unit it has loaded needs a reload to see the new file.
		reload = o.LoadState != ""
	}
	if !d.Enabled {
		if o.Enabled {
			p.add(Action{Op: OpDisable, App: d.App, Unit: d.Unit, Reason: "enabled = false"})
		}
		if isRunning(o) || o.ActiveState == "failed" {
			p.add(Action{Op: OpStop, App: d.App, Unit: d.Unit, Reason: "enabled = false", ResetFailed: o.ActiveState == "failed"})
		}
		return reload
	}
	// Enabling links the unit into the install target for the next start
	// of the manager; it needs no reload.
	enabling := !o.Enabled
	if enabling {
		p.add(Action{Op: OpEnable, App: d.App, Unit: d.Unit})
	}
	// A person's stop holds until `ynhd start` or an edit of the
	// declaration (a changed unit that was intact: not a hand edit being
	// restored).
	stopped := in.Stopped[d.App] && !(changed && o.File != nil && o.Intact)
	owed := in.Owed[d.App] != "" && in.Owed[d.App] == UnitHash(d.Content)
	running := isRunning(o)
	if d.Keep != nil && w.Podman && !stopped && planKeep(p, in, d, o) {
		return reload // the start waits for the container
	}
	before := len(p.Actions)
	switch {
	case stopped && !(changed && running):
		// Stays stopped; a restored hand edit restarts it only if it runs.
	case changed && o.File == nil:
		p.add(Action{Op: OpStart, App: d.App, Unit: d.Unit, Reason: "new", ResetFailed: o.ActiveState == "failed"})
	case changed:
		p.add(Action{Op: OpRestart, App: d.App, Unit: d.Unit, Reason: "unit changed", ResetFailed: o.ActiveState == "failed"})
	case owed && running:
		// The unit may have been written without the reload that loads it.
		p.add(Action{Op: OpRestart, App: d.App, Unit: d.Unit, Reason: "unit changed; restart unfinished"})
		reload = true
	case replace && running:
		p.add(Action{Op: OpRestart, App: d.App, Unit: d.Unit, Reason: "image changed"})
	case secretChanged && running && d.Keep == nil:
		p.add(Action{Op: OpRestart, App: d.App, Unit: d.Unit, Reason: "secret changed"})
	case held && !running:
		p.add(Action{Op: OpStart, App: d.App, Unit: d.Unit, Reason: "dependencies healthy", ResetFailed: o.ActiveState == "failed"})
	case o.ActiveState == "failed" && d.Restart != "no":
		// The reconciler gives every app systemd gave up on a backoff
		// before it plans; without one (the first failure, or a plan
		// computed on its own) restart now.
		if b == nil || !now.Before(b.Next) {
			n := 1
			if b != nil {
				n = b.Failures + 1
			}
			p.add(Action{Op: OpStart, App: d.App, Unit: d.Unit, Reason: fmt.Sprintf("failed; restart %d", n)})
		}
	case running || o.ActiveState == "failed":
	case owed:
		p.add(Action{Op: OpStart, App: d.App, Unit: d.Unit, Reason: "start unfinished"})
		reload = true
	case enabling:
		p.add(Action{Op: OpStart, App: d.App, Unit: d.Unit, Reason: "enabled"})
	case d.Restart == "always":
		// Declared, enabled, not stopped by a person: it runs.
		p.add(Action{Op: OpStart, App: d.App, Unit: d.Unit, Reason: "not running"})
	}
	if len(p.Actions) > before {
		// A start held back until the apps it needs healthy are.
		if dep, via := heldBy(d, in); dep != "" {
			p.Actions = p.Actions[:before]
			msg := fmt.Sprintf("waiting for %s to be healthy before starting", dep)
			if via != "" {
				msg += fmt.Sprintf(" (%s, which it requires and systemd would start with it, needs it)", via)
			}
			p.Problems = append(p.Problems, Problem{App: d.App, Message: msg, Held: true})
			p.Waiting = true
			return reload
		}
		if w.Podman || in.StorageByCLI {
			planStorage(p, d)
		}
	}
	return reload
}

// planKeep adds what a persistent app's container needs before its unit
// can start it, and reports whether the start waits: the container is
// created (it does not exist) or recreated from a snapshot (its settings
// changed; a running unit is stopped first, so the snapshot is of a file
// system at rest). A changed base image is never applied here: it waits
// for `ynhd recreate`, since the new image would not have the state.
func planKeep(p *Plan, in *Input, d Desired, o *Observed) bool {
	c, have := in.World.Containers[d.App]
	from, kept := in.Kept[d.App]
	switch {
	case !have:
		act := Action{Op: OpCreate, App: d.App, Unit: d.Unit, Reason: "new", Image: d.Keep.Base, Decl: d.Decl, Base: d.Keep.Base}
		switch {
		case from != "":
			// "IMAGE BASE": what an interrupted recreate or rollback was
			// creating the container from.
			img, base, _ := strings.Cut(from, " ")
			act.Reason, act.Image = "finishing a recreate from "+img, img
			if base != "" {
				act.Base = base
			}
		case kept:
			act.Reason = "its container was removed behind ynhd's back: what it held outside volumes is gone; `ynhd snapshots " + d.App + "` lists what can be rolled back to"
		}
		if isRunning(o) {
			p.add(Action{Op: OpStop, App: d.App, Unit: d.Unit, Reason: "its container is gone"})
		}
		planStorage(p, d)
		p.add(act)
		return true
	case c.Base != d.Keep.Base:
		p.Problems = append(p.Problems, Problem{App: d.App, FromPodman: true, Message: fmt.Sprintf(
			"pending: image %s is declared, the container keeps its state on %s; `ynhd recreate %s` applies it after a snapshot", d.Keep.Base, c.Base, d.App)})
		return false
	case c.Config != d.Keep.Config:
		if isRunning(o) {
			p.add(Action{Op: OpStop, App: d.App, Unit: d.Unit, Reason: "settings changed: recreating its container from a snapshot"})
			return true
		}
		planStorage(p, d)
		p.add(Action{Op: OpRecreate, App: d.App, Unit: d.Unit, Reason: "settings changed", Image: d.Keep.Base, Decl: d.Decl, Base: c.Base})
		return true
	}
	return false
}

// isRunning reports whether the unit is up or on its way up or down.
func isRunning(o *Observed) bool {
	switch o.ActiveState {
	case "active", "activating", "reloading", "deactivating":
		return true
	}
	return false
}

func (p *Plan) add(a Action) { p.Actions = append(p.Actions, a) }

func (p *Plan) sort() {
	sort.SliceStable(p.Actions, func(i, j int) bool {
		a, b := p.Actions[i], p.Actions[j]
		if a.Op != b.Op {
			return a.Op < b.Op
		}
		if a.Unit != b.Unit {
			return a.Unit < b.Unit
		}
		return a.Reason < b.Reason
	})
	sort.SliceStable(p.Problems, func(i, j int) bool { return p.Problems[i].App < p.Problems[j].App })
}

// heldBy is unhealthyDep over the apps a start of d brings up: d itself
// and, through requires, every app that is not running yet (systemd
// starts those with d, and each of them fails its own health check of a
// dependency that is not healthy). via is the required app that waits,
// "" when d waits itself.
func heldBy(d Desired, in *Input) (dep, via string) {
	w := in.World
	if dep = unhealthyDep(d, w); dep != "" || d.Decl == nil || len(d.Decl.Requires) == 0 || !w.Podman {
		return dep, ""
	}
	if in.byApp == nil {
		in.byApp = make(map[string]int, len(in.Desired))
		for i, x := range in.Desired {
			in.byApp[x.App] = i
		}
	}
	seen := map[string]bool{d.App: true}
	queue := append([]string(nil), d.Decl.Requires...)
	for len(queue) > 0 {
		app := queue[0]
		queue = queue[1:]
		if seen[app] {
			continue
		}
		seen[app] = true
		i, ok := in.byApp[app]
		if !ok {
			continue
		}
		r := in.Desired[i]
		if o := w.Units[r.Unit]; o != nil && isRunning(o) {
			continue // systemd does not start it again
		}
		if dep := unhealthyDep(r, w); dep != "" {
			return dep, app
		}
		if r.Decl != nil {
			queue = append(queue, r.Decl.Requires...)
		}
	}
	return "", ""
}

// unhealthyDep returns the first app in d's requires_healthy that podman
// does not report healthy ("" when all are, or when podman is not
// observed: the unit's own ExecStartPre check then decides).
func unhealthyDep(d Desired, w *World) string {
	if d.Decl == nil || !w.Podman {
		return ""
	}
	for _, dep := range d.Decl.RequiresHealthy {
		if c, ok := w.Containers[dep]; !ok || c.State != "running" || c.Health != "healthy" {
			return dep
		}
	}
	return ""
}
