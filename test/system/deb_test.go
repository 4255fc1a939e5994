package system

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDebianPackage builds the .deb with `make deb` on this host, installs
// it with apt in the booted Debian and follows a new user: the user unit is
// enabled for everyone, so enabling lingering for a brand-new user is all
// it takes for ynhd (and an app declared in ~/.config/ynhd) to run. Both
// packaged units pass systemd-analyze verify; lintian reports no error;
// apt remove and purge leave declarations and volumes.
func TestDebianPackage(t *testing.T) {
	requireBoot(t)
	const user = "dora"

	// make deb, as a packager would run it in this tree.
	out := t.TempDir()
	mk := exec.Command("make", "-C", repo, "deb", "DEBDIR="+out)
	b, err := mk.CombinedOutput()
	if err != nil {
		t.Fatalf("make deb: %v\n%s", err, b)
	}
	t.Logf("make deb:\n%s", b)
	debs, _ := filepath.Glob(filepath.Join(out, "ynhd_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb left %d packages in %s: %v", len(debs), out, debs)
	}
	deb := debs[0]
	data, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	inDeb := "/var/tmp/" + filepath.Base(deb)
	if err := os.WriteFile(filepath.Join(rootDir, inDeb), data, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("lintian", func(t *testing.T) { lintian(t, deb, inDeb) })

	if sh(t, `test -e /etc/systemd/system/multi-user.target.wants/ynhd.service && echo yes || echo no`) == "yes" {
		t.Fatal("system-mode ynhd is enabled before the package is installed; cannot tell what the package does")
	}
	sh(t, `apt-get -q -y install `+inDeb)
	t.Cleanup(func() { inside(`apt-get -q -y purge ynhd`) })

	t.Run("installed as packaged", func(t *testing.T) {
		if got := sh(t, `systemctl --global is-enabled ynhd.service || true`); got != "enabled" {
			t.Errorf("systemctl --global is-enabled ynhd.service = %q, want enabled", got)
		}
		if got := sh(t, `readlink /etc/systemd/user/default.target.wants/ynhd.service || true`); got != "/usr/lib/systemd/user/ynhd.service" {
			t.Errorf("default.target.wants/ynhd.service -> %q", got)
		}
		if _, err := inside(`test -e /etc/systemd/system/multi-user.target.wants/ynhd.service`); err == nil {
			t.Error("the package enabled the system-mode unit")
		}
		sh(t, `test -x /usr/bin/ynhd && test -f /lib/systemd/system/ynhd.service && test -f /usr/lib/systemd/user/ynhd-network-online.service`)
		sh(t, `test -f /usr/share/doc/ynhd/copyright && test -f /usr/share/doc/ynhd/changelog.Debian.gz && test -f /usr/share/doc/ynhd/examples/whoami.toml`)
		if got := sh(t, `grep -h '^ExecStart=' /lib/systemd/system/ynhd.service /usr/lib/systemd/user/ynhd.service`); got != "ExecStart=/usr/bin/ynhd run --system\nExecStart=/usr/bin/ynhd run" {
			t.Errorf("the packaged units run:\n%s", got)
		}
	})

	// A new user, with a declaration waiting, gets lingering: logind starts
	// the manager, which starts the globally enabled ynhd, which starts the
	// app. Nobody runs systemctl start.
	sh(t, fmt.Sprintf(`id %[1]s >/dev/null 2>&1 || useradd --create-home --shell /bin/bash %[1]s`, user))
	uid := sh(t, "id -u "+user)
	writeFile(t, "/home/"+user+"/.config/ynhd/hi.toml", strings.Replace(helloDecl, "hello-data", "hi-data", 1))
	sh(t, fmt.Sprintf(`chown -R %[1]s: /home/%[1]s/.config`, user))
	// The test machine's hybrid cgroups (see TestLingering).
	sh(t, `chown `+user+` /sys/fs/cgroup`)
	t.Cleanup(func() {
		inside(fmt.Sprintf(`systemctl --user -M %[1]s@ stop hi.service; loginctl disable-linger %[1]s; loginctl terminate-user %[1]s; chown root /sys/fs/cgroup`, user))
	})
	sh(t, `loginctl enable-linger `+user)

	t.Run("a new lingering user gets ynhd and its app", func(t *testing.T) {
		waitFor(t, 30*time.Second, user+"'s manager", fmt.Sprintf(`systemctl --user -M %s@ is-system-running`, user))
		waitFor(t, 30*time.Second, "ynhd to be started by "+user+"'s manager", fmt.Sprintf(`systemctl --user -M %s@ is-active ynhd`, user))
		if got := sh(t, fmt.Sprintf(`systemctl --user -M %s@ show -p FragmentPath --value ynhd`, user)); got != "/usr/lib/systemd/user/ynhd.service" {
			t.Errorf("%s's ynhd.service comes from %q", user, got)
		}
		waitFor(t, 2*time.Minute, "the declared app to run", fmt.Sprintf(`systemctl --user -M %s@ is-active hi`, user))
		waitFor(t, 30*time.Second, "the app's output in the journal",
			fmt.Sprintf(`journalctl _UID=%s _SYSTEMD_USER_UNIT=hi.service -o cat | grep -q 'hello from 0'`, uid))
		status := sh(t, fmt.Sprintf(`cd / && runuser -u %[1]s -- env -i HOME=/home/%[1]s XDG_RUNTIME_DIR=/run/user/%[2]s DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%[2]s/bus /usr/bin/ynhd status || [ $? = 3 ]`, user, uid))
		if !strings.Contains(status, "hi") || !strings.Contains(status, "running") {
			t.Errorf("ynhd status as %s:\n%s", user, status)
		}
	})

	// ynhd apply (the daemon stopped: one reconciler at a time) shows a pull
	// while it waits: plain lines, as its stderr is no terminal here.
	t.Run("ynhd apply shows the pull it waits for", func(t *testing.T) {
		sh(t, fmt.Sprintf(`systemctl --user -M %s@ stop ynhd`, user))
		writeFile(t, "/home/"+user+"/.config/ynhd/deb.toml", "version = 1\nimage = \""+debianSystemd+"\"\ncommand = [\"sleep\", \"infinity\"]\n")
		sh(t, fmt.Sprintf(`chown %[1]s: /home/%[1]s/.config/ynhd/deb.toml`, user))
		out := sh(t, fmt.Sprintf(`cd / && runuser -u %[1]s -- env -i HOME=/home/%[1]s PATH=/usr/bin:/bin XDG_RUNTIME_DIR=/run/user/%[2]s DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/%[2]s/bus /usr/bin/ynhd apply 2>&1`, user, uid))
		t.Logf("ynhd apply:\n%s", out)
		if !strings.Contains(out, "deb: pulling "+debianSystemd) || strings.ContainsRune(out, '\r') || strings.ContainsRune(out, 0x1b) {
			t.Errorf("ynhd apply does not show the pull as plain lines")
		}
		waitFor(t, 2*time.Minute, "the pulled app to run", fmt.Sprintf(`systemctl --user -M %s@ is-active deb`, user))
		sh(t, fmt.Sprintf(`rm /home/%[1]s/.config/ynhd/deb.toml && systemctl --user -M %[1]s@ start ynhd`, user))
		waitFor(t, time.Minute, "ynhd to remove the app", fmt.Sprintf(`! systemctl --user -M %s@ is-active -q deb`, user))
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		// The units name man:ynhd(1); verify checks it when the package
		// has man pages (make man), with man-db installed.
		man := "--man=no"
		if _, err := inside(`dpkg -L ynhd | grep -q '/man1/ynhd.1.gz$'`); err == nil {
			sh(t, `command -v man >/dev/null || { apt-get -q update && apt-get -q -y install --no-install-recommends man-db; }`)
			man = "--man=yes"
		} else {
			t.Log("the package has no ynhd(1) man page yet: verify runs with --man=no")
		}
		sh(t, `systemd-analyze verify `+man+` /lib/systemd/system/ynhd.service`)
		// --user needs a user's runtime directory: the new user's.
		sh(t, fmt.Sprintf(`cd / && runuser -u %[1]s -- env -i HOME=/home/%[1]s PATH=/usr/bin:/bin XDG_RUNTIME_DIR=/run/user/%[2]s `+
			`systemd-analyze --user verify %[3]s /usr/lib/systemd/user/ynhd.service /usr/lib/systemd/user/ynhd-network-online.service`, user, uid, man))
	})

	volume := fmt.Sprintf("/home/%s/.local/share/containers/storage/volumes/hi-data/_data/boots", user)
	decl := fmt.Sprintf("/home/%s/.config/ynhd/hi.toml", user)
	t.Run("apt remove keeps declarations and volumes", func(t *testing.T) {
		sh(t, `apt-get -q -y remove ynhd`)
		if _, err := inside(`test -e /usr/bin/ynhd || test -e /usr/lib/systemd/user/ynhd.service`); err == nil {
			t.Error("apt remove left the binary or the user unit")
		}
		sh(t, fmt.Sprintf(`test -s %s && test -s %s`, decl, volume))
		// The app is a unit of the user's own and was not touched.
		if got := sh(t, fmt.Sprintf(`systemctl --user -M %s@ is-active hi || true`, user)); got != "active" {
			t.Errorf("after apt remove, %s's app is %q", user, got)
		}
		sh(t, `apt-get -q -y purge ynhd`)
		sh(t, fmt.Sprintf(`test -s %s && test -s %s`, decl, volume))
		if _, err := inside(`test -e /etc/systemd/user/default.target.wants/ynhd.service || test -L /etc/systemd/user/default.target.wants/ynhd.service`); err == nil {
			t.Error("apt purge left the user unit's enable link")
		}
	})
}

// lintian runs lintian on the package: on this host when it has lintian,
// else in the booted system (installed there from the Debian mirror). Its
// whole output goes to the test log; an error fails the test.
func lintian(t *testing.T, hostDeb, bootedDeb string) {
	var out []byte
	var err error
	if path, lerr := exec.LookPath("lintian"); lerr == nil {
		out, err = exec.Command(path, "--pedantic", hostDeb).CombinedOutput()
	} else {
		sh(t, `command -v lintian >/dev/null || { apt-get -q update && apt-get -q -y install --no-install-recommends lintian; }`)
		var s string
		s, err = inside(`lintian --pedantic ` + bootedDeb)
		out = []byte(s)
	}
	t.Logf("lintian %s:\n%s", filepath.Base(hostDeb), out)
	if err != nil {
		t.Errorf("lintian: %v", err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "E: ") {
			t.Errorf("lintian error: %s", l)
		}
	}
}
