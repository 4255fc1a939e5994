package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/testenv"
)

// promptStop is how long a stop may take before it counts as hanging on
// systemd's default 90 s timeout. The apps under test stop in a few seconds.
const promptStop = 30 * time.Second

// TestBusyboxService runs a plain service with a published port, env, a
// named volume and a bind mount, then stops and starts it again.
func TestBusyboxService(t *testing.T) {
	testenv.Require(t)
	bus := testenv.UserBus(t)
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "from-host.txt"), []byte("bound\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := install(t, bus, "it-busybox", fmt.Sprintf(`version = 1
image = %q
command = ["sh", "-c", "echo \"it-busybox says $GREETING\"; echo persisted > /data/mark; cat /host/from-host.txt > /www/index.html; exec httpd -f -p 8080 -h /www"]
env = { GREETING = "hello 100%% $HOME" }
stop_timeout = "5s"

[[ports]]
host_ip = "127.0.0.1"
host_port = 18081
container_port = 8080

[[volumes]]
name = "it-busybox-data"
target = "/data"

[[binds]]
source = %q
target = "/host"
read_only = true

[[tmpfs]]
target = "/www"
`, testenv.BusyboxImage, host))

	a.job("start", 2*time.Minute)
	if active, sub := a.state(); active != "active" || sub != "running" {
		t.Fatalf("unit is %s/%s after start", active, sub)
	}
	c := a.inspect()
	if !c.State.Running {
		t.Fatal("container is not running")
	}
	if !slices.Contains(c.Config.Env, "GREETING=hello 100% $HOME") {
		t.Errorf("env GREETING not as declared: %q", c.Config.Env)
	}
	if c.Config.Labels["io.ynhd.app"] != "it-busybox" {
		t.Errorf("labels = %v", c.Config.Labels)
	}
	var sawVolume, sawBind bool
	for _, m := range c.Mounts {
		switch {
		case m.Type == "volume" && m.Name == "it-busybox-data" && m.Destination == "/data" && m.RW:
			sawVolume = true
		case m.Type == "bind" && m.Source == host && m.Destination == "/host" && !m.RW:
			sawBind = true
		}
	}
	if !sawVolume || !sawBind {
		t.Errorf("mounts not as declared (volume %v, read-only bind %v): %+v", sawVolume, sawBind, c.Mounts)
	}
	if got := a.exec("cat", "/data/mark"); got != "persisted" {
		t.Errorf("/data/mark = %q", got)
	}

	// The published port answers with the file read through the bind mount.
	var body string
	testenv.WaitFor(t, 20*time.Second, 200*time.Millisecond, "port 18081 to answer", func() (bool, error) {
		resp, err := http.Get("http://127.0.0.1:18081/")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return resp.StatusCode == 200, err
	})
	if body != "bound\n" {
		t.Errorf("port 18081 answered %q", body)
	}

	// The container's stdout is in the unit's journal.
	a.waitJournal("it-busybox says hello 100% $HOME")

	// Stop: prompt, and no container left behind.
	if d := a.job("stop", 2*time.Minute); d > promptStop {
		t.Errorf("stop took %v", d)
	}
	if a.exists() {
		t.Error("container still exists after stop")
	}
	// The named volume and its data outlive the container.
	if got := testenv.Podman(t, "run", "--rm", "-v", "it-busybox-data:/data", testenv.BusyboxImage, "cat", "/data/mark"); got != "persisted" {
		t.Errorf("volume data after stop = %q", got)
	}

	// Start again works.
	a.job("start", 2*time.Minute)
	if !a.inspect().State.Running {
		t.Fatal("container not running after second start")
	}
}

// TestSystemdInContainer is the motivating case: a systemd-based system in
// an unprivileged container, systemd as PID 1, a custom hostname,
// CAP_NET_ADMIN and an exec-able tmpfs volume on /tmp.
func TestSystemdInContainer(t *testing.T) {
	testenv.Require(t)
	bus := testenv.UserBus(t)
	a := install(t, bus, "it-systemd", fmt.Sprintf(`version = 1
image = %q
systemd = true
hostname = "x250.home"
cap_add = ["NET_ADMIN"]
stop_timeout = "20s"

[[volumes]]
name = "it-systemd-tmp"
target = "/tmp"
options = { type = "tmpfs", device = "tmpfs", o = "rw,exec" }
`, testenv.SystemdImage))

	a.job("start", 3*time.Minute)
	// Type=notify with the container's own sd_notify: the start job is done
	// only once systemd inside reports ready, so no waiting here.
	state, _ := testenv.PodmanErr("exec", a.name, "systemctl", "is-system-running")
	if state != "running" && state != "degraded" {
		t.Fatalf("systemctl is-system-running right after the start job = %q\njournal:\n%s", state, testenv.Journal(t, a.unit))
	}
	if h := a.exec("hostname"); h != "x250.home" {
		t.Errorf("hostname = %q", h)
	}
	if c := a.inspect(); !slices.Contains(c.EffectiveCaps, "CAP_NET_ADMIN") {
		t.Errorf("CAP_NET_ADMIN missing from %v", c.EffectiveCaps)
	}
	if out := a.exec("sh", "-c", "printf '#!/bin/sh\\necho exec-from-tmp\\n' > /tmp/t.sh && chmod +x /tmp/t.sh && /tmp/t.sh"); out != "exec-from-tmp" {
		t.Errorf("script in /tmp: %q", out)
	}
	if fs := a.exec("sh", "-c", "grep ' /tmp ' /proc/mounts"); !strings.Contains(fs, "tmpfs") || strings.Contains(fs, "noexec") {
		t.Errorf("/tmp mount: %q", fs)
	}

	if d := a.job("stop", 2*time.Minute); d > promptStop {
		t.Errorf("stop took %v", d)
	}
	if a.exists() {
		t.Error("container still exists after stop")
	}
	a.job("start", 3*time.Minute)
	if state, _ := testenv.PodmanErr("exec", a.name, "systemctl", "is-system-running"); state != "running" && state != "degraded" {
		t.Errorf("after restart: is-system-running = %q", state)
	}
}

// TestRemovedContainerComesBack removes a container behind systemd's back:
// the unit restarts it, and neither the old cidfile nor the old name gets in
// the way.
func TestRemovedContainerComesBack(t *testing.T) {
	testenv.Require(t)
	bus := testenv.UserBus(t)
	a := install(t, bus, "it-restart", fmt.Sprintf(`version = 1
image = %q
command = ["sleep", "100000"]
stop_timeout = "2s"
`, testenv.BusyboxImage))
	a.job("start", 2*time.Minute)
	first := a.inspect().ID
	testenv.Podman(t, "rm", "--force", "--time=0", a.name)
	testenv.WaitFor(t, 60*time.Second, 250*time.Millisecond, "a new container", func() (bool, error) {
		if active, _ := a.state(); active != "active" || !a.exists() {
			return false, nil
		}
		c := a.inspect()
		return c.State.Running && c.ID != first, nil
	})
}

// TestExecStartAsSystemdReadsIt loads a unit full of hostile values, asks
// systemd over D-Bus how it parsed ExecStart, then runs it and asks podman
// what the container got: every word and value must arrive as declared.
func TestExecStartAsSystemdReadsIt(t *testing.T) {
	testenv.Require(t)
	bus := testenv.UserBus(t)
	tricky := []string{"echo \"$HOME\" 50% ; exit 0", ";", "", "'single'", `back\slash`, "tab\there", "ünïcode", "%t %n %%", "${X}"}
	cmd := append([]string{"sh", "-c", "exec sleep 100000", "arg0"}, tricky...)
	quoted := make([]string, len(cmd))
	for i, c := range cmd {
		quoted[i] = fmt.Sprintf("%q", c)
	}
	// $${PATH} is how a declaration writes a literal ${PATH} (a lone
	// ${PATH} would be one of ynhd's own variables).
	a := install(t, bus, "it-quoting", fmt.Sprintf(`version = 1
description = "100%% tricky; $HOME \\ back"
image = %q
command = [%s]
env = { PCT = "100%%", DOLLAR = "$${PATH}", SPACE = " lead and trail " }
stop_timeout = "2s"
`, testenv.BusyboxImage, strings.Join(quoted, ", ")))

	// systemd's parse, before the environment expansion it does at exec
	// time (which turns $$ into $).
	prop, err := bus.GetUnitTypePropertyContext(context.Background(), a.unit, "Service", "ExecStart")
	if err != nil {
		t.Fatal(err)
	}
	execs, ok := prop.Value.Value().([][]any)
	if !ok || len(execs) != 1 {
		t.Fatalf("ExecStart property = %#v", prop.Value.Value())
	}
	argv, _ := execs[0][1].([]string)
	for i := range argv {
		if strings.Contains(strings.ReplaceAll(argv[i], "$$", ""), "$") {
			t.Errorf("systemd would expand a variable in word %d: %q", i, argv[i])
		}
		argv[i] = strings.ReplaceAll(argv[i], "$$", "$")
	}
	if len(argv) < len(cmd) || !slices.Equal(argv[len(argv)-len(cmd):], cmd) {
		t.Fatalf("systemd parsed the command as\n%q\nwant it to end with\n%q", argv, cmd)
	}
	desc, err := bus.GetUnitPropertyContext(context.Background(), a.unit, "Description")
	if err != nil {
		t.Fatal(err)
	}
	if got := desc.Value.Value().(string); got != `100% tricky; $HOME \ back` {
		t.Errorf("Description = %q", got)
	}

	// What the container really got.
	a.job("start", 2*time.Minute)
	out := testenv.Podman(t, "container", "inspect", "--format", "{{json .Config.Cmd}}", a.name)
	var got []string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, cmd) {
		t.Errorf("container command\n%q\nwant\n%q", got, cmd)
	}
	env := a.inspect().Config.Env
	for _, want := range []string{"PCT=100%", "DOLLAR=${PATH}", "SPACE= lead and trail "} {
		if !slices.Contains(env, want) {
			t.Errorf("container env lacks %q: %q", want, env)
		}
	}
}

// TestPrivilegedPortNeedsSysctl: a host port below the host's
// net.ipv4.ip_unprivileged_port_start fails the check, with the fix.
func TestPrivilegedPortNeedsSysctl(t *testing.T) {
	testenv.Require(t)
	host := decl.HostFacts(true)
	if host.UnprivilegedPortStart <= 80 {
		t.Skipf("this host lets unprivileged users bind port 80 (ip_unprivileged_port_start=%d)", host.UnprivilegedPortStart)
	}
	file := filepath.Join(t.TempDir(), "web.toml")
	src := "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n[[ports]]\nhost_port = 80\n"
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	l := decl.LoadFiles([]string{file}, host, "")[0]
	if l.OK() {
		t.Fatal("port 80 passed the check")
	}
	msg := l.Diagnostics.Err().Error()
	for _, want := range []string{file + ":4:1:", "ports[0].host_port", "sysctl -w net.ipv4.ip_unprivileged_port_start=80"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q: %s", want, msg)
		}
	}
}
