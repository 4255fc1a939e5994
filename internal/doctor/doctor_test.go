package doctor

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// healthy is a host where every check passes.
func healthy() Host {
	return Host{
		FS: fstest.MapFS{
			"etc/subuid":                        {Data: []byte("alice:100000:65536\n")},
			"etc/subgid":                        {Data: []byte("alice:100000:65536\n")},
			"usr/bin/newuidmap":                 {Mode: fs.ModeSetuid | 0o755},
			"usr/bin/newgidmap":                 {Mode: fs.ModeSetuid | 0o755},
			"proc/sys/user/max_user_namespaces": {Data: []byte("28633\n")},
			"proc/sys/net/ipv4/ip_unprivileged_port_start":                                  {Data: []byte("1024\n")},
			"var/lib/systemd/linger/alice":                                                  {},
			"sys/fs/cgroup/cgroup.controllers":                                              {Data: []byte("cpu io memory pids\n")},
			"sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers": {Data: []byte("cpu memory pids\n")},
			"run/systemd/journal/socket":                                                    {},
			"proc/sys/kernel/keys/maxkeys":                                                  {Data: []byte("200\n")},
		},
		User: "alice", UID: 1000, Home: "/home/alice",
		Ports:    map[string][]int{"web": {8080}},
		Apps:     3,
		LookPath: func(c string) (string, error) { return "/usr/bin/" + c, nil },
		OpenTun:  func() error { return nil },
		Podman: func() (PodmanInfo, error) {
			return PodmanInfo{Version: "4.3.1", OCIRuntime: "crun", GraphDriver: "overlay"}, nil
		},
		Socket: func() error { return nil },
	}
}

