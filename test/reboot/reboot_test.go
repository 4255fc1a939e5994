// Package reboot tests that declared apps come back when the user manager
// restarts (a reboot, or the last session ending without lingering) while
// ynhd is not running: their units are enabled into default.target, so the
// new manager starts them by itself. The test stops and restarts the whole
// test environment, so it takes it exclusively; it runs as root and skips
// otherwise.
package reboot

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// inside runs a shell script as the test user inside the environment.
func inside(t *testing.T, script string) string {
	t.Helper()
	out, err := testenv.Control("exec", "--", "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(out)
}

func waitInside(t *testing.T, what, script string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := testenv.Control("exec", "--", "sh", "-c", script)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v\n%s", what, err, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestAppsComeBackAfterManagerRestart(t *testing.T) {
	testenv.Exclusive(t, "restarting the test environment's user manager")
	bin, pkg, err := testenv.BuildYnhd("/var/tmp/ynhd-reboot")
	if err != nil {
		t.Fatal(err)
	}

	// Install ynhd as a user would, start it, declare an app.
	inside(t, fmt.Sprintf(`set -e
bash %s/install.sh %s "" "$HOME/.local/bin" "$HOME/.local/share/systemd/user" >/dev/null
mkdir -p ~/.config/ynhd
rm -f ~/.config/ynhd/*.toml
printf 'version = 1\nimage = "%s"\ncommand = ["sleep", "100000"]\nstop_timeout = "1s"\n' > ~/.config/ynhd/.r-app.toml
mv ~/.config/ynhd/.r-app.toml ~/.config/ynhd/r-app.toml
printf 'version = 1\nimage = "%s"\nsystemd = true\npersistent = true\nnetwork = "none"\n' > ~/.config/ynhd/.r-sys.toml
mv ~/.config/ynhd/.r-sys.toml ~/.config/ynhd/r-sys.toml
systemctl --user daemon-reload
systemctl --user restart ynhd`, pkg, bin, testenv.BusyboxImage, testenv.SystemdImage))
	t.Cleanup(func() {
		testenv.Control("exec", "--", "sh", "-c", `rm -f ~/.config/ynhd/r-app.toml ~/.config/ynhd/r-sys.toml
systemctl --user start ynhd
for i in $(seq 1 100); do [ -e ~/.config/systemd/user/r-app.service ] || [ -e ~/.config/systemd/user/r-sys.service ] || break; sleep 0.2; done
systemctl --user stop ynhd
podman rm --force --ignore r-sys >/dev/null`)
	})
	waitInside(t, "r-app running under ynhd", `systemctl --user is-active -q r-app.service && podman container exists r-app`)
	before := inside(t, `podman inspect --format '{{.Id}}' r-app`)
	// A persistent system container: its state is on its root file system.
	waitInside(t, "r-sys running under ynhd", `systemctl --user is-active -q r-sys.service && podman exec r-sys systemctl is-system-running --wait`)
	inside(t, `podman exec r-sys sh -c 'echo kept > /etc/r-mark'`)
	sysBefore := inside(t, `podman inspect --format '{{.Id}}' r-sys`)

	// ynhd stops; then the whole manager goes away and a new one starts.
	inside(t, `systemctl --user stop ynhd`)
	if out, err := testenv.Control("down"); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	if out, err := testenv.Control("up", "--transient"); err != nil {
		t.Fatalf("up again: %v\n%s", err, out)
	}
	waitInside(t, "r-app back after the manager restart", `systemctl --user is-active -q r-app.service && [ "$(podman inspect --format '{{.State.Running}}' r-app)" = true ]`)
	after := inside(t, `podman inspect --format '{{.Id}}' r-app`)
	if after == before {
		t.Errorf("container %s survived a manager restart; expected a new one", before)
	}
	waitInside(t, "r-sys back after the manager restart", `systemctl --user is-active -q r-sys.service`)
	if got := inside(t, `podman inspect --format '{{.Id}}' r-sys`); got != sysBefore {
		t.Errorf("the persistent container was replaced across a manager restart: %s -> %s", sysBefore, got)
	}
	if got := inside(t, `podman exec r-sys cat /etc/r-mark`); got != "kept" {
		t.Errorf("/etc/r-mark after a manager restart: %q", got)
	}
	if st := inside(t, `podman exec r-sys systemctl is-system-running --wait || true`); st != "running" && st != "degraded" {
		t.Errorf("is-system-running in r-sys after a manager restart: %q", st)
	}
	if st, _ := testenv.Control("exec", "--", "systemctl", "--user", "is-active", "ynhd"); strings.TrimSpace(st) == "active" {
		t.Error("ynhd is running: the app should have come back without it")
	}
}
