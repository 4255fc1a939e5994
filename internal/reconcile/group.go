package reconcile

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/ynhd/ynhd/internal/units"
)

// GroupTarget is the target one group of apps asks for: the apps whose
// declarations say part_of = Name (units.RenderGroup).
type GroupTarget struct {
	Name string
	Unit string // units.GroupUnit(Name)
	// Content is the rendered target; nil when it cannot be rendered
	// (Problem).
	Content []byte
	// Members are the group's apps, sorted; Wants the enabled ones, which
	// a start of the target starts.
	Members, Wants []string
	Problem        string
}

// GroupTargets works out every group's target from the declarations. An
// invalid declaration counts in the group its last good unit (observed in
// w) is part of, so that a typo in one member does not take it out of its
// group, nor remove the group's target.
func GroupTargets(desired []Desired, w *World, o units.Options, declDir string) []GroupTarget {
	members, wants := map[string][]string{}, map[string][]string{}
	for _, d := range desired {
		g, enabled := "", d.Enabled
		switch {
		case d.Decl != nil:
			g = d.Decl.PartOf
		case w != nil && w.Units[d.Unit] != nil && w.Units[d.Unit].Ours:
			ob := w.Units[d.Unit]
			g, enabled = partOf(ob.File), ob.Enabled
		}
		if g == "" {
			continue
		}
		members[g] = append(members[g], d.App)
		if enabled {
			wants[g] = append(wants[g], d.App)
		}
	}
	out := make([]GroupTarget, 0, len(members))
	for _, name := range sortedKeys(members) {
		g := GroupTarget{Name: name, Unit: units.GroupUnit(name), Members: members[name], Wants: wants[name]}
		slices.Sort(g.Members)
		slices.Sort(g.Wants)
		b, err := units.RenderGroup(units.Group{Name: name, Dir: declDir, Wants: g.Wants}, o)
		if err != nil {
			g.Problem = err.Error()
		}
		g.Content = b
		out = append(out, g)
	}
	return out
}

// partOf returns the group whose target a unit file names in a PartOf=
// line ("" for none).
func partOf(file []byte) string {
	for line := range bytes.Lines(file) {
		v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("PartOf="))
		if !ok {
			continue
		}
		if g, ok := units.GroupName(string(v)); ok {
			return g
		}
	}
	return ""
}

// planGroup adds the actions for one group's target and reports whether
// the manager must reload. The target is written, enabled, and started
// once every member it wants runs or is being started by this plan, and
// none of them was stopped by a person: a start of the target would start
// them all, the stopped one and one held back for its dependencies
// included. It is never restarted: that would restart every member.
func planGroup(p *Plan, in *Input, g GroupTarget, o *Observed) bool {
	app := g.Unit
	switch {
	case g.Problem != "":
		p.Problems = append(p.Problems, Problem{App: app, Message: g.Problem})
		return false
	case o.File != nil && !o.Ours:
		p.Problems = append(p.Problems, Problem{App: app, Message: fmt.Sprintf(
			"%s exists and was not written by ynhd; ynhd leaves it alone, and group %s has no target: remove it, or change part_of in %s",
			g.Unit, g.Name, strings.Join(g.Members, ", "))})
		return false
	case o.File == nil && o.Foreign:
		by := "another unit"
		if o.TakenBy != "" {
			by = o.TakenBy
		}
		p.Problems = append(p.Problems, Problem{App: app, Message: fmt.Sprintf(
			"the unit name %s is taken (%s); group %s has no target: change part_of in %s", g.Unit, by, g.Name, strings.Join(g.Members, ", "))})
		return false
	}
	reload := false
	if !bytes.Equal(o.File, g.Content) {
		reason := "changed"
		switch {
		case o.File == nil:
			reason = "new"
		case !o.Intact:
			reason = "edited by hand; restoring"
		}
		p.add(Action{Op: OpWrite, App: app, Unit: g.Unit, Reason: reason, Content: g.Content})
		reload = o.LoadState != ""
	}
	if !o.Enabled {
		p.add(Action{Op: OpEnable, App: app, Unit: g.Unit})
	}
	if !isRunning(o) && groupUp(p, in, g) {
		p.add(Action{Op: OpStart, App: app, Unit: g.Unit, Reason: "its apps run"})
	}
	return reload
}

// groupUp reports whether a group's target can be started without
// starting an app that should not run: every member it wants runs or is
// started by p, and none of them was stopped by a person.
func groupUp(p *Plan, in *Input, g GroupTarget) bool {
	if len(g.Wants) == 0 {
		return false
	}
	for _, m := range g.Wants {
		if in.Stopped[m] {
			return false
		}
	}
	starting := map[string]bool{}
	for _, a := range p.Actions {
		if a.Op == OpStart || a.Op == OpRestart {
			starting[a.App] = true
		}
	}
	for _, m := range g.Wants {
		if o := in.World.Units[m+".service"]; !starting[m] && (o == nil || !upOrComingUp(o)) {
			return false
		}
	}
	return true
}

// upOrComingUp reports whether a unit is active or on its way up: not one
// being stopped, which a start of the target would start again.
func upOrComingUp(o *Observed) bool {
	switch o.ActiveState {
	case "active", "activating", "reloading":
		return true
	}
	return false
}

// planGroupGone adds the removal of a group's target that no declaration
// asks for any more. A stop of the target reaches the apps still loaded
// as part of it, which are those being removed or moved to another group
// (and restarted) in the same pass. While a member's declaration is only
// vanishing (see Input.Vanishing), the target waits with it.
func planGroupGone(p *Plan, in *Input, name string, o *Observed) bool {
	for app := range in.Vanishing {
		if u := in.World.Units[app+".service"]; u != nil && units.GroupUnit(partOf(u.File)) == name {
			return false
		}
	}
	if isRunning(o) {
		p.add(Action{Op: OpStop, App: name, Unit: name, Reason: "no app is part of it"})
	}
	if o.Enabled {
		p.add(Action{Op: OpDisable, App: name, Unit: name, Reason: "no app is part of it"})
	}
	p.add(Action{Op: OpRemove, App: name, Unit: name, Reason: "no app is part of it"})
	return true
}

// GroupStatus is one group's target as a pass saw it.
type GroupStatus struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	// ActiveState and SubState are systemd's (or "absent": no unit file).
	ActiveState string   `json:"active_state"`
	SubState    string   `json:"sub_state"`
	Apps        []string `json:"apps"`
}

// groupStatus lists the groups the apps name, sorted, with their
// targets' states in w.
func groupStatus(apps []AppStatus, w *World) []GroupStatus {
	byName := map[string]*GroupStatus{}
	for _, a := range apps {
		if a.Group == "" {
			continue
		}
		g := byName[a.Group]
		if g == nil {
			g = &GroupStatus{Name: a.Group, Unit: units.GroupUnit(a.Group), ActiveState: "absent"}
			if o := w.Units[g.Unit]; o != nil && o.File != nil {
				g.ActiveState, g.SubState = o.ActiveState, o.SubState
			}
			byName[a.Group] = g
		}
		g.Apps = append(g.Apps, a.App)
	}
	out := make([]GroupStatus, 0, len(byName))
	for _, name := range sortedKeys(byName) {
		out = append(out, *byName[name])
	}
	return out
}
