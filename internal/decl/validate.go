package decl

import (
	"fmt"
	"net/netip"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/containers/common/pkg/signal"
	units "github.com/docker/go-units"
	"golang.org/x/sys/unix"
)

// Host holds the facts about the host that validation depends on. The zero
// value means a rootful host without port restrictions.
type Host struct {
	// Rootless is true when apps run as an unprivileged user (user mode).
	Rootless bool
	// UnprivilegedPortStart is net.ipv4.ip_unprivileged_port_start: rootless
	// podman cannot publish host ports below it.
	UnprivilegedPortStart int
	// System is true in system mode: apps become system units that run
	// rootless podman as a dynamic or static system user.
	System bool
}

// reservedNames cannot be app names: their units would shadow units that
// ynhd or the session itself depends on.
var reservedNames = map[string]bool{"ynhd": true, "dbus": true, "podman": true, "default": true}

// reservedLabelPrefix is the label namespace ynhd sets on its containers.
const reservedLabelPrefix = "io.ynhd."

var (
	pullPolicies   = set("missing", "always", "never", "newer")
	restartValues  = set("no", "on-success", "on-failure", "on-abnormal", "on-abort", "on-watchdog", "always")
	logDrivers     = set("journald", "k8s-file", "json-file", "passthrough", "none")
	protocols      = set("tcp", "udp", "sctp")
	healthActions  = set("none", "kill", "restart", "stop")
	selinuxLabels  = set("", "z", "Z")
	builtinNets    = set("", "none", "host", "slirp4netns", "pasta", "bridge", "private")
	usernsModes    = set("", "host", "auto", "keep-id", "nomap", "private")
	ulimitNames    = set("as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack")
	podmanNetworks = set("slirp4netns", "pasta")
)

