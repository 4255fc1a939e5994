package doctor

import (
	"bufio"
	"fmt"
	"io/fs"
	"strings"
)

// RunSystem runs the checks for system mode (ynhd run --system): apps are
// system units that run rootless podman as a DynamicUser or as a static
// user with subordinate ids, so what matters is the system manager, the
// id-mapping tools, user namespaces, name resolution of dynamic users,
// rootless networking for any user, and ports; a person's ranges,
// lingering and podman API do not apply.
func RunSystem(h Host) []Check {
	return runChecks(h, []func(Host) Check{
		systemManager,
		idMapTool("newuidmap"),
		idMapTool("newgidmap"),
		userNamespaces,
		nssSystemd,
		ports,
		systemCgroups,
		podmanBinary,
		tunForAll,
		journal,
	})
}

func systemManager(h Host) Check {
	if _, err := fs.Stat(h.FS, "run/systemd/system"); err != nil {
		return Check{Name: "systemd", Status: Problem,
			Detail: "this host was not booted with systemd: there is no system manager to run the apps' units",
			Fix:    "use per-user mode inside a systemd --user manager, or boot with systemd as PID 1"}
	}
	if h.UID != 0 {
		return Check{Name: "systemd", Status: Warning, Detail: "the system manager runs, but system mode writes /etc/systemd/system and creates users: run ynhd --system as root",
			Fix: "sudo ynhd doctor --system"}
	}
	return Check{Name: "systemd", Status: OK, Detail: "booted with systemd; running as root"}
}

// nssSystemd: a DynamicUser's name resolves only through nss-systemd;
// without it `ps`, `ls -l` and podman see a bare number.
func nssSystemd(h Host) Check {
	c := Check{Name: "nss-systemd"}
	f, err := h.FS.Open("etc/nsswitch.conf")
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) > 1 && fields[0] == "passwd:" && contains(fields[1:], "systemd") {
				c.Status, c.Detail = OK, "passwd: resolves dynamic users (systemd in /etc/nsswitch.conf)"
				return c
			}
		}
	}
	c.Status = Warning
	c.Detail = "dynamic users have no name: /etc/nsswitch.conf does not list systemd for passwd, so their processes and files show as bare numbers"
	c.Fix = "sudo apt-get install libnss-systemd"
	return c
}

func systemCgroups(h Host) Check {
	if _, err := fs.Stat(h.FS, "sys/fs/cgroup/cgroup.controllers"); err != nil {
		return Check{Name: "cgroup v2", Status: Problem,
			Detail: "/sys/fs/cgroup is not a cgroup v2 hierarchy: MemoryMax=, CPUQuota= and TasksMax= of the apps' units and Delegate=yes need it",
			Fix:    "boot with systemd.unified_cgroup_hierarchy=1 (the default on Debian 11+ and Fedora 31+)"}
	}
	return Check{Name: "cgroup v2", Status: OK, Detail: "unified hierarchy"}
}

func podmanBinary(h Host) Check {
	p, err := h.LookPath("podman")
	if err != nil {
		return Check{Name: "podman", Status: Problem, Detail: "podman is not installed", Fix: "sudo apt-get install podman"}
	}
	return Check{Name: "podman", Status: OK, Detail: p + " (each app runs it as its own user; not run by doctor)"}
}

// tunForAll: the apps' users, not root, open /dev/net/tun for slirp4netns.
func tunForAll(h Host) Check {
	st, err := fs.Stat(h.FS, "dev/net/tun")
	if err != nil {
		return Check{Name: "/dev/net/tun", Status: Problem, Detail: "missing: rootless networking (slirp4netns, pasta) fails", Fix: "sudo modprobe tun"}
	}
	if st.Mode().Perm()&0o006 != 0o006 {
		return Check{Name: "/dev/net/tun", Status: Problem,
			Detail: fmt.Sprintf("mode %04o: the apps' users cannot open it, so rootless networking fails; only network = \"none\" or \"host\" work", st.Mode().Perm()),
			Fix:    "sudo chmod 0666 /dev/net/tun"}
	}
	return Check{Name: "/dev/net/tun", Status: OK, Detail: "usable by every user"}
}
