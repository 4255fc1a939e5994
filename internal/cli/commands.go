package cli

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/ynhd/ynhd/internal/daemon"
	"github.com/ynhd/ynhd/internal/export"
	"github.com/ynhd/ynhd/internal/importer"
)

const rootLong = `ynhd keeps rootless podman containers running as systemd units, declared
in one TOML file per app (~/.config/ynhd/APP.toml, or /etc/ynhd/APP.toml in
system mode). The daemon (ynhd run, started as the user unit ynhd.service)
renders each declaration to a unit, starts it, and keeps it as declared;
the other commands check, show and steer what it does.

Declarations are described in ynhd.toml(5) and docs/declarations.md,
system mode and lingering in ynhd-system(8) and docs/system-mode.md.`

const rootExample = `  ynhd check                          check every app in ~/.config/ynhd
  ynhd check ~/.config/ynhd/web.toml
  ynhd render web                     the unit for ~/.config/ynhd/web.toml
  systemctl --user enable --now ynhd  start the daemon now and at login
  ynhd plan                           what the next pass would do
  ynhd status                         what runs, what fails, and why
  ynhd check --system                 which user each app in /etc/ynhd runs as
  sudo systemctl enable --now ynhd    system mode (after make install-system)`

// Command groups, in the order help lists them.
var groups = []*cobra.Group{
	{ID: "decl", Title: "Declarations:"},
	{ID: "daemon", Title: "The daemon and the apps it runs:"},
	{ID: "keep", Title: "Persistent containers, backups:"},
	{ID: "move", Title: "Moving to and from other tools:"},
	{ID: "host", Title: "The host:"},
}

// newRoot builds the command tree. e is read when a command runs, so a
// caller can set it up after building the tree.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:     "ynhd",
		Short:   "run rootless podman containers as systemd units, declared in TOML",
		Long:    rootLong,
		Example: rootExample,
		Version: Version(),
		// No command is a usage error, with the help on stderr.
		RunE: func(cmd *cobra.Command, args []string) error {
			cmd.SetOut(cmd.ErrOrStderr())
			_ = cmd.Usage()
			return exitError(exitUsage)
		},
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	root.SetVersionTemplate("ynhd {{.Version}}\n")
	// The exit codes close the top-level help (and so ynhd(1)).
	root.SetUsageTemplate(root.UsageTemplate() + "{{if not .HasParent}}\n" + exitCodes() + "\n{{end}}")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.AddGroup(groups...)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("decl", checkCmd(e), renderCmd(e))
	add("daemon", runCmd(e), planCmd(e), applyCmd(e), statusCmd(e), logsCmd(e),
		unitCmd(e, "start"), unitCmd(e, "stop"), unitCmd(e, "restart"), updateCmd(e), historyCmd(e))
	add("keep", snapshotsCmd(e), snapshotCmd(e), recreateCmd(e), rollbackCmd(e), backupCmd(e), restoreCmd(e))
	add("move", exportCmd(e), importCmd(e))
	add("host", doctorCmd(e), pruneCmd(e), waitOnlineCmd(e), versionCmd())
	root.SetHelpCommand(helpCmd(root))
	root.SetHelpCommandGroupID("host")
	// Commands without arguments complete none (not file names).
	for _, c := range root.Commands() {
		if c.ValidArgsFunction == nil && c.Args != nil && c.Name() != "check" {
			c.ValidArgsFunction = cobra.NoFileCompletions
		}
	}
	root.SetCompletionCommandGroupID("host")
	// cobra's completion command prints its help for any argument; an
	// unknown shell is a usage error here like any other.
	root.InitDefaultCompletionCmd()
	if comp, _, err := root.Find([]string{"completion"}); err == nil && comp != root {
		comp.RunE = func(_ *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usageError{"invalid argument " + quote(a[0]) + "; completion bash, zsh, fish or powershell"}
			}
			return usageError{"name a shell: completion bash, zsh, fish or powershell"}
		}
		comp.Args = cobra.ArbitraryArgs
	}
	return root
}