func find(cs []Check, name string) Check {
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

func TestHealthyHost(t *testing.T) {
	for _, c := range Run(healthy()) {
		if c.Status != OK {
			t.Errorf("%s: %s %s", c.Name, c.Status, c.Detail)
		}
	}
}

// TestEachConditionBroken breaks one condition at a time and checks that
// doctor names it, with the command that fixes it.
func TestEachConditionBroken(t *testing.T) {
	tests := []struct {
		check  string
		break_ func(h *Host)
		status Status
		fix    string
	}{
		{"subuid", func(h *Host) { delete(h.FS.(fstest.MapFS), "etc/subuid") }, Problem, "usermod --add-subuids 165536-231071 alice"},
		{"subgid", func(h *Host) { h.FS.(fstest.MapFS)["etc/subgid"] = &fstest.MapFile{Data: []byte("bob:1:65536\n")} }, Problem, "usermod --add-subgids"},
		{"subuid", func(h *Host) {
			h.FS.(fstest.MapFS)["etc/subuid"] = &fstest.MapFile{Data: []byte("alice:100000:1000\n")}
		}, Warning, "usermod --add-subuids 165536-231071 alice"},
		// The suggestion overlaps no one's range, in either file (so the
		// same numbers serve --add-subgids), and takes a gap that fits.
		{"subuid", func(h *Host) {
			h.FS.(fstest.MapFS)["etc/subuid"] = &fstest.MapFile{Data: []byte("bob:100000:65536\ncarol:300000:65536\n")}
			h.FS.(fstest.MapFS)["etc/subgid"] = &fstest.MapFile{Data: []byte("alice:1000000:65536\nbob:100000:65536\ndan:165536:10\n")}
		}, Problem, "usermod --add-subuids 165546-231081 alice"},
		{"newuidmap", func(h *Host) {
			h.LookPath = func(c string) (string, error) {
				if c == "newuidmap" {
					return "", errors.New("not found")
				}
				return "/usr/bin/" + c, nil
			}
		}, Problem, "apt-get install uidmap"},
		{"newgidmap", func(h *Host) { h.FS.(fstest.MapFS)["usr/bin/newgidmap"] = &fstest.MapFile{Mode: 0o755} }, Problem, "chmod u+s /usr/bin/newgidmap"},
		{"user namespaces", func(h *Host) {
			h.FS.(fstest.MapFS)["proc/sys/user/max_user_namespaces"] = &fstest.MapFile{Data: []byte("0")}
		}, Problem, "user.max_user_namespaces=28633"},
		{"user namespaces", func(h *Host) {
			h.FS.(fstest.MapFS)["proc/sys/kernel/unprivileged_userns_clone"] = &fstest.MapFile{Data: []byte("0")}
		}, Problem, "kernel.unprivileged_userns_clone=1"},
		{"host ports", func(h *Host) { h.Ports["web"] = []int{80, 443} }, Problem, "net.ipv4.ip_unprivileged_port_start=80"},
		{"lingering", func(h *Host) { delete(h.FS.(fstest.MapFS), "var/lib/systemd/linger/alice") }, Warning, "loginctl enable-linger alice"},
		{"cgroup v2", func(h *Host) { delete(h.FS.(fstest.MapFS), "sys/fs/cgroup/cgroup.controllers") }, Problem, "unified_cgroup_hierarchy"},
		{"cgroup v2", func(h *Host) {
			h.FS.(fstest.MapFS)["sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers"] = &fstest.MapFile{Data: []byte("cpu\n")}
		}, Warning, "Delegate=cpu cpuset io memory pids"},
		{"podman", func(h *Host) { h.Podman = func() (PodmanInfo, error) { return PodmanInfo{}, errors.New("not found") } }, Problem, "apt-get install podman"},
		{"podman", func(h *Host) {
			h.Podman = func() (PodmanInfo, error) { return PodmanInfo{Version: "3.0.1", OCIRuntime: "crun"}, nil }
		}, Problem, "4.3 or newer"},
		{"podman", func(h *Host) {
			h.Podman = func() (PodmanInfo, error) {
				return PodmanInfo{Version: "4.3.1", OCIRuntime: "crun", GraphDriver: "vfs"}, nil
			}
		}, Warning, `podman system reset, which DELETES all your images, containers and volumes`},
		{"podman API", func(h *Host) { h.Socket = func() error { return errors.New("connection refused") } }, Warning, "enable --now podman.socket"},
		{"/dev/net/tun", func(h *Host) { h.OpenTun = func() error { return fs.ErrPermission } }, Problem, "chmod 0666 /dev/net/tun"},
		{"/dev/net/tun", func(h *Host) { h.OpenTun = func() error { return fs.ErrNotExist } }, Problem, "modprobe tun"},
		{"journald", func(h *Host) { delete(h.FS.(fstest.MapFS), "run/systemd/journal/socket") }, Warning, "systemd-journald"},
		{"kernel keys", func(h *Host) { h.Apps = 195 }, Problem, "keyring = false"},
	}
	for _, tt := range tests {
		h := healthy()
		tt.break_(&h)
		c := find(Run(h), tt.check)
		if c.Status != tt.status || !strings.Contains(c.Fix, tt.fix) {
			t.Errorf("%s broken: got %s %q, fix %q; want %s with %q", tt.check, c.Status, c.Detail, c.Fix, tt.status, tt.fix)
		}
		// A fix that deletes data says so in the same line.
		for _, destroys := range []string{"system reset", "rm -", "prune", "rmi", "userdel"} {
			if strings.Contains(c.Fix, destroys) && !strings.Contains(c.Fix, "DELETES") {
				t.Errorf("%s: fix %q deletes data without saying so", tt.check, c.Fix)
			}
		}
	}
}

// TestKeyringFromContainersConf reads containers.conf through
// containers/common's loader, as podman does: a commented-out line or a key
// in the wrong table is not a setting.
func TestKeyringFromContainersConf(t *testing.T) {
	tests := []struct {
		conf   string
		status Status
	}{
		{"[containers]\nkeyring = false\n", OK},
		{"[containers]\n  keyring=false # crun makes no keyring\n", OK},
		{"[containers]\n# keyring = false\n", Problem},
		{"[containers]\nkeyring = true\n", Problem},
		{"[engine]\nkeyring = false\n", Problem},
		{"", Problem},
		{"[containers\nkeyring = false\n", Warning},
	}
	for _, tt := range tests {
		file := filepath.Join(t.TempDir(), "containers.conf")
		if err := os.WriteFile(file, []byte(tt.conf), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Setenv("CONTAINERS_CONF", file)
		t.Setenv("CONTAINERS_CONF_OVERRIDE", "")
		h := healthy()
		h.Apps = 195
		h.ContainersConf = ContainersConf
		c := find(Run(h), "kernel keys")
		if c.Status != tt.status {
			t.Errorf("containers.conf %q: %s %q, want %s", tt.conf, c.Status, c.Detail, tt.status)
		}
	}
}
