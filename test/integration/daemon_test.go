package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// The daemon under test: installed with packaging/install.sh into
// ~/.local, started with systemctl --user, reading ~/.config/ynhd.
var daemonOnce sync.Once

func home(t *testing.T) string {
	h, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func declDir(t *testing.T) string { return filepath.Join(home(t), ".config", "ynhd") }

func ynhdBin(t *testing.T) string { return filepath.Join(home(t), ".local", "bin", "ynhd") }

// ensureDaemon installs ynhd the way `make install PREFIX=~/.local` does and
// (re)starts it once per test binary.
func ensureDaemon(t *testing.T) {
	t.Helper()
	testenv.Require(t)
	bin, pkg := os.Getenv(envBin), os.Getenv(envPackaging)
	if bin == "" || pkg == "" {
		t.Skip("no ynhd binary to install (the package's TestMain builds it when run as root)")
	}
	daemonOnce.Do(func() {
		h := home(t)
		out, err := exec.Command("bash", filepath.Join(pkg, "install.sh"), bin, "",
			filepath.Join(h, ".local", "bin"), filepath.Join(h, ".local", "share", "systemd", "user")).CombinedOutput()
		if err != nil {
			t.Fatalf("install.sh: %v\n%s", err, out)
		}
		// Start from an empty declarations directory.
		old, _ := filepath.Glob(filepath.Join(declDir(t), "*.toml"))
		for _, f := range old {
			os.Remove(f)
		}
		testenv.Systemctl(t, "daemon-reload")
		testenv.Systemctl(t, "restart", "ynhd.service")
	})
	waitActive(t, "ynhd.service")
}

func waitActive(t *testing.T, unit string) {
	t.Helper()
	testenv.WaitFor(t, 30*time.Second, 100*time.Millisecond, unit+" active", func() (bool, error) {
		out, _ := testenv.SystemctlErr("is-active", unit)
		return out == "active", nil
	})
}

// declare writes a declaration the documented way: a dotfile in the same
// directory, renamed into place.
func declare(t *testing.T, app, src string) {
	t.Helper()
	dir := declDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(dir, "."+app+".toml.tmp")
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, app+".toml")); err != nil {
		t.Fatal(err)
	}
}

// undeclare removes an app's declaration and waits until ynhd removed its
// unit.
func undeclare(t *testing.T, app string) {
	t.Helper()
	os.Remove(filepath.Join(declDir(t), app+".toml"))
	unitFile := filepath.Join(testenv.UnitDir(), app+".service")
	testenv.WaitFor(t, 60*time.Second, 200*time.Millisecond, app+" removed", func() (bool, error) {
		_, err := os.Stat(unitFile)
		return os.IsNotExist(err), nil
	})
}

type ctr struct {
	ID      string
	Started time.Time
	Env     []string
}

// current returns the app's running container, or ok=false.
func current(app string) (ctr, bool) {
	out, err := testenv.PodmanErr("container", "inspect", "--format", "{{json .}}", app)
	if err != nil {
		return ctr{}, false
	}
	var cs []struct {
		ID    string `json:"Id"`
		State struct {
			Running   bool
			StartedAt time.Time
		}
		Config struct{ Env []string }
	}
	if json.Unmarshal([]byte(out), &cs) != nil || len(cs) != 1 || !cs[0].State.Running {
		return ctr{}, false
	}
	c := cs[0]
	return ctr{c.ID, c.State.StartedAt, c.Config.Env}, true
}

// waitContainer waits until the app's unit is active and its container
// runs and satisfies ok.
func waitContainer(t *testing.T, app, what string, ok func(ctr) bool) ctr {
	t.Helper()
	var got ctr
	testenv.WaitFor(t, 90*time.Second, 200*time.Millisecond, app+": "+what, func() (bool, error) {
		if out, _ := testenv.SystemctlErr("is-active", app+".service"); out != "active" {
			return false, fmt.Errorf("unit is %s", out)
		}
		c, running := current(app)
		got = c
		return running && ok(c), nil
	})
	return got
}

func anyCtr(ctr) bool { return true }

func ynhdJournal(t *testing.T) string { return testenv.Journal(t, "ynhd.service") }

func webDecl(greeting string) string {
	return fmt.Sprintf(`version = 1
image = %q
command = ["sh", "-c", "echo \"d-web says $GREETING\"; echo kept > /data/mark; exec sleep 100000"]
env = { GREETING = %q }
stop_timeout = "2s"

[[volumes]]
name = "d-web-data"
target = "/data"
`, testenv.BusyboxImage, greeting)
}

