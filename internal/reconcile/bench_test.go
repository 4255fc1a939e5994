package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/podman"
	"github.com/ynhd/ynhd/internal/units"
)

// steadyWorld is n declared apps, all running as declared.
func steadyWorld(b testing.TB, n int) ([]Desired, *World) {
	const dir = "/home/u/.config/ynhd"
	var desired []Desired
	w := &World{Units: map[string]*Observed{}}
	for i := 0; i < n; i++ {
		app := fmt.Sprintf("app%04d", i)
		u := &units.Unit{}
		u.Section("Service").Raw("ExecStart", "/usr/bin/podman run --name="+app+" img")
		u.Section(units.MarkerSection).Text("Source", dir+"/"+app+".toml")
		content, err := units.Seal(u)
		if err != nil {
			b.Fatal(err)
		}
		unit := app + ".service"
		desired = append(desired, Desired{App: app, Unit: unit, Source: dir + "/" + app + ".toml", Content: content, Enabled: true, Restart: "always"})
		w.Units[unit] = &Observed{Unit: unit, File: content, Ours: true, Intact: true, Enabled: true,
			LoadState: "loaded", ActiveState: "active", SubState: "running"}
	}
	return desired, w
}

// BenchmarkPlan1000 measures planning with 1,000 apps that all run as
// declared (the steady state: an empty plan).
func BenchmarkPlan1000(b *testing.B) {
	desired, w := steadyWorld(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if p := MakePlan(Input{Desired: desired, World: w, Now: t0}); !p.Empty() {
			b.Fatal(p)
		}
	}
}

// TestSteadyPassCallsDoNotGrow: an idle pass costs the same number of
// D-Bus calls whether 3 or 30 apps are declared.
func TestSteadyPassCallsDoNotGrow(t *testing.T) {
	calls := func(n int) int64 {
		e := newEnv(t)
		for i := 0; i < n; i++ {
			e.declare(fmt.Sprintf("app%d", i), busybox)
		}
		e.pass()
		st, err := e.r.Pass(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st.LastPass.Actions != 0 {
			t.Fatalf("steady pass with %d apps acted: %+v", n, st.LastPass)
		}
		return st.LastPass.DBusCalls
	}
	if a, b := calls(3), calls(30); a != b || a != 1 {
		t.Errorf("idle pass D-Bus calls: %d with 3 apps, %d with 30; want 1 each", a, b)
	}
	_ = zap.NewNop
}

// TestIdlePassAsksPodmanNothing: once podman's view is known, a pass with
// nothing to do makes no podman call (and so starts no podman service);
// nor does a pass that starts a new app whose image podman had; a pass
// that needs a pull, a volume or a restart after a failure asks.
func TestIdlePassAsksPodmanNothing(t *testing.T) {
	e := newEnv(t)
	pod := newFakePodman()
	pod.images["localhost/ynhd-test/busybox:latest"] = podman.Image{ID: "img1"}
	e.r.SetPodman(pod)
	for i := 0; i < 5; i++ {
		e.declare(fmt.Sprintf("app%d", i), busybox)
	}
	st := e.pass()
	if st.LastPass.PodmanCalls == 0 {
		t.Error("the first pass did not ask podman")
	}
	for i := 0; i < 3; i++ {
		e.now = e.now.Add(time.Minute)
		if st := e.pass(); st.LastPass.PodmanCalls != 0 || st.LastPass.DBusCalls != 1 {
			t.Errorf("idle pass %d: %+v; want 0 podman calls and 1 D-Bus call", i, st.LastPass)
		}
	}
	// A new app whose image podman has: podman is asked only after the
	// start, for the status.
	e.declare("new", busybox)
	started := false
	pod.onList = func() {
		if !started && !slices.Contains(e.fake.calls, "start new.service") {
			t.Error("a pass that starts an app whose image is known asked podman before the start")
		}
		started = true
	}
	if st := e.pass(); st.LastPass.Actions == 0 {
		t.Errorf("the new app was not started: %+v", st.LastPass)
	}
	pod.onList = nil
	e.pass()
	e.declare("pulls", "image = \"registry.example/x/y:1\"\n")
	if st := e.pass(); st.LastPass.PodmanCalls == 0 {
		t.Error("a pass that needs a pull did not ask podman")
	}
	e.pass()
	e.declare("vol", busybox+"[[volumes]]\nname = \"vol-data\"\ntarget = \"/data\"\n")
	if st := e.pass(); st.LastPass.PodmanCalls == 0 {
		t.Error("a pass that creates a volume did not ask podman")
	}
	e.pass()
	e.now = e.now.Add(podRefresh + time.Second)
	if st := e.pass(); st.LastPass.PodmanCalls == 0 {
		t.Error("podman not asked after podRefresh")
	}
}

// BenchmarkIdlePass200 measures a pass with 200 declared apps that all
// run as declared: what a timer pass costs ynhd itself (the manager is a
// fake, so its D-Bus cost is not in the figure).
func BenchmarkIdlePass200(b *testing.B) {
	dir := b.TempDir()
	fake := newFake()
	r := New(Config{DeclDir: dir, Home: "/home/u", Mode: units.User}, fake, fake, zap.NewNop(), func() time.Time { return t0 })
	for i := 0; i < 200; i++ {
		src := "version = 1\n" + busybox + "command = [\"sleep\", \"1d\"]\nenv = { A = \"1\" }\n"
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("app%03d.toml", i)), []byte(src), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := r.Pass(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		st, err := r.Pass(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.LastPass.Actions != 0 {
			b.Fatalf("idle pass acted: %+v", st.LastPass)
		}
	}
}

// BenchmarkPassOneRewritten200 measures a pass after one of 200
// declarations was written again with the same content (a new inode):
// only that file is read, decoded and rendered again.
func BenchmarkPassOneRewritten200(b *testing.B) {
	dir := b.TempDir()
	fake := newFake()
	r := New(Config{DeclDir: dir, Home: "/home/u", Mode: units.User}, fake, fake, zap.NewNop(), func() time.Time { return t0 })
	src := []byte("version = 1\n" + busybox + "command = [\"sleep\", \"1d\"]\nenv = { A = \"1\" }\n")
	for i := 0; i < 200; i++ {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("app%03d.toml", i)), src, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := r.Pass(ctx); err != nil {
			b.Fatal(err)
		}
	}
	one := filepath.Join(dir, "app007.toml")
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		if err := os.WriteFile(one+".tmp", src, 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(one+".tmp", one); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if st, err := r.Pass(ctx); err != nil || st.LastPass.Actions != 0 {
			b.Fatal(err, st.LastPass)
		}
	}
}
