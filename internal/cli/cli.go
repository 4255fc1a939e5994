// Package cli implements the ynhd command line. Main is the whole program;
// cmd/ynhd only calls it, so tests can run the CLI in-process.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
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

// Exit codes.
const (
	exitOK      = 0
	exitProblem = 1 // a declaration has errors, or the command failed
	exitUsage   = 2
)

const usage = `ynhd keeps rootless podman containers running as systemd units, declared
in one TOML file per app.

Usage:
  ynhd <command> [flags] [arguments]

Commands:
  check [FILE|DIR...]   validate declarations; one line per problem as
                        file:line:col: message; exit 1 if any has errors
  render APP|FILE       print the systemd unit an app's declaration renders to
  run                   the daemon (systemctl --user start ynhd, or with
                        --system systemctl start ynhd): keep every
                        declared app running as declared
  plan                  print what the next pass would do; changes nothing
  apply                 run one pass, then exit
  status [--json]       every app: declaration, unit, container, restarts
  logs [-f] APP         the app's output (journalctl --user -u APP, or
                        journalctl -u APP with --system)
  start|stop|restart APP
                        start, stop or restart an app's unit; an app stopped
                        this way stays stopped until started or edited
  doctor [--json]       check the host for rootless containers: ok, warning
                        or problem, each with the command that fixes it
  prune --volumes [--yes]
                        list (with --yes: delete, with their data) volumes
                        ynhd created that no declaration uses
  export kube|quadlet APP...|--all [-o FILE|DIR]
                        Kubernetes manifests or Quadlet files from the
                        declarations; exit 3 if some keys did not carry over
  snapshots [--json] APP
                        a persistent app's snapshots (persistent = true)
  snapshot APP          commit a persistent app's container to a snapshot now
  recreate APP          a new container from the declared image, after a
                        snapshot: applies a pending image change
  rollback APP [SNAPSHOT]
                        a new container from a snapshot (the newest by
                        default), after a snapshot of the current one
  import run [-o DIR] [--dry-run] [--force] -- podman run ARGS...
                        a declaration from a podman (or docker) run command
                        line; each value not carried is named; exit 3 then
  import quadlet FILE.container...
                        the same from Quadlet files (and the .volume and
                        .network files they name)
  import container [--replace] NAME...
                        the same from containers made by hand, from the
                        command line podman recorded; --replace removes
                        them (not their volumes) for ynhd to run the apps
  import compose [--project NAME] [FILE]
                        one declaration per service of a compose file
                        (compose.yaml by default), named PROJECT-SERVICE
  backup [--stop] APP [-o FILE]
                        one archive with the app's declaration, a snapshot
                        of its container (persistent apps) and its volumes
  restore FILE          bring an app back from a backup, here or on another
                        machine; replaces nothing that exists
  wait-online           wait (at most 90 s) for the system's
                        network-online.target: what the user unit
                        ynhd-network-online.service runs at boot
  version               print ynhd's version

Flags:
  --system              system mode: declarations in /etc/ynhd, units for the
                        system manager, each app's podman run as a
                        DynamicUser or, for images that need many ids, as
                        a static system user ynhd creates (check --system
                        says which); run as root
  --dir DIR             declarations directory (default ~/.config/ynhd,
                        or /etc/ynhd with --system)
  --interval D          (run) time between full passes (default 60s)

Examples:
  ynhd check                         check every app in ~/.config/ynhd
  ynhd check ~/.config/ynhd/web.toml
  ynhd render web                    the unit for ~/.config/ynhd/web.toml
  ynhd render --system configs/whoami.toml
  systemctl --user enable --now ynhd  start the daemon now and at login
  ynhd check --system                which user each app in /etc/ynhd runs as
  sudo systemctl enable --now ynhd   system mode (after make install-system)
  ynhd status                        what runs, what fails, and why

Declarations are documented in docs/declarations.md, system mode and
lingering in docs/system-mode.md.
`

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

func run(args []string, e env) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return exitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "--help", "-help", "help":
		fmt.Fprint(e.stdout, usage)
		return exitOK
	case "version", "--version":
		fmt.Fprintf(e.stdout, "ynhd %s\n", Version())
		return exitOK
	case "check":
		return cmdCheck(rest, e)
	case "render":
		return cmdRender(rest, e)
	case "run":
		return cmdRun(rest, e)
	case "plan":
		return cmdPlan(rest, e)
	case "apply":
		return cmdApply(rest, e)
	case "status":
		return cmdStatus(rest, e)
	case "logs":
		return cmdLogs(rest, e)
	case "start", "stop", "restart":
		return cmdUnit(cmd, rest, e)
	case "prune":
		return cmdPrune(rest, e)
	case "doctor":
		return cmdDoctor(rest, e)
	case "export":
		return cmdExport(rest, e)
	case "snapshots":
		return cmdSnapshots(rest, e)
	case "snapshot":
		return cmdSnapshot(rest, e)
	case "recreate":
		return cmdRecreate(rest, e)
	case "rollback":
		return cmdRollback(rest, e)
	case "import":
		return cmdImport(rest, e)
	case "backup":
		return cmdBackup(rest, e)
	case "restore":
		return cmdRestore(rest, e)
	case "wait-online":
		return cmdWaitOnline(rest, e)
	}
	fmt.Fprintf(e.stderr, "ynhd: unknown command %q; run 'ynhd --help' for the list\n", cmd)
	return exitUsage
}

// commonFlags are the flags check and render share.
type commonFlags struct {
	system bool
	dir    string
}

func newFlagSet(name string, e env, c *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.BoolVar(&c.system, "system", false, "system mode (DynamicUser units, declarations in /etc/ynhd)")
	fs.StringVar(&c.dir, "dir", "", "declarations directory")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: ynhd %s [--system] [--dir DIR] ...\n", name)
		fs.PrintDefaults()
	}
	return fs
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

// parseFlags parses flags that may appear before or after the positional
// arguments, as people type them.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func isFlagHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }

func looksLikeFile(arg string) bool {
	return strings.Contains(arg, "/") || strings.HasSuffix(arg, ".toml")
}
