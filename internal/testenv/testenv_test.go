package testenv

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

const selftestUnit = "ynhd-selftest.service"

// selftestUnitText is a hand-written unit modelled on what Quadlet
// generates for a container.
const selftestUnitText = `[Unit]
Description=ynhd test environment self-test

[Service]
Environment=PODMAN_SYSTEMD_UNIT=%n
KillMode=mixed
ExecStartPre=-/usr/bin/rm -f %t/%N.cid
ExecStart=/usr/bin/podman run --name=ynhd-selftest --cidfile=%t/%N.cid --replace --rm --cgroups=split --sdnotify=conmon -d --network=none ` + BusyboxImage + ` sh -c 'trap "exit 0" TERM; echo hello-from-selftest; sleep 1000 & wait'
ExecStop=/usr/bin/podman rm -v -f -i --cidfile=%t/%N.cid
ExecStopPost=-/usr/bin/podman rm -v -f -i --cidfile=%t/%N.cid
ExecStopPost=-/usr/bin/rm -f %t/%N.cid
Delegate=yes
Type=notify
NotifyAccess=all
SyslogIdentifier=%N
`

// TestSelf proves the whole chain: D-Bus to the user manager, a notify
// unit running a podman container with --cgroups=split, the container's
// output in the unit's journal, and a prompt, clean stop.
func TestSelf(t *testing.T) {
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn := UserBus(t)

	units, err := conn.ListUnitsContext(ctx)
	if err != nil {
		t.Fatalf("ListUnits: %v", err)
	}
	var sawDBus bool
	for _, u := range units {
		sawDBus = sawDBus || (u.Name == "dbus.socket" && u.ActiveState == "active")
	}
	if !sawDBus {
		t.Errorf("dbus.socket is not among the %d active units of the user manager", len(units))
	}

	path := filepath.Join(UnitDir(), selftestUnit)
	if err := os.WriteFile(path, []byte(selftestUnitText), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = SystemctlErr("stop", selftestUnit)
		_, _ = PodmanErr("rm", "-f", "-i", "ynhd-selftest")
		os.Remove(path)
		_ = conn.ReloadContext(context.Background())
		_, _ = SystemctlErr("reset-failed", selftestUnit)
	})
	if err := conn.ReloadContext(ctx); err != nil {
		t.Fatalf("Reload: %v", err)
	}

	start := time.Now()
	ch := make(chan string, 1)
	if _, err := conn.StartUnitContext(ctx, selftestUnit, "replace", ch); err != nil {
		t.Fatalf("StartUnit: %v", err)
	}
	if res := <-ch; res != "done" {
		t.Fatalf("starting %s: job result %q\n%s", selftestUnit, res, Journal(t, selftestUnit))
	}
	t.Logf("started %s in %v", selftestUnit, time.Since(start).Round(time.Millisecond))

	if st := Podman(t, "inspect", "--format", "{{.State.Status}}", "ynhd-selftest"); st != "running" {
		t.Errorf("container state %q, want running", st)
	}
	props, err := conn.GetUnitTypePropertiesContext(ctx, selftestUnit, "Service")
	if err != nil {
		t.Fatalf("unit properties: %v", err)
	}
	conmon := Podman(t, "inspect", "--format", "{{.State.ConmonPid}}", "ynhd-selftest")
	if main, _ := props["MainPID"].(uint32); conmon == "" || conmon != strconv.FormatUint(uint64(main), 10) {
		t.Errorf("MainPID of %s is %v, conmon's pid is %s", selftestUnit, props["MainPID"], conmon)
	}
	WaitFor(t, 10*time.Second, 100*time.Millisecond, "the container's output in the unit's journal",
		func() (bool, error) {
			return strings.Contains(Journal(t, selftestUnit), "hello-from-selftest"), nil
		})

	start = time.Now()
	if _, err := conn.StopUnitContext(ctx, selftestUnit, "replace", ch); err != nil {
		t.Fatalf("StopUnit: %v", err)
	}
	if res := <-ch; res != "done" {
		t.Fatalf("stopping %s: job result %q", selftestUnit, res)
	}
	took := time.Since(start)
	t.Logf("stopped %s in %v", selftestUnit, took.Round(time.Millisecond))
	if took > 30*time.Second {
		t.Errorf("stopping took %v, want well under the 90 s stop timeout", took)
	}
	if _, err := PodmanErr("container", "exists", "ynhd-selftest"); err == nil {
		t.Errorf("container ynhd-selftest still exists after the unit stopped")
	}
	if st := Systemctl(t, "show", "--property=ActiveState", "--value", selftestUnit); st != "inactive" {
		t.Errorf("ActiveState %q after stop, want inactive", st)
	}
}

func TestImages(t *testing.T) {
	Require(t)
	for _, img := range []string{BusyboxImage, SystemdImage} {
		if _, err := PodmanErr("image", "exists", img); err != nil {
			t.Errorf("image %s missing: %v", img, err)
		}
	}
	out := Podman(t, "run", "--rm", "--network=none", BusyboxImage,
		"sh", "-c", "for a in httpd nc sleep env cat hostname; do which $a; done")
	if n := len(strings.Fields(out)); n != 6 {
		t.Errorf("busybox image has %d of the 6 applets:\n%s", n, out)
	}
}

func TestRewriteArgs(t *testing.T) {
	dir := t.TempDir()
	uid, gid := os.Getuid(), os.Getgid()
	args := []string{
		"-test.v=true",
		"-test.testlogfile=/abs/testlog.txt",
		"-test.coverprofile=rel.out",
		"-test.gocoverdir=/abs/cov",
		"-test.run=^TestX$",
	}
	got, outs, err := rewriteArgs(args, dir, uid, gid)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"-test.v=true",
		"-test.testlogfile=" + filepath.Join(dir, "out1", "testlog.txt"),
		"-test.coverprofile=rel.out",
		"-test.gocoverdir=" + filepath.Join(dir, "out3"),
		"-test.run=^TestX$",
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("rewriteArgs:\n got %q\nwant %q", got, want)
	}
	if len(outs) != 2 || outs[0].orig != "/abs/testlog.txt" || outs[1].orig != "/abs/cov" || !outs[1].dir {
		t.Errorf("outputs: %+v", outs)
	}
}
