// Package doctor checks whether a host is ready to run ynhd's rootless
// containers and says, for each thing that is not, the command that fixes
// it. Checks read the host through an fs.FS rooted at / and a few injected
// functions, so tests can break each condition without touching the host.
package doctor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/containers/common/pkg/config"

	"github.com/ynhd/ynhd/internal/sysuser"
)

// Status is a check's verdict.
type Status string

// The verdicts.
const (
	OK      Status = "ok"
	Warning Status = "warning"
	Problem Status = "problem"
)

// Check is one verdict with what it saw and, unless OK, how to fix it.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// PodmanInfo is what doctor needs from `podman info`.
type PodmanInfo struct {
	Version       string
	OCIRuntime    string
	GraphDriver   string
	CgroupVersion string
}

// Host is how the checks see the machine.
type Host struct {
	FS   fs.FS // the root filesystem
	User string
	UID  int
	Home string // absolute
	// Ports are the host ports declared by the user's apps, by app.
	Ports map[string][]int
	// Apps is how many apps are declared.
	Apps int
	// LookPath finds a command.
	LookPath func(string) (string, error)
	// OpenTun opens /dev/net/tun for reading and writing.
	OpenTun func() error
	// Podman runs `podman info`.
	Podman func() (PodmanInfo, error)
	// Socket reports whether the user's podman API socket answers.
	Socket func() error
	// ContainersConf returns podman's configuration as podman reads it
	// (see ContainersConf); nil means containers.conf is not consulted.
	ContainersConf func() (*config.Config, error)
}

// Run runs every check of per-user mode.
func Run(h Host) []Check {
	return runChecks(h, []func(Host) Check{
		subIDs("subuid", "etc/subuid", "--add-subuids"),
		subIDs("subgid", "etc/subgid", "--add-subgids"),
		idMapTool("newuidmap"),
		idMapTool("newgidmap"),
		userNamespaces,
		ports,
		linger,
		cgroups,
		podmanCheck,
		apiSocket,
		tun,
		journal,
		keys,
	})
}

func runChecks(h Host, checks []func(Host) Check) []Check {
	out := make([]Check, 0, len(checks))
	for _, c := range checks {
		out = append(out, c(h))
	}
	return out
}

