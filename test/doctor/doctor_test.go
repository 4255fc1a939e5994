// Package doctor breaks, one at a time, the host conditions `ynhd doctor`
// checks, in the test environment, and checks that doctor names each one
// with the command that fixes it; every change is undone. It changes
// files only root may change, so it runs as root and takes the environment
// exclusively; otherwise it skips.
package doctor

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ynhd/ynhd/internal/sysuser"
	"github.com/ynhd/ynhd/internal/testenv"
)

type check struct {
	Name, Status, Detail, Fix string
}

func TestDoctorNamesEachBrokenCondition(t *testing.T) {
	testenv.Exclusive(t, "breaking host conditions")
	bin, _, err := testenv.BuildYnhd("/var/tmp/ynhd-doctor")
	if err != nil {
		t.Fatal(err)
	}
	user := os.Getenv("YNHD_TESTENV_USER")
	if user == "" {
		user = "ynhd-test"
	}
	doctor := func() map[string]check {
		t.Helper()
		out, _ := testenv.Control("exec", "--", bin, "doctor", "--json") // exit 1 on problems
		var doc struct {
			SchemaVersion int     `json:"schema_version"`
			Checks        []check `json:"checks"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || doc.SchemaVersion != 1 {
			t.Fatalf("doctor --json: schema_version %d, %v\n%s", doc.SchemaVersion, err, out)
		}
		m := map[string]check{}
		for _, c := range doc.Checks {
			m[c.Name] = c
		}
		return m
	}
	expect := func(what, name, status, fix string) {
		t.Helper()
		c := doctor()[name]
		if c.Status != status || !strings.Contains(c.Fix, fix) {
			t.Errorf("%s: doctor says %s %q (fix %q); want %s with %q", what, c.Status, c.Detail, c.Fix, status, fix)
		}
	}

	// As the environment is: ready, but no lingering (no logind here).
	base := doctor()
	for _, name := range []string{"subuid", "subgid", "newuidmap", "newgidmap", "user namespaces", "/dev/net/tun", "podman API", "journald"} {
		if base[name].Status != "ok" {
			t.Errorf("%s: %+v", name, base[name])
		}
	}
	expect("no linger file", "lingering", "warning", "loginctl enable-linger "+user)

	// Lingering enabled.
	os.MkdirAll("/var/lib/systemd/linger", 0o755)
	if err := os.WriteFile("/var/lib/systemd/linger/"+user, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	expect("linger file", "lingering", "ok", "")
	os.Remove("/var/lib/systemd/linger/" + user)

	// /dev/net/tun closed to users.
	defer os.Chmod("/dev/net/tun", 0o666)
	if err := os.Chmod("/dev/net/tun", 0o600); err != nil {
		t.Fatal(err)
	}
	expect("/dev/net/tun 0600", "/dev/net/tun", "problem", "chmod 0666 /dev/net/tun")
	os.Chmod("/dev/net/tun", 0o666)

	// newuidmap without its setuid bit.
	defer os.Chmod("/usr/bin/newuidmap", 0o755|os.ModeSetuid)
	if err := os.Chmod("/usr/bin/newuidmap", 0o755); err != nil {
		t.Fatal(err)
	}
	expect("newuidmap not setuid", "newuidmap", "problem", "chmod u+s /usr/bin/newuidmap")
	os.Chmod("/usr/bin/newuidmap", 0o755|os.ModeSetuid)

	// No subordinate uids for the user.
	subuid, err := os.ReadFile("/etc/subuid")
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(subuid), "\n") {
		if !strings.HasPrefix(l, user+":") {
			kept = append(kept, l)
		}
	}
	defer os.WriteFile("/etc/subuid", subuid, 0o644)
	if err := os.WriteFile("/etc/subuid", []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	// The suggested range overlaps nothing in either file; the user's own
	// subgid range is still there, so it is not the first one either.
	subgid, _ := os.ReadFile("/etc/subgid")
	free, err := sysuser.FreeRange(65536, []byte(strings.Join(kept, "\n")), subgid)
	if err != nil {
		t.Fatal(err)
	}
	expect("no subuid range", "subuid", "problem", fmt.Sprintf("usermod --add-subuids %d-%d %s", free, free+65535, user))
	if err := os.WriteFile("/etc/subuid", subuid, 0o644); err != nil {
		t.Fatal(err)
	}

	// A declared port below the unprivileged range.
	out, err := testenv.Control("exec", "--", "sh", "-c",
		`mkdir -p ~/.config/ynhd && printf 'version = 1\nimage = "docker.io/library/nginx:1.27"\n[[ports]]\nhost_port = 80\n' > ~/.config/ynhd/doctor-web.toml`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	expect("port 80 declared", "host ports", "problem", "net.ipv4.ip_unprivileged_port_start=80")
	testenv.Control("exec", "--", "sh", "-c", "rm -f ~/.config/ynhd/doctor-web.toml")

	// The podman API socket stopped.
	testenv.Control("exec", "--", "systemctl", "--user", "stop", "podman.socket", "podman.service")
	expect("podman.socket stopped", "podman API", "warning", "systemctl --user enable --now podman.socket")
	testenv.Control("exec", "--", "systemctl", "--user", "start", "podman.socket")

	// vfs storage, as the environment has it (/dev/fuse is closed here).
	expect("vfs storage", "podman", "warning", `driver = "overlay"`)
	expect("vfs storage", "podman", "warning", "podman system reset, which DELETES")

	if after := doctor(); after["subuid"].Status != "ok" || after["/dev/net/tun"].Status != "ok" || after["newuidmap"].Status != "ok" {
		t.Errorf("conditions not restored: %+v", after)
	}
}
