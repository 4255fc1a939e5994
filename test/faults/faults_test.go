// Package faults is ynhd's fault suite: the daemon, installed the documented
// way in the real test environment (a systemd user manager with D-Bus,
// journald and rootless podman, see internal/testenv), is made to live
// through faults of its surroundings — podman's API service frozen or its
// socket gone, the session bus restarted, the manager re-executed and
// reloaded in a burst, ynhd itself SIGKILLed while applying, journald gone,
// the declarations directory unreadable or replaced, a full file system
// under the unit directory, a burst of edits, a slow build at start — and
// each case asserts that everything converges afterwards: every declared
// app running with its declared unit, nothing extra, no temporary files
// left, volume data intact. Convergence is awaited within a generous bound
// and the time it took is logged, never asserted.
//
// The tests change the environment itself (they stop journald, restart the
// bus, mount over the unit directory), so each one takes the environment
// exclusively (testenv.Exclusive); they run as root and skip otherwise.
// Root-only steps are done from here; everything a user would do runs as
// the test user inside the environment (hack/testenv.sh exec).
//
// Run one case with
//
//	go test -tags "remote exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper containers_image_openpgp" \
//		-count=1 -v -run TestFaultRapidEdits ./test/faults/
package faults

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
	"github.com/ynhd/ynhd/test/faults/fenv"
)

// TestFaultPodmanServiceStopped freezes podman's API service (SIGSTOP):
// a new app and an edit must still converge, since units run podman
// themselves and need no API call; after SIGCONT everything converges.
func TestFaultPodmanServiceStopped(t *testing.T) {
	f := fenv.Setup(t, "f-pod-", "freezing the test user's podman service")
	apps := f.Names(3)
	f.Set(fenv.RevsOf(apps, "1"))
	f.Converged("before the fault", fenv.Bound)

	// podman.service is socket-activated and exits when idle: an API
	// call starts it, then it is frozen at once.
	f.Sh(`set -e
curl -sf --unix-socket "$XDG_RUNTIME_DIR/podman/podman.sock" http://d/_ping >/dev/null
systemctl --user is-active -q podman.service
systemctl --user kill -s SIGSTOP podman.service`)
	t.Cleanup(func() { f.ShErr(`systemctl --user kill -s SIGCONT podman.service`) })
	frozen := func() string {
		out, _ := f.ShErr(`pid=$(systemctl --user show -p MainPID --value podman.service); echo "pid $pid: $(grep ^State: /proc/$pid/status)"`)
		return out
	}
	t.Logf("podman.service: %s", frozen())

	f.Set(map[string]string{apps[0]: "2", f.Prefix + "04": "1"})
	f.Converged("with podman's API frozen", fenv.Bound)
	if st := frozen(); !strings.Contains(st, "stopped") {
		t.Logf("podman.service is no longer frozen: %s", st)
	}

	f.Sh(`systemctl --user kill -s SIGCONT podman.service`)
	f.Set(map[string]string{apps[1]: "2"})
	f.Converged("after SIGCONT", fenv.Bound)
}

// TestFaultPodmanSocketStopped stops podman.socket (and the service): apps
// must converge without the API, and again once the socket is back.
func TestFaultPodmanSocketStopped(t *testing.T) {
	f := fenv.Setup(t, "f-sock-", "stopping the test user's podman socket")
	apps := f.Names(3)
	f.Set(fenv.RevsOf(apps, "1"))
	f.Converged("before the fault", fenv.Bound)

	f.Sh(`systemctl --user stop podman.socket podman.service`)
	t.Cleanup(func() { f.ShErr(`systemctl --user start podman.socket`) })
	f.Set(map[string]string{apps[0]: "2", f.Prefix + "04": "1"})
	f.Converged("with podman's socket stopped", fenv.Bound)
	if st, _ := f.ShErr(`systemctl --user is-active podman.socket`); st == "active" {
		t.Logf("podman.socket was started again while the fault lasted (by ynhd?)")
	}

	f.Sh(`systemctl --user start podman.socket`)
	f.Set(map[string]string{apps[1]: "2"})
	f.Converged("after the socket came back", fenv.Bound)
}

