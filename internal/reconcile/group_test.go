package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestGroup: a group's target is written, enabled and started with its
// members, left alone while a person stops them, kept through a broken
// member, restored after a hand edit, and removed with its last member.
func TestGroup(t *testing.T) {
	e := newEnv(t)
	const shop = "part_of = \"shop\"\n"
	e.declare("a", busybox+shop)
	e.declare("b", busybox+shop)
	e.declare("c", busybox+shop+"enabled = false\n")
	e.declare("solo", busybox)
	st := e.pass()
	if p := e.plan(); p != "" {
		t.Fatalf("plan after applying is not empty:\n%s", p)
	}
	want := "a.service file(N) enabled=true active/running\nb.service file(N) enabled=true active/running\n" +
		"c.service file(N) enabled=false inactive/dead\nsolo.service file(N) enabled=true active/running\n" +
		"ynhd-group-shop.target file(N) enabled=true active/running"
	if got := normalizeSizes(e.fake.String()); got != want {
		t.Errorf("state:\n%s\nwant:\n%s", got, want)
	}
	target := string(e.fake.files["ynhd-group-shop.target"])
	for _, line := range []string{"Wants=a.service\nWants=b.service\n", "Source=" + e.dir + "\nGroup=shop\n"} {
		if !strings.Contains(target, line) {
			t.Errorf("target lacks %q:\n%s", line, target)
		}
	}
	if strings.Contains(target, "c.service") {
		t.Errorf("target wants a disabled member:\n%s", target)
	}
	if !strings.Contains(string(e.fake.files["a.service"]), "\nPartOf=ynhd-group-shop.target\n") {
		t.Error("member has no PartOf= its group's target")
	}
	if st.Apps[0].Group != "shop" || st.Apps[3].Group != "" {
		t.Errorf("status groups %q %q", st.Apps[0].Group, st.Apps[3].Group)
	}

	// ynhd stop shop: every member recorded, the target stopped (systemd
	// stops the members through PartOf=). Nothing is started again.
	for _, app := range []string{"a", "b", "c"} {
		if err := e.r.intents.SetStopped(app, true); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"a.service", "b.service", "ynhd-group-shop.target"} {
		e.fake.unit(u).active, e.fake.unit(u).sub = "inactive", "dead"
	}
	if p := e.plan(); p != "" {
		t.Errorf("plan for a group stopped by a person:\n%s", p)
	}
	// Members on their way down (systemctl stop of the target, not
	// recorded) are not started again through the target before they are
	// down; then they, and it, are.
	for _, app := range []string{"a", "b", "c"} {
		if err := e.r.intents.SetStopped(app, false); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"a.service", "b.service"} {
		e.fake.unit(u).active, e.fake.unit(u).sub = "deactivating", "stop"
	}
	if p := e.plan(); p != "" {
		t.Errorf("plan while the members stop:\n%s", p)
	}
	for _, u := range []string{"a.service", "b.service"} {
		e.fake.unit(u).active, e.fake.unit(u).sub = "inactive", "dead"
	}
	for _, app := range []string{"a", "b", "c"} {
		if err := e.r.intents.SetStopped(app, true); err != nil {
			t.Fatal(err)
		}
	}
	// ynhd start shop clears the stops; the daemon would start what is
	// still down, the target with its members.
	for _, app := range []string{"a", "b", "c"} {
		if err := e.r.intents.SetStopped(app, false); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(e.plan(), "start a.service (not running)\nstart b.service (not running)\nstart ynhd-group-shop.target (its apps run)\n"); diff != "" {
		t.Errorf("plan after the stops are cleared (-got +want):\n%s", diff)
	}
	e.pass()

	// A broken member stays in the group: the target is not rewritten.
	e.declare("a", busybox+shop+"env = 3\n")
	if p := e.plan(); !strings.HasPrefix(p, "problem a: ") || strings.Contains(p, "target") {
		t.Errorf("broken member plans:\n%s", p)
	}
	e.declare("a", busybox+shop)

	// A hand edit of the target is restored without restarting it (a
	// restart would restart every member).
	e.fake.files["ynhd-group-shop.target"] = []byte(strings.Replace(target, "Wants=b.service\n", "", 1))
	if diff := cmp.Diff(e.plan(), "write ynhd-group-shop.target (edited by hand; restoring)\nreload\n"); diff != "" {
		t.Errorf("hand edit (-got +want):\n%s", diff)
	}
	e.pass()

	// A member leaving the group rewrites the target; the last one leaving
	// removes it, in the pass that removes that member.
	os.Remove(filepath.Join(e.dir, "c.toml"))
	e.pass()
	e.declare("b", busybox)
	e.pass()
	if strings.Contains(string(e.fake.files["ynhd-group-shop.target"]), "b.service") {
		t.Error("the target still wants b, which left the group")
	}
	os.Remove(filepath.Join(e.dir, "a.toml"))
	if diff := cmp.Diff(e.plan(), "stop a.service (declaration removed)\nstop ynhd-group-shop.target (no app is part of it)\n"+
		"disable a.service (declaration removed)\ndisable ynhd-group-shop.target (no app is part of it)\n"+
		"remove a.service (declaration removed)\nremove ynhd-group-shop.target (no app is part of it)\nreload\n"); diff != "" {
		t.Errorf("last member deleted (-got +want):\n%s", diff)
	}
	e.pass()
	if p := e.plan(); p != "" {
		t.Fatalf("plan after the group went is not empty:\n%s", p)
	}
	if _, ok := e.fake.files["ynhd-group-shop.target"]; ok {
		t.Error("the target outlived its last member")
	}
}

// TestGroupTargetTaken: a target name held by a unit ynhd did not write
// is a problem; the members run anyway.
func TestGroupTargetTaken(t *testing.T) {
	e := newEnv(t)
	e.fake.files["ynhd-group-shop.target"] = []byte("[Unit]\nDescription=mine\n")
	e.declare("a", busybox+"part_of = \"shop\"\n")
	p := e.plan()
	if !strings.Contains(p, "start a.service (new)") || !strings.Contains(p, "problem ynhd-group-shop.target: ynhd-group-shop.target exists and was not written by ynhd") {
		t.Errorf("plan:\n%s", p)
	}
}
