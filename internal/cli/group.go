package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/reconcile"
	"github.com/ynhd/ynhd/internal/units"
)

// groupMembers returns the apps whose declarations in the layout's
// directory say part_of = name, sorted, and whether each is enabled. A
// declaration with errors counts by what it says, when it decodes.
func groupMembers(l layout, e env, name string) (members []string, enabled map[string]bool) {
	files, err := decl.DeclarationFiles(l.declDir)
	if err != nil {
		return nil, nil
	}
	enabled = map[string]bool{}
	for _, ld := range decl.LoadFiles(files, hostFacts(l.system), e.home) {
		if ld.Parsed == nil || ld.Parsed.App == nil || ld.Parsed.App.PartOf != name {
			continue
		}
		members = append(members, ld.Name)
		enabled[ld.Name] = ld.Parsed.App.IsEnabled()
	}
	slices.Sort(members)
	return members, enabled
}

// isDeclared reports whether app has a declaration in the layout's
// directory.
func isDeclared(l layout, app string) bool {
	files, err := decl.DeclarationFiles(l.declDir)
	if err != nil {
		return false
	}
	for _, f := range files {
		if decl.AppName(f) == app {
			return true
		}
	}
	return false
}

// cmdGroupUnit starts, stops or restarts a group's target, which systemd
// carries to its members (the target Wants= the enabled ones, and every
// member is PartOf= it), and records or clears a person's stop for every
// member first, as `ynhd stop APP` does for one.
func cmdGroupUnit(verb string, l layout, e env, name string, members []string, enabled map[string]bool) int {
	intents := reconcile.StateDir(l.stateDir)
	for _, m := range members {
		if err := intents.SetStopped(m, verb == "stop"); err != nil {
			fmt.Fprintf(e.stderr, "ynhd %s %s: recording it for %s in %s: %v\n", verb, name, m, l.stateDir, err)
			return exitProblem
		}
	}
	conn, err := connect(l.system)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd %s: %v\n", verb, err)
		return exitProblem
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), unitTimeout)
	defer cancel()
	target := units.GroupUnit(name)
	if verb != "stop" {
		for _, m := range members {
			_ = conn.ResetFailedUnitContext(ctx, m+".service")
		}
	}
	ch := make(chan string, 1)
	switch verb {
	case "start":
		_, err = conn.StartUnitContext(ctx, target, "replace", ch)
	case "stop":
		_, err = conn.StopUnitContext(ctx, target, "replace", ch)
	case "restart":
		_, err = conn.RestartUnitContext(ctx, target, "replace", ch)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd %s %s: %v (ynhd writes %s when it applies the declarations: is the daemon running? ynhd apply does it once)\n", verb, name, err, target)
		return exitProblem
	}
	select {
	case res := <-ch:
		if res != "done" {
			fmt.Fprintf(e.stderr, "ynhd %s %s: job %s; see systemctl %sstatus %s\n", verb, name, res, userFlag(l), target)
			return exitProblem
		}
	case <-ctx.Done():
		fmt.Fprintf(e.stderr, "ynhd %s %s: no result within %v; the job may still run: systemctl %sstatus %s\n", verb, name, unitTimeout, userFlag(l), target)
		return exitProblem
	}
	// The target's job is done when its members' jobs are; a member that
	// failed to start does not fail it (Wants=), so each is looked at.
	var bad []string
	for _, m := range members {
		unit := m + ".service"
		if verb == "stop" {
			// A container killed after its stop timeout leaves the
			// unit failed; it was stopped on purpose.
			_ = conn.ResetFailedUnitContext(ctx, unit)
			continue
		}
		if !enabled[m] {
			continue // not wanted by the target: enabled = false
		}
		p, err := conn.GetUnitPropertyContext(ctx, unit, "ActiveState")
		if err != nil {
			bad = append(bad, m+" ("+err.Error()+")")
			continue
		}
		if st, _ := p.Value.Value().(string); st != "active" && st != "activating" && st != "reloading" {
			bad = append(bad, m+" ("+st+")")
		}
	}
	if len(bad) > 0 {
		fmt.Fprintf(e.stderr, "ynhd %s %s: not running: %s; see ynhd logs APP\n", verb, name, strings.Join(bad, ", "))
		return exitProblem
	}
	return exitOK
}