// TestDaemonReconciles drives the daemon through the life of an app: create,
// edit, a broken edit beside a working app, a container removed behind
// its back, a hand-edited unit, a daemon restart, disabling and deletion.
func TestDaemonReconciles(t *testing.T) {
	ensureDaemon(t)
	begin := time.Now()
	t.Cleanup(func() {
		os.Remove(filepath.Join(declDir(t), "d-web.toml"))
		os.Remove(filepath.Join(declDir(t), "d-other.toml"))
	})

	// Create.
	declare(t, "d-web", webDecl("one"))
	declare(t, "d-other", fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sleep\", \"100000\"]\nstop_timeout = \"1s\"\n", testenv.BusyboxImage))
	web := waitContainer(t, "d-web", "running with GREETING=one", func(c ctr) bool { return slices.Contains(c.Env, "GREETING=one") })
	other := waitContainer(t, "d-other", "running", anyCtr)
	if _, err := os.Lstat(filepath.Join(testenv.UnitDir(), "default.target.wants", "d-web.service")); err != nil {
		t.Errorf("d-web is not enabled into default.target: %v", err)
	}
	if j := ynhdJournal(t); !strings.Contains(j, "d-web.service") {
		t.Errorf("ynhd's journal does not mention d-web.service:\n%s", j)
	}

	// Edit: restarted with the new value; the other app untouched.
	declare(t, "d-web", webDecl("two"))
	web2 := waitContainer(t, "d-web", "restarted with GREETING=two", func(c ctr) bool {
		return c.ID != web.ID && slices.Contains(c.Env, "GREETING=two")
	})
	if c, _ := current("d-other"); c.ID != other.ID {
		t.Error("editing d-web restarted d-other")
	}

	// A broken edit: reported with file and line, nothing stops.
	declare(t, "d-web", webDecl("three")+"[[ports]]\nhost_port = \"8080\"\n")
	broken := filepath.Join(declDir(t), "d-web.toml")
	testenv.WaitFor(t, 20*time.Second, 200*time.Millisecond, "the broken declaration in ynhd's journal", func() (bool, error) {
		return strings.Contains(ynhdJournal(t), broken+":11:"), nil
	})
	time.Sleep(2 * time.Second)
	if c, ok := current("d-web"); !ok || c.ID != web2.ID || !slices.Contains(c.Env, "GREETING=two") {
		t.Errorf("d-web did not keep running its last good declaration: %+v %v", c, ok)
	}
	if c, _ := current("d-other"); c.ID != other.ID {
		t.Error("a broken d-web restarted d-other")
	}
	// The journal has it at priority err; info lines stay out of -p err.
	errs := journalSince(t, "ynhd.service", begin, "-p", "err")
	if !strings.Contains(errs, broken+":11:") || strings.Contains(errs, "write app=") {
		t.Errorf("journalctl -p err of ynhd:\n%s", errs)
	}
	// systemctl status shows ynhd's one-line summary.
	if st := testenv.Systemctl(t, "show", "ynhd.service", "--property=StatusText", "--value"); !strings.HasPrefix(st, "2 apps: ") || !strings.Contains(st, "1 invalid") {
		t.Errorf("StatusText = %q", st)
	}
	status := ynhdOut(t, "status")
	if !strings.Contains(status, "d-web") || !strings.Contains(status, broken+":11:") {
		t.Errorf("ynhd status does not show the problem:\n%s", status)
	}
	declare(t, "d-web", webDecl("two"))

	// A container removed behind systemd's back comes back.
	testenv.Podman(t, "rm", "--force", "--time=0", "d-web")
	web3 := waitContainer(t, "d-web", "back after podman rm -f", func(c ctr) bool { return c.ID != web2.ID })

	// A hand-edited unit is restored.
	unitFile := filepath.Join(testenv.UnitDir(), "d-web.service")
	orig, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unitFile, []byte(strings.Replace(string(orig), "GREETING=two", "GREETING=hacked", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 20*time.Second, 100*time.Millisecond, "the hand-edited unit restored", func() (bool, error) {
		b, err := os.ReadFile(unitFile)
		return err == nil && string(b) == string(orig), err
	})
	// Restoring restarts the app (its unit changed on disk); until then
	// the old container, which still has GREETING=two, runs.
	web4 := waitContainer(t, "d-web", "restarted after the restore", func(c ctr) bool {
		return c.ID != web3.ID && slices.Contains(c.Env, "GREETING=two")
	})

	// A reload (SIGHUP) is a pass; ynhd stays up.
	testenv.Systemctl(t, "reload", "ynhd.service")
	waitActive(t, "ynhd.service")

	// Restarting ynhd restarts no container.
	testenv.Systemctl(t, "restart", "ynhd.service")
	waitActive(t, "ynhd.service")
	time.Sleep(2 * time.Second)
	for app, before := range map[string]ctr{"d-web": web4, "d-other": other} {
		c, ok := current(app)
		if !ok || c.ID != before.ID || !c.Started.Equal(before.Started) {
			t.Errorf("%s changed across a ynhd restart: before %s %v, after %s %v", app, before.ID, before.Started, c.ID, c.Started)
		}
	}

	// enabled = false stops the app and keeps it stopped.
	declare(t, "d-other", fmt.Sprintf("version = 1\nenabled = false\nimage = %q\ncommand = [\"sleep\", \"100000\"]\nstop_timeout = \"1s\"\n", testenv.BusyboxImage))
	testenv.WaitFor(t, 30*time.Second, 200*time.Millisecond, "d-other stopped", func() (bool, error) {
		out, _ := testenv.SystemctlErr("is-active", "d-other.service")
		return out == "inactive", nil
	})
	if _, err := os.Lstat(filepath.Join(testenv.UnitDir(), "default.target.wants", "d-other.service")); err == nil {
		t.Error("a disabled app is still enabled into default.target")
	}

	// enabled = true again (here: the key removed) enables and starts it.
	declare(t, "d-other", fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sleep\", \"100000\"]\nstop_timeout = \"1s\"\n", testenv.BusyboxImage))
	waitContainer(t, "d-other", "running again after enabled = true", anyCtr)
	if _, err := os.Lstat(filepath.Join(testenv.UnitDir(), "default.target.wants", "d-other.service")); err != nil {
		t.Errorf("a re-enabled app is not enabled into default.target: %v", err)
	}

	// ynhd stop holds across passes; ynhd start ends it. A name that is
	// not an app is refused.
	ynhdOut(t, "stop", "d-other")
	testenv.Systemctl(t, "reload", "ynhd.service")
	time.Sleep(3 * time.Second)
	if out, _ := testenv.SystemctlErr("is-active", "d-other.service"); out != "inactive" {
		t.Errorf("d-other after ynhd stop and a pass: %s", out)
	}
	if st := ynhdOut(t, "status"); !strings.Contains(st, "d-other: stopped with ynhd stop") {
		t.Errorf("status does not say d-other was stopped by hand:\n%s", st)
	}
	ynhdOut(t, "start", "d-other")
	waitContainer(t, "d-other", "running after ynhd start", anyCtr)
	if out, err := exec.Command(ynhdBin(t), "stop", "dbus").CombinedOutput(); err == nil || !strings.Contains(string(out), `no app named "dbus"`) {
		t.Errorf("ynhd stop dbus: %v\n%s", err, out)
	}
	// ynhd apply while the daemon runs is refused: one reconciler at a time.
	if out, err := exec.Command(ynhdBin(t), "apply").CombinedOutput(); err == nil || !strings.Contains(string(out), "holds") {
		t.Errorf("ynhd apply beside the daemon: %v\n%s", err, out)
	}

	// Delete: stopped, unit gone, volume and its data kept.
	undeclare(t, "d-web")
	undeclare(t, "d-other")
	if _, ok := current("d-web"); ok {
		t.Error("d-web's container still runs after its declaration was deleted")
	}
	if out, _ := testenv.SystemctlErr("is-active", "d-web.service"); out == "active" {
		t.Error("d-web.service still active")
	}
	if got := testenv.Podman(t, "run", "--rm", "-v", "d-web-data:/data", testenv.BusyboxImage, "cat", "/data/mark"); got != "kept" {
		t.Errorf("volume data after delete = %q", got)
	}
	testenv.Podman(t, "volume", "rm", "d-web-data")
}