// helpCmd is `ynhd help [COMMAND...]`: cobra's, except that an unknown
// topic is a usage error.
func helpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "help about any command",
		Long:  "Help prints a command's usage, description, examples and flags; without a command, the list of commands and the exit codes.",
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			parent, _, err := root.Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, c := range parent.Commands() {
				if c.IsAvailableCommand() && strings.HasPrefix(c.Name(), toComplete) {
					names = append(names, c.Name()+"\t"+c.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil {
				return usageError{strings.Replace(err.Error(), "unknown command", "unknown help topic", 1)}
			}
			if len(rest) > 0 {
				return usageError{"unknown help topic " + quote(strings.Join(args, " "))}
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// args checks the number of positional arguments; usage is the
// command's argument synopsis, shown when the number is wrong.
func args(min, max int, usage string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < min || (max >= 0 && len(args) > max) {
			return usageError{"wrong number of arguments; usage: " + cmd.CommandPath() + " " + usage}
		}
		return nil
	}
}

func checkCmd(e *env) *cobra.Command {
	var c commonFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [FILE|DIR...]",
		Short: "validate declarations",
		Long: `Check reads declarations (every app of the declarations directory by
default, or the files and directories named) as the daemon would, and
prints one line per problem as file:line:col: severity: key: message.
A summary goes to stderr. With --system it also says which user each app
runs as. With --json it prints every diagnostic as JSON (see ynhd(1),
JSON OUTPUT).

It exits 1 if any declaration has errors; warnings alone exit 0.`,
		Example: `  ynhd check
  ynhd check ~/.config/ynhd/web.toml
  ynhd check --system
  ynhd check --json | jq '.diagnostics[] | select(.severity == "error")'`,
		RunE: runE(func(a []string) int { return cmdCheck(c, asJSON, a, *e) }),
	}
	c.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the diagnostics as JSON")
	return cmd
}

func renderCmd(e *env) *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:   "render APP|FILE",
		Short: "print the systemd unit an app's declaration renders to",
		Long: `Render prints the unit file ynhd writes for one app: APP names
~/.config/ynhd/APP.toml (or the directory --dir names), a path names a
file. Diagnostics go to stderr; it exits 1 if the declaration has errors.`,
		Example: `  ynhd render web
  ynhd render ./web.toml
  ynhd render --system configs/whoami.toml`,
		Args:              args(1, 1, "APP|FILE"),
		ValidArgsFunction: completeApps(e, &c, 1, cobra.ShellCompDirectiveDefault),
		RunE:              runE(func(a []string) int { return cmdRender(c, a[0], *e) }),
	}
	c.register(cmd, true)
	return cmd
}

func runCmd(e *env) *cobra.Command {
	var c commonFlags
	var o runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "the daemon: keep every declared app running as declared",
		Long: `Run is the daemon. The user unit ynhd.service runs it (systemctl --user
start ynhd), the system unit runs ynhd run --system. It reconciles at
start, whenever a declaration changes, on SIGHUP (systemctl reload ynhd),
when a unit changes, and every --interval; it logs to the journal.`,
		Example: `  systemctl --user enable --now ynhd
  ynhd run --debug --interval 10s`,
		Args: args(0, 0, "[flags]"),
		RunE: runE(func([]string) int { return cmdRun(c, o, *e) }),
	}
	c.register(cmd, true)
	cmd.Flags().DurationVar(&o.interval, "interval", daemon.DefaultInterval, "time between full passes")
	cmd.Flags().BoolVar(&o.debug, "debug", false, "log every pass")
	return cmd
}

