package units

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
)

// Mode says which systemd manager a unit is rendered for.
type Mode int

const (
	// User renders a unit for a user's `systemd --user` manager: rootless
	// podman as that user, conmon and the container in the unit's cgroup.
	User Mode = iota
	// System renders a unit for the system manager that runs rootless podman
	// as a DynamicUser=yes user or, for apps that need many ids, as a static
	// system user with subordinate ids (see decl.App.SystemRoute), with
	// storage, runtime state, HOME and podman's configuration redirected
	// into the unit's StateDirectory and RuntimeDirectory.
	System
)

func (m Mode) String() string {
	if m == System {
		return "system"
	}
	return "user"
}

// Options are the parts of a unit that depend on the host, not on the
// declaration.
type Options struct {
	Mode Mode
	// Podman is the absolute path of the podman binary.
	Podman string
}

// DefaultPodman is where Debian, Fedora and Arch install podman.
const DefaultPodman = "/usr/bin/podman"

// Section and key names of ynhd's marker. systemd ignores sections whose
// names start with X-.
const (
	MarkerSection = "X-Ynhd"
	markerHashKey = "Hash"
)

// Timeouts that are not derived from the declaration.
const (
	// stopSlack is added to the app's stop timeout: podman needs it to
	// kill, clean up and remove the container after the grace period.
	stopSlack  = 30
	restartSec = "2"
	// startLimitInterval and startLimitBurst bound systemd's own restarts.
	startLimitInterval = "60"
	startLimitBurst    = "3"
)

// Render turns a valid declaration into a unit. The app must have passed
// decl.Validate without errors.
func Render(a *decl.App, o Options) (*Unit, error) {
	u, _, err := render(a, o)
	return u, err
}

// render builds the unit and serializes it once: the serialization is
// both the check that the unit is well formed and its text.
func render(a *decl.App, o Options) (*Unit, []byte, error) {
	if o.Podman == "" {
		o.Podman = DefaultPodman
	}
	r := &renderer{app: a, opts: o, u: &Unit{Sections: make([]*Section, 0, 4)}, argv: new(podman.Argv)}
	r.unit()
	b, err := r.u.appendTo(nil, sealLen)
	if err != nil {
		return nil, nil, fmt.Errorf("rendering %q: %w", a.Name, err)
	}
	return r.u, b, nil
}

// RenderBytes renders and serializes a unit, with its marker hash.
//
// It writes the text directly, without the Unit model, checking each line
// as Unit.Bytes would. A line it is not sure of makes it start over with
// the model, whose serialization (or error) is then the result, so both
// ways give the same bytes.
func RenderBytes(a *decl.App, o Options) ([]byte, error) {
	if o.Podman == "" {
		o.Podman = DefaultPodman
	}
	s := scratchPool.Get().(*scratch)
	defer s.put()
	r := &renderer{app: a, opts: o, out: s.out[:0], argv: &s.argv}
	r.unit()
	s.out = r.out
	if r.unsure {
		_, b, err := render(a, o)
		if err != nil {
			return nil, err
		}
		return sealBytes(b), nil
	}
	// The text is copied once, into a buffer of its exact size.
	b := make([]byte, 0, len(r.out)+sealLen)
	return sealBytes(append(b, r.out...)), nil
}

// scratch is the memory RenderBytes reuses from one unit to the next: the
// unit text before its final copy, and the run arguments.
type scratch struct {
	out  []byte
	argv podman.Argv
}

var scratchPool = sync.Pool{New: func() any { return &scratch{out: make([]byte, 0, 4096)} }}

// maxScratch bounds the buffer a scratch keeps: the rare huge unit does
// not pin its memory.
const maxScratch = 64 << 10

func (s *scratch) put() {
	if cap(s.out) > maxScratch {
		s.out = nil
	}
	s.argv.Reset()
	scratchPool.Put(s)
}

// renderer writes a unit's options in order, either into the Unit model
// (u set) or as the unit text itself (out).
type renderer struct {
	app  *decl.App
	opts Options
	u    *Unit
	s    *Section // the model's current section
	out  []byte
	// unsure is set when out holds a line that Unit.Bytes might refuse.
	unsure bool
	// argv is where podman's arguments are built.
	argv *podman.Argv
}

// unit renders every part of the unit, in order.
func (r *renderer) unit() {
	r.header()
	r.unitSection()
	r.serviceSection()
	r.installSection()
	r.marker()
}