// TestFaultSessionBusRestarted stops the session bus (socket and daemon)
// and starts it again: ynhd must find the bus again (restarted by systemd
// or reconnecting) and apply a new app and an edit.
func TestFaultSessionBusRestarted(t *testing.T) {
	f := fenv.Setup(t, "f-bus-", "restarting the test user's session bus")
	apps := f.Names(2)
	f.Set(fenv.RevsOf(apps, "1"))
	f.Converged("before the fault", fenv.Bound)
	before := f.YnhdProps("MainPID", "NRestarts")

	f.Sh(`systemctl --user stop dbus.socket dbus.service; sleep 2; systemctl --user start dbus.socket`)
	t.Cleanup(func() { f.ShErr(`systemctl --user start dbus.socket`) })
	f.Set(map[string]string{apps[0]: "2", f.Prefix + "03": "1"})
	f.Converged("after the bus restart", fenv.Bound)
	after := f.YnhdProps("MainPID", "NRestarts", "ActiveState")
	t.Logf("ynhd before: %v, after: %v", before, after)
	if after["ActiveState"] != "active" {
		t.Errorf("ynhd is %s after the bus restart", after["ActiveState"])
	}
}

// TestFaultDaemonReexecDuringPass re-executes the user manager and reloads
// it 20 times while ynhd applies 10 new apps and an edit.
func TestFaultDaemonReexecDuringPass(t *testing.T) {
	f := fenv.Setup(t, "f-rex-", "re-executing the test user's manager")
	base := f.Names(2)
	f.Set(fenv.RevsOf(base, "1"))
	f.Converged("before the fault", fenv.Bound)

	decls := map[string]string{base[0]: fenv.AppDecl(base[0], "2")}
	for i := 3; i <= 12; i++ {
		a := fmt.Sprintf("%s%02d", f.Prefix, i)
		decls[a] = fenv.AppDecl(a, "1")
	}
	f.Sh(fenv.DeclareScript(decls) + `
systemctl --user daemon-reexec
for i in $(seq 1 20); do systemctl --user daemon-reload; done`)
	for a := range decls {
		f.Decls[a], f.Revs[a] = decls[a], "1"
	}
	f.Revs[base[0]] = "2"
	f.Converged("after daemon-reexec and 20 daemon-reloads", fenv.Bound)
}

// TestFaultSIGKILLDuringApply kills ynhd with SIGKILL at 10 random moments
// while it applies 20 apps, each round editing all of them, so that a kill
// may fall between writing the units and restarting them. systemd
// restarts ynhd (Restart=on-failure); in the end every container must run
// the latest declaration.
func TestFaultSIGKILLDuringApply(t *testing.T) {
	f := fenv.Setup(t, "f-kill-", "killing ynhd repeatedly")
	apps := f.Names(20)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 10))
	t.Logf("random seed %d", seed)

	for round := 1; round <= 10; round++ {
		// Wait for the process systemd restarted after the last kill.
		f.WaitFor(time.Minute, "ynhd running again", func() (bool, string) {
			out, _ := f.ShErr(`systemctl --user show -p MainPID --value ynhd`)
			return out != "" && out != "0", "MainPID=" + out
		})
		f.Set(fenv.RevsOf(apps, strconv.Itoa(round)))
		d := time.Duration(rng.Int64N(int64(3 * time.Second)))
		time.Sleep(d)
		out, err := f.ShErr(`systemctl --user kill -s SIGKILL ynhd`)
		t.Logf("round %d: SIGKILL %v after the edit: %v %s", round, d.Round(time.Millisecond), err, out)
	}
	d := f.WaitFor(fenv.Bound, "ynhd active after the kills", func() (bool, string) {
		out, _ := f.ShErr(`systemctl --user is-active ynhd`)
		return out == "active", out
	})
	t.Logf("ynhd active %v after the last kill", d.Round(100*time.Millisecond))
	f.Converged("after 10 SIGKILLs", fenv.Bound)
	t.Logf("ynhd: %v", f.YnhdProps("NRestarts", "ActiveState"))
}

