// Package podman holds what ynhd knows about driving podman: the tables that
// turn a declaration into `podman run` and `podman volume create` arguments.
// The functions here are pure: they build argument vectors and never run
// podman. Quoting the vectors for a unit file is the units package's job.
package podman

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ynhd/ynhd/internal/decl"
)

// LabelApp is the label ynhd puts on every container it runs; its value is
// the app name.
const LabelApp = "io.ynhd.app"

// LabelManaged marks volumes and networks that ynhd created.
const LabelManaged = "io.ynhd.managed"

// Cgroups says how the container relates to the unit's cgroup.
type Cgroups int

const (
	// CgroupsSplit runs conmon and the container in the unit's cgroup
	// (podman --cgroups=split, needs Delegate=yes): the user manager case.
	CgroupsSplit Cgroups = iota
	// CgroupsDisabled leaves cgroups to systemd entirely (podman
	// --cgroups=disabled): the DynamicUser system case, where podman has no
	// D-Bus session to ask for a scope. Resource limits then come from the
	// unit's own MemoryMax=/CPUQuota=/TasksMax=.
	CgroupsDisabled
)

// RunOptions are the parts of `podman run` that depend on where the unit
// runs, not on the declaration.
type RunOptions struct {
	Cgroups Cgroups
	// UnitLimits says the unit enforces [resources] itself
	// (MemoryMax=, CPUQuota=, TasksMax=): podman gets no limit flags.
	// Implied by CgroupsDisabled.
	UnitLimits bool
	// CIDFile is where podman writes the container ID (may contain unit
	// specifiers; the caller quotes it accordingly).
	CIDFile string
}

// flagTable maps declaration keys to podman run flags, in the order they
// appear on the command line. Each entry reads one part of the app and
// appends its flags to v.
var flagTable = []func(v *Argv, a *decl.App, o RunOptions){
	identityFlags,
	processFlags,
	envFlags,
	portFlags,
	mountFlags,
	networkFlags,
	securityFlags,
	healthFlags,
	resourceFlags,
	lifecycleFlags,
	labelFlags,
}

// RunArgs returns the `podman run` arguments (after "run", up to and
// including the image and command) for app. The container is named after
// the app, detached, replaces a leftover container of the same name, and
// notifies systemd when it is up (conmon, or the container's own init in
// systemd mode).
func RunArgs(a *decl.App, o RunOptions) []string {
	var v Argv
	AppendRunArgs(&v, a, o)
	return v.Strings()
}

// AppendRunArgs appends the arguments RunArgs returns to v.
func AppendRunArgs(v *Argv, a *decl.App, o RunOptions) {
	v.add("--name=", a.Name)
	v.add("--cidfile=", o.CIDFile)
	v.add("--replace")
	v.add("--detach")
	switch o.Cgroups {
	case CgroupsDisabled:
		v.add("--cgroups=disabled")
	default:
		v.add("--cgroups=split")
	}
	if a.Systemd {
		v.add("--systemd=always")
		v.add("--sdnotify=container")
	} else {
		v.add("--sdnotify=conmon")
	}
	if a.TTY {
		// PID 1 writes its boot and shutdown messages to the console:
		// with a terminal they reach the journal.
		v.add("--tty")
	}
	for _, f := range flagTable {
		f(v, a, o)
	}
	v.addAll(a.PodmanArgs)
	v.add(a.ImageRef())
	v.addAll(a.Command)
}

func identityFlags(v *Argv, a *decl.App, _ RunOptions) {
	if a.Hostname != "" {
		v.add("--hostname=", a.Hostname)
	}
	if a.User != "" {
		if a.Group != "" {
			v.add("--user=", a.User, ":", a.Group)
		} else {
			v.add("--user=", a.User)
		}
	}
	if a.UserNS != "" {
		v.add("--userns=", a.UserNS)
	}
	for _, m := range a.UIDMap {
		v.add("--uidmap=", m)
	}
	for _, m := range a.GIDMap {
		v.add("--gidmap=", m)
	}
	for _, g := range a.GroupAdd {
		v.add("--group-add=", g)
	}
}

