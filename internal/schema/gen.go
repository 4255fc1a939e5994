//go:build ignore

// gen writes the declaration schema to schema/ynhd.schema.json (go
// generate in internal/schema, or make schema).
package main

import (
	"fmt"
	"os"

	"github.com/ynhd/ynhd/internal/schema"
)

func main() {
	b, err := schema.Generate("../decl")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := os.WriteFile("../../schema/ynhd.schema.json", b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
