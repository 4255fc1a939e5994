// Package podman holds what ynhd knows about driving podman: the tables that
// turn a declaration into `podman run` and `podman volume create` arguments.
// The functions here are pure: they build argument vectors and never run
// podman. Quoting the vectors for a unit file is the units package's job.
package podman

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
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
// appends its flags to args.
var flagTable = []func(args []string, a *decl.App, o RunOptions) []string{
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
	// One slice for them all: a typical app has a few dozen arguments.
	args := make([]string, 0, 48+len(a.PodmanArgs)+len(a.Command))
	args = append(args,
		"--name="+a.Name,
		"--cidfile="+o.CIDFile,
		"--replace",
		"--detach",
	)
	switch o.Cgroups {
	case CgroupsDisabled:
		args = append(args, "--cgroups=disabled")
	default:
		args = append(args, "--cgroups=split")
	}
	if a.Systemd {
		args = append(args, "--systemd=always", "--sdnotify=container")
	} else {
		args = append(args, "--sdnotify=conmon")
	}
	if a.TTY {
		// PID 1 writes its boot and shutdown messages to the console:
		// with a terminal they reach the journal.
		args = append(args, "--tty")
	}
	for _, f := range flagTable {
		args = f(args, a, o)
	}
	args = append(args, a.PodmanArgs...)
	args = append(args, a.ImageRef())
	args = append(args, a.Command...)
	return args
}

func identityFlags(args []string, a *decl.App, _ RunOptions) []string {
	if a.Hostname != "" {
		args = append(args, "--hostname="+a.Hostname)
	}
	if a.User != "" {
		u := a.User
		if a.Group != "" {
			u += ":" + a.Group
		}
		args = append(args, "--user="+u)
	}
	if a.UserNS != "" {
		args = append(args, "--userns="+a.UserNS)
	}
	for _, m := range a.UIDMap {
		args = append(args, "--uidmap="+m)
	}
	for _, m := range a.GIDMap {
		args = append(args, "--gidmap="+m)
	}
	for _, g := range a.GroupAdd {
		args = append(args, "--group-add="+g)
	}
	return args
}

func processFlags(args []string, a *decl.App, _ RunOptions) []string {
	if len(a.Entrypoint) > 0 {
		args = append(args, "--entrypoint="+jsonArray(a.Entrypoint))
	}
	if a.Workdir != "" {
		args = append(args, "--workdir="+a.Workdir)
	}
	if a.Init {
		args = append(args, "--init")
	}
	if a.TZ != "" {
		args = append(args, "--tz="+a.TZ)
	}
	return args
}

func envFlags(args []string, a *decl.App, _ RunOptions) []string {
	for _, f := range a.EnvFiles {
		args = append(args, "--env-file="+f)
	}
	for _, k := range sortedKeys(a.Env) {
		args = append(args, "--env="+k+"="+a.Env[k])
	}
	return args
}

func portFlags(args []string, a *decl.App, _ RunOptions) []string {
	for _, p := range a.Ports {
		spec := strconv.Itoa(p.HostPort) + ":" + strconv.Itoa(p.ContainerPort)
		if p.HostIP != "" {
			ip := p.HostIP
			if strings.Contains(ip, ":") {
				ip = "[" + ip + "]"
			}
			spec = ip + ":" + spec
		}
		if p.Protocol != "" && p.Protocol != decl.DefaultProtocol {
			spec += "/" + p.Protocol
		}
		args = append(args, "--publish="+spec)
	}
	return args
}