func readInt(fsys fs.FS, name string) (int, error) {
	b, err := fs.ReadFile(fsys, name)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// subRange is one line of /etc/subuid or /etc/subgid.
type subRange struct {
	owner string
	count int
}

// readSubIDs parses a subordinate id file; lines that are not
// owner:start:count are skipped, as newuidmap skips them.
func readSubIDs(file []byte) []subRange {
	var out []subRange
	sc := bufio.NewScanner(bytes.NewReader(file))
	for sc.Scan() {
		parts := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(parts) != 3 {
			continue
		}
		_, err1 := strconv.ParseUint(parts[1], 10, 64)
		count, err2 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || count <= 0 {
			continue
		}
		out = append(out, subRange{parts[0], count})
	}
	return out
}

// subIDFix is the usermod that gives the user 65536 subordinate ids that
// overlap no range in /etc/subuid or /etc/subgid (two users sharing ids
// can reach each other's files): the range ynhd's system mode would pick
// for a static user (sysuser.FreeRange).
func subIDFix(h Host, flag string) string {
	uids, _ := fs.ReadFile(h.FS, "etc/subuid")
	gids, _ := fs.ReadFile(h.FS, "etc/subgid")
	start, err := sysuser.FreeRange(65536, uids, gids)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("sudo usermod %s %d-%d %s   (a range no one else in /etc/subuid or /etc/subgid has)", flag, start, start+65535, h.User)
}

func subIDs(name, file, flag string) func(Host) Check {
	return func(h Host) Check {
		c := Check{Name: name}
		fix := subIDFix(h, flag)
		b, err := fs.ReadFile(h.FS, file)
		if err != nil {
			return Check{Name: name, Status: Problem, Detail: "/" + file + " is missing: rootless podman can map only your own id, so images with files of many users (a Debian base, LDAP, systemd) fail to unpack", Fix: fix}
		}
		total := 0
		for _, r := range readSubIDs(b) {
			if r.owner == h.User || r.owner == strconv.Itoa(h.UID) {
				total += r.count
			}
		}
		switch {
		case total == 0:
			c.Status, c.Fix = Problem, fix
			c.Detail = fmt.Sprintf("no range for %s in /%s: rootless podman can map only your own id, so images with files of many users (a Debian base, LDAP, systemd) fail to unpack", h.User, file)
		case total < 65536:
			c.Status, c.Fix = Warning, fix
			c.Detail = fmt.Sprintf("%s has %d subordinate ids in /%s; images may use ids up to 65535", h.User, total, file)
		default:
			c.Status, c.Detail = OK, fmt.Sprintf("%s has %d subordinate ids in /%s", h.User, total, file)
		}
		return c
	}
}

func idMapTool(tool string) func(Host) Check {
	return func(h Host) Check {
		c := Check{Name: tool, Fix: "sudo apt-get install uidmap   (Fedora: shadow-utils)"}
		p, err := h.LookPath(tool)
		if err != nil {
			c.Status, c.Detail = Problem, tool+" is not installed: rootless podman cannot map subordinate ids"
			return c
		}
		st, err := fs.Stat(h.FS, strings.TrimPrefix(path.Clean(p), "/"))
		if err != nil {
			c.Status, c.Detail = Problem, fmt.Sprintf("cannot inspect %s: %v", p, err)
			return c
		}
		if st.Mode()&fs.ModeSetuid == 0 {
			c.Status, c.Detail = Problem, p+" is not setuid root (and has no file capabilities ynhd can see): it cannot write id maps"
			c.Fix = "sudo chmod u+s " + p + "   (or reinstall: sudo apt-get install --reinstall uidmap)"
			return c
		}
		return Check{Name: tool, Status: OK, Detail: p + " is setuid"}
	}
}

func userNamespaces(h Host) Check {
	c := Check{Name: "user namespaces"}
	n, err := readInt(h.FS, "proc/sys/user/max_user_namespaces")
	if err == nil && n == 0 {
		c.Status, c.Detail = Problem, "user.max_user_namespaces is 0: no user namespaces, no rootless containers"
		c.Fix = "sudo sysctl -w user.max_user_namespaces=28633 && echo user.max_user_namespaces=28633 | sudo tee /etc/sysctl.d/50-userns.conf"
		return c
	}
	if v, err := readInt(h.FS, "proc/sys/kernel/unprivileged_userns_clone"); err == nil && v == 0 {
		c.Status, c.Detail = Problem, "kernel.unprivileged_userns_clone is 0: unprivileged users cannot create user namespaces"
		c.Fix = "sudo sysctl -w kernel.unprivileged_userns_clone=1 && echo kernel.unprivileged_userns_clone=1 | sudo tee /etc/sysctl.d/50-userns.conf"
		return c
	}
	c.Status, c.Detail = OK, fmt.Sprintf("enabled (user.max_user_namespaces=%d)", n)
	return c
}

func ports(h Host) Check {
	c := Check{Name: "host ports"}
	start, err := readInt(h.FS, "proc/sys/net/ipv4/ip_unprivileged_port_start")
	if err != nil {
		start = 1024
	}
	var low []string
	lowest := start
	for app, ps := range h.Ports {
		for _, p := range ps {
			if p < start {
				low = append(low, fmt.Sprintf("%s:%d", app, p))
				lowest = min(lowest, p)
			}
		}
	}
	if len(low) > 0 {
		sort.Strings(low)
		c.Status = Problem
		c.Detail = fmt.Sprintf("declared host ports below net.ipv4.ip_unprivileged_port_start (%d): %s", start, strings.Join(low, ", "))
		c.Fix = fmt.Sprintf("sudo sysctl -w net.ipv4.ip_unprivileged_port_start=%d && echo net.ipv4.ip_unprivileged_port_start=%d | sudo tee /etc/sysctl.d/50-unprivileged-ports.conf", lowest, lowest)
		return c
	}
	c.Status, c.Detail = OK, fmt.Sprintf("every declared host port is >= net.ipv4.ip_unprivileged_port_start (%d)", start)
	return c
}

func linger(h Host) Check {
	if _, err := fs.Stat(h.FS, "var/lib/systemd/linger/"+h.User); err == nil {
		return Check{Name: "lingering", Status: OK, Detail: "enabled: your apps run without a login session and start at boot"}
	}
	return Check{Name: "lingering", Status: Warning,
		Detail: "not enabled: your user manager, and every app, stops when your last session ends and does not start at boot",
		Fix:    "loginctl enable-linger " + h.User}
}

// DelegateFix is the command that delegates the controllers [resources]
// needs to every user manager (what Debian's systemd does by default).
const DelegateFix = "sudo mkdir -p /etc/systemd/system/user@.service.d && printf '[Service]\\nDelegate=cpu cpuset io memory pids\\n' | sudo tee /etc/systemd/system/user@.service.d/delegate.conf && sudo systemctl daemon-reload, then log out and in (or restart user@UID.service)"

// MissingControllers returns which of the controllers [resources] needs
// (memory, pids, cpu) the user manager was not delegated, and the ones it
// has. err is set when cgroup v2 or the delegation cannot be read.
func MissingControllers(h Host) (missing, have []string, err error) {
	if _, err := fs.Stat(h.FS, "sys/fs/cgroup/cgroup.controllers"); err != nil {
		return nil, nil, errNoCgroup2
	}
	userDir := fmt.Sprintf("sys/fs/cgroup/user.slice/user-%d.slice/user@%d.service/cgroup.controllers", h.UID, h.UID)
	b, err := fs.ReadFile(h.FS, userDir)
	if errors.Is(err, fs.ErrNotExist) {
		// In a cgroup namespace rooted at the user manager (containers,
		// some CI machines) its cgroup is the root.
		if self, _ := fs.ReadFile(h.FS, "proc/self/cgroup"); !strings.Contains(string(self), "user@") {
			b, err = fs.ReadFile(h.FS, "sys/fs/cgroup/cgroup.controllers")
		}
	}
	if err != nil {
		return nil, nil, err
	}
	have = strings.Fields(string(b))
	for _, want := range []string{"memory", "pids", "cpu"} {
		if !contains(have, want) {
			missing = append(missing, want)
		}
	}
	return missing, have, nil
}

var errNoCgroup2 = errors.New("/sys/fs/cgroup is not a cgroup v2 hierarchy")

func cgroups(h Host) Check {
	c := Check{Name: "cgroup v2"}
	missing, have, err := MissingControllers(h)
	switch {
	case errors.Is(err, errNoCgroup2):
		c.Status, c.Detail = Problem, "/sys/fs/cgroup is not a cgroup v2 hierarchy: rootless podman cannot apply limits or place containers in their units"
		c.Fix = "boot with systemd.unified_cgroup_hierarchy=1 (the default on Debian 11+ and Fedora 31+)"
		return c
	case err != nil:
		c.Status, c.Detail = Warning, "cgroup v2, but your user manager's delegated controllers cannot be read ("+err.Error()+")"
		return c
	case len(missing) > 0:
		c.Status = Warning
		c.Detail = fmt.Sprintf("cgroup v2; controllers not delegated to your user manager: %s: an app with [resources] limits fails to start (crun cannot write %s.max); apps without limits are not affected",
			strings.Join(missing, ", "), missing[0])
		c.Fix = DelegateFix
		return c
	}
	c.Status, c.Detail = OK, "cgroup v2, delegated: "+strings.Join(have, " ")
	return c
}

// ErrNoSession is what Host.Podman returns when there is no runtime
// directory ($XDG_RUNTIME_DIR): podman is then not run at all, because a
// rootless podman started outside the user's session leaves a pause process
// whose namespaces later podman commands join, and which breaks them once
// the session's runtime directory appears.
var ErrNoSession = errors.New("no runtime directory ($XDG_RUNTIME_DIR): not a login session of this user")

func podmanCheck(h Host) Check {
	info, err := h.Podman()
	if errors.Is(err, ErrNoSession) {
		return Check{Name: "podman", Status: Warning, Detail: "not checked: " + err.Error(),
			Fix: "run ynhd doctor in a login session of " + h.User + " (ssh or a desktop, not su/sudo), or give it a manager without one: sudo loginctl enable-linger " + h.User}
	}
	if err != nil {
		return Check{Name: "podman", Status: Problem, Detail: "podman info failed: " + err.Error(), Fix: "sudo apt-get install podman"}
	}
	c := Check{Name: "podman", Status: OK, Detail: fmt.Sprintf("podman %s, runtime %s, storage %s", info.Version, info.OCIRuntime, info.GraphDriver)}
	if major, _ := strconv.Atoi(strings.SplitN(info.Version, ".", 2)[0]); major < 4 {
		c.Status, c.Fix = Problem, "install podman 4.3 or newer"
		c.Detail = "podman " + info.Version + " is too old: ynhd needs 4.3 or newer (--sdnotify, --cgroups=split, --health-on-failure)"
		return c
	}
	if info.OCIRuntime == "" {
		c.Status, c.Detail, c.Fix = Problem, "podman reports no OCI runtime", "sudo apt-get install crun"
		return c
	}
	if info.GraphDriver == "vfs" {
		c.Status = Warning
		c.Detail += ": vfs copies every layer, slow and large"
		c.Fix = `set driver = "overlay" in ~/.config/containers/storage.conf (native on Linux 5.13+, else install fuse-overlayfs), then podman system reset, which DELETES all your images, containers and volumes with their data (save what matters first: ynhd backup APP)`
	}
	return c
}

func apiSocket(h Host) Check {
	if err := h.Socket(); err != nil {
		return Check{Name: "podman API", Status: Warning,
			Detail: "the podman API socket does not answer (" + err.Error() + "); ynhd then leaves images, volumes and networks to the units",
			Fix:    "systemctl --user enable --now podman.socket"}
	}
	return Check{Name: "podman API", Status: OK, Detail: "the podman API socket answers"}
}

func tun(h Host) Check {
	if err := h.OpenTun(); err != nil {
		detail := "cannot open /dev/net/tun (" + err.Error() + "): rootless networking (slirp4netns, pasta) fails; only network = \"none\" or \"host\" work"
		if errors.Is(err, fs.ErrNotExist) {
			return Check{Name: "/dev/net/tun", Status: Problem, Detail: detail, Fix: "sudo modprobe tun"}
		}
		return Check{Name: "/dev/net/tun", Status: Problem, Detail: detail, Fix: "sudo chmod 0666 /dev/net/tun"}
	}
	return Check{Name: "/dev/net/tun", Status: OK, Detail: "readable and writable"}
}

func journal(h Host) Check {
	if _, err := fs.Stat(h.FS, "run/systemd/journal/socket"); err != nil {
		return Check{Name: "journald", Status: Warning, Detail: "no journald socket: app output and ynhd's logs have nowhere to go",
			Fix: "sudo systemctl start systemd-journald"}
	}
	return Check{Name: "journald", Status: OK, Detail: "reachable"}
}

// keys: crun makes a session keyring per container, counted against
// kernel.keys.maxkeys for the user, unless containers.conf turns that off.
func keys(h Host) Check {
	c := Check{Name: "kernel keys"}
	max, err := readInt(h.FS, "proc/sys/kernel/keys/maxkeys")
	if err != nil {
		return Check{Name: "kernel keys", Status: OK, Detail: "no kernel.keys.maxkeys to check"}
	}
	if h.ContainersConf != nil {
		conf, err := h.ContainersConf()
		switch {
		case err != nil:
			return Check{Name: "kernel keys", Status: Warning,
				Detail: "cannot read podman's containers.conf: " + err.Error(),
				Fix:    "fix the file named above (podman reads it too: see containers.conf(5))"}
		case !conf.Containers.EnableKeyring:
			return Check{Name: "kernel keys", Status: OK, Detail: "containers.conf sets keyring = false: containers take no session keyring"}
		}
	}
	if h.Apps >= max-10 {
		c.Status = Problem
		c.Detail = fmt.Sprintf("%d apps declared, kernel.keys.maxkeys is %d: each container takes a session keyring, so some will fail with \"Disk quota exceeded\"", h.Apps, max)
		c.Fix = "add `keyring = false` under [containers] in ~/.config/containers/containers.conf, or sudo sysctl -w kernel.keys.maxkeys=2000"
		return c
	}
	c.Status, c.Detail = OK, fmt.Sprintf("%d apps, kernel.keys.maxkeys %d", h.Apps, max)
	return c
}

// ContainersConf reads containers.conf as podman does, with
// containers/common's loader: its built-in defaults, then
// /usr/share/containers/containers.conf, /etc/containers/containers.conf
// and containers.conf.d, then the user's ~/.config/containers files (or
// only $CONTAINERS_CONF when set). It is Host.ContainersConf outside tests.
func ContainersConf() (*config.Config, error) {
	return config.New(nil)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