func planCmd(e *env) *cobra.Command {
	var c commonFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "print what the next pass would do; changes nothing",
		Long: `Plan compares the declarations with what runs and prints what the next
pass would do: units to write, start, restart or remove, and problems.
It changes nothing. It exits 0 when there is nothing to do, 2 when the
next pass would change something (as terraform plan -detailed-exitcode),
1 when it cannot tell.`,
		Example: `  ynhd plan
  ynhd plan --json
  ynhd plan >/dev/null; [ $? = 2 ] && systemctl --user reload ynhd`,
		Args: args(0, 0, "[flags]"),
		RunE: runE(func([]string) int { return cmdPlan(c, asJSON, *e) }),
	}
	c.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the plan as JSON")
	return cmd
}

func applyCmd(e *env) *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:   "apply",
		Short: "run one pass, then exit",
		Long: `Apply runs one pass as the daemon would, waits for the pulls and builds
it started, prints a summary and exits. It refuses to run beside the
daemon, which applies declarations by itself (systemctl --user reload
ynhd makes it pass now).`,
		Example: `  ynhd apply`,
		Args:    args(0, 0, "[flags]"),
		RunE:    runE(func([]string) int { return cmdApply(c, *e) }),
	}
	c.register(cmd, true)
	return cmd
}

func statusCmd(e *env) *cobra.Command {
	var c commonFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "every app: declaration, unit, container, restarts",
		Long: `Status shows every declared app: whether its declaration is valid, its
unit's state (systemd's own names: active, failed, ...), its container,
its restarts, and what to do about a problem.

It exits 3 when an app is failing or its declaration is invalid.`,
		Example: `  ynhd status
  ynhd status --json | jq '.apps[] | select(.active_state != "active")'`,
		Args: args(0, 0, "[flags]"),
		RunE: runE(func([]string) int { return cmdStatus(c, asJSON, *e) }),
	}
	c.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func logsCmd(e *env) *cobra.Command {
	var c commonFlags
	var o logsFlags
	cmd := &cobra.Command{
		Use:   "logs APP",
		Short: "the app's output, from the journal",
		Long: `Logs runs journalctl --user -u APP.service (journalctl -u with
--system): the output of the app's container and of its unit.`,
		Example: `  ynhd logs web
  ynhd logs -f -n 20 web`,
		Args:              args(1, 1, "[-f] [-n N] APP"),
		ValidArgsFunction: completeApps(e, &c, 1, cobra.ShellCompDirectiveNoFileComp),
		RunE:              runE(func(a []string) int { return cmdLogs(c, o, a[0], *e) }),
	}
	c.register(cmd, true)
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "follow")
	cmd.Flags().IntVarP(&o.lines, "lines", "n", 100, "number of lines")
	return cmd
}

func unitCmd(e *env, verb string) *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:   verb + " APP|GROUP",
		Short: verb + " an app's unit, or every app of a group",
		Long: strings.ToUpper(verb[:1]) + verb[1:] + ` asks systemd to ` + verb + ` the app's unit and waits for the job.
An app stopped with ynhd stop stays stopped, across passes of the daemon
and restarts of ynhd, until ynhd start, ynhd restart or an edit of its
declaration.

A name that is no app's but a group's (part_of) acts on the group's
target, ynhd-group-GROUP.target, which systemd carries to every app of
the group; ynhd stop records the stop of each.`,
		Example:           "  ynhd " + verb + " web\n  ynhd " + verb + " shop    # every app with part_of = \"shop\"",
		Args:              args(1, 1, "APP|GROUP"),
		ValidArgsFunction: completeApps(e, &c, 1, cobra.ShellCompDirectiveNoFileComp),
		RunE:              runE(func(a []string) int { return cmdUnit(verb, c, a[0], *e) }),
	}
	c.register(cmd, true)
	return cmd
}

