// Command genman writes ynhd's man pages: go run ./internal/genman DOCS
// OUTDIR, from the repository's root (make man does).
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/ynhd/ynhd/internal/cli"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: genman DOCSDIR OUTDIR")
		os.Exit(64)
	}
	var docs cli.ManDocs
	var err error
	read := func(name string) []byte {
		b, e := os.ReadFile(filepath.Join(os.Args[1], name))
		if e != nil && err == nil {
			err = e
		}
		return b
	}
	docs.Declarations = read("declarations.md")
	docs.SystemMode = read("system-mode.md")
	if err == nil {
		_, err = cli.WriteManPages(os.Args[2], docs)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "genman: %v\n", err)
		os.Exit(1)
	}
}
