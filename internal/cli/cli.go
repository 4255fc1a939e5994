// Package cli implements the ynhd command line on cobra: one
// cobra.Command per command, with its usage, examples and completion, and
// one table of exit codes. Main is the whole program; cmd/ynhd only calls
// it, so tests can run the CLI in-process.
package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X .../internal/cli.version=...".
var version = ""

// Version returns ynhd's version: the one set at build time, else the
// module version, else "devel".
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// Exit codes, the same for every command; exitCodes documents them.
// Usage errors use 64 (EX_USAGE of sysexits.h) so that no result code
// shares a number with a mistyped command line: `ynhd plan` returns 2
// for pending changes as `terraform plan -detailed-exitcode` does.
const (
	exitOK      = 0
	exitProblem = 1 // a declaration has errors, or the command failed
	// exitPending is plan's code when the next pass would change something.
	exitPending = 2
	// exitWarnings: done, with something to look at. export and import:
	// written, but some keys did not carry over; status: an app is
	// failing or its declaration is invalid (as `systemctl is-active`
	// uses 3 for "not running").
	exitWarnings = 3
	exitUsage    = 64 // the command line is wrong: unknown command, flag or app
)

// Aliases that name what the code means where it is returned.
const (
	exitFailing          = exitWarnings
	exitCarriedWithNotes = exitWarnings
)

// exitTable documents the exit codes: `ynhd --help` and ynhd(1) show
// it, docs/cli.md copies it (a test keeps the copy current).
var exitTable = []struct {
	code    int
	meaning string
}{
	{exitOK, "success; plan: nothing to change"},
	{exitProblem, "failure: the command failed, a declaration has errors (check, render), doctor found a problem"},
	{exitPending, "plan: the next pass would change something"},
	{exitWarnings, "done with warnings: export and import wrote files but some keys did not carry over; status: an app is failing or its declaration is invalid"},
	{exitUsage, "usage: unknown command or flag, wrong arguments, no such app"},
}

// exitCodes is exitTable as help text.
func exitCodes() string {
	var b strings.Builder
	b.WriteString("Exit status:")
	for _, x := range exitTable {
		fmt.Fprintf(&b, "\n  %-3d %s", x.code, wrap(x.meaning, 70, "\n      "))
	}
	return b.String()
}

// wrap breaks s into lines of at most width bytes, joined by sep.
func wrap(s string, width int, sep string) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), sep)
}

// env is what a command needs from the process, so tests can substitute it.
type env struct {
	stdout, stderr io.Writer
	home           string
}

// Main runs ynhd with os.Args and returns the exit code.
func Main() int {
	home, _ := os.UserHomeDir()
	return run(os.Args[1:], env{stdout: os.Stdout, stderr: os.Stderr, home: home})
}

// exitError carries a command's exit code through cobra; its message was
// already printed.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// usageError is a wrong command line found by a command's own checks.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(args []string, e env) int {
	root := newRoot(&e)
	root.SetArgs(args)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	cmd, err := root.ExecuteC()
	var code exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	}
	// cobra's own errors (unknown command or flag, wrong number of
	// arguments) and a command's usage errors.
	name := "ynhd"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	msg := strings.TrimRight(err.Error(), "\n")
	fmt.Fprintf(e.stderr, "%s: %s\n", name, msg)
	if cmd != nil && !strings.Contains(msg, "--help") {
		fmt.Fprintf(e.stderr, "run '%s --help' for usage\n", name)
	}
	return exitUsage
}

// runE adapts a command function that returns an exit code to cobra.
func runE(f func(args []string) int) func(*cobra.Command, []string) error {
	return func(_ *cobra.Command, args []string) error {
		if code := f(args); code != exitOK {
			return exitError(code)
		}
		return nil
	}
}

// commonFlags are the flags that select the declarations: --system and
// --dir.
type commonFlags struct {
	system bool
	dir    string
}

// register adds --system and --dir to cmd; system is false for the
// commands that work in user mode only.
func (c *commonFlags) register(cmd *cobra.Command, system bool) {
	if system {
		cmd.Flags().BoolVar(&c.system, "system", false, "system mode: declarations in /etc/ynhd, units for the system manager (run as root)")
	}
	cmd.Flags().StringVar(&c.dir, "dir", "", "declarations directory (default ~/.config/ynhd, or /etc/ynhd with --system)")
	_ = cmd.MarkFlagDirname("dir")
}

// declDir is the declarations directory the flags select.
func (c *commonFlags) declDir(e env) string {
	switch {
	case c.dir != "":
		return c.dir
	case c.system:
		return "/etc/ynhd"
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "ynhd")
	}
	return filepath.Join(e.home, ".config", "ynhd")
}

func looksLikeFile(arg string) bool {
	return strings.Contains(arg, "/") || strings.HasSuffix(arg, ".toml")
}