func doctorCmd(e *env) *cobra.Command {
	var c commonFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "check the host for rootless containers",
		Long: `Doctor checks what rootless containers need of this host (podman,
subordinate ids, cgroup delegation, lingering, ports, ...) and prints each
finding as ok, warning or problem, with the command that fixes it.

It exits 1 when it finds a problem.`,
		Example: `  ynhd doctor
  sudo ynhd doctor --system
  ynhd doctor --json`,
		Args: args(0, 0, "[flags]"),
		RunE: runE(func([]string) int { return cmdDoctor(c, asJSON, *e) }),
	}
	c.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func pruneCmd(e *env) *cobra.Command {
	var c commonFlags
	var o pruneFlags
	cmd := &cobra.Command{
		Use:   "prune --volumes [--yes]",
		Short: "list (with --yes: delete) volumes ynhd created that no declaration uses",
		Long: `Prune --volumes lists the volumes ynhd created that no declaration uses
any more; with --yes it deletes them, with their data. Nothing is pruned
without --volumes.`,
		Example: `  ynhd prune --volumes
  ynhd prune --volumes --yes`,
		Args: args(0, 0, "--volumes [--yes]"),
		RunE: runE(func([]string) int { return cmdPrune(c, o, *e) }),
	}
	c.register(cmd, true)
	cmd.Flags().BoolVar(&o.volumes, "volumes", false, "prune volumes")
	cmd.Flags().BoolVar(&o.yes, "yes", false, "really delete (without it, only list)")
	return cmd
}

func waitOnlineCmd(e *env) *cobra.Command {
	var limit = waitOnlineLimit
	cmd := &cobra.Command{
		Use:   "wait-online",
		Short: "wait for the system's network-online.target",
		Long: `Wait-online waits (at most --timeout) until the system manager's
network-online.target is active: what the user unit
ynhd-network-online.service runs at boot, for apps that use the network.
It returns at once when nothing on the host pulls the target in.`,
		Args: args(0, 0, "[--timeout D]"),
		RunE: runE(func([]string) int { return cmdWaitOnline(limit, *e) }),
	}
	cmd.Flags().DurationVar(&limit, "timeout", waitOnlineLimit, "give up after this long")
	return cmd
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print ynhd's version",
		Args:  args(0, 0, ""),
		Run: func(cmd *cobra.Command, _ []string) {
			cmd.Printf("ynhd %s\n", Version())
		},
	}
}

func exportCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export kube|quadlet APP...|--all",
		Short: "Kubernetes manifests or Quadlet files from the declarations",
		Long: `Export kube writes Kubernetes manifests (Deployment, Service, ConfigMap,
Secret, PersistentVolumeClaims) per app; export quadlet writes podman
Quadlet files (.container, .volume, .network). Both read the
declarations, not what runs. Whatever has no form in the target is listed
on stderr as file: warning: key: reason, and the exit status is then 3.`,
		RunE: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usageError{"unknown format " + quote(a[0]) + "; export kube or export quadlet"}
			}
			return usageError{"name a format: export kube or export quadlet"}
		},
	}
	for _, format := range []string{"kube", "quadlet"} {
		var c commonFlags
		var o exportFlags
		sub := &cobra.Command{
			Use:               format + " APP...|--all",
			Short:             map[string]string{"kube": "Kubernetes manifests from the declarations", "quadlet": "podman Quadlet files from the declarations"}[format],
			Long:              cmd.Long,
			ValidArgsFunction: completeApps(e, &c, -1, cobra.ShellCompDirectiveNoFileComp),
			RunE:              runE(func(a []string) int { return cmdExport(format, c, o, a, *e) }),
		}
		c.register(sub, true)
		f := sub.Flags()
		f.BoolVar(&o.all, "all", false, "every app of the declarations directory")
		o.size = export.DefaultVolumeSize.String()
		if format == "kube" {
			sub.Example = `  ynhd export kube web
  ynhd export kube --all -o manifests/
  ynhd export kube web db --include-secret-values -o all.yaml`
			f.StringVarP(&o.out, "output", "o", "", "write one stream to FILE, or APP.yaml files into DIR (an existing directory or a path ending in /); default: stdout")
			f.BoolVar(&o.secrets, "include-secret-values", false, "write Secrets with their values; without it they are referenced and left for you to create")
			f.StringVar(&o.size, "volume-size", o.size, "storage each PersistentVolumeClaim requests")
			f.BoolVar(&o.noClaims, "no-claims", false, "leave the PersistentVolumeClaims out (pods still mount claims named like the volumes)")
		} else {
			sub.Example = `  ynhd export quadlet web -o ~/.config/containers/systemd/`
			f.StringVarP(&o.out, "output", "o", "", "write the units into DIR (created if missing); default: stdout")
			sub.Long += "\n\nWith --system the units are installed into multi-user.target."
		}
		_ = sub.MarkFlagFilename("output")
		cmd.AddCommand(sub)
	}
	return cmd
}

func importCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import run|quadlet|container|compose",
		Short: "declarations from podman run lines, Quadlet, containers or compose",
		Long: `Import writes declarations from what other tools describe. Each value
that could not be carried is named, and the exit status is then 3.
Declarations are written into the declarations directory (or -o DIR),
never over an existing one without --force.`,
		RunE: func(cmd *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usageError{"unknown source " + quote(a[0]) + "; import run, quadlet, container or compose"}
			}
			return usageError{"name a source: import run, quadlet, container or compose"}
		},
	}
	cmd.AddCommand(importRunCmd(e), importQuadletCmd(e), importContainerCmd(e), importComposeCmd(e))
	return cmd
}

// importCommon registers the flags every import takes.
func importCommon(cmd *cobra.Command, c *commonFlags, o *importFlags, system bool) {
	c.register(cmd, system)
	f := cmd.Flags()
	f.StringVarP(&o.out, "output", "o", "", "directory to write the declarations to (default: the declarations directory)")
	f.BoolVar(&o.dry, "dry-run", false, "print the declarations instead of writing them")
	f.BoolVar(&o.force, "force", false, "replace existing declarations")
	_ = cmd.MarkFlagDirname("output")
}

func importRunCmd(e *env) *cobra.Command {
	var c commonFlags
	var o importFlags
	cmd := &cobra.Command{
		Use:   "run [flags] -- podman run ARGS...",
		Short: "a declaration from a podman (or docker) run command line",
		Long: `Import run turns a podman run (or docker run) command line into a
declaration, named after --name or the image. ynhd's own flags come
first; the command line starts at "--" or at the word podman, docker or
run.`,
		Example: `  ynhd import run -- podman run -d --name web -p 8080:80 docker.io/library/nginx
  ynhd import run --dry-run docker run --rm -e TZ=UTC alpine sleep 1d`,
		// The podman command line has flags of its own: ynhd parses only
		// the words before it.
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, a []string) error {
			own, line := splitRunLine(a)
			if err := cmd.Flags().Parse(own); err != nil {
				return usageError{err.Error()}
			}
			if help, _ := cmd.Flags().GetBool("help"); help {
				return cmd.Help()
			}
			if rest := cmd.Flags().Args(); len(rest) > 0 {
				return usageError{"unexpected " + quote(rest[0]) + " before the podman run command line"}
			}
			return runE(func([]string) int { return cmdImportRun(c, o, line, *e) })(cmd, nil)
		},
	}
	importCommon(cmd, &c, &o, true)
	cmd.Flags().BoolP("help", "h", false, "help for run")
	return cmd
}

func importQuadletCmd(e *env) *cobra.Command {
	var c commonFlags
	var o importFlags
	cmd := &cobra.Command{
		Use:   "quadlet FILE.container...",
		Short: "declarations from Quadlet files",
		Long: `Import quadlet turns Quadlet .container files (with the .volume and
.network files beside them that they name) into declarations.`,
		Example: `  ynhd import quadlet ~/.config/containers/systemd/web.container`,
		Args:    args(1, -1, "[flags] FILE.container..."),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"container"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: runE(func(a []string) int { return cmdImportQuadlet(c, o, a, *e) }),
	}
	importCommon(cmd, &c, &o, true)
	return cmd
}

