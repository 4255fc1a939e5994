package doctor

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"
)

// healthySystem is a host ready for system mode, seen by root.
func healthySystem() Host {
	h := healthy()
	m := h.FS.(fstest.MapFS)
	m["run/systemd/system"] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
	m["etc/nsswitch.conf"] = &fstest.MapFile{Data: []byte("passwd:         files systemd\ngroup:          files systemd\n")}
	m["dev/net/tun"] = &fstest.MapFile{Mode: fs.ModeDevice | fs.ModeCharDevice | 0o666}
	h.User, h.UID, h.Home = "root", 0, "/root"
	return h
}

func TestSystemChecks(t *testing.T) {
	for _, c := range RunSystem(healthySystem()) {
		if c.Status != OK {
			t.Errorf("healthy: %s: %s %s", c.Name, c.Status, c.Detail)
		}
	}
	tests := []struct {
		check  string
		break_ func(h *Host)
		status Status
		fix    string
	}{
		{"systemd", func(h *Host) { delete(h.FS.(fstest.MapFS), "run/systemd/system") }, Problem, "per-user mode"},
		{"systemd", func(h *Host) { h.UID = 1000 }, Warning, "sudo ynhd doctor --system"},
		{"newuidmap", func(h *Host) { h.FS.(fstest.MapFS)["usr/bin/newuidmap"] = &fstest.MapFile{Mode: 0o755} }, Problem, "chmod u+s"},
		{"nss-systemd", func(h *Host) {
			h.FS.(fstest.MapFS)["etc/nsswitch.conf"] = &fstest.MapFile{Data: []byte("passwd: files\n")}
		}, Warning, "libnss-systemd"},
		{"host ports", func(h *Host) { h.Ports["web"] = []int{443} }, Problem, "ip_unprivileged_port_start=443"},
		{"cgroup v2", func(h *Host) { delete(h.FS.(fstest.MapFS), "sys/fs/cgroup/cgroup.controllers") }, Problem, "unified_cgroup_hierarchy"},
		{"podman", func(h *Host) {
			h.LookPath = func(c string) (string, error) {
				if c == "podman" {
					return "", errors.New("not found")
				}
				return "/usr/bin/" + c, nil
			}
		}, Problem, "apt-get install podman"},
		{"/dev/net/tun", func(h *Host) {
			h.FS.(fstest.MapFS)["dev/net/tun"] = &fstest.MapFile{Mode: fs.ModeDevice | fs.ModeCharDevice | 0o600}
		}, Problem, "chmod 0666 /dev/net/tun"},
	}
	for _, tt := range tests {
		h := healthySystem()
		tt.break_(&h)
		c := find(RunSystem(h), tt.check)
		if c.Status != tt.status || !strings.Contains(c.Fix, tt.fix) {
			t.Errorf("%s broken: got %s %q (fix %q), want %s with fix containing %q", tt.check, c.Status, c.Detail, c.Fix, tt.status, tt.fix)
		}
	}
	if c := find(RunSystem(healthySystem()), "lingering"); c.Name != "" {
		t.Errorf("system mode checks lingering: %+v", c)
	}
}

func TestNoSession(t *testing.T) {
	h := healthy()
	h.Podman = func() (PodmanInfo, error) { return PodmanInfo{}, ErrNoSession }
	c := find(Run(h), "podman")
	if c.Status != Warning || !strings.Contains(c.Fix, "loginctl enable-linger alice") {
		t.Errorf("podman without a session: %+v", c)
	}
}