// section starts the section called name, with room for n options.
func (r *renderer) section(name string, n int) {
	if r.u != nil {
		r.s = r.u.Section(name)
		r.s.Options = slices.Grow(r.s.Options, n)
		return
	}
	if !isSectionName(name) {
		r.unsure = true
	}
	if len(r.out) > 0 { // after the comments or the section before
		r.out = append(r.out, '\n')
	}
	r.out = append(r.out, '[')
	r.out = append(r.out, name...)
	r.out = append(r.out, "]\n"...)
}

// raw adds key with a value written verbatim (Section.Raw): the
// concatenation of parts.
func (r *renderer) raw(key string, parts ...string) {
	if r.u != nil {
		r.s.Raw(key, strings.Join(parts, ""))
		return
	}
	start := r.startLine(key)
	for _, p := range parts {
		r.out = append(r.out, p...)
	}
	r.endLine(start)
}

// fixed adds a line whose key and value are constants of this package.
// They are ynhd's own and the tests render them through the model, which
// checks them: the line is written without the checks of startLine and
// endLine. Nothing from a declaration may be passed here.
func (r *renderer) fixed(key, value string) {
	if r.u != nil {
		r.s.Raw(key, value)
		return
	}
	r.out = append(r.out, key...)
	r.out = append(r.out, '=')
	r.out = append(r.out, value...)
	r.out = append(r.out, '\n')
}

// rawInt adds key with n in decimal.
func (r *renderer) rawInt(key string, n int) {
	if r.u != nil {
		r.s.Raw(key, strconv.Itoa(n))
		return
	}
	start := r.startLine(key)
	r.out = strconv.AppendInt(r.out, int64(n), 10)
	r.endLine(start)
}

// text adds key with a literal value (Section.Text).
func (r *renderer) text(key, value string) {
	if r.u != nil {
		r.s.Text(key, value)
		return
	}
	start := r.startLine(key)
	r.out = appendEscapedSpecifiers(r.out, value)
	r.endLine(start)
}

// exec adds an Exec*= line (Section.Exec).
func (r *renderer) exec(key, prefix string, argv ...Word) {
	if r.u != nil {
		r.s.Exec(key, prefix, slices.Clone(argv)...) // argv itself stays the caller's
		return
	}
	start := r.startLine(key)
	r.out = append(r.out, prefix...)
	for i, w := range argv {
		if i > 0 {
			r.out = append(r.out, ' ')
		}
		r.out = appendWord(r.out, w)
	}
	r.endLine(start)
}

// execPodman adds an Exec*= line that runs podman, with the global options
// of r.podman, with args and then the words of more.
func (r *renderer) execPodman(key, prefix string, args []string, more ...Word) {
	if r.u != nil {
		r.s.Exec(key, prefix, append(r.podman(len(more), args...), more...)...)
		return
	}
	start := r.startLine(key)
	r.out = append(r.out, prefix...)
	r.appendPodman()
	for _, s := range args {
		r.out = append(r.out, ' ')
		r.out = appendWordOf(r.out, s, false)
	}
	for _, w := range more {
		r.out = append(r.out, ' ')
		r.out = appendWord(r.out, w)
	}
	r.endLine(start)
}

// cidPlaceholder is the --cidfile= argument podman.AppendRunArgs is given,
// which execRun replaces with the unit's own (it holds specifiers).
const cidPlaceholder = "\x00CID\x00"

// execRun adds the ExecStart= line of `podman run` with the arguments in
// run, its --cidfile= argument replaced by cidFlag.
func (r *renderer) execRun(run *podman.Argv, cidFlag Word) {
	if r.u != nil {
		words := r.podman(run.Len(), "run")
		for i := range run.Len() {
			if arg := string(run.Arg(i)); arg == "--cidfile="+cidPlaceholder {
				words = append(words, cidFlag)
			} else {
				words = append(words, Lit(arg))
			}
		}
		r.s.Exec("ExecStart", "", words...)
		return
	}
	start := r.startLine("ExecStart")
	r.appendPodman()
	r.out = append(r.out, " run"...)
	for i := range run.Len() {
		r.out = append(r.out, ' ')
		if arg := run.Arg(i); string(arg) == "--cidfile="+cidPlaceholder {
			r.out = appendWord(r.out, cidFlag)
		} else {
			r.out = appendWordOf(r.out, arg, false)
		}
	}
	r.endLine(start)
}

// appendPodman writes the words r.podman starts with.
func (r *renderer) appendPodman() {
	r.out = appendWordOf(r.out, r.opts.Podman, false)
	if r.opts.Mode == System {
		for _, g := range systemPodmanOptions {
			r.out = append(r.out, ' ')
			r.out = appendWordOf(r.out, g, false)
		}
	}
}