// TestDaemonCrashLoop: an app that exits at once is restarted a handful of
// times a minute at most and shows as crash-looping in ynhd status.
func TestDaemonCrashLoop(t *testing.T) {
	ensureDaemon(t)
	t.Cleanup(func() { undeclare(t, "d-crash") })
	start := time.Now()
	declare(t, "d-crash", fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sh\", \"-c\", \"echo crashing; exit 3\"]\n", testenv.BusyboxImage))
	var st struct {
		Apps []struct {
			App          string `json:"app"`
			Condition    string `json:"condition"`
			CrashLooping bool   `json:"crash_looping"`
		} `json:"apps"`
	}
	testenv.WaitFor(t, 60*time.Second, time.Second, "d-crash reported crash-looping", func() (bool, error) {
		if err := json.Unmarshal([]byte(ynhdOut(t, "status", "--json")), &st); err != nil {
			return false, err
		}
		for _, a := range st.Apps {
			if a.App == "d-crash" {
				return a.CrashLooping && a.Condition == "failing", nil
			}
		}
		return false, nil
	})
	// Watch the rest of a minute, then count the starts.
	time.Sleep(time.Until(start.Add(60 * time.Second)))
	starts := strings.Count(journalSince(t, "d-crash.service", start), "crashing")
	t.Logf("d-crash started %d times in %v", starts, time.Since(start).Round(time.Second))
	if starts < 2 || starts > 5 {
		t.Errorf("d-crash started %d times in a minute; want a handful (2-5)", starts)
	}
	if j := journalSince(t, "ynhd.service", start); strings.Count(j, "app is crash-looping") > 2 {
		t.Errorf("ynhd logs the crash loop on every pass:\n%s", j)
	}
}

