// Command ynhd keeps rootless podman containers running as systemd units,
// declared in one TOML file per app. See README.md.
package main

import (
	"os"

	"github.com/ynhd/ynhd/internal/cli"
)

func main() { os.Exit(cli.Main()) }