func set(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		if k != "" {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

type validator struct {
	app *App
	pos *positions
	ds  Diagnostics
}

// report adds a diagnostic about key, whose position is looked up only
// when it is needed (see Diagnostic).
func (v *validator) report(sev Severity, key, format string, args ...any) {
	v.ds = append(v.ds, Diagnostic{File: v.app.File, Key: key, at: v.pos,
		Severity: sev, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) errf(key, format string, args ...any) { v.report(Error, key, format, args...) }
func (v *validator) warnf(key, format string, args ...any) {
	v.report(Warning, key, format, args...)
}

// Validate checks one decoded declaration's values. It does not look at
// other apps (see ValidateSet) and does no I/O: what it needs to know about
// the host comes in host.
func Validate(p *Parsed, host Host) Diagnostics {
	v := &validator{app: p.App, pos: p.pos}
	if v.pos == nil {
		v.pos = &positions{at: map[string]Pos{}}
	}
	a := p.App
	v.strings()
	v.name()
	v.image()
	v.process()
	v.ports(host)
	v.mounts()
	v.identity()
	v.network()
	v.runOptions()
	v.lifecycle()
	v.health()
	v.update(host)
	v.resources()
	v.systemUser(host)
	v.persistent(host)
	v.kv("env", a.Env, isEnvKey, "must start with a letter or _ and contain only letters, digits and _")
	v.secrets()
	v.declaredSecrets(host)
	v.kv("labels", a.Labels, isLabelKey, "must start with a letter or digit and contain only letters, digits, '.', '_', '/', '-'")
	for k := range a.Labels {
		if strings.HasPrefix(k, reservedLabelPrefix) {
			v.errf("labels."+k, "labels starting with %q are set by ynhd; choose another name", reservedLabelPrefix)
		}
	}
	v.ds.Sort()
	return v.ds
}

// strings rejects control characters that could break a unit file line in
// every string of the declaration, map keys included, and strings beyond
// the bounds of shape.go (Decode checks them on the raw text already; an
// App built otherwise is checked here).
func (v *validator) strings() {
	// A fast look first: most declarations have no problem, and walking
	// them with key paths costs an allocation per string.
	if total, suspect := scanStrings(v.app); !suspect && total <= MaxValuesTotal {
		if n := len(v.app.Description); n > MaxDescriptionLen {
			v.errf("description", "%d bytes, more than the %d (1 KiB) a description may have: it is the unit's one-line Description=", n, MaxDescriptionLen)
		}
		return
	}
	total := 0
	walkStrings(reflect.ValueOf(v.app).Elem(), "", func(key, s string) {
		total += len(s)
		if i := strings.IndexAny(s, "\n\r\x00"); i >= 0 {
			v.errf(key, "value contains a newline or NUL character; these are not allowed in declarations")
		} else if c, ok := controlChar(s); ok {
			v.errf(key, "value contains the control character %s; declarations allow tab but no other control character", EscapeText(string(c)))
		}
		if len(s) > MaxValueLen {
			v.errf(key, "value of %d bytes, more than the %d (64 KiB) a value may have: keep long data in a file the app reads (binds, env_files)", len(s), MaxValueLen)
		}
	})
	if total > MaxValuesTotal {
		v.errf("", "strings add up to %d bytes, more than the %d (128 KiB) that fit a unit's command line: keep long data in files the app reads (binds, env_files)", total, MaxValuesTotal)
	}
	if n := len(v.app.Description); n > MaxDescriptionLen {
		v.errf("description", "%d bytes, more than the %d (1 KiB) a description may have: it is the unit's one-line Description=", n, MaxDescriptionLen)
	}
}

// controlChar returns the first C0 control character other than tab, DEL
// or C1 control character in s.
func controlChar(s string) (rune, bool) {
	for _, r := range s {
		if (r < 0x20 && r != '\t') || (r >= 0x7f && r <= 0x9f) {
			return r, true
		}
	}
	return 0, false
}

// stringScan adds up the lengths of strings and notes whether any is too
// long or has a character walkStrings would report.
type stringScan struct {
	total   int
	suspect bool
}

func (c *stringScan) str(s string) {
	c.total += len(s)
	if len(s) > MaxValueLen {
		c.suspect = true
		return
	}
	for i := 0; i < len(s); i++ {
		if suspectBytes[s[i]] {
			c.suspect = true
			return
		}
	}
}

// suspectBytes are the bytes of a string that walkStrings may report: C0
// controls but tab, DEL, and 0xc2, which leads the C1 controls in UTF-8.
var suspectBytes = func() (t [256]bool) {
	for b := range t {
		t[b] = b < 0x20 && b != '\t' || b == 0x7f || b == 0xc2
	}
	return t
}()

func (c *stringScan) strs(ss []string) {
	for _, s := range ss {
		c.str(s)
	}
}

func (c *stringScan) dict(m map[string]string) {
	for k, s := range m {
		c.str(k)
		c.str(s)
	}
}

// scanStrings looks at every string of a (map keys too, and Name and
// File), field by field; the tests check that it misses none.
func scanStrings(a *App) (total int, suspect bool) {
	var c stringScan
	c.str(a.Name)
	c.str(a.File)
	c.str(a.Description)
	c.str(a.Image)
	c.str(a.Pull)
	if b := a.Build; b != nil {
		c.str(b.Context)
		c.str(b.File)
		c.dict(b.Args)
		c.str(b.Target)
		c.str(b.Tag)
	}
	c.strs(a.Command)
	c.strs(a.Entrypoint)
	c.str(a.Workdir)
	c.dict(a.Env)
	c.strs(a.EnvFiles)
	for _, x := range a.Secrets {
		c.str(x.Name)
		c.str(x.File)
		c.str(x.Env)
		c.str(x.Type)
		c.str(x.Target)
	}
	for _, p := range a.Ports {
		c.str(p.HostIP)
		c.str(p.Protocol)
	}
	for _, m := range a.Volumes {
		c.str(m.Name)
		c.str(m.Target)
		c.str(m.Driver)
		c.dict(m.Options)
		c.str(m.SELinux)
	}
	for _, b := range a.Binds {
		c.str(b.Source)
		c.str(b.Target)
		c.str(b.SELinux)
	}
	for _, t := range a.Tmpfs {
		c.str(t.Target)
		c.strs(t.Options)
	}
	c.str(a.Hostname)
	c.str(a.Network)
	c.strs(a.DNS)
	c.strs(a.AddHost)
	c.strs(a.NetworkAliases)
	c.str(a.User)
	c.str(a.Group)
	c.strs(a.GroupAdd)
	c.str(a.UserNS)
	c.strs(a.UIDMap)
	c.strs(a.GIDMap)
	c.strs(a.CapAdd)
	c.strs(a.CapDrop)
	c.strs(a.Devices)
	c.dict(a.Sysctls)
	c.dict(a.Ulimits)
	c.str(a.TZ)
	c.str(a.ShmSize)
	if h := a.Health; h != nil {
		c.strs(h.Cmd)
		c.str(h.OnFailure)
	}
	if u := a.Update; u != nil {
		c.str(u.Policy)
		c.str(u.Schedule)
	}
	c.str(a.Resources.Memory)
	c.str(a.Restart)
	c.str(a.StopSignal)
	c.dict(a.Labels)
	c.str(a.LogDriver)
	c.dict(a.LogOptions)
	c.strs(a.After)
	c.strs(a.Requires)
	c.strs(a.Wants)
	c.strs(a.RequiresHealthy)
	c.str(a.PartOf)
	c.str(a.SystemUser)
	c.strs(a.PodmanArgs)
	return c.total, c.suspect
}

func walkStrings(rv reflect.Value, key string, fn func(key, s string)) {
	switch rv.Kind() {
	case reflect.String:
		fn(key, rv.String())
	case reflect.Pointer:
		if !rv.IsNil() {
			walkStrings(rv.Elem(), key, fn)
		}
	case reflect.Slice:
		for i := 0; i < rv.Len(); i++ {
			walkStrings(rv.Index(i), fmt.Sprintf("%s[%d]", key, i), fn)
		}
	case reflect.Map:
		for _, k := range rv.MapKeys() {
			fn(key+"."+k.String(), k.String())
			walkStrings(rv.MapIndex(k), key+"."+k.String(), fn)
		}
	case reflect.Struct:
		t := rv.Type()
		for i := 0; i < t.NumField(); i++ {
			if tag := tagName(t.Field(i)); tag != "" {
				walkStrings(rv.Field(i), strings.TrimPrefix(key+"."+tag, "."), fn)
			}
		}
	}
}

func (v *validator) name() {
	n := v.app.Name
	switch {
	case !isAppName(n):
		v.errf("", "app name %q (the file name without .toml) is invalid: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit; rename the file", n)
	case reservedNames[n] || strings.HasPrefix(n, "systemd-") || strings.HasPrefix(n, "podman-"):
		v.errf("", "app name %q is reserved (its unit would shadow a unit of the session); rename the file", n)
	}
}

func (v *validator) image() {
	a := v.app
	switch {
	case a.Image == "" && a.Build == nil:
		v.errf("image", "an image is required: set `image = \"registry/name:tag\"` or add a [build] table")
	case a.Image != "" && a.Build != nil:
		v.errf("image", "image and [build] are mutually exclusive: keep one (a build's result is tagged build.tag)")
	case a.Image != "":
		v.imageRef("image", a.Image)
	default:
		v.imageRef("build.tag", a.Build.Tag)
		if a.Build.File != "" && path.IsAbs(a.Build.File) {
			v.errf("build.file", "must be relative to build.context")
		}
	}
	if !pullPolicies[a.Pull] {
		v.errf("pull", "unknown pull policy %q: use one of %s", a.Pull, keys(pullPolicies))
	}
}

func (v *validator) imageRef(key, ref string) {
	short, err := CheckImageRef(ref)
	if err != nil {
		v.errf(key, "%v", err)
		return
	}
	if short {
		v.warnf(key, "%q is a short name: podman resolves it through registries.conf, which may differ between hosts or ask interactively; use a fully qualified name such as docker.io/library/%s", ref, ref)
	}
}

func (v *validator) process() {
	a := v.app
	if a.Workdir != "" && !path.IsAbs(a.Workdir) {
		v.errf("workdir", "must be an absolute path inside the container")
	}
	for i, f := range a.EnvFiles {
		if f == "" {
			v.errf(fmt.Sprintf("env_files[%d]", i), "empty path")
		}
	}
	v.podmanArgs()
}

func (v *validator) ports(host Host) {
	a := v.app
	if len(a.Ports) > 0 && (a.Network == "none" || a.Network == "host") {
		v.errf("ports", "ports cannot be published with network = %q; remove them or change the network", a.Network)
	}
	type portID struct {
		ip    string
		port  int
		proto string
	}
	var seen map[portID]int // made when there are two ports to compare
	if len(a.Ports) > 1 {
		seen = make(map[portID]int, len(a.Ports))
	}
	for i, p := range a.Ports {
		key := indexed("ports", i)
		if p.HostPort == 0 {
			v.errf(key, "host_port is required: the port on the host, e.g. host_port = 8080")
			continue
		}
		if p.HostPort < 1 || p.HostPort > 65535 {
			v.errf(key+".host_port", "host port %d out of range: use 1-65535", p.HostPort)
		} else if host.Rootless && p.HostPort < host.UnprivilegedPortStart {
			v.errf(key+".host_port", "host port %d is below net.ipv4.ip_unprivileged_port_start (%d), so rootless podman cannot publish it; use a port >= %d (e.g. %d) or allow it on the host: sysctl -w net.ipv4.ip_unprivileged_port_start=%d (persist it in /etc/sysctl.d/)",
				p.HostPort, host.UnprivilegedPortStart, host.UnprivilegedPortStart, p.HostPort+8000, p.HostPort)
		}
		if p.ContainerPort < 1 || p.ContainerPort > 65535 {
			v.errf(key+".container_port", "container port %d out of range: use 1-65535", p.ContainerPort)
		}
		if !protocols[p.Protocol] {
			v.errf(key+".protocol", "unknown protocol %q: use tcp, udp or sctp", p.Protocol)
		}
		if p.HostIP != "" {
			if _, err := netip.ParseAddr(p.HostIP); err != nil {
				v.errf(key+".host_ip", "%q is not an IP address", p.HostIP)
			}
		}
		id := portID{p.HostIP, p.HostPort, p.Protocol}
		if j, dup := seen[id]; dup {
			v.errf(key+".host_port", "host port %d/%s is already published by ports[%d]", p.HostPort, p.Protocol, j)
		}
		if seen != nil {
			seen[id] = i
		}
	}
}

func (v *validator) mounts() {
	a := v.app
	// The targets seen so far, each with the list and index of its mount:
	// a key is written out only for an error.
	type mount struct {
		list string
		i    int
	}
	key := func(m mount) string { return indexed(m.list, m.i) }
	targets := map[string]mount{}
	target := func(m mount, t string) {
		switch {
		case t == "":
			v.errf(key(m)+".target", "target is required: the absolute path inside the container")
		case !path.IsAbs(t):
			v.errf(key(m)+".target", "target %q must be an absolute path inside the container", t)
		default:
			clean := path.Clean(t)
			if prev, dup := targets[clean]; dup {
				v.errf(key(m)+".target", "%s is already mounted by %s", t, key(prev)+".target")
			}
			targets[clean] = m
		}
	}
	for i, m := range a.Volumes {
		at := mount{"volumes", i}
		if !isVolumeName(m.Name) {
			v.errf(key(at)+".name", "volume name %q is invalid: use letters, digits, '_', '.', '-', starting with a letter or digit", m.Name)
		}
		target(at, m.Target)
		if strings.ContainsAny(m.Target, ":,") {
			v.errf(key(at)+".target", "paths containing ':' or ',' cannot be mounted by podman")
		}
		if m.Driver != "" && !isOptKey(m.Driver) {
			v.errf(key(at)+".driver", "driver name %q is invalid", m.Driver)
		}
		for k := range m.Options {
			if !isOptKey(k) {
				v.errf(key(at)+".options."+k, "driver option name %q is invalid", k)
			}
		}
		if !volumeRelabels[m.SELinux] {
			v.errf(key(at)+".selinux", "use \"private\" (a label for this container only, like :Z), \"shared\" (a label all containers may use, like :z) or leave it out")
		}
	}
	for i, b := range a.Binds {
		at := mount{"binds", i}
		if b.Source == "" {
			v.errf(key(at)+".source", "source is required: a host path, absolute, relative to this file or starting with ~/")
		} else if strings.ContainsAny(b.Source, ":,") {
			v.errf(key(at)+".source", "host paths containing ':' or ',' cannot be mounted by podman; rename the directory or use a symlink")
		}
		target(at, b.Target)
		if strings.ContainsAny(b.Target, ":,") {
			v.errf(key(at)+".target", "paths containing ':' or ',' cannot be mounted by podman")
		}
		if !selinuxLabels[b.SELinux] {
			v.errf(key(at)+".selinux", "use \"z\" (shared label), \"Z\" (private label) or leave it out")
		}
	}
	for i, t := range a.Tmpfs {
		at := mount{"tmpfs", i}
		target(at, t.Target)
		if strings.ContainsAny(t.Target, ":,") {
			v.errf(key(at)+".target", "paths containing ':' or ',' cannot be mounted by podman")
		}
		for j, o := range t.Options {
			if o == "" || strings.Contains(o, ",") {
				v.errf(fmt.Sprintf("%s.options[%d]", key(at), j), "give one option per list item (e.g. [\"rw\", \"exec\"]), not %q", o)
			}
		}
	}
}

func (v *validator) identity() {
	a := v.app
	if a.User != "" && !isID(a.User) {
		v.errf("user", "%q is not a user name or id; write the group in `group`", a.User)
	}
	if a.Group != "" && !isID(a.Group) {
		v.errf("group", "%q is not a group name or id", a.Group)
	}
	if a.Group != "" && a.User == "" {
		v.errf("group", "group needs user: podman sets both together")
	}
	mode, _, _ := strings.Cut(a.UserNS, ":")
	if !usernsModes[mode] || (a.UserNS != mode && mode != "auto" && mode != "keep-id") {
		v.errf("userns", "unknown user namespace mode %q: use one of %s (auto and keep-id take options after ':'), or uid_map/gid_map", a.UserNS, keys(usernsModes))
	}
	if (len(a.UIDMap) > 0 || len(a.GIDMap) > 0) && a.UserNS != "" {
		v.errf("userns", "userns and uid_map/gid_map are mutually exclusive: keep one")
	}
	if len(a.UIDMap) > 0 != (len(a.GIDMap) > 0) {
		v.errf("uid_map", "uid_map and gid_map must be given together")
	}
	for _, f := range [...]listField{{"uid_map", a.UIDMap}, {"gid_map", a.GIDMap}} {
		name, maps := f.name, f.items
		for i, m := range maps {
			if !isIDMap(m) {
				v.errf(fmt.Sprintf("%s[%d]", name, i), "%q is not container_id:host_id:size (e.g. \"0:1:65536\")", m)
			}
		}
	}
	for _, f := range [...]listField{{"cap_add", a.CapAdd}, {"cap_drop", a.CapDrop}} {
		name, caps := f.name, f.items
		for i, c := range caps {
			if _, err := NormalizeCap(c); err != nil {
				v.errf(fmt.Sprintf("%s[%d]", name, i), "%v", err)
			}
		}
	}
	for i, d := range a.Devices {
		if !strings.HasPrefix(d, "/dev/") || strings.Count(d, ":") > 2 {
			v.errf(fmt.Sprintf("devices[%d]", i), "%q is not a device: use /dev/NAME, /dev/HOST:/dev/CONTAINER or /dev/HOST:/dev/CONTAINER:rwm", d)
		}
	}
	v.kv("sysctls", a.Sysctls, isSysctlKey, "is not a sysctl name such as net.ipv4.ip_forward")
	for k, val := range a.Ulimits {
		key := "ulimits." + k
		if !ulimitNames[k] {
			v.errf(key, "unknown ulimit %q: use one of %s", k, keys(ulimitNames))
		} else if !isUlimitValue(val) {
			v.errf(key, "%q is not a limit: use \"N\" or \"SOFT:HARD\" (-1 for unlimited)", val)
		}
	}
}

func (v *validator) network() {
	a := v.app
	mode, _, hasOpts := strings.Cut(a.Network, ":")
	switch {
	case hasOpts && !podmanNetworks[mode]:
		v.errf("network", "only slirp4netns and pasta take options after ':'")
	case !a.NamedNetwork():
	case !isVolumeName(a.Network):
		v.errf("network", "network name %q is invalid: use letters, digits, '_', '.', '-', starting with a letter or digit", a.Network)
	}
	if a.Hostname != "" {
		if len(a.Hostname) > 253 {
			v.errf("hostname", "longer than 253 characters")
		}
		for _, l := range strings.Split(a.Hostname, ".") {
			if !isHostLabel(l) {
				v.errf("hostname", "%q is not a valid host name: dot-separated labels of letters, digits and '-'", a.Hostname)
				break
			}
		}
		if a.Network == "host" {
			v.errf("hostname", "cannot set a hostname with network = \"host\"")
		}
	}
	for i, d := range a.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			v.errf(fmt.Sprintf("dns[%d]", i), "%q is not an IP address", d)
		}
	}
}

func (v *validator) lifecycle() {
	a := v.app
	if !restartValues[a.Restart] {
		v.errf("restart", "unknown restart policy %q: use one of %s", a.Restart, keys(restartValues))
	}
	if a.StopSignal != "" {
		if _, err := NormalizeSignal(a.StopSignal); err != nil {
			v.errf("stop_signal", "%v", err)
		}
	}
	if a.StopTimeout.Duration < 0 {
		v.errf("stop_timeout", "must not be negative")
	}
	if !logDrivers[a.LogDriver] {
		v.errf("log_driver", "unknown log driver %q: use one of %s", a.LogDriver, keys(logDrivers))
	}
	for _, f := range [...]listField{{"after", a.After}, {"requires", a.Requires}, {"wants", a.Wants}, {"requires_healthy", a.RequiresHealthy}} {
		field, deps := f.name, f.items
		for i, d := range deps {
			if d == a.Name {
				v.errf(fmt.Sprintf("%s[%d]", field, i), "an app cannot depend on itself")
			} else if !isAppName(d) {
				v.errf(fmt.Sprintf("%s[%d]", field, i), "%q is not an app name", d)
			}
		}
	}
	if a.PartOf != "" && !isAppName(a.PartOf) {
		v.errf("part_of", "%q is not a group name: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit", a.PartOf)
	}
}

func (v *validator) health() {
	h := v.app.Health
	if h == nil {
		return
	}
	if len(h.Cmd) == 0 {
		v.errf("health.cmd", "a health check needs a command, e.g. cmd = [\"curl\", \"-fs\", \"http://localhost/\"]")
	}
	if !healthActions[h.OnFailure] {
		v.errf("health.on_failure", "unknown action %q: use one of %s", h.OnFailure, keys(healthActions))
	}
	if h.Retries < 0 {
		v.errf("health.retries", "must not be negative")
	}
	for _, f := range [...]struct {
		k string
		d Duration
	}{{"interval", h.Interval}, {"timeout", h.Timeout}, {"start_period", h.StartPeriod}} {
		if k, d := f.k, f.d; d.Duration < 0 {
			v.errf("health."+k, "must not be negative")
		}
	}
}

func (v *validator) resources() {
	r := v.app.Resources
	if r.Memory != "" {
		if n, err := r.MemoryBytes(); err != nil {
			v.errf("resources.memory", "%v", err)
		} else if n < 1<<20 {
			v.errf("resources.memory", "%q is less than 1 MiB, too little for any container; leave it out for no limit", r.Memory)
		}
	}
	if r.CPUs < 0 || (r.CPUs > 0 && r.CPUs < 0.01) {
		v.errf("resources.cpus", "must be at least 0.01 (one percent of a CPU); leave it out for no limit")
	}
	if r.Pids < 0 {
		v.errf("resources.pids", "must not be negative")
	}
}

// listField is a list-valued key of a declaration and its items.
type listField struct {
	name  string
	items []string
}

// indexed is the key of item i of the list name: name[i].
func indexed(name string, i int) string { return name + "[" + strconv.Itoa(i) + "]" }

func (v *validator) kv(field string, m map[string]string, valid func(string) bool, rule string) {
	for k := range m {
		if !valid(k) {
			v.errf(field+"."+k, "name %q %s", k, rule)
		}
	}
}

// MemoryBytes parses Memory ("512m", "1.5g", "1GiB") into bytes.
func (r Resources) MemoryBytes() (int64, error) { return ParseSize(r.Memory) }

// maxSize bounds sizes: far beyond any memory, and far from overflowing.
const maxSize = 1 << 62

// ParseSize parses a size into bytes with podman's own parser
// (docker/go-units RAMInBytes, as for --memory and --shm-size): a number,
// fractions allowed, an optional space and an optional unit b, k, m, g, t
// or p, each a power of 1024, which may be followed by b or ib ("512m",
// "1.5g", "512MB", "1GiB").
func ParseSize(s string) (int64, error) {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: write a number and an optional unit b, k, m, g or t (powers of 1024; kb, KiB and K alike), e.g. \"512m\", \"1.5g\" or \"1GiB\"", s)
	}
	if n < 0 || n > maxSize {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n, nil
}

// SizeArg is a valid size as ynhd passes it to podman and Quadlet: lower
// case, without the space podman allows before the unit.
func SizeArg(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }

// canonicalSignals are the canonical names (SIGTERM, SIGRTMIN+3) of the
// signals podman's table knows, found once by asking it about each Linux
// signal name, so that a canonical name is accepted without allocating.
var canonicalSignals = func() map[string]bool {
	var names []string
	for n := 1; n < 32; n++ {
		names = append(names, unix.SignalName(syscall.Signal(n)))
	}
	names = append(names, "SIGRTMIN", "SIGRTMAX")
	for i := 1; i <= 15; i++ {
		names = append(names, fmt.Sprintf("SIGRTMIN+%d", i), fmt.Sprintf("SIGRTMAX-%d", i))
	}
	m := map[string]bool{}
	for _, name := range names {
		if _, err := signal.ParseSignal(name); err == nil && strings.HasPrefix(name, "SIG") {
			m[name] = true
		}
	}
	return m
}()

// NormalizeSignal returns the canonical SIG-prefixed name of a signal given
// as TERM, SIGTERM, sigterm, SIGRTMIN+3 or a number (1-64), using podman's
// own signal table (containers/common pkg/signal, as for --stop-signal).
func NormalizeSignal(s string) (string, error) {
	if canonicalSignals[s] {
		return s, nil
	}
	if n := digitRun(s); n > 0 && n == len(s) {
		if n, err := strconv.Atoi(s); err != nil || n < 1 || n > 64 {
			return "", fmt.Errorf("signal number %s out of range 1-64", s)
		}
		return s, nil
	}
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		return "", fmt.Errorf("unknown signal %q: use a name such as SIGTERM or SIGRTMIN+3", s)
	}
	if _, err := signal.ParseSignal(s); err != nil {
		return "", fmt.Errorf("unknown signal %q: use a name such as SIGTERM or SIGRTMIN+3", s)
	}
	u := strings.ToUpper(s)
	if !strings.HasPrefix(u, "SIG") {
		u = "SIG" + u
	}
	return u, nil
}
