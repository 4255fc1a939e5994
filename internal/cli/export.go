package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/export"
	"github.com/ynhd/ynhd/internal/reconcile"
)

// exportFlags are export's own flags; the last three are for kube.
type exportFlags struct {
	all, secrets, noClaims bool
	out, size              string
}

func cmdExport(format string, c commonFlags, o exportFlags, names []string, e env) int {
	usage := func(msg string) int {
		fmt.Fprintf(e.stderr, "ynhd export %s: %s\n", format, msg)
		return exitUsage
	}
	if o.all == (len(names) > 0) {
		return usage("name the apps to export, or --all")
	}
	volSize, err := resource.ParseQuantity(o.size)
	if err != nil || volSize.Sign() <= 0 {
		return usage(fmt.Sprintf("--volume-size %q is not a size such as 1Gi or 500Mi", o.size))
	}

	in, code := exportInput(format, c, o.all, names, e)
	if code != exitOK {
		return code
	}
	var files []export.File
	var ds decl.Diagnostics
	if format == "kube" {
		files, ds, err = export.Kube(in, export.KubeOptions{IncludeSecretValues: o.secrets, VolumeSize: volSize, NoClaims: o.noClaims})
	} else {
		wanted := "default.target"
		if c.system {
			wanted = "multi-user.target"
		}
		files, ds, err = export.Quadlet(in, export.QuadletOptions{WantedBy: wanted})
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd export %s: %v\n", format, err)
		return exitProblem
	}
	if err := writeExport(format, o.out, files, e.stdout); err != nil {
		fmt.Fprintf(e.stderr, "ynhd export %s: %v\n", format, err)
		if errors.Is(err, errExportUsage) {
			return exitUsage
		}
		return exitProblem
	}
	for _, d := range ds {
		fmt.Fprintln(e.stderr, d.String())
	}
	if len(ds) > 0 {
		fmt.Fprintf(e.stderr, "ynhd export %s: written, but %s did not carry over as declared (see above)\n", format, plural(len(ds), "key"))
		return exitWarnings
	}
	return exitOK
}

// exportInput loads the declarations directory (plus any file named on the
// command line) as one set and picks the apps to export. Any of them with
// errors stops the export: its diagnostics are printed.
func exportInput(format string, c commonFlags, all bool, names []string, e env) (export.Input, int) {
	fail := func(format2 string, args ...any) (export.Input, int) {
		fmt.Fprintf(e.stderr, "ynhd export %s: %s\n", format, fmt.Sprintf(format2, args...))
		return export.Input{}, exitProblem
	}
	dir, err := filepath.Abs(c.declDir(e))
	if err != nil {
		return fail("%v", err)
	}
	var wantFiles []string
	for _, n := range names {
		f := filepath.Join(dir, n+".toml")
		if looksLikeFile(n) {
			if f, err = filepath.Abs(n); err != nil {
				return fail("%v", err)
			}
		}
		if _, err := os.Stat(f); err != nil {
			return fail("%s: %v (no declaration %s)", n, unwrapPathError(err), f)
		}
		wantFiles = append(wantFiles, f)
	}
	set, seen := []string{}, map[string]bool{}
	dirs := []string{dir}
	for _, f := range wantFiles {
		dirs = append(dirs, filepath.Dir(f))
	}
	for i, d := range dirs {
		fs, err := decl.DeclarationFiles(d)
		if err != nil && (all || i > 0) {
			return fail("%v", err)
		}
		for _, f := range fs {
			if !seen[f] {
				seen[f] = true
				set = append(set, f)
			}
		}
	}
	for _, f := range wantFiles {
		if !seen[f] {
			seen[f] = true
			set = append(set, f)
		}
	}
	if all {
		if len(set) == 0 {
			return fail("%s: no declarations (*.toml) in this directory", dir)
		}
		wantFiles = set
	}
	host := decl.HostFacts(true)
	host.System = c.system
	want := map[string]bool{}
	for _, f := range wantFiles {
		want[f] = true
	}
	in := export.Input{EnvFiles: map[string][]byte{}}
	bad := 0
	for _, l := range decl.LoadFiles(set, host, e.home) {
		if l.OK() {
			in.All = append(in.All, l.Parsed.App)
		}
		if !want[l.File] {
			continue
		}
		if !l.OK() {
			for _, d := range l.Diagnostics.Errors() {
				fmt.Fprintln(e.stderr, d.String())
			}
			bad++
			continue
		}
		a := l.Parsed.App
		for i, f := range a.EnvFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintf(e.stderr, "%s: env_files[%d]: cannot read %s: %v\n", a.File, i, f, unwrapPathError(err))
				bad++
				continue
			}
			in.EnvFiles[f] = b
		}
		in.Apps = append(in.Apps, a)
	}
	if bad > 0 {
		return fail("%s with errors; fix them and run again (nothing was written)", plural(bad, "declaration"))
	}
	return in, exitOK
}

var errExportUsage = errors.New("usage")

// writeExport writes the files to stdout, into one file, or into a
// directory, each file atomically.
func writeExport(format, out string, files []export.File, stdout io.Writer) error {
	if out == "" || out == "-" {
		for _, f := range files {
			if format == "quadlet" {
				fmt.Fprintf(stdout, "# ==> %s <==\n", f.Name)
			}
			stdout.Write(f.Data)
		}
		return nil
	}
	st, err := os.Stat(out)
	exists := err == nil
	isDir := exists && st.IsDir() || strings.HasSuffix(out, "/")
	if format == "quadlet" && !isDir {
		if exists {
			return fmt.Errorf("%w: -o %s: quadlet writes several files; name a directory", errExportUsage, out)
		}
		isDir = true // created below
	}
	if !isDir {
		var all []byte
		for _, f := range files {
			all = append(all, f.Data...)
		}
		return writeAtomic(out, all)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(out, f.Name), f.Data); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic writes data to a temporary file beside path, syncs it and
// renames it into place. Exported Secrets may be in it: it is private
// (0600) until the caller decides otherwise.
func writeAtomic(path string, data []byte) error {
	return reconcile.WriteFileAtomic(path, data, 0o600)
}
