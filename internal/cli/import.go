package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/importer"
	"github.com/ynhd/ynhd/internal/reconcile"
)

// importFlags are the flags every import takes.
type importFlags struct {
	out        string
	dry, force bool
}

// splitRunLine splits import run's arguments into ynhd's own flags and
// the podman command line: at "--", or at the word that starts it.
func splitRunLine(args []string) (own, line []string) {
	for i, a := range args {
		if a == "--" || a == "podman" || a == "docker" || a == "run" || filepath.Base(a) == "podman" || filepath.Base(a) == "docker" {
			if a == "--" {
				return args[:i], args[i+1:]
			}
			return args[:i], args[i:]
		}
	}
	return args, nil
}

// cmdImportRun turns a podman (or docker) run command line into a
// declaration.
func cmdImportRun(c commonFlags, o importFlags, line []string, e env) int {
	d, err := importer.Run(line)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd import run: %v\n", err)
		return exitUsage
	}
	dir := importDir(o.out, c, e)
	return writeImported(e, c, "import run", dir, []*importer.Decl{d}, o.dry, o.force, nil)
}

// writeImported checks each declaration as ynhd would read it, prints
// the notes, and writes the ones that check (atomically, never over an
// existing file without force).
func writeImported(e env, c commonFlags, verb, dir string, ds []*importer.Decl, dry, force bool, before func(*importer.Decl) error) int {
	written, notes := 0, 0
	for _, d := range ds {
		for _, n := range d.Notes {
			fmt.Fprintf(e.stderr, "%s: %s\n", d.Name, n)
			notes++
		}
		data := d.TOML()
		file := filepath.Join(dir, d.Name+".toml")
		if abs, err := filepath.Abs(file); err == nil {
			file = abs
		}
		p, ds := decl.Decode(file, data, e.home)
		if p != nil && !ds.HasErrors() {
			ds = append(ds, decl.Validate(p, hostFacts(c.system))...)
		}
		if ds.HasErrors() {
			for _, dg := range ds.Errors() {
				fmt.Fprintf(e.stderr, "%s: %s\n", d.Name, dg.String())
			}
			fmt.Fprintf(e.stderr, "ynhd %s: %s does not check; nothing written for it (--dry-run shows it)\n", verb, d.Name)
			if dry {
				e.stdout.Write(data)
			}
			continue
		}
		if dry {
			e.stdout.Write(data)
			written++
			continue
		}
		if _, err := os.Lstat(file); err == nil && !force {
			fmt.Fprintf(e.stderr, "ynhd %s: %s exists; --force replaces it, --dry-run prints the import\n", verb, file)
			continue
		} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(e.stderr, "ynhd %s: %v\n", verb, err)
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			fmt.Fprintf(e.stderr, "ynhd %s: %v\n", verb, err)
			continue
		}
		if before != nil {
			if err := before(d); err != nil {
				fmt.Fprintf(e.stderr, "ynhd %s: %s: %v; nothing written for it\n", verb, d.Name, err)
				continue
			}
		}
		if err := reconcile.WriteFileAtomic(file, data, 0o644); err != nil {
			fmt.Fprintf(e.stderr, "ynhd %s: writing %s: %v\n", verb, file, err)
			continue
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", file)
		written++
	}
	switch {
	case written == 0:
		return exitProblem
	case notes > 0 || written < len(ds):
		return exitCarriedWithNotes
	}
	return exitOK
}

