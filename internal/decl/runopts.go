package decl

import (
	"net/netip"
	"strings"
	"time"
)

// MaxStartTimeout bounds start_timeout.
const MaxStartTimeout = 24 * time.Hour

// volumeRelabels are the values of a volume's selinux key.
var volumeRelabels = set("", "private", "shared")

// runOptions checks tz, shm_size, group_add, add_host, log_options,
// start_timeout, init and network_aliases.
func (v *validator) runOptions() {
	a := v.app
	if a.TZ != "" && !isTimeZone(a.TZ) {
		v.errf("tz", "%q is not a time zone: use an IANA name such as \"Europe/Paris\" or \"UTC\" (letters, digits, '/', '_', '-', '+', at most 64 characters, not starting with '/'), or \"local\" for the host's", a.TZ)
	}
	if a.ShmSize != "" {
		if n, err := ParseSize(a.ShmSize); err != nil {
			v.errf("shm_size", "%v", err)
		} else if n == 0 {
			v.errf("shm_size", "a size of 0 leaves no shared memory; leave shm_size out for podman's default (64m)")
		}
	}
	for i, g := range a.GroupAdd {
		key := indexed("group_add", i)
		switch {
		case g == "keep-groups":
			if len(a.GroupAdd) > 1 {
				v.errf(key, "keep-groups cannot be combined with other groups (podman refuses it): keep it alone or list the groups")
			}
		case !isID(g):
			v.errf(key, "%q is not a group name or id", g)
		}
	}
	for i, e := range a.AddHost {
		v.addHost(indexed("add_host", i), e)
	}
	v.kv("log_options", a.LogOptions, isOptKey, "must contain only letters, digits, '-', '_' and '.'")
	for k, val := range a.LogOptions {
		switch {
		case strings.EqualFold(k, "driver"):
			v.errf("log_options."+k, "the log driver is set by log_driver, not by an option")
		case val == "":
			v.errf("log_options."+k, "empty value: podman refuses it; leave the option out")
		}
	}
	if len(a.LogOptions) > 0 && a.LogDriver == "none" {
		v.warnf("log_options", "log_driver = \"none\" keeps no logs, so these options do nothing")
	}
	if t := a.StartTimeout; t != nil {
		switch {
		case t.Duration <= 0:
			v.errf("start_timeout", "must be more than 0; leave it out for the default (%s)", DefaultStartTimeout)
		case t.Duration > MaxStartTimeout:
			v.errf("start_timeout", "%s is more than the %s a start may take", t.Duration, MaxStartTimeout)
		}
	}
	if a.Init && a.Systemd {
		v.errf("init", "init and systemd = true are mutually exclusive: in systemd mode systemd is PID 1 and reaps zombies; remove init")
	}
	if len(a.NetworkAliases) > 0 && !a.NamedNetwork() {
		v.errf("network_aliases", "aliases are names on a podman network: set network to the name of one (network is %q)", a.Network)
	}
	for i, al := range a.NetworkAliases {
		if !isHostLabel(al) {
			v.errf(indexed("network_aliases", i), "%q is not a valid alias: 1-63 letters, digits and '-', starting and ending with a letter or digit", al)
		}
	}
}

// addHost checks one add_host entry, HOST:IP, as podman 4.3 reads it: the
// host name up to the first ':', an address after it (IPv6 without
// brackets or zone).
func (v *validator) addHost(key, e string) {
	host, ip, ok := strings.Cut(e, ":")
	if !ok {
		v.errf(key, "%q is not HOST:IP (e.g. \"db.internal:10.0.0.5\")", e)
		return
	}
	if !isHostName(host) {
		v.errf(key, "%q is not a host name: dot-separated labels of letters, digits and '-', at most 253 characters", host)
	}
	if strings.HasPrefix(ip, "[") {
		v.errf(key, "write the IPv6 address without brackets, as podman reads it: %q", host+":"+strings.Trim(ip, "[]"))
		return
	}
	if addr, err := netip.ParseAddr(ip); err != nil || addr.Zone() != "" {
		v.errf(key, "%q is not an IP address: use IPv4 (10.0.0.5) or IPv6 without brackets or zone (fd00::5)", ip)
	}
}

// NamedNetwork reports whether the app's network is the name of a podman
// network rather than one of podman's built-in modes.
func (a *App) NamedNetwork() bool {
	mode, _, _ := strings.Cut(a.Network, ":")
	return !builtinNets[mode]
}
