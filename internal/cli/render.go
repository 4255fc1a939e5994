package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ynhd/ynhd/internal/units"
)

func cmdRender(c commonFlags, arg string, e env) int {
	file := arg
	if !looksLikeFile(file) {
		file = filepath.Join(c.declDir(e), file+".toml")
	}
	file, err := filepath.Abs(file)
	if err == nil {
		_, err = os.Stat(file)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd render: %s: %v\n", arg, unwrapPathError(err))
		return exitProblem
	}
	loaded := loadSet([]string{file}, e, c.system)[0]
	for _, d := range loaded.Diagnostics {
		fmt.Fprintln(e.stderr, d.String())
	}
	if !loaded.OK() {
		fmt.Fprintf(e.stderr, "ynhd render: %s has errors; fix them and run again\n", arg)
		return exitProblem
	}
	mode := units.User
	if c.system {
		mode = units.System
	}
	b, err := units.RenderBytes(loaded.Parsed.App, units.Options{Mode: mode, Podman: podmanPath()})
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd render: %v\n", err)
		return exitProblem
	}
	e.stdout.Write(b)
	return exitOK
}

// podmanPath is the podman binary units run: $YNHD_PODMAN when set (an
// absolute path), else the standard location.
func podmanPath() string {
	if p := os.Getenv("YNHD_PODMAN"); filepath.IsAbs(p) {
		return p
	}
	return units.DefaultPodman
}