// startLine writes "key=" and returns where the line starts.
func (r *renderer) startLine(key string) int {
	if !isKey(key) {
		r.unsure = true
	}
	start := len(r.out)
	r.out = append(r.out, key...)
	r.out = append(r.out, '=')
	return start
}

// endLine checks the value of the line begun at start, conservatively,
// for what checkOption refuses, and ends the line.
func (r *renderer) endLine(start int) {
	line := r.out[start:]
	if len(line) > MaxLineLen {
		r.unsure = true
	}
	v := line[bytes.IndexByte(line, '=')+1:]
	if n := len(v); n > 0 {
		// Anything but ASCII at either end, such as a Unicode space, is
		// left to checkOption.
		first, last := v[0], v[n-1]
		if first >= utf8.RuneSelf || last >= utf8.RuneSelf || asciiSpace(first) || asciiSpace(last) || last == '\\' {
			r.unsure = true
		}
		if bytes.IndexByte(v, '\n') >= 0 || bytes.IndexByte(v, '\r') >= 0 || bytes.IndexByte(v, 0) >= 0 {
			r.unsure = true
		}
	}
	r.out = append(r.out, '\n')
}

// asciiSpace reports the ASCII characters strings.TrimSpace removes.
func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func (r *renderer) header() {
	from, file, end := "Generated by ynhd from ", r.app.File, "."
	if strings.ContainsAny(file, "\n\r\x00") {
		from, file, end = "Generated by ynhd.", "", ""
	}
	const second = "Do not edit: ynhd restores this file. Edit the declaration instead."
	if r.u != nil {
		r.u.Comments = []string{from + file + end, second}
		return
	}
	r.out = append(r.out, "# "...)
	r.out = append(r.out, from...)
	r.out = append(r.out, file...)
	r.out = append(r.out, end...)
	r.out = append(r.out, "\n# "+second+"\n"...)
}

func (r *renderer) unitSection() {
	a := r.app
	r.section("Unit", 9+len(a.Requires)+len(a.RequiresHealthy)+len(a.Wants)+len(a.After))
	desc := strings.TrimSpace(a.Description)
	if desc == "" {
		desc = "ynhd app " + a.Name
	}
	r.text("Description", strings.TrimRight(desc, `\ `))
	r.text("SourcePath", a.File)
	// systemd restarts a failing app at most startLimitBurst times per
	// startLimitInterval; past that the unit stays failed and ynhd's own
	// backoff takes over, so a crash loop never becomes a restart storm.
	r.fixed("StartLimitIntervalSec", startLimitInterval)
	r.fixed("StartLimitBurst", startLimitBurst)
	if r.opts.Mode == System {
		r.fixed("Wants", "network-online.target")
		r.fixed("After", "network-online.target")
	} else {
		r.fixed("RequiresMountsFor", "%t/containers")
		if a.Network != "none" {
			// A user unit cannot order after the system's
			// network-online.target; ynhd ships a unit that waits for it.
			r.fixed("Wants", WaitOnlineUnit)
			r.fixed("After", WaitOnlineUnit)
		}
	}
	for _, d := range a.Requires {
		r.raw("Requires", d, ".service")
	}
	for _, d := range a.RequiresHealthy {
		r.raw("Requires", d, ".service")
	}
	for _, d := range a.Wants {
		r.raw("Wants", d, ".service")
	}
	for _, d := range a.Deps() {
		r.raw("After", d, ".service")
	}
	if a.PartOf != "" {
		// Stopping or restarting the group's target stops or restarts
		// the app too (systemd.unit(5), PartOf=).
		r.raw("PartOf", GroupUnit(a.PartOf))
	}
}

// WaitOnlineUnit is the user unit, installed with ynhd, that waits for the
// system's network-online.target (ynhd wait-online).
const WaitOnlineUnit = "ynhd-network-online.service"

// stateDir is the app's StateDirectory/RuntimeDirectory name in system mode.
func (r *renderer) stateDir() string { return "ynhd/" + r.app.Name }

