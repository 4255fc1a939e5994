package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// TestDaemonGroup: three apps with part_of = "g-shop" come up with their
// group's target; `ynhd stop g-shop` stops all three and they stay stopped
// across a daemon pass; `ynhd start g-shop` starts them; `systemctl --user
// restart` of the target restarts all; after `systemctl --user stop` of it
// the daemon starts them again; the target goes with the last member's
// declaration.
func TestDaemonGroup(t *testing.T) {
	ensureDaemon(t)
	t0 := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(t0).Seconds(), what) }
	apps := []string{"g-a", "g-b", "g-c"}
	const target = "ynhd-group-g-shop.target"
	targetFile := filepath.Join(testenv.UnitDir(), target)
	t.Cleanup(func() {
		for _, app := range apps {
			os.Remove(filepath.Join(declDir(t), app+".toml"))
			os.Remove(filepath.Join(home(t), ".local", "state", "ynhd", "stopped", app))
		}
		testenv.WaitFor(t, 60*time.Second, 200*time.Millisecond, "group removed", func() (bool, error) {
			_, err := os.Stat(targetFile)
			return os.IsNotExist(err), nil
		})
	})
	src := fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sleep\", \"100000\"]\nstop_timeout = \"1s\"\npart_of = \"g-shop\"\n", testenv.BusyboxImage)
	for _, app := range apps {
		declare(t, app, src)
	}
	first := map[string]ctr{}
	for _, app := range apps {
		first[app] = waitContainer(t, app, "running", anyCtr)
	}
	waitActive(t, target)
	if st := ynhdOut(t, "status"); !strings.Contains(st, "group g-shop: "+target+" active/active; apps g-a, g-b, g-c") {
		t.Errorf("status does not show the group:\n%s", st)
	}

	step("up")
	// ynhd stop GROUP: every member stopped, and kept stopped by a pass.
	ynhdOut(t, "stop", "g-shop")
	testenv.Systemctl(t, "reload", "ynhd.service")
	time.Sleep(3 * time.Second)
	for _, u := range append([]string{target}, "g-a.service", "g-b.service", "g-c.service") {
		if out, _ := testenv.SystemctlErr("is-active", u); out != "inactive" {
			t.Errorf("%s after ynhd stop g-shop and a pass: %s", u, out)
		}
	}

	step("stopped and kept stopped")
	// ynhd start GROUP: all up again, the target too.
	ynhdOut(t, "start", "g-shop")
	started := map[string]ctr{}
	for _, app := range apps {
		started[app] = waitContainer(t, app, "running after ynhd start g-shop", func(c ctr) bool { return c.ID != first[app].ID })
	}
	waitActive(t, target)

	step("started")
	// systemctl --user restart of the target restarts every member.
	testenv.Systemctl(t, "restart", target)
	for _, app := range apps {
		waitContainer(t, app, "restarted with its group", func(c ctr) bool { return c.ID != started[app].ID })
	}

	step("restarted")
	// systemctl --user stop of the target is not recorded: the daemon
	// starts the apps again, and the target with them.
	restarted := map[string]ctr{}
	for _, app := range apps {
		restarted[app], _ = current(app)
	}
	// The members were started three times in a few seconds: systemd's
	// start limit (3 in 60 s) would refuse the next start, which is not
	// what this step is about.
	for _, app := range apps {
		testenv.Systemctl(t, "reset-failed", app+".service")
	}
	stopAt := time.Now()
	testenv.Systemctl(t, "stop", target)
	for _, app := range apps {
		waitContainer(t, app, "started again after systemctl stop of its target", func(c ctr) bool { return c.ID != restarted[app].ID })
	}
	if d := time.Since(stopAt); d > 20*time.Second {
		t.Errorf("the apps took %v to come back after systemctl stop of their target:\n%s", d, journalSince(t, "ynhd.service", stopAt))
	}
	waitActive(t, target)

	step("started again after systemctl stop")
	// Members leave; the target stays until the last one goes.
	undeclare(t, "g-a")
	undeclare(t, "g-b")
	if _, err := os.Stat(targetFile); err != nil {
		t.Errorf("the target went before its last member: %v", err)
	}
	undeclare(t, "g-c")
	testenv.WaitFor(t, 30*time.Second, 200*time.Millisecond, target+" removed", func() (bool, error) {
		_, err := os.Stat(targetFile)
		return os.IsNotExist(err), nil
	})
	if out, _ := testenv.SystemctlErr("is-active", target); out == "active" {
		t.Errorf("%s still active after its last member went", target)
	}
	step("removed")
}