func processFlags(v *Argv, a *decl.App, _ RunOptions) {
	if len(a.Entrypoint) > 0 {
		v.buf = append(v.buf, "--entrypoint="...)
		v.buf = appendJSONArray(v.buf, a.Entrypoint)
		v.end()
	}
	if a.Workdir != "" {
		v.add("--workdir=", a.Workdir)
	}
	if a.Init {
		v.add("--init")
	}
	if a.TZ != "" {
		v.add("--tz=", a.TZ)
	}
}

func envFlags(v *Argv, a *decl.App, _ RunOptions) {
	for _, f := range a.EnvFiles {
		v.add("--env-file=", f)
	}
	for _, k := range v.sortedKeys(a.Env) {
		v.add("--env=", k, "=", a.Env[k])
	}
	// A secret is named, never given by value.
	for _, s := range a.Secrets {
		v.add("--secret=", s.PodmanName(a.Name), ",type=", s.Type, ",target=", s.Target)
	}
}

func portFlags(v *Argv, a *decl.App, _ RunOptions) {
	for _, p := range a.Ports {
		v.buf = append(v.buf, "--publish="...)
		if ip := p.HostIP; ip != "" {
			if strings.Contains(ip, ":") {
				v.buf = append(v.buf, '[')
				v.buf = append(v.buf, ip...)
				v.buf = append(v.buf, ']')
			} else {
				v.buf = append(v.buf, ip...)
			}
			v.buf = append(v.buf, ':')
		}
		v.buf = strconv.AppendInt(v.buf, int64(p.HostPort), 10)
		v.buf = append(v.buf, ':')
		v.buf = strconv.AppendInt(v.buf, int64(p.ContainerPort), 10)
		if p.Protocol != "" && p.Protocol != decl.DefaultProtocol {
			v.buf = append(v.buf, '/')
			v.buf = append(v.buf, p.Protocol...)
		}
		v.end()
	}
}

func mountFlags(v *Argv, a *decl.App, _ RunOptions) {
	for _, vol := range a.Volumes {
		if vol.SELinux != "" {
			// podman 4.3's --mount type=volume takes no relabel option
			// (4.6 added it); --volume takes z and Z for named volumes.
			ro := ""
			if vol.ReadOnly {
				ro = "ro,"
			}
			v.add("--volume=", vol.Name, ":", vol.Target, ":", ro, VolumeRelabel(vol.SELinux))
			continue
		}
		ro := ""
		if vol.ReadOnly {
			ro = ",ro=true"
		}
		v.add("--mount=type=volume,source=", vol.Name, ",destination=", vol.Target, ro)
	}
	for _, b := range a.Binds {
		v.buf = append(v.buf, "--volume="...)
		v.buf = append(v.buf, b.Source...)
		v.buf = append(v.buf, ':')
		v.buf = append(v.buf, b.Target...)
		sep := byte(':')
		if b.ReadOnly {
			v.buf = append(v.buf, sep, 'r', 'o')
			sep = ','
		}
		if b.SELinux != "" {
			v.buf = append(v.buf, sep)
			v.buf = append(v.buf, b.SELinux...)
		}
		v.end()
	}
	for _, t := range a.Tmpfs {
		v.buf = append(v.buf, "--tmpfs="...)
		v.buf = append(v.buf, t.Target...)
		for i, opt := range t.Options {
			if i == 0 {
				v.buf = append(v.buf, ':')
			} else {
				v.buf = append(v.buf, ',')
			}
			v.buf = append(v.buf, opt...)
		}
		v.end()
	}
	if a.ShmSize != "" {
		v.add("--shm-size=", decl.SizeArg(a.ShmSize))
	}
}

// VolumeRelabel is the --volume option of a volume's selinux value: Z
// (private) or z (shared).
func VolumeRelabel(selinux string) string {
	switch selinux {
	case "private":
		return "Z"
	case "shared":
		return "z"
	}
	return ""
}