func (r *renderer) serviceSection() {
	a := r.app
	r.section("Service", 32)
	r.fixed("Environment", "PODMAN_SYSTEMD_UNIT=%n")
	static := false
	if r.opts.Mode == System {
		static = r.systemUser()
	}
	r.fixed("Type", "notify")
	r.fixed("NotifyAccess", "all")
	r.fixed("KillMode", "mixed")
	// The user manager delegates the unit's cgroup to podman
	// (--cgroups=split). A static system user gets it too: an init system
	// in the container manages its own part of the tree.
	if r.opts.Mode == User || static {
		r.fixed("Delegate", "yes")
	}
	r.fixed("SyslogIdentifier", "%N")
	// conmon exits with the container's status, and a container that was
	// stopped ends with 143 (SIGTERM) or, after the stop timeout, 137
	// (SIGKILL). Counted as failures, they would leave every stopped app
	// "failed" and make restart jobs fail.
	r.fixed("SuccessExitStatus", "137 143")
	r.raw("Restart", a.Restart)
	r.fixed("RestartSec", restartSec)
	r.rawInt("TimeoutStartSec", podman.StartSeconds(a))
	stop := podman.StopSeconds(a)
	r.rawInt("TimeoutStopSec", stop+stopSlack)

	cid, cidFlag := "%t/%N.cid", Spec("--cidfile=%t/%N.cid")
	if r.opts.Mode == System {
		cid = r.runtimeDir() + "/%N.cid"
		cidFlag = Spec("--cidfile=" + cid)
	}

	// podman 4.3 leaves the cidfile behind when the container is removed
	// from outside; a stale one makes the next run fail.
	if !a.Persistent {
		r.exec("ExecStartPre", "-", Lit("rm"), Lit("-f"), Spec(cid))
	}
	// Volumes with driver options and named networks must exist before the
	// container starts: a volume podman made on the fly would lack its
	// options. In user mode ynhd creates them before it starts the app
	// (and again if they go), so the unit only checks: a start without
	// them fails rather than run without its options. In system mode the
	// app's user has its own storage, so the unit creates them; podman 4.3
	// has no `create --ignore`, so those commands may fail ("-") on an
	// existing volume or network, which they leave as it is.
	for _, v := range a.Volumes {
		if v.Driver != "" || len(v.Options) > 0 {
			if r.opts.Mode == User {
				r.execPodman("ExecStartPre", "", []string{"volume", "exists", v.Name})
			} else {
				r.execPodman("ExecStartPre", "-", append([]string{"volume", "create"}, podman.VolumeCreateArgs(v)...))
			}
		}
	}
	if podman.NeedsNetwork(a) {
		if r.opts.Mode == User {
			r.execPodman("ExecStartPre", "", []string{"network", "exists", a.Network})
		} else {
			r.execPodman("ExecStartPre", "-", []string{"network", "create", "--label=" + podman.LabelManaged + "=true", a.Network})
		}
	}
	// Dependencies that must be healthy: the start fails (and is retried
	// by Restart=) until their check passes. ynhd itself holds the start
	// back until then, so this matters when the manager starts the apps
	// without it.
	for _, d := range a.RequiresHealthy {
		r.execPodman("ExecStartPre", "", []string{"healthcheck", "run", d})
	}

	// A transient user's unit cgroup is not delegated: podman must not
	// create cgroups. A static user's is (Delegate=yes), and an init system
	// in a container with a user namespace of its own (userns = "auto")
	// only boots in a cgroup podman made for it and handed to container
	// root, so podman splits there too. In system mode the unit enforces
	// the resource limits either way.
	ro := podman.RunOptions{Cgroups: podman.CgroupsSplit, CIDFile: cidPlaceholder}
	if r.opts.Mode == System {
		ro.UnitLimits = true
		if !static {
			ro.Cgroups = podman.CgroupsDisabled
		}
	}
	if a.Persistent {
		// ynhd created the container (podman.CreateArgs); the unit starts
		// and stops that same one and never removes it.
		r.execPodman("ExecStart", "", []string{"start", a.Name})
		r.execPodman("ExecStop", "", []string{"stop", "--ignore", "--time=" + strconv.Itoa(stop), a.Name})
		return
	}
	r.argv.Reset()
	podman.AppendRunArgs(r.argv, a, ro)
	r.execRun(r.argv, cidFlag)
	stopTime := "--time=" + strconv.Itoa(stop)
	r.execPodman("ExecStop", "", []string{"stop", "--ignore", stopTime}, cidFlag)
	r.execPodman("ExecStopPost", "-", []string{"rm", "--force", "--ignore", stopTime}, cidFlag)
	r.exec("ExecStopPost", "-", Lit("rm"), Lit("-f"), Spec(cid))
}

