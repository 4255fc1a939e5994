package integration

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// sysDecl is a system container in the spirit of YunoHost: systemd as PID
// 1, kept across restarts, a custom host name, NET_ADMIN, an exec-able
// tmpfs /tmp and a data volume.
func sysDecl(image, extra string) string {
	return fmt.Sprintf(`version = 1
image = %q
systemd = true
persistent = true
keep_snapshots = 2
hostname = "yh.home"
cap_add = ["NET_ADMIN"]
stop_timeout = "20s"
%s
[[volumes]]
name = "p-sys-tmp"
target = "/tmp"
options = { type = "tmpfs", device = "tmpfs", o = "rw,exec" }

[[volumes]]
name = "p-sys-data"
target = "/srv"
`, image, extra)
}

func ynhdRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(ynhdBin(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ynhd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// marks writes files where a system container keeps its state (outside
// any volume) and one in a volume; has reads them back.
const marks = `echo etc > /etc/p-mark && mkdir -p /var/lib/p && echo varlib > /var/lib/p/mark && mkdir -p /opt/p && echo opt > /opt/p/mark && echo srv > /srv/p-mark`
const hasMarks = `cat /etc/p-mark /var/lib/p/mark /opt/p/mark /srv/p-mark | tr '\n' ' '`

// TestPersistentSystemContainer is the motivating case: a systemd-based
// system container whose state survives a restart of its unit, of ynhd,
// and a change of its settings (through a snapshot); whose boot is in
// the journal; whose image change waits for `ynhd recreate`, and which
// `ynhd rollback` brings back.
func TestPersistentSystemContainer(t *testing.T) {
	ensureDaemon(t)
	const app = "p-sys"
	t.Cleanup(func() {
		undeclare(t, app)
		testenv.PodmanErr("rm", "--force", "--ignore", app)
		out, _ := testenv.PodmanErr("images", "--quiet", "--filter", "label=io.ynhd.snapshot-of="+app)
		for _, id := range strings.Fields(out) {
			testenv.PodmanErr("rmi", "--force", id)
		}
		testenv.PodmanErr("rmi", "localhost/ynhd-test/debian-systemd:v2")
		testenv.PodmanErr("volume", "rm", "--force", "p-sys-tmp", "p-sys-data")
	})
	declare(t, app, sysDecl(testenv.SystemdImage, ""))
	first := waitContainer(t, app, "running", anyCtr)
	exec1 := func(script string) string {
		t.Helper()
		out, err := testenv.PodmanErr("exec", app, "sh", "-c", script)
		if err != nil {
			t.Fatalf("podman exec %s: %v\n%s", script, err, out)
		}
		return strings.TrimSpace(out)
	}
	if st := exec1("systemctl is-system-running --wait"); st != "running" && st != "degraded" {
		t.Errorf("is-system-running = %q", st)
	}
	exec1(marks)
	want := "etc varlib opt srv"
	check := func(when string) {
		t.Helper()
		if got := exec1(hasMarks); got != want {
			t.Errorf("%s: files = %q, want %q", when, got, want)
		}
	}

	// A restart of the unit starts the same container.
	testenv.Systemctl(t, "restart", app+".service")
	again := waitContainer(t, app, "running after a restart", anyCtr)
	if again.ID != first.ID {
		t.Errorf("systemctl restart made a new container: %s -> %s", first.ID, again.ID)
	}
	check("after systemctl --user restart")

	// The boot is in the unit's journal (a terminal for PID 1).
	if j := testenv.Journal(t, app+".service"); !strings.Contains(j, "Reached target") {
		t.Errorf("no boot messages in journalctl --user -u %s:\n%s", app, lastLines(j, 20))
	}

	// ynhd restarted: nothing changes.
	testenv.Systemctl(t, "restart", "ynhd.service")
	waitActive(t, "ynhd.service")
	time.Sleep(2 * time.Second)
	if c, _ := current(app); c.ID != first.ID {
		t.Errorf("restarting ynhd replaced the container: %s -> %s", first.ID, c.ID)
	}
	check("after restarting ynhd")

	// A change of settings (a port, an env var): a snapshot, a new
	// container from it, the files still there.
	declare(t, app, sysDecl(testenv.SystemdImage, "env = { P = \"2\" }\nports = [{ host_port = 18089, container_port = 80 }]\n"))
	changed := waitContainer(t, app, "recreated with the new env", func(c ctr) bool { return slices.Contains(c.Env, "P=2") })
	if changed.ID == first.ID {
		t.Fatal("the change kept the old container")
	}
	check("after a change of settings")
	if out := ynhdRun(t, "snapshots", app); !strings.Contains(out, "before-change") {
		t.Errorf("ynhd snapshots after a change:\n%s", out)
	}
	if st := exec1("systemctl is-system-running --wait"); st != "running" && st != "degraded" {
		t.Errorf("is-system-running after the change = %q", st)
	}

	// An image change is pending until `ynhd recreate`.
	testenv.Podman(t, "tag", testenv.SystemdImage, "localhost/ynhd-test/debian-systemd:v2")
	declare(t, app, sysDecl("localhost/ynhd-test/debian-systemd:v2", "env = { P = \"2\" }\nports = [{ host_port = 18089, container_port = 80 }]\n"))
	testenv.WaitFor(t, 30*time.Second, 300*time.Millisecond, "the image change shown as pending", func() (bool, error) {
		out, _ := exec.Command(ynhdBin(t), "status").CombinedOutput()
		return strings.Contains(string(out), "ynhd recreate "+app), nil
	})
	if c, _ := current(app); c.ID != changed.ID {
		t.Fatal("an image change replaced the container by itself")
	}
	ynhdRun(t, "recreate", app)
	fresh := waitContainer(t, app, "recreated on the new image", anyCtr)
	if fresh.ID == changed.ID {
		t.Fatal("ynhd recreate kept the container")
	}
	if got := exec1("cat /etc/p-mark 2>/dev/null || echo none"); got != "none" {
		t.Errorf("a new base image kept the old root file system: %q", got)
	}
	if got := exec1("cat /srv/p-mark"); got != "srv" {
		t.Errorf("the volume's data after recreate: %q", got)
	}

	// Rollback to the snapshot taken before the recreate: the files are
	// back.
	ynhdRun(t, "rollback", app)
	waitContainer(t, app, "rolled back", func(c ctr) bool { return c.ID != fresh.ID })
	check("after ynhd rollback")
	out, _ := testenv.PodmanErr("images", "--quiet", "--filter", "label=io.ynhd.snapshot-of="+app)
	if n := len(strings.Fields(out)); n > 3 {
		t.Errorf("%d snapshots kept with keep_snapshots = 2 (one may be in use)", n)
	}

	// Backup, then everything of the app gone (declaration, container,
	// snapshots, volumes), then restore: the files come back identical.
	sums := exec1(`sha256sum /etc/p-mark /var/lib/p/mark /opt/p/mark /srv/p-mark`)
	archive := t.TempDir() + "/p-sys.ynhd.tar.gz"
	if out := ynhdRun(t, "backup", app, "-o", archive); !strings.Contains(out, "wrote "+archive) {
		t.Errorf("ynhd backup:\n%s", out)
	}
	undeclare(t, app)
	testenv.Podman(t, "rm", "--force", app)
	out, _ = testenv.PodmanErr("images", "--quiet", "--filter", "label=io.ynhd.snapshot-of="+app)
	for _, id := range strings.Fields(out) {
		testenv.PodmanErr("rmi", "--force", id)
	}
	testenv.Podman(t, "volume", "rm", "--force", "p-sys-tmp", "p-sys-data")
	if out := ynhdRun(t, "restore", archive); !strings.Contains(out, "restored "+app) {
		t.Errorf("ynhd restore:\n%s", out)
	}
	waitContainer(t, app, "running after restore", anyCtr)
	if got := exec1(`sha256sum /etc/p-mark /var/lib/p/mark /opt/p/mark /srv/p-mark`); got != sums {
		t.Errorf("after restore:\n%s\nwant\n%s", got, sums)
	}
	if out, err := exec.Command(ynhdBin(t), "restore", archive).CombinedOutput(); err == nil || !strings.Contains(string(out), "replaces nothing") {
		t.Errorf("a second restore over the app: %v\n%s", err, out)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestShippedYunohost: configs/yunohost.toml, as shipped, starts in the
// test environment with a local systemd image standing in for YunoHost,
// boots, publishes its ports and keeps its container.
func TestShippedYunohost(t *testing.T) {
	ensureDaemon(t)
	shipped := os.Getenv(envYunohost)
	if shipped == "" {
		t.Skip("no copy of configs/yunohost.toml (the package's TestMain makes it when run as root)")
	}
	src, err := os.ReadFile(shipped)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Podman(t, "tag", testenv.SystemdImage, "localhost/yunohost:bookworm")
	t.Cleanup(func() {
		undeclare(t, "yunohost")
		testenv.PodmanErr("rm", "--force", "--ignore", "yunohost")
		testenv.PodmanErr("rmi", "localhost/yunohost:bookworm")
		testenv.PodmanErr("volume", "rm", "--force", "yunohost-tmp", "yunohost-home")
	})
	declare(t, "yunohost", string(src))
	first := waitContainer(t, "yunohost", "running as shipped", anyCtr)
	if st, _ := testenv.PodmanErr("exec", "yunohost", "systemctl", "is-system-running", "--wait"); st != "running" && st != "degraded" {
		t.Errorf("is-system-running = %q", st)
	}
	if h, _ := testenv.PodmanErr("exec", "yunohost", "hostname"); h != "x250.home" {
		t.Errorf("hostname = %q", h)
	}
	if ports, _ := testenv.PodmanErr("port", "yunohost"); !strings.Contains(ports, "8088") || !strings.Contains(ports, "8443") {
		t.Errorf("published ports: %q", ports)
	}
	if j := testenv.Journal(t, "yunohost.service"); !strings.Contains(j, "Reached target") {
		t.Errorf("the boot is not in journalctl --user -u yunohost:\n%s", lastLines(j, 20))
	}
	testenv.Systemctl(t, "restart", "yunohost.service")
	if again := waitContainer(t, "yunohost", "running after a restart", anyCtr); again.ID != first.ID {
		t.Errorf("a restart replaced the kept container: %s -> %s", first.ID, again.ID)
	}
}

// TestImportRunRuns: a `podman run` line from the docs, imported into the
// declarations directory, runs as declared.
func TestImportRunRuns(t *testing.T) {
	ensureDaemon(t)
	t.Cleanup(func() {
		undeclare(t, "imp-run")
		testenv.PodmanErr("volume", "rm", "--force", "imp_tmp")
	})
	out, err := exec.Command(ynhdBin(t), "import", "run", "--", "podman", "run", "-d", "--name", "imp-run", "-h", "x250.home", "--cap-add=NET_ADMIN",
		"--mount", "type=volume,source=imp_tmp,target=/tmp", "-e", "WORD=imported", "--stop-timeout", "1",
		testenv.BusyboxImage, "sh", "-c", "echo $WORD > /tmp/w; exec sleep 100000").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "wrote ") {
		t.Fatalf("ynhd import run: %v\n%s", err, out)
	}
	c := waitContainer(t, "imp-run", "running", anyCtr)
	if !slices.Contains(c.Env, "WORD=imported") {
		t.Errorf("env: %v", c.Env)
	}
	if h, _ := testenv.PodmanErr("exec", "imp-run", "hostname"); h != "x250.home" {
		t.Errorf("hostname = %q", h)
	}
	if w, _ := testenv.PodmanErr("exec", "imp-run", "cat", "/tmp/w"); w != "imported" {
		t.Errorf("/tmp/w = %q", w)
	}
}

// TestCheckWarnsUndelegatedLimits: `ynhd check` of an app with a memory
// limit warns exactly when this environment's user manager lacks the
// memory controller (the app would fail to start), with the fix.
func TestCheckWarnsUndelegatedLimits(t *testing.T) {
	ensureDaemon(t)
	dir := t.TempDir()
	src := fmt.Sprintf("version = 1\nimage = %q\n\n[resources]\nmemory = \"64m\"\n", testenv.BusyboxImage)
	if err := os.WriteFile(dir+"/lim.toml", []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command(ynhdBin(t), "check", dir).CombinedOutput()
	ctl, err := os.ReadFile("/sys/fs/cgroup/cgroup.controllers")
	if err != nil {
		t.Skip("no cgroup v2 controllers to read:", err)
	}
	delegated := slices.Contains(strings.Fields(string(ctl)), "memory")
	warned := strings.Contains(string(out), "does not delegate the memory") && strings.Contains(string(out), "Delegate=")
	t.Logf("memory delegated here: %v", delegated)
	if warned == delegated {
		t.Errorf("memory delegated: %v; ynhd check warned: %v\n%s", delegated, warned, out)
	}
}

// TestImportContainerReplace: a container made by hand, with data in a
// named volume, imported with --replace: ynhd runs the app in its place
// and the volume's data is still there.
func TestImportContainerReplace(t *testing.T) {
	ensureDaemon(t)
	t.Cleanup(func() {
		undeclare(t, "imp-hand")
		testenv.PodmanErr("rm", "--force", "--ignore", "imp-hand")
		testenv.PodmanErr("volume", "rm", "--force", "imp-hand-data")
	})
	testenv.Podman(t, "run", "-d", "--name", "imp-hand", "--network", "none", "-v", "imp-hand-data:/data", "-e", "WORD=hand",
		testenv.BusyboxImage, "sh", "-c", "echo made-by-hand >> /data/log; exec sleep 100000")
	testenv.WaitFor(t, 20*time.Second, 200*time.Millisecond, "the hand-made container's write", func() (bool, error) {
		out, _ := testenv.PodmanErr("exec", "imp-hand", "cat", "/data/log")
		return strings.Contains(out, "made-by-hand"), nil
	})
	hand, _ := current("imp-hand")
	out, err := exec.Command(ynhdBin(t), "import", "container", "--replace", "imp-hand").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "wrote ") {
		t.Fatalf("ynhd import container --replace: %v\n%s", err, out)
	}
	c := waitContainer(t, "imp-hand", "run by ynhd", func(c ctr) bool { return c.ID != hand.ID })
	if !slices.Contains(c.Env, "WORD=hand") {
		t.Errorf("env: %v", c.Env)
	}
	if log, _ := testenv.PodmanErr("exec", "imp-hand", "cat", "/data/log"); strings.Count(log, "made-by-hand") != 2 {
		t.Errorf("the volume's data after the takeover: %q (want the hand-made line and ynhd's)", log)
	}
}