func importContainerCmd(e *env) *cobra.Command {
	var c commonFlags
	var o importFlags
	var replace bool
	cmd := &cobra.Command{
		Use:   "container [--replace] NAME...",
		Short: "declarations from containers made by hand",
		Long: `Import container turns containers made by hand (podman ps -a lists them)
into declarations, from the command line podman recorded when it created
each. With --replace each imported container is stopped and removed (its
named volumes stay) once its declaration is written, and the daemon runs
the app instead. User mode only.`,
		Example: `  ynhd import container --dry-run web
  ynhd import container --replace web db`,
		Args: args(1, -1, "[flags] NAME..."),
		RunE: runE(func(a []string) int { return cmdImportContainer(c, o, replace, a, *e) }),
	}
	importCommon(cmd, &c, &o, false)
	cmd.Flags().BoolVar(&replace, "replace", false, "remove each imported container (not its volumes) so the daemon runs the app instead")
	return cmd
}

func importComposeCmd(e *env) *cobra.Command {
	var c commonFlags
	var o importFlags
	var co importer.ComposeOptions
	cmd := &cobra.Command{
		Use:   "compose [--project NAME] [--profile NAME]... [--env-file FILE]... [-f FILE]... [FILE]",
		Short: "one declaration per service of a compose project",
		Long: `Import compose turns each service of a compose project into a
declaration named PROJECT-SERVICE, with part_of = "PROJECT": the project
becomes a group of apps that ynhd start, stop and restart act on together.

The files are read as docker compose reads them: without -f, COMPOSE_FILE,
else compose.yaml (or the other names docker compose looks for) here or in
the nearest directory above, merged with the compose.override.yaml beside
it; with -f (repeatable; FILE is one more), those files merged in order.
--profile activates a profile besides those in COMPOSE_PROFILES;
--env-file replaces the .env beside the first file.`,
		Example: `  ynhd import compose --dry-run
  ynhd import compose --project blog docker-compose.yml
  ynhd import compose -f compose.yaml -f compose.prod.yaml --profile metrics`,
		Args: args(0, 1, "[flags] [FILE]"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"yaml", "yml"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: runE(func(a []string) int { return cmdImportCompose(c, o, co, a, *e) }),
	}
	importCommon(cmd, &c, &o, true)
	cmd.Flags().StringVar(&co.Project, "project", "", "project name, the first part of each app name and the group's name (default: compose's, from the file or its directory)")
	cmd.Flags().StringArrayVarP(&co.Files, "file", "f", nil, "compose file; repeat it to merge files in order (default: compose.yaml and its compose.override.yaml)")
	cmd.Flags().StringArrayVar(&co.Profiles, "profile", nil, "profile to activate besides those in COMPOSE_PROFILES; repeatable")
	cmd.Flags().StringArrayVar(&co.EnvFiles, "env-file", nil, "file of variables for ${VAR} in the compose files, instead of the .env beside the first; repeatable")
	return cmd
}

func snapshotsCmd(e *env) *cobra.Command {
	var c commonFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "snapshots APP",
		Short:             "a persistent app's snapshots",
		Long:              `Snapshots lists the snapshots of a persistent app's container (persistent = true): when each was taken, why, its size and base image.`,
		Example:           "  ynhd snapshots db\n  ynhd snapshots --json db",
		Args:              args(1, 1, "[--json] APP"),
		ValidArgsFunction: completeApps(e, &c, 1, cobra.ShellCompDirectiveNoFileComp),
		RunE:              runE(func(a []string) int { return cmdSnapshots(c, asJSON, a[0], *e) }),
	}
	c.register(cmd, false)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func snapshotCmd(e *env) *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:               "snapshot APP",
		Short:             "commit a persistent app's container to a snapshot now",
		Long:              `Snapshot commits a persistent app's container to a snapshot now (the container is paused while it is committed); keep_snapshots bounds how many are kept.`,
		Example:           "  ynhd snapshot db",
		Args:              args(1, 1, "APP"),
		ValidArgsFunction: completeApps(e, &c, 1, cobra.ShellCompDirectiveNoFileComp),
		RunE:              runE(func(a []string) int { return cmdSnapshot(c, a[0], *e) }),
	}
	c.register(cmd, false)
	return cmd
}

