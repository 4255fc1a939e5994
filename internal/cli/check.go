package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/doctor"
	"github.com/ynhd/ynhd/internal/reconcile"
	"github.com/ynhd/ynhd/internal/units"
)

func cmdCheck(c commonFlags, asJSON bool, paths []string, e env) int {
	if len(paths) == 0 {
		paths = []string{c.declDir(e)}
	}
	files, err := expand(paths)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd check: %s\n", decl.EscapeText(err.Error()))
		return exitProblem
	}
	loaded := loadSet(files, e, c.system)
	takenNames(c.layout(e), e, loaded)
	if !c.system {
		limitsNeedDelegation(doctor.Host{FS: os.DirFS("/"), UID: os.Getuid()}, loaded)
	}
	for _, l := range loaded {
		l.Diagnostics.Sort() // by line, whatever added them
	}
	if asJSON {
		out := newCheckJSON(loaded, c.system)
		writeJSON(e.stdout, out)
		fmt.Fprintf(e.stderr, "%s checked: %s, %s\n", plural(len(loaded), "declaration"), plural(out.Errors, "error"), plural(out.Warnings, "warning"))
		if out.Errors > 0 {
			return exitProblem
		}
		return exitOK
	}
	var nerr, nwarn int
	for _, l := range loaded {
		for _, d := range l.Diagnostics {
			fmt.Fprintln(e.stdout, d.String())
			if d.Severity == decl.Error {
				nerr++
			} else {
				nwarn++
			}
		}
	}
	if c.system {
		printRoutes(e, loaded)
	}
	fmt.Fprintf(e.stderr, "%s checked: %s, %s\n", plural(len(loaded), "declaration"), plural(nerr, "error"), plural(nwarn, "warning"))
	if nerr > 0 {
		return exitProblem
	}
	return exitOK
}

// limitsNeedDelegation warns about each app with [resources] limits when
// the user manager lacks a controller they need (doctor's probe): podman
// cannot apply them there, and the app fails to start.
func limitsNeedDelegation(h doctor.Host, loaded []*decl.Loaded) {
	var missing []string
	probed := false
	for _, ld := range loaded {
		if !ld.OK() {
			continue
		}
		r := ld.Parsed.App.Resources
		if r.Memory == "" && r.CPUs == 0 && r.Pids == 0 {
			continue
		}
		if !probed {
			probed = true
			missing, _, _ = doctor.MissingControllers(h)
		}
		if len(missing) == 0 {
			return
		}
		at := ld.Parsed.At("resources")
		ld.Diagnostics = append(ld.Diagnostics, decl.Diagnostic{File: ld.File, Line: at.Line, Col: at.Col, Severity: decl.Warning, Key: "resources",
			Message: fmt.Sprintf("this host does not delegate the %s to your user manager, so the app fails to start (crun cannot write %s.max); delegate it: %s; or remove [resources]",
				controllers(missing), missing[0], doctor.DelegateFix)})
	}
}

// controllers names controllers: "the memory controller", "the memory
// and cpu controllers".
func controllers(names []string) string {
	if len(names) == 1 {
		return names[0] + " controller"
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " controllers"
}

// takenNames adds an error to each declaration whose unit name is held by
// a unit ynhd did not write: a file, mask, alias, link or drop-in anywhere
// on the manager's default search path (a unit the distribution ships, in
// system mode). The daemon would leave such an app alone; check says so
// first.
func takenNames(l layout, e env, loaded []*decl.Loaded) {
	u := reconcile.UnitDir{Path: l.unitDir, SearchPath: reconcile.DefaultSearchPath(l.system, e.home, os.Getenv("XDG_RUNTIME_DIR"))}
	for _, ld := range loaded {
		name := ld.Name + ".service"
		by := u.NameTaken(name)
		if by == "" {
			continue
		}
		ld.Diagnostics = append(ld.Diagnostics, decl.Diagnostic{File: ld.File, Severity: decl.Error,
			Message: fmt.Sprintf("the unit name %s is taken (%s); ynhd never replaces a unit it did not write: rename this file", name, decl.EscapeText(by))})
	}
}

// loadSet loads files as one set: dependencies are checked against the
// files given plus every other declaration in their directories.
func loadSet(files []string, e env, system bool) []*decl.Loaded {
	all := map[string]bool{}
	var set []string
	for _, f := range files {
		if !all[f] {
			all[f] = true
			set = append(set, f)
		}
		siblings, _ := decl.DeclarationFiles(filepath.Dir(f))
		for _, s := range siblings {
			if !all[s] {
				all[s] = true
				set = append(set, s)
			}
		}
	}
	loaded := decl.LoadFiles(set, hostFacts(system), e.home)
	want := map[string]bool{}
	for _, f := range files {
		want[f] = true
	}
	var out []*decl.Loaded
	for _, l := range loaded {
		if want[l.File] {
			out = append(out, l)
		}
	}
	return out
}

// printRoutes says, for each valid app, which user its podman will run as
// in system mode and why.
func printRoutes(e env, loaded []*decl.Loaded) {
	for _, l := range loaded {
		if !l.OK() {
			continue
		}
		a := l.Parsed.App
		route, why := a.SystemRoute()
		user := units.SystemUserName(a.Name)
		if route == decl.RouteStatic {
			fmt.Fprintf(e.stdout, "%s: runs as static system user %s with subordinate ids (created by ynhd if missing): %s\n", a.Name, user, decl.EscapeText(why))
		} else {
			fmt.Fprintf(e.stdout, "%s: runs as DynamicUser %s, a single id: %s\n", a.Name, user, decl.EscapeText(why))
		}
	}
}

// expand turns file and directory arguments into declaration files, each
// as an absolute path.
func expand(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, unwrapPathError(err))
		}
		if !st.IsDir() {
			files = append(files, abs)
			continue
		}
		fs, err := decl.DeclarationFiles(abs)
		if err != nil {
			return nil, err
		}
		if len(fs) == 0 {
			return nil, fmt.Errorf("%s: no declarations (*.toml) in this directory", p)
		}
		files = append(files, fs...)
	}
	return files, nil
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