func networkFlags(v *Argv, a *decl.App, _ RunOptions) {
	if a.Network != "" {
		v.add("--network=", a.Network)
	}
	for _, d := range a.DNS {
		v.add("--dns=", d)
	}
	for _, h := range a.AddHost {
		v.add("--add-host=", h)
	}
	for _, al := range a.NetworkAliases {
		v.add("--network-alias=", al)
	}
}

func securityFlags(v *Argv, a *decl.App, _ RunOptions) {
	for _, c := range a.CapDrop {
		n, _ := decl.NormalizeCap(c)
		v.add("--cap-drop=", n)
	}
	for _, c := range a.CapAdd {
		n, _ := decl.NormalizeCap(c)
		v.add("--cap-add=", n)
	}
	if a.NoNewPrivileges {
		v.add("--security-opt=no-new-privileges")
	}
	if a.ReadOnly {
		v.add("--read-only")
	}
	for _, d := range a.Devices {
		v.add("--device=", d)
	}
	for _, k := range v.sortedKeys(a.Sysctls) {
		v.add("--sysctl=", k, "=", a.Sysctls[k])
	}
	for _, k := range v.sortedKeys(a.Ulimits) {
		v.add("--ulimit=", k, "=", a.Ulimits[k])
	}
}

func healthFlags(v *Argv, a *decl.App, _ RunOptions) {
	h := a.Health
	if h == nil {
		return
	}
	v.buf = append(v.buf, "--health-cmd="...)
	v.buf = appendJSONArray(v.buf, h.Cmd)
	v.end()
	if h.Interval.Duration > 0 {
		v.add("--health-interval=", h.Interval.String())
	}
	if h.Timeout.Duration > 0 {
		v.add("--health-timeout=", h.Timeout.String())
	}
	if h.Retries > 0 {
		v.addInt("--health-retries=", h.Retries)
	}
	if h.StartPeriod.Duration > 0 {
		v.add("--health-start-period=", h.StartPeriod.String())
	}
	if h.OnFailure != "" && h.OnFailure != "none" {
		v.add("--health-on-failure=", h.OnFailure)
	}
}

func resourceFlags(v *Argv, a *decl.App, o RunOptions) {
	if o.Cgroups == CgroupsDisabled || o.UnitLimits {
		return // enforced by the unit (see units.Render)
	}
	r := a.Resources
	if r.Memory != "" {
		v.add("--memory=", decl.SizeArg(r.Memory))
	}
	if r.CPUs > 0 {
		v.buf = append(v.buf, "--cpus="...)
		v.buf = strconv.AppendFloat(v.buf, r.CPUs, 'f', -1, 64)
		v.end()
	}
	if r.Pids > 0 {
		v.addInt("--pids-limit=", r.Pids)
	}
}

func lifecycleFlags(v *Argv, a *decl.App, _ RunOptions) {
	if a.StopSignal != "" {
		s, _ := decl.NormalizeSignal(a.StopSignal)
		v.add("--stop-signal=", s)
	}
	v.addInt("--stop-timeout=", StopSeconds(a))
	v.add("--log-driver=", a.LogDriver)
	for _, k := range v.sortedKeys(a.LogOptions) {
		v.add("--log-opt=", k, "=", a.LogOptions[k])
	}
	switch {
	case a.Build != nil:
		v.add("--pull=never") // built locally, never pulled
	case a.Pull != "":
		v.add("--pull=", a.Pull)
	}
}

func labelFlags(v *Argv, a *decl.App, _ RunOptions) {
	v.add("--label="+LabelApp+"=", a.Name)
	for _, k := range v.sortedKeys(a.Labels) {
		v.add("--label=", k, "=", a.Labels[k])
	}
}

// StopSeconds is the app's stop timeout in whole seconds, rounded up.
func StopSeconds(a *decl.App) int {
	s := int((a.StopTimeout.Duration + 999_999_999) / 1_000_000_000)
	return max(s, 0)
}

