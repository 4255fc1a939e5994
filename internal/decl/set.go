package decl

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// ValidateSet checks what only the whole set of declarations can tell:
// dependencies on apps that are not declared, and dependency cycles. known
// holds every declared app name, including apps whose declarations are
// invalid (depending on one is not an error: it waits for it).
func ValidateSet(apps []*Parsed, known map[string]bool) Diagnostics {
	var ds Diagnostics
	byName := map[string]*Parsed{}
	for _, p := range apps {
		byName[p.App.Name] = p
	}
	for _, p := range apps {
		v := &validator{app: p.App, pos: p.pos}
		if v.pos == nil {
			v.pos = &positions{at: map[string]Pos{}}
		}
		for _, f := range depFields(p.App) {
			for i, d := range f.deps {
				switch {
				case d != p.App.Name && !known[d]:
					v.errf(fmt.Sprintf("%s[%d]", f.name, i), "app %q is not declared: add %s.toml beside this file or remove it from %s", d, d, f.name)
				case f.name == "requires_healthy" && byName[d] != nil && byName[d].App.Health == nil:
					v.errf(fmt.Sprintf("%s[%d]", f.name, i), "app %q has no [health] check, so it never becomes healthy; add one to %s.toml or use requires", d, d)
				}
			}
		}
		ds = append(ds, v.ds...)
	}
	ds = append(ds, cycles(apps, byName)...)
	ds = append(ds, portClashes(apps)...)
	ds.Sort()
	return ds
}

// portClashes reports a host port that two enabled apps publish: the second
// to start would fail. Each clash is reported on the app whose name sorts
// last.
func portClashes(apps []*Parsed) Diagnostics {
	sorted := append([]*Parsed(nil), apps...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].App.Name < sorted[j].App.Name })
	type binding struct{ ip, app string }
	taken := map[string][]binding{} // port/protocol -> who binds it
	var ds Diagnostics
	for _, p := range sorted {
		if !p.App.IsEnabled() {
			continue
		}
		for i, port := range p.App.Ports {
			id := fmt.Sprintf("%d/%s", port.HostPort, port.Protocol)
			for _, b := range taken[id] {
				// The same address, or either one all addresses, clash.
				if b.app != p.App.Name && (b.ip == port.HostIP || b.ip == "" || port.HostIP == "") {
					v := &validator{app: p.App, pos: p.pos}
					if v.pos == nil {
						v.pos = &positions{at: map[string]Pos{}}
					}
					v.errf(fmt.Sprintf("ports[%d].host_port", i), "host port %s is also published by app %q; pick another port or disable one of them", id, b.app)
					ds = append(ds, v.ds...)
					break
				}
			}
			taken[id] = append(taken[id], binding{port.HostIP, p.App.Name})
		}
	}
	return ds
}

type depField struct {
	name string
	deps []string
}

func depFields(a *App) []depField {
	return []depField{{"after", a.After}, {"requires", a.Requires}, {"wants", a.Wants}, {"requires_healthy", a.RequiresHealthy}}
}

// Deps returns every app this one is ordered after (after, requires and
// wants all imply ordering), sorted and deduplicated.
func (a *App) Deps() []string {
	n := len(a.After) + len(a.Requires) + len(a.Wants) + len(a.RequiresHealthy)
	if n == 0 {
		return nil
	}
	out := make([]string, 0, n)
	for _, deps := range [...][]string{a.After, a.Requires, a.Wants, a.RequiresHealthy} {
		for _, d := range deps {
			if d != a.Name {
				out = append(out, d)
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// cycles reports each dependency cycle once, on the app whose name sorts
// first in it.
func cycles(apps []*Parsed, byName map[string]*Parsed) Diagnostics {
	const (
		unvisited = iota
		active
		done
	)
	state := map[string]int{}
	reported := map[string]bool{}
	var ds Diagnostics
	var stack []string
	var visit func(n string)
	visit = func(n string) {
		state[n] = active
		stack = append(stack, n)
		p := byName[n]
		for _, d := range p.App.Deps() {
			if byName[d] == nil {
				continue
			}
			switch state[d] {
			case unvisited:
				visit(d)
			case active:
				i := len(stack) - 1
				for stack[i] != d {
					i--
				}
				cyc := append([]string(nil), stack[i:]...)
				minI := 0
				for j, c := range cyc {
					if c < cyc[minI] {
						minI = j
					}
				}
				cyc = append(cyc[minI:], cyc[:minI]...)
				id := strings.Join(cyc, " -> ")
				if !reported[id] {
					reported[id] = true
					owner := byName[cyc[0]]
					v := &validator{app: owner.App, pos: owner.pos}
					if v.pos == nil {
						v.pos = &positions{at: map[string]Pos{}}
					}
					v.errf(depKey(owner.App, cyc[1%len(cyc)]), "dependency cycle %s -> %s: remove one of these dependencies", id, cyc[0])
					ds = append(ds, v.ds...)
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[n] = done
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if state[n] == unvisited {
			visit(n)
		}
	}
	return ds
}

// depKey finds the key path under which a names dep.
func depKey(a *App, dep string) string {
	for _, f := range depFields(a) {
		for i, d := range f.deps {
			if d == dep {
				return fmt.Sprintf("%s[%d]", f.name, i)
			}
		}
	}
	return "after"
}