// ynhdOut runs the installed ynhd as the user and returns its output.
func ynhdOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(ynhdBin(t), args...).CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !(args[0] == "status" && errors.As(err, &ee) && ee.ExitCode() == 3) { // 3: an app is failing
		t.Fatalf("ynhd %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// journalSince returns the unit's messages since t (the journal outlives
// units, and earlier runs may have used the same names).
func journalSince(t *testing.T, unit string, since time.Time, extra ...string) string {
	t.Helper()
	args := append([]string{"--user", "-u", unit, "-o", "cat", "--no-pager", "--since", fmt.Sprintf("@%d", since.Unix()-1)}, extra...)
	out, err := exec.Command("journalctl", args...).Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestDaemonLeavesForeignUnits: a declaration named like a masked unit,
// an alias or a linked unit never replaces it; the problem is in ynhd's
// journal at priority err and in ynhd status.
func TestDaemonLeavesForeignUnits(t *testing.T) {
	ensureDaemon(t)
	start := time.Now()
	units := testenv.UnitDir()
	linked := filepath.Join(t.TempDir(), "t-linked.service")
	if err := os.WriteFile(linked, []byte("[Service]\nExecStart=/bin/sleep 1000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(linked), 0o755)
	links := map[string]string{"t-masked.service": "/dev/null", "t-alias.service": "dbus.service"}
	for name, dest := range links {
		if err := os.Symlink(dest, filepath.Join(units, name)); err != nil {
			t.Fatal(err)
		}
	}
	testenv.Systemctl(t, "link", linked)
	links["t-linked.service"] = linked
	t.Cleanup(func() {
		for _, app := range []string{"t-masked", "t-alias", "t-linked"} {
			os.Remove(filepath.Join(declDir(t), app+".toml"))
		}
		for name := range links {
			os.Remove(filepath.Join(units, name))
		}
		testenv.SystemctlErr("daemon-reload")
	})
	for _, app := range []string{"t-masked", "t-alias", "t-linked"} {
		declare(t, app, fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sleep\", \"100000\"]\n", testenv.BusyboxImage))
	}
	testenv.WaitFor(t, 30*time.Second, 500*time.Millisecond, "the three problems in ynhd's journal at err", func() (bool, error) {
		j := journalSince(t, "ynhd.service", start, "-p", "err")
		return strings.Contains(j, "t-masked.service is taken") && strings.Contains(j, "t-alias.service is taken") &&
			strings.Contains(j, "t-linked.service is taken"), nil
	})
	reloadYnhd(t)
	time.Sleep(2 * time.Second)
	for name, dest := range links {
		if got, err := os.Readlink(filepath.Join(units, name)); err != nil || got != dest {
			t.Errorf("%s: now %q (%v), want the symlink to %s left alone", name, got, err, dest)
		}
	}
	st := ynhdOut(t, "status")
	for _, app := range []string{"t-masked", "t-alias", "t-linked"} {
		if !strings.Contains(st, app+": the unit name "+app+".service is taken") {
			t.Errorf("ynhd status does not explain %s:\n%s", app, st)
		}
	}
}