// StartSeconds is how long systemd waits for the app to start, in whole
// seconds, rounded up: start_timeout or decl.DefaultStartTimeout.
func StartSeconds(a *decl.App) int {
	d := decl.DefaultStartTimeout
	if a.StartTimeout != nil {
		d = a.StartTimeout.Duration
	}
	return max(int((d+999_999_999)/1_000_000_000), 0)
}

// VolumeCreateArgs returns the `podman volume create` arguments (after
// "create") that make v exist with its driver and options. podman 4.3 has no
// --ignore: on an existing volume the command fails without touching it or
// its data, so callers treat that failure as success.
func VolumeCreateArgs(vol decl.Volume) []string {
	var v Argv
	AppendVolumeCreateArgs(&v, vol)
	return v.Strings()
}

// AppendVolumeCreateArgs appends the arguments VolumeCreateArgs returns to
// v.
func AppendVolumeCreateArgs(v *Argv, vol decl.Volume) {
	if vol.Driver != "" {
		v.add("--driver=", vol.Driver)
	}
	for _, k := range v.sortedKeys(vol.Options) {
		v.add("--opt=", k, "=", vol.Options[k])
	}
	v.add("--label=" + LabelManaged + "=true")
	v.add(vol.Name)
}

// NeedsNetwork reports whether app names a network that must exist before
// it starts (not one of podman's built-in modes).
func NeedsNetwork(a *decl.App) bool { return a.NamedNetwork() }

// jsonArray writes argv as a JSON array of strings, exactly as
// encoding/json marshals a []string (HTML-safe escapes included), without
// its reflection.
func jsonArray(argv []string) string {
	if argv == nil {
		return "null"
	}
	n := 2
	for _, s := range argv {
		n += len(s) + 3
	}
	return string(appendJSONArray(make([]byte, 0, n), argv))
}

// appendJSONArray appends argv as jsonArray writes it.
func appendJSONArray(b []byte, argv []string) []byte {
	if argv == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range argv {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString appends s as a JSON string: quote and backslash
// escaped, control characters, '<', '>' and '&' as \u00XX (or \b, \f,
// \n, \r, \t), U+2028 and U+2029 as \u2028 and \u2029, and each byte of
// invalid UTF-8 as \ufffd.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				b = append(b, `\ufffd`...)
			case r == '\u2028' || r == '\u2029':
				b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			default:
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		i++
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\f':
			b = append(b, '\\', 'f')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		case '<', '>', '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// Labels on a persistent app's container (see package keep).
const (
	LabelConfig = "io.ynhd.config"
	LabelBase   = "io.ynhd.base"
)

// CreateArgs returns the `podman create` arguments (after "create") of a
// persistent app's container, created from image (the declaration's
// image, or a snapshot of the app's container): RunArgs without what only
// a run that replaces its container needs (cidfile, replace, detach),
// with labels that say which settings (ConfigHash) and which base image
// (the image its file system started from) it was created with.
func CreateArgs(a *decl.App, o RunOptions, image, base string) []string {
	args := createArgs(a, o)
	n := len(args) - len(a.Command) - 1 // the image's index
	out := make([]string, 0, len(args)+2)
	out = append(out, args[:n]...)
	out = append(out, "--label="+LabelConfig+"="+ConfigHash(a, o), "--label="+LabelBase+"="+base, image)
	return append(out, args[n+1:]...)
}

func createArgs(a *decl.App, o RunOptions) []string {
	o.CIDFile = ""
	run := RunArgs(a, o)
	args := make([]string, 0, len(run))
	for _, s := range run {
		switch {
		case s == "--replace", s == "--detach", strings.HasPrefix(s, "--cidfile="):
			continue
		}
		args = append(args, s)
	}
	return args
}

// ConfigHash is what a persistent app's container must carry in
// LabelConfig to match the declaration: a hash of its create arguments.
func ConfigHash(a *decl.App, o RunOptions) string {
	h := sha256.New()
	for _, s := range createArgs(a, o) {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))[:32]
}