// TestFaultJournaldStopped stops the environment's journald for 30 s while
// apps are edited and added: ynhd must stay up and converge.
func TestFaultJournaldStopped(t *testing.T) {
	f := fenv.Setup(t, "f-jrnl-", "stopping the environment's journald")
	apps := f.Names(3)
	f.Set(fenv.RevsOf(apps, "1"))
	f.Converged("before the fault", fenv.Bound)
	before := f.YnhdProps("MainPID", "NRestarts")

	stopJournald(t)
	t.Cleanup(func() { ensureJournald(t, f) })
	start := time.Now()
	at := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }
	at(2 * time.Second)
	f.Set(map[string]string{apps[0]: "2"})
	at(12 * time.Second)
	f.Set(map[string]string{f.Prefix + "04": "1"})
	at(22 * time.Second)
	f.Set(map[string]string{apps[1]: "2"})
	at(30 * time.Second)
	ensureJournald(t, f)

	after := f.YnhdProps("MainPID", "NRestarts", "ActiveState", "SubState", "Result")
	t.Logf("ynhd before: %v, after journald came back: %v", before, after)
	if after["ActiveState"] != "active" {
		t.Errorf("ynhd is %s/%s (result %s) after journald was stopped for 30 s", after["ActiveState"], after["SubState"], after["Result"])
	}
	f.Converged("after journald came back", fenv.Bound)
}