// runtimeDir is where the cidfile lives: the user's runtime directory, or
// the unit's RuntimeDirectory in system mode.
func (r *renderer) runtimeDir() string {
	if r.opts.Mode == System {
		return "%t/" + r.stateDir()
	}
	return "%t"
}

// podman returns a podman command line: the binary, its global options
// and args, with room for extra more words. In system mode the global
// options are set: without a login session there is no D-Bus for the
// systemd cgroup manager or the journald event logger.
func (r *renderer) podman(extra int, args ...string) []Word {
	ws := make([]Word, 0, 3+len(args)+extra)
	ws = append(ws, Lit(r.opts.Podman))
	if r.opts.Mode == System {
		for _, g := range systemPodmanOptions {
			ws = append(ws, Lit(g))
		}
	}
	for _, a := range args {
		ws = append(ws, Lit(a))
	}
	return ws
}

// systemPodmanOptions are podman's global options in system mode.
var systemPodmanOptions = []string{"--cgroup-manager=cgroupfs", "--events-backend=file"}

// systemUser makes the service run as the app's system user, a dynamic
// one or a static one with subordinate ids (decl.App.SystemRoute), with its
// podman state in the unit's own directories (see docs/system-mode.md). It
// reports whether the user is static.
func (r *renderer) systemUser() bool {
	a := r.app
	dir := r.stateDir()
	route, _ := a.SystemRoute()
	if route == decl.RouteStatic {
		r.raw("User", SystemUserName(a.Name))
		r.raw("Group", SystemUserName(a.Name))
	} else {
		r.fixed("DynamicUser", "yes")
		r.raw("User", SystemUserName(a.Name))
	}
	r.raw("StateDirectory", dir)
	r.fixed("StateDirectoryMode", "0700")
	r.raw("RuntimeDirectory", dir)
	r.fixed("RuntimeDirectoryMode", "0700")
	r.raw("Environment", "HOME=%S/"+dir)
	r.raw("Environment", "XDG_RUNTIME_DIR=%t/"+dir)
	r.raw("Environment", "XDG_CONFIG_HOME=%S/"+dir+"/config")
	r.raw("Environment", "XDG_DATA_HOME=%S/"+dir+"/data")
	r.raw("Environment", "TMPDIR=%S/"+dir+"/tmp")
	r.exec("ExecStartPre", "", Lit("mkdir"), Lit("-p"), Spec("%S/"+dir+"/config"), Spec("%S/"+dir+"/data"), Spec("%S/"+dir+"/tmp"))
	res := a.Resources
	if b, err := res.MemoryBytes(); err == nil && res.Memory != "" {
		r.raw("MemoryMax", strconv.FormatInt(b, 10))
	}
	if res.CPUs > 0 {
		r.raw("CPUQuota", strconv.Itoa(int(res.CPUs*100+0.5))+"%") // no specifiers here
	}
	if res.Pids > 0 {
		r.raw("TasksMax", strconv.Itoa(res.Pids))
	}
	return route == decl.RouteStatic
}

// SystemUserName is the user a system-mode app runs as, dynamic or static
// (decl.SystemUserName).
func SystemUserName(app string) string { return decl.SystemUserName(app) }

func (r *renderer) installSection() {
	r.section("Install", 1)
	if r.opts.Mode == System {
		r.fixed("WantedBy", "multi-user.target")
	} else {
		r.fixed("WantedBy", "default.target")
	}
}

func (r *renderer) marker() {
	r.section(MarkerSection, 3)
	r.text("Source", r.app.File)
	r.rawInt("Schema", decl.SchemaVersion)
	r.fixed("Mode", r.opts.Mode.String())
	if r.opts.Mode == User {
		// The volumes ynhd creates before a start, as it creates them: a
		// change of their options changes the unit, so ynhd looks at the
		// volume again (and says that an existing volume keeps its own).
		for _, v := range r.app.Volumes {
			if v.Driver != "" || len(v.Options) > 0 {
				r.argv.Reset()
				podman.AppendVolumeCreateArgs(r.argv, v)
				r.textArgs("Volume", r.argv)
			}
		}
	}
}

// textArgs adds key with the arguments of argv joined by spaces, as a
// literal value (Section.Text).
func (r *renderer) textArgs(key string, argv *podman.Argv) {
	if r.u != nil {
		r.s.Text(key, strings.Join(argv.Strings(), " "))
		return
	}
	start := r.startLine(key)
	for i := range argv.Len() {
		if i > 0 {
			r.out = append(r.out, ' ')
		}
		r.out = appendEscapedSpecifiers(r.out, argv.Arg(i))
	}
	r.endLine(start)
}