func mountFlags(args []string, a *decl.App, _ RunOptions) []string {
	for _, v := range a.Volumes {
		if v.SELinux != "" {
			// podman 4.3's --mount type=volume takes no relabel option
			// (4.6 added it); --volume takes z and Z for named volumes.
			args = append(args, "--volume="+volumeSpec(v))
			continue
		}
		spec := "type=volume,source=" + v.Name + ",destination=" + v.Target
		if v.ReadOnly {
			spec += ",ro=true"
		}
		args = append(args, "--mount="+spec)
	}
	for _, b := range a.Binds {
		spec := b.Source + ":" + b.Target
		var opts []string
		if b.ReadOnly {
			opts = append(opts, "ro")
		}
		if b.SELinux != "" {
			opts = append(opts, b.SELinux)
		}
		if len(opts) > 0 {
			spec += ":" + strings.Join(opts, ",")
		}
		args = append(args, "--volume="+spec)
	}
	for _, t := range a.Tmpfs {
		spec := t.Target
		if len(t.Options) > 0 {
			spec += ":" + strings.Join(t.Options, ",")
		}
		args = append(args, "--tmpfs="+spec)
	}
	if a.ShmSize != "" {
		args = append(args, "--shm-size="+decl.SizeArg(a.ShmSize))
	}
	return args
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

// volumeSpec is NAME:TARGET:OPTIONS for --volume.
func volumeSpec(v decl.Volume) string {
	spec := v.Name + ":" + v.Target + ":"
	if v.ReadOnly {
		spec += "ro,"
	}
	return spec + VolumeRelabel(v.SELinux)
}

func networkFlags(args []string, a *decl.App, _ RunOptions) []string {
	if a.Network != "" {
		args = append(args, "--network="+a.Network)
	}
	for _, d := range a.DNS {
		args = append(args, "--dns="+d)
	}
	for _, h := range a.AddHost {
		args = append(args, "--add-host="+h)
	}
	for _, al := range a.NetworkAliases {
		args = append(args, "--network-alias="+al)
	}
	return args
}

func securityFlags(args []string, a *decl.App, _ RunOptions) []string {
	for _, c := range a.CapDrop {
		n, _ := decl.NormalizeCap(c)
		args = append(args, "--cap-drop="+n)
	}
	for _, c := range a.CapAdd {
		n, _ := decl.NormalizeCap(c)
		args = append(args, "--cap-add="+n)
	}
	if a.NoNewPrivileges {
		args = append(args, "--security-opt=no-new-privileges")
	}
	if a.ReadOnly {
		args = append(args, "--read-only")
	}
	for _, d := range a.Devices {
		args = append(args, "--device="+d)
	}
	for _, k := range sortedKeys(a.Sysctls) {
		args = append(args, "--sysctl="+k+"="+a.Sysctls[k])
	}
	for _, k := range sortedKeys(a.Ulimits) {
		args = append(args, "--ulimit="+k+"="+a.Ulimits[k])
	}
	return args
}

func healthFlags(args []string, a *decl.App, _ RunOptions) []string {
	h := a.Health
	if h == nil {
		return args
	}
	args = append(args, "--health-cmd="+jsonArray(h.Cmd))
	if h.Interval.Duration > 0 {
		args = append(args, "--health-interval="+h.Interval.String())
	}
	if h.Timeout.Duration > 0 {
		args = append(args, "--health-timeout="+h.Timeout.String())
	}
	if h.Retries > 0 {
		args = append(args, "--health-retries="+strconv.Itoa(h.Retries))
	}
	if h.StartPeriod.Duration > 0 {
		args = append(args, "--health-start-period="+h.StartPeriod.String())
	}
	if h.OnFailure != "" && h.OnFailure != "none" {
		args = append(args, "--health-on-failure="+h.OnFailure)
	}
	return args
}

func resourceFlags(args []string, a *decl.App, o RunOptions) []string {
	if o.Cgroups == CgroupsDisabled || o.UnitLimits {
		return args // enforced by the unit (see units.Render)
	}
	r := a.Resources
	if r.Memory != "" {
		args = append(args, "--memory="+decl.SizeArg(r.Memory))
	}
	if r.CPUs > 0 {
		args = append(args, "--cpus="+strconv.FormatFloat(r.CPUs, 'f', -1, 64))
	}
	if r.Pids > 0 {
		args = append(args, "--pids-limit="+strconv.Itoa(r.Pids))
	}
	return args
}

func lifecycleFlags(args []string, a *decl.App, _ RunOptions) []string {
	if a.StopSignal != "" {
		s, _ := decl.NormalizeSignal(a.StopSignal)
		args = append(args, "--stop-signal="+s)
	}
	args = append(args, "--stop-timeout="+strconv.Itoa(StopSeconds(a)))
	args = append(args, "--log-driver="+a.LogDriver)
	for _, k := range sortedKeys(a.LogOptions) {
		args = append(args, "--log-opt="+k+"="+a.LogOptions[k])
	}
	switch {
	case a.Build != nil:
		args = append(args, "--pull=never") // built locally, never pulled
	case a.Pull != "":
		args = append(args, "--pull="+a.Pull)
	}
	return args
}

func labelFlags(args []string, a *decl.App, _ RunOptions) []string {
	args = append(args, "--label="+LabelApp+"="+a.Name)
	for _, k := range sortedKeys(a.Labels) {
		args = append(args, "--label="+k+"="+a.Labels[k])
	}
	return args
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
func VolumeCreateArgs(v decl.Volume) []string {
	var args []string
	if v.Driver != "" {
		args = append(args, "--driver="+v.Driver)
	}
	for _, k := range sortedKeys(v.Options) {
		args = append(args, "--opt="+k+"="+v.Options[k])
	}
	args = append(args, "--label="+LabelManaged+"=true", v.Name)
	return args
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
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, s := range argv {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return string(append(b, ']'))
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

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
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