func recreateCmd(e *env) *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:               "recreate APP",
		Short:             "a new container from the declared image, after a snapshot",
		Long:              `Recreate gives a persistent app a new container from its declared image, after a snapshot of the current one: it applies a pending image change.`,
		Example:           "  ynhd recreate db",
		Args:              args(1, 1, "APP"),
		ValidArgsFunction: completeApps(e, &c, 1, cobra.ShellCompDirectiveNoFileComp),
		RunE:              runE(func(a []string) int { return cmdRecreate(c, a[0], *e) }),
	}
	c.register(cmd, false)
	return cmd
}

func rollbackCmd(e *env) *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:               "rollback APP [SNAPSHOT]",
		Short:             "a new container from a snapshot",
		Long:              `Rollback gives a persistent app a container created from one of its snapshots (the newest by default), after a snapshot of the current one.`,
		Example:           "  ynhd rollback db\n  ynhd rollback db before-change-20261129-101500",
		Args:              args(1, 2, "APP [SNAPSHOT]"),
		ValidArgsFunction: completeApps(e, &c, 1, cobra.ShellCompDirectiveNoFileComp),
		RunE: runE(func(a []string) int {
			snap := ""
			if len(a) == 2 {
				snap = a[1]
			}
			return cmdRollback(c, a[0], snap, *e)
		}),
	}
	c.register(cmd, false)
	return cmd
}

func backupCmd(e *env) *cobra.Command {
	var c commonFlags
	var o backupFlags
	cmd := &cobra.Command{
		Use:   "backup [--stop] APP [-o FILE]",
		Short: "one archive with an app's declaration, snapshot and volumes",
		Long: `Backup writes one archive with the app's declaration, a snapshot of its
container (persistent apps) and the content of its named volumes. User
mode only.`,
		Example:           "  ynhd backup db\n  ynhd backup --stop db -o /srv/backup/db.ynhd.tar.gz",
		Args:              args(1, 1, "[--stop] APP [-o FILE]"),
		ValidArgsFunction: completeApps(e, &c, 1, cobra.ShellCompDirectiveNoFileComp),
		RunE:              runE(func(a []string) int { return cmdBackup(c, o, a[0], *e) }),
	}
	c.register(cmd, false)
	cmd.Flags().StringVarP(&o.out, "output", "o", "", "the archive to write (default APP-TIME.ynhd.tar.gz here)")
	cmd.Flags().BoolVar(&o.stop, "stop", false, "stop the app while its volumes are copied (consistent databases); it starts again after")
	_ = cmd.MarkFlagFilename("output")
	return cmd
}

func restoreCmd(e *env) *cobra.Command {
	var c commonFlags
	cmd := &cobra.Command{
		Use:   "restore FILE",
		Short: "bring an app back from a backup",
		Long: `Restore brings an app back from an archive ynhd backup wrote, here or on
another machine: its volumes, its container (from the snapshot) and last
its declaration, which the daemon then starts. It replaces nothing that
exists. User mode only.`,
		Example: "  ynhd restore db-20261129-101500.ynhd.tar.gz",
		Args:    args(1, 1, "FILE"),
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			return []string{"gz"}, cobra.ShellCompDirectiveFilterFileExt
		},
		RunE: runE(func(a []string) int { return cmdRestore(c, a[0], *e) }),
	}
	c.register(cmd, false)
	return cmd
}
