package decl

import (
	"fmt"
	"path"
	"strings"
)

// podmanGlobalFlags are podman's global options (podman --help, 4.x and
// 5.x). podman accepts them after `run` too, so through podman_args they
// would override what ynhd sets for system mode (--cgroup-manager,
// --events-backend) or point podman at another storage, runtime, conmon or
// hooks: none is allowed there.
var podmanGlobalFlags = set(
	"cgroup-manager", "cni-config-dir", "config", "conmon", "connection", "context",
	"cpu-profile", "db-backend", "default-mounts-file", "events-backend", "help",
	"hooks-dir", "identity", "imagestore", "log-level", "max-workers", "memory-profile",
	"module", "namespace", "network-cmd-path", "network-config-dir", "noout", "out",
	"registries-conf", "remote", "root", "runroot", "runtime", "runtime-flag", "ssh",
	"storage-driver", "storage-opt", "syslog", "tmpdir", "trace", "transient-store",
	"url", "variant", "version", "volumepath",
)

// podmanOwnedFlags are `podman run` options ynhd sets itself or that
// would fight the unit: naming, the cidfile, detaching, readiness,
// cgroups, restarts (systemd's job), stop timeout and logging (declaration
// keys). "purge" is podman's alias of rm.
var podmanOwnedFlags = set(
	"name", "cidfile", "rm", "purge", "replace", "detach", "sdnotify", "cgroups",
	"systemd", "restart", "stop-timeout", "log-driver", "pull",
)

// podmanShortFlags maps the one-letter options of `podman run` to their
// long names; valued ones take the rest of a cluster (-eA=1) or the next
// argument as their value.
var podmanShortFlags = map[byte]struct {
	long   string
	valued bool
}{
	'a': {"attach", true}, 'c': {"cpu-shares", true}, 'd': {"detach", false},
	'e': {"env", true}, 'h': {"hostname", true}, 'i': {"interactive", false},
	'l': {"label", true}, 'm': {"memory", true}, 'P': {"publish-all", false},
	'p': {"publish", true}, 'q': {"quiet", false}, 'r': {"remote", false},
	't': {"tty", false}, 'u': {"user", true}, 'v': {"volume", true}, 'w': {"workdir", true},
}

// podmanFlag is one option found in podman_args, by its long name.
type podmanFlag struct {
	name, value string
	hasValue    bool
	spelled     string // as written, for messages
}

// long names the option as written and, for a short one, by its long name.
func (f podmanFlag) long() string {
	if strings.HasPrefix(f.spelled, "--") {
		return f.spelled
	}
	return fmt.Sprintf("%s (--%s)", f.spelled, f.name)
}

// parsePodmanArgs finds every option in args the way podman's flag parser
// (pflag) reads them: --name, --name=value, -x, and clusters such as -dit
// or -eA=1. An argument that is the value of the option before it is not
// read as an option (a word after a valued flag written without =).
func parsePodmanArgs(args []string) []podmanFlag {
	var out []podmanFlag
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return out
		case strings.HasPrefix(a, "--"):
			name, value, has := strings.Cut(a[2:], "=")
			out = append(out, podmanFlag{name: name, value: value, hasValue: has, spelled: "--" + name})
		case strings.HasPrefix(a, "-") && len(a) > 1:
			for j := 1; j < len(a); j++ {
				sf, known := podmanShortFlags[a[j]]
				long := string(a[j])
				if known {
					long = sf.long
				}
				f := podmanFlag{name: long, spelled: "-" + string(a[j])}
				if known && sf.valued {
					f.value, f.hasValue = strings.TrimPrefix(a[j+1:], "="), j+1 < len(a)
					out = append(out, f)
					break
				}
				out = append(out, f)
			}
		}
	}
	return out
}