// journaldPID returns the pid of the environment's journald, from where
// hack/testenv.sh records it, if that process is journald.
func journaldPID() (int, bool) {
	b, err := os.ReadFile(filepath.Join(fenv.StateDir, "journald.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return pid, err == nil && strings.HasPrefix(string(comm), "systemd-journal")
}

// stopJournald ends the environment's journald and waits until it is gone.
func stopJournald(t *testing.T) {
	t.Helper()
	pid, ok := journaldPID()
	if !ok {
		t.Fatalf("the environment's journald (pid file %s/journald.pid) is not running", fenv.StateDir)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if _, ok := journaldPID(); !ok {
			t.Logf("journald (pid %d) stopped", pid)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("journald (pid %d) did not stop", pid)
}

// ensureJournald starts journald again if it is not running, as
// hack/testenv.sh does (as root in the environment's mount namespace,
// detached, its output appended to journald.log), records its pid there
// and waits until the test user's messages reach the journal.
func ensureJournald(t *testing.T, f *fenv.F) {
	t.Helper()
	if _, ok := journaldPID(); ok {
		return
	}
	logf, err := os.OpenFile(filepath.Join(fenv.StateDir, "journald.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	// nsenter without a pid namespace execs the command: its pid is
	// journald's.
	cmd := exec.Command("nsenter", "-t", fenv.ManagerPID(t), "-m", "--", "/lib/systemd/systemd-journald")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting journald: %v", err)
	}
	go cmd.Wait() //nolint:errcheck // reaped if it exits while the test runs
	if err := os.WriteFile(filepath.Join(fenv.StateDir, "journald.pid"), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := fmt.Sprintf("ynhd-faults-probe-%d", time.Now().UnixNano())
	f.WaitFor(30*time.Second, "journald accepting the test user's messages", func() (bool, string) {
		out, err := f.ShErr(fmt.Sprintf(`echo %[1]s | systemd-cat -t ynhd-faults; journalctl --user -t ynhd-faults -o cat --no-pager | grep -c %[1]s`, probe))
		return err == nil, out
	})
	t.Logf("journald started again (pid %d)", cmd.Process.Pid)
}

// TestFaultDeclDirUnreadable makes the declarations directory unreadable,
// then moves it away and back, then removes and recreates it: no app may
// stop or be replaced meanwhile, and afterwards an edit is noticed at once.
func TestFaultDeclDirUnreadable(t *testing.T) {
	f := fenv.Setup(t, "f-dir-", "breaking the declarations directory")
	apps := f.Names(3)
	watched, edited := apps[:2], apps[2]
	f.Set(fenv.RevsOf(apps, "1"))
	f.Converged("before the fault", fenv.Bound)
	t.Cleanup(func() {
		f.ShErr(`cd ~/.config
[ -d ynhd ] || { [ -d ynhd.away ] && mv ynhd.away ynhd; } || { [ -d ynhd.old ] && mv ynhd.old ynhd; }
chmod 755 ynhd; rm -rf ynhd.away ynhd.old ynhd.new`)
	})

	baseline, err := f.ContainerIDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range watched {
		if !strings.HasSuffix(baseline[a], " running") {
			t.Fatalf("%s's container is %q before the faults", a, baseline[a])
		}
	}
	var (
		mu       sync.Mutex
		changes  []string
		stop     = make(chan struct{})
		finished = make(chan struct{})
	)
	// Reported however the test ends: a Fatal below stops the test, not
	// the report of what changed meanwhile.
	defer func() {
		close(stop)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		for i, c := range changes {
			if i == 10 {
				t.Errorf("... %d more", len(changes)-10)
				break
			}
			t.Errorf("an app changed while its declaration stayed: %s", c)
		}
	}()
	go func() {
		defer close(finished)
		seen := map[string]string{}
		for _, a := range watched {
			seen[a] = baseline[a]
		}
		for {
			select {
			case <-stop:
				return
			case <-time.After(500 * time.Millisecond):
			}
			now, err := f.ContainerIDs()
			if err != nil {
				continue
			}
			for _, a := range watched {
				if now[a] != seen[a] {
					mu.Lock()
					changes = append(changes, fmt.Sprintf("%s %s: container %q, was %q", time.Now().Format("15:04:05.000"), a, now[a], seen[a]))
					mu.Unlock()
					seen[a] = now[a]
				}
			}
		}
	}()

	// Each fault lasts 10 s, with a pass forced (SIGHUP) while it lasts.
	hold := func(what, begin, end string) {
		f.Sh(begin + "\nsystemctl --user reload ynhd || true")
		time.Sleep(10 * time.Second)
		f.Sh(end)
		t.Logf("%s: 10 s", what)
	}
	noticed := func(what, rev string) {
		f.Set(map[string]string{edited: rev})
		d := f.WaitFor(15*time.Second, edited+" restarted with REV="+rev+" after "+what, func() (bool, string) {
			s, err := f.Look([]string{edited})
			if err != nil {
				return false, err.Error()
			}
			c := s.Ctrs[edited]
			return c.State == "running" && c.Has("REV="+rev), fmt.Sprintf("%s %v", c.State, c.Env)
		})
		t.Logf("edit after %s noticed and applied in %v", what, d.Round(100*time.Millisecond))
	}

	hold("declarations directory mode 000", `chmod 000 ~/.config/ynhd`, `chmod 755 ~/.config/ynhd`)
	noticed("chmod 000", "2")
	hold("declarations directory moved away", `mv ~/.config/ynhd ~/.config/ynhd.away`, `mv ~/.config/ynhd.away ~/.config/ynhd`)
	noticed("moving it back", "3")
	hold("declarations directory removed", `set -e
cp -a ~/.config/ynhd ~/.config/ynhd.old
rm -rf ~/.config/ynhd`, `set -e
mkdir ~/.config/ynhd.new
cp -p ~/.config/ynhd.old/*.toml ~/.config/ynhd.new/
mv ~/.config/ynhd.new ~/.config/ynhd
rm -rf ~/.config/ynhd.old`)
	noticed("recreating it", "4")

	time.Sleep(2 * time.Second)
	f.Converged("after the directory faults", fenv.Bound)
}

// TestFaultUnitDirFull puts the unit directory on a full file system: an
// edit cannot be written, the old unit stays intact and running, the error
// is reported, and once space is free the edit is applied by itself.
func TestFaultUnitDirFull(t *testing.T) {
	f := fenv.Setup(t, "f-full-", "mounting a full file system over the unit directory")
	apps := f.Names(2)
	a := apps[0]
	f.Set(fenv.RevsOf(apps, "1"))
	f.Converged("before the fault", fenv.Bound)
	unitFile := "~/.config/systemd/user/" + a + ".service"
	oldUnit := f.Sh("cat " + unitFile)
	oldIDs, err := f.ContainerIDs()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(oldIDs[a], " running") {
		t.Fatalf("%s's container is %q before the fault", a, oldIDs[a])
	}

	// A small tmpfs with the directory's files, filled to the last block
	// by a root-owned file, mounted in the environment's mount namespace.
	uid, gid := fenv.TestUserIDs(t, f.Home)
	dir := f.Home + "/.config/systemd/user"
	out, err := fenv.AsRootInside(t, fmt.Sprintf(`set -e
d=%s
mountpoint -q "$d" && { echo "already a mount point"; exit 1; }
tmp=$(mktemp -d /tmp/ynhd-faults-units.XXXXXX)
cp -a "$d/." "$tmp/"
mount -t tmpfs -o size=256k,mode=0755,uid=%d,gid=%d ynhd-faults-full "$d"
cp -a "$tmp/." "$d/"
rm -rf "$tmp"
dd if=/dev/zero of="$d/.fill" bs=4k 2>/dev/null || true
sync
df -k "$d" | tail -n 1`, dir, uid, gid))
	if err != nil {
		t.Fatalf("mounting the full file system: %v\n%s", err, out)
	}
	t.Logf("unit directory: %s", out)
	t.Cleanup(func() { unmountUnitDir(t, f, dir) })

	since := time.Now()
	f.Set(map[string]string{a: "2"})
	var where string
	f.WaitFor(90*time.Second, `ynhd reporting "no space left on device"`, func() (bool, string) {
		if j := f.JournalSince(since); strings.Contains(strings.ToLower(j), "no space left") {
			where = "ynhd's journal: " + grepLine(j, "no space left")
			return true, ""
		}
		st, _ := f.ShErr(fenv.YnhdCmd + " status")
		if strings.Contains(strings.ToLower(st), "no space left") {
			where = "ynhd status: " + grepLine(st, "no space left")
			return true, ""
		}
		return false, "not in the journal nor in ynhd status"
	})
	t.Logf("the error is reported in %s", where)
	if now := f.Sh("cat " + unitFile); now != oldUnit {
		t.Errorf("%s changed on the full file system:\n%s\nwas:\n%s", unitFile, now, oldUnit)
	}
	if st, _ := f.ShErr("systemctl --user is-active " + a); st != "active" {
		t.Errorf("%s.service is %s on the full file system", a, st)
	}
	if ids, err := f.ContainerIDs(); err == nil && ids[a] != oldIDs[a] {
		t.Errorf("%s's container changed on the full file system: %q, was %q", a, ids[a], oldIDs[a])
	}

	if out, err := fenv.AsRootInside(t, fmt.Sprintf(`rm -f %s/.fill && df -k %s | tail -n 1`, dir, dir)); err != nil {
		t.Fatalf("freeing space: %v\n%s", err, out)
	} else {
		t.Logf("space freed: %s", out)
	}
	f.Converged("after space was freed", fenv.Bound)
}

// unmountUnitDir puts the unit directory back on its own file system with
// the tmpfs's content, ynhd frozen meanwhile so that it sees no
// half-copied directory.
func unmountUnitDir(t *testing.T, f *fenv.F, dir string) {
	f.ShErr(`systemctl --user kill -s SIGSTOP ynhd`)
	defer f.ShErr(`systemctl --user kill -s SIGCONT ynhd`)
	out, err := fenv.AsRootInside(t, fmt.Sprintf(`set -e
d=%s
mountpoint -q "$d" || exit 0
rm -f "$d/.fill"
tmp=$(mktemp -d /tmp/ynhd-faults-units.XXXXXX)
cp -a "$d/." "$tmp/"
umount "$d"
find "$d" -mindepth 1 -delete
cp -a "$tmp/." "$d/"
rm -rf "$tmp"`, dir))
	if err != nil {
		t.Errorf("unmounting the unit directory's tmpfs: %v\n%s", err, out)
	}
}

func grepLine(s, substr string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(strings.ToLower(l), substr) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestFaultRapidEdits edits one app 50 times in 5 s: it must end on the
// last content, restarted a few times at most, not once per edit.
func TestFaultRapidEdits(t *testing.T) {
	f := fenv.Setup(t, "f-rapid-", "editing an app 50 times in 5 s")
	a := f.Prefix + "01"
	f.Set(map[string]string{a: "0"})
	f.Converged("before the edits", fenv.Bound)
	since := f.Sh(`date +%s`)

	var b strings.Builder
	b.WriteString("set -e\ncd ~/.config/ynhd\n")
	for i := 1; i <= 50; i++ {
		fmt.Fprintf(&b, "cat > .%[1]s.toml.tmp <<'YNHD_EOF'\n%[2]sYNHD_EOF\nmv .%[1]s.toml.tmp %[1]s.toml\nsleep 0.1\n", a, fenv.AppDecl(a, strconv.Itoa(i)))
	}
	start := time.Now()
	f.Sh(b.String())
	t.Logf("50 edits written in %v", time.Since(start).Round(10*time.Millisecond))
	f.Decls[a], f.Revs[a] = fenv.AppDecl(a, "50"), "50"
	f.Converged("after 50 edits", fenv.Bound)

	// It stays on the last content.
	ids, err := f.ContainerIDs()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(ids[a], " running") {
		t.Fatalf("%s's container is %q after converging", a, ids[a])
	}
	time.Sleep(5 * time.Second)
	f.Converged("5 s later", 10*time.Second)
	if now, _ := f.ContainerIDs(); now[a] != ids[a] {
		t.Errorf("%s restarted again after it converged: %q, was %q", a, now[a], ids[a])
	}

	starts := f.Sh(fmt.Sprintf(`podman --cgroup-manager=cgroupfs events --stream=false --since %s --filter container=%s --filter event=start --format '{{.ID}}' | wc -l`, since, a))
	n, err := strconv.Atoi(strings.TrimSpace(starts))
	if err != nil {
		t.Fatalf("counting starts: %q", starts)
	}
	t.Logf("%s's container started %d times for 50 edits", a, n)
	if n < 1 || n > 10 {
		t.Errorf("%s's container started %d times for 50 edits; want 1 to 10 (no restart storm)", a, n)
	}
}

// TestFaultSlowBuildAtStart starts ynhd with an app whose image takes 2
// minutes to build: ynhd must become ready well within its start timeout,
// another app must run long before the build ends, and the built app
// must run eventually.
func TestFaultSlowBuildAtStart(t *testing.T) {
	f := fenv.Setup(t, "f-slow-", "a 2-minute build at ynhd's start")
	built, plain := f.Prefix+"build", f.Prefix+"plain"
	ctxDir := f.Home + "/" + f.Prefix + "ctx"
	tag := "localhost/ynhd-faults/" + built + ":latest"
	// A token in the build step: no layer cached by an earlier run.
	f.Sh(fmt.Sprintf(`set -e
systemctl --user stop ynhd
rm -rf %[1]s; mkdir -p %[1]s
printf 'FROM %[2]s\nRUN echo %[3]d > /token && sleep 120\n' > %[1]s/Containerfile`, ctxDir, testenv.BusyboxImage, time.Now().UnixNano()))
	f.After = append(f.After, func() {
		f.ShErr(fmt.Sprintf(`rm -rf %s; podman rmi -f %s`, ctxDir, tag))
	})
	buildSrc := strings.Replace(fenv.AppDecl(built, "1"), fmt.Sprintf("image = %q\n", testenv.BusyboxImage), "", 1) +
		fmt.Sprintf("\n[build]\ncontext = %q\ntag = %q\n", ctxDir, tag)
	f.Declare(built, buildSrc, "1")
	f.Declare(plain, fenv.AppDecl(plain, "1"), "1")

	start := time.Now()
	out, err := f.ShErr(`systemctl --user start ynhd`)
	took := time.Since(start).Round(100 * time.Millisecond)
	timeout := f.YnhdProps("TimeoutStartUSec")["TimeoutStartUSec"]
	if err != nil {
		t.Errorf("systemctl --user start ynhd failed after %v (TimeoutStartUSec=%s): %v %s", took, timeout, err, out)
	} else {
		t.Logf("systemctl --user start ynhd returned after %v (TimeoutStartUSec=%s)", took, timeout)
	}

	f.ConvergedApps("the plain app", []string{plain}, fenv.Bound)
	if d := time.Since(start); d > 100*time.Second {
		t.Errorf("the plain app ran %v after ynhd's start: it waited for the 2-minute build", d.Round(time.Second))
	} else {
		t.Logf("the plain app ran %v after ynhd's start", d.Round(100*time.Millisecond))
	}
	f.Converged("with the built app", 5*time.Minute)
	t.Logf("the built app ran %v after ynhd's start", time.Since(start).Round(time.Second))
}
