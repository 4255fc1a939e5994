package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/importer"
	"github.com/ynhd/ynhd/internal/reconcile"
)

// exitCarriedWithNotes is import's exit status when declarations were
// written but something was approximated or not carried.
const exitCarriedWithNotes = 3

// cmdImport turns other tools' descriptions into declarations.
func cmdImport(args []string, e env) int {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(e.stderr, "usage: ynhd import run [-o DIR] [--dry-run] [--force] -- podman run ARGS...")
		return exitUsage
	}
	var c commonFlags
	fs := newFlagSet("import run", e, &c)
	out := fs.String("o", "", "directory to write the declaration to (default: the declarations directory)")
	dry := fs.Bool("dry-run", false, "print the declaration instead of writing it")
	force := fs.Bool("force", false, "replace an existing declaration")
	// ynhd's flags come before the command line: up to "--", or up to
	// the word that starts it.
	own, line := args[1:], []string(nil)
	for i, a := range own {
		if a == "--" || a == "podman" || a == "docker" || a == "run" || filepath.Base(a) == "podman" || filepath.Base(a) == "docker" {
			own, line = own[:i], own[i:]
			if a == "--" {
				line = line[1:]
			}
			break
		}
	}
	if _, err := parseFlags(fs, own); err != nil {
		return flagExit(err)
	}
	d, err := importer.Run(line)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd import run: %v\n", err)
		return exitUsage
	}
	dir := *out
	if dir == "" {
		dir = c.declDir(e)
	}
	return writeImported(e, c, "import run", dir, []*importer.Decl{d}, *dry, *force)
}

// writeImported checks each declaration as ynhd would read it, prints
// the notes, and writes the ones that check (atomically, never over an
// existing file without force).
func writeImported(e env, c commonFlags, verb, dir string, ds []*importer.Decl, dry, force bool) int {
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