// widening says what a podman_args option grants beyond what ynhd's
// own keys allow: each is a warning naming it.
func widening(f podmanFlag) string {
	v := f.value
	switch f.name {
	case "privileged":
		return "gives the container every capability and every host device, without seccomp or SELinux confinement"
	case "pid", "ipc", "uts", "cgroupns", "userns":
		if v == "host" {
			return fmt.Sprintf("shares the host's %s namespace with the container", f.name)
		}
	case "network", "net":
		if v == "host" {
			return "shares the host's network namespace: the container can reach every local service and bind any port the user can"
		}
	case "cap-add":
		if u := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(v), "CAP_")); u == "ALL" || u == "SYS_ADMIN" {
			return "grants " + u + ", close to full control of the container's namespaces (and of the host's, with a host namespace)"
		}
	case "device":
		return "gives the container a host device"
	case "security-opt":
		if strings.Contains(v, "unconfined") || strings.Contains(v, "disable") {
			return "turns off a confinement (seccomp, AppArmor or SELinux) for the container"
		}
	case "volume", "mount":
		if src := bindSource(f.name, v); src == "/" || src == "/etc" || strings.HasPrefix(src, "/etc/") || src == "/run" || src == "/var/run" || src == "/proc" || src == "/sys" || src == "/dev" {
			return fmt.Sprintf("mounts the host's %s into the container", src)
		}
	case "group-add":
		if v == "keep-groups" {
			return "keeps the supplementary groups of the user running podman in the container"
		}
	}
	return ""
}

// bindSource is the host path of a --volume or --mount value, cleaned.
func bindSource(flag, v string) string {
	src := ""
	if flag == "volume" {
		src, _, _ = strings.Cut(v, ":")
	} else {
		for _, kv := range strings.Split(v, ",") {
			if k, val, _ := strings.Cut(kv, "="); k == "source" || k == "src" {
				src = val
			}
		}
	}
	if !strings.HasPrefix(src, "/") {
		return "" // a named volume
	}
	return path.Clean(src)
}

// podmanArgs checks podman_args: global options and the options ynhd
// sets are errors in every spelling; options that widen the container's
// privileges are warnings saying what they grant.
func (v *validator) podmanArgs() {
	a := v.app
	if len(a.PodmanArgs) == 0 {
		return
	}
	v.warnf("podman_args", "podman_args are passed to podman unchecked; ynhd cannot validate them and they may break the unit; prefer a declaration key")
	for i, arg := range a.PodmanArgs {
		key := fmt.Sprintf("podman_args[%d]", i)
		for _, f := range parsePodmanArgs([]string{arg}) {
			switch {
			case podmanGlobalFlags[f.name]:
				v.errf(key, "%s is a global podman option: ynhd sets how podman runs (storage, runtime, cgroup manager, events); remove it", f.long())
			case podmanOwnedFlags[f.name]:
				v.errf(key, "%s is set by ynhd and cannot be overridden; remove it", f.long())
			case (f.name == "label") && strings.HasPrefix(f.value, reservedLabelPrefix):
				v.errf(key, "labels starting with %q are set by ynhd; choose another name", reservedLabelPrefix)
			case f.name == "log-opt" && strings.HasPrefix(strings.ToLower(strings.TrimSpace(logOptValue(f, a.PodmanArgs, i))), "driver="):
				// podman reads a log option "driver" as the log driver.
				v.errf(key, "--log-opt=driver=... sets the log driver, which is the log_driver key; remove it")
			default:
				if !f.hasValue && i+1 < len(a.PodmanArgs) {
					f.value = a.PodmanArgs[i+1] // --flag value, as two items
				}
				if w := widening(f); w != "" {
					v.warnf(key, "%s %s", f.long(), w)
				}
			}
		}
	}
}

// logOptValue is the value of a --log-opt item, given as one item or as
// the next one.
func logOptValue(f podmanFlag, args []string, i int) string {
	if f.hasValue || i+1 >= len(args) {
		return f.value
	}
	return args[i+1]
}