// cmdImportContainer turns containers that exist in the user's podman
// (made by hand) into declarations, from the command line podman
// recorded when it created each. With --replace, ynhd takes them over:
// each hand-made container is stopped and removed (its named volumes
// stay) once its declaration is written, and the daemon starts its own.
func cmdImportContainer(c commonFlags, o importFlags, replace bool, names []string, e env) int {
	dir := importDir(o.out, c, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	k := userKeeper()
	var ds []*importer.Decl
	for _, name := range names {
		argv, ok, err := k.CreateCommand(ctx, name)
		switch {
		case err != nil:
			fmt.Fprintf(e.stderr, "ynhd import container: %s: %v\n", name, err)
			continue
		case !ok:
			fmt.Fprintf(e.stderr, "ynhd import container: no container named %q (podman ps -a lists them)\n", name)
			continue
		case len(argv) == 0:
			fmt.Fprintf(e.stderr, "ynhd import container: podman recorded no command line for %s (made through its API?); write its declaration by hand\n", name)
			continue
		}
		d, err := importer.Run(argv)
		if err != nil {
			fmt.Fprintf(e.stderr, "ynhd import container: %s: its command line %q: %v\n", name, strings.Join(argv, " "), err)
			continue
		}
		d.Name = name
		d.Source = "the container " + name + " (" + d.Source + ")"
		d.Notes = slices.DeleteFunc(d.Notes, func(n importer.Note) bool { return n.Key == "--name" })
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return exitProblem
	}
	var before func(*importer.Decl) error
	if replace && !o.dry {
		// The hand-made container goes first: once the declaration is
		// written the daemon starts the app under the same name.
		before = func(d *importer.Decl) error {
			fmt.Fprintf(e.stdout, "removing the hand-made container %s (its volumes stay); ynhd starts %s.service\n", d.Name, d.Name)
			return k.RemoveKeepVolumes(ctx, d.Name, 30)
		}
	}
	return writeImported(e, c, "import container", dir, ds, o.dry, o.force, before)
}

// cmdImportQuadlet turns Quadlet .container files (and the .volume and
// .network files beside them that they name) into declarations.
func cmdImportQuadlet(c commonFlags, o importFlags, files []string, e env) int {
	dir := importDir(o.out, c, e)
	var ds []*importer.Decl
	for _, f := range files {
		data, err := decl.ReadFile(f, false)
		if err != nil {
			fmt.Fprintf(e.stderr, "ynhd import quadlet: %v\n", err)
			continue
		}
		read := func(name string) ([]byte, error) {
			if name != filepath.Base(name) {
				return nil, fmt.Errorf("%q is not a file beside %s", name, f)
			}
			return decl.ReadFile(filepath.Join(filepath.Dir(f), name), false)
		}
		d, err := importer.Quadlet(f, data, read)
		if err != nil {
			fmt.Fprintf(e.stderr, "ynhd import quadlet: %v\n", err)
			continue
		}
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return exitProblem
	}
	importer.LinkHealthy(ds)
	return writeImported(e, c, "import quadlet", dir, ds, o.dry, o.force, nil)
}

// cmdImportCompose turns a compose project into one declaration per
// service, named PROJECT-SERVICE, all in the group PROJECT. A FILE
// argument is one more -f.
func cmdImportCompose(c commonFlags, o importFlags, co importer.ComposeOptions, files []string, e env) int {
	co.Files = append(co.Files, files...)
	for _, list := range [][]string{co.Files, co.EnvFiles} {
		for i, f := range list {
			abs, err := filepath.Abs(f)
			if err != nil {
				fmt.Fprintf(e.stderr, "ynhd import compose: %v\n", err)
				return exitProblem
			}
			list[i] = abs
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ds, read, err := importer.ComposeFiles(ctx, co)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd import compose: %v\n", err)
		return exitProblem
	}
	if len(read) > 1 {
		fmt.Fprintf(e.stderr, "merged %s\n", strings.Join(read, ", "))
	}
	if len(ds) == 0 {
		fmt.Fprintln(e.stderr, "ynhd import compose: no service to import (are their profiles active? --profile or COMPOSE_PROFILES selects them)")
		return exitProblem
	}
	dir := importDir(o.out, c, e)
	rc := writeImported(e, c, "import compose", dir, ds, o.dry, o.force, nil)
	for _, n := range importer.Networks(ds) {
		fmt.Fprintf(e.stderr, "the apps join the podman network %s: create it once with `podman network create %s` (in system mode ynhd creates it)\n", n, n)
	}
	return rc
}

// importDir is where an import writes: -o, else the declarations
// directory.
func importDir(out string, c commonFlags, e env) string {
	if out != "" {
		return out
	}
	return c.declDir(e)
}
