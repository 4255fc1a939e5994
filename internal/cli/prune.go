package cli

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
)

// cmdPrune removes what ynhd created and no declaration uses any more.
// Today that is volumes, and only with --volumes: their data is deleted,
// so without --yes it only lists them.
// pruneFlags are prune's own flags.
type pruneFlags struct{ volumes, yes bool }

func cmdPrune(c commonFlags, o pruneFlags, e env) int {
	if !o.volumes {
		fmt.Fprintln(e.stderr, "ynhd prune: say what to prune: --volumes (volumes hold data; nothing is pruned by default)")
		return exitUsage
	}
	if c.system {
		fmt.Fprintln(e.stderr, "ynhd prune: in system mode each app's volumes live in its own state directory (/var/lib/ynhd/APP); remove them there")
		return exitUsage
	}
	conn, err := connect(false)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd prune: %v\n", err)
		return exitProblem
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pc, err := dialPodman(ctx, conn)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd prune: %v\n", err)
		return exitProblem
	}
	l := c.layout(e)
	// Volumes still declared, by valid and invalid declarations alike: an
	// app with a broken file may come back.
	used := map[string]bool{}
	files, _ := decl.DeclarationFiles(l.declDir)
	for _, ld := range decl.LoadFiles(files, hostFacts(c.system), e.home) {
		if ld.Parsed == nil {
			fmt.Fprintf(e.stderr, "ynhd prune: %s cannot be read, so its volumes are unknown; fix it first\n", ld.File)
			return exitProblem
		}
		for _, v := range ld.Parsed.App.Volumes {
			used[v.Name] = true
		}
	}
	names, err := pc.ManagedVolumes(ctx)
	if err != nil {
		fmt.Fprintf(e.stderr, "ynhd prune: %v\n", err)
		return exitProblem
	}
	sort.Strings(names)
	var unused []string
	for _, n := range names {
		if !used[n] {
			unused = append(unused, n)
		}
	}
	if len(unused) == 0 {
		fmt.Fprintln(e.stdout, "no unused volumes")
		return exitOK
	}
	if !o.yes {
		for _, n := range unused {
			fmt.Fprintf(e.stdout, "would remove volume %s and its data\n", n)
		}
		fmt.Fprintln(e.stdout, "run again with --yes to remove them")
		return exitOK
	}
	code := exitOK
	for _, n := range unused {
		if err := pc.RemoveVolume(ctx, n); err != nil {
			fmt.Fprintf(e.stderr, "ynhd prune: %v\n", err)
			code = exitProblem
			continue
		}
		fmt.Fprintf(e.stdout, "removed volume %s\n", n)
	}
	return code
}
