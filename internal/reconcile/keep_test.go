package reconcile

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/keep"
	"github.com/ynhd/ynhd/internal/podman"
)

// fakeKeeper keeps containers in a fakePodman.
type fakeKeeper struct {
	mu    sync.Mutex
	pod   *fakePodman
	calls []string
	n     int
}

func (k *fakeKeeper) Create(_ context.Context, args []string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := podman.Container{State: "created"}
	image := ""
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--name="):
			c.App = strings.TrimPrefix(a, "--name=")
		case strings.HasPrefix(a, "--label="+podman.LabelConfig+"="):
			c.Config = strings.TrimPrefix(a, "--label="+podman.LabelConfig+"=")
		case strings.HasPrefix(a, "--label="+podman.LabelBase+"="):
			c.Base = strings.TrimPrefix(a, "--label="+podman.LabelBase+"=")
			image = args[i+1]
		}
	}
	c.ID, c.Image = fmt.Sprintf("ctr%d", len(k.calls)), image
	k.pod.containers[c.App] = c
	k.calls = append(k.calls, "create "+c.App+" from "+image)
	return nil
}

func (k *fakeKeeper) Remove(_ context.Context, app string, _ int) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.pod.containers, app)
	k.calls = append(k.calls, "remove "+app)
	return nil
}

func (k *fakeKeeper) Take(_ context.Context, app, base, reason string, now time.Time) (keep.Snapshot, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	ref := fmt.Sprintf("%s%s:%d", keep.SnapshotRepo, app, k.n)
	k.calls = append(k.calls, "snapshot "+app+" "+reason+" -> "+ref)
	return keep.Snapshot{Ref: ref, Base: base, Reason: reason, Created: now}, nil
}

func (k *fakeKeeper) Prune(context.Context, string, int) ([]string, error) { return nil, nil }

func (k *fakeKeeper) took() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := k.calls
	k.calls = nil
	return out
}

// TestPersistentApp drives a persistent app through its life: created
// once and started; restarted without a new container; a changed setting
// applied by stopping, snapshotting and recreating from the snapshot; a
// changed image left pending; its container removed behind ynhd's back
// created again, loudly.
func TestPersistentApp(t *testing.T) {
	e := newEnv(t)
	pod := newFakePodman()
	pod.images["localhost/ynhd-test/busybox:latest"] = podman.Image{ID: "img1"}
	pod.images["localhost/ynhd-test/debian-systemd:latest"] = podman.Image{ID: "img2"}
	e.r.SetPodman(pod)
	k := &fakeKeeper{pod: pod}
	e.r.SetKeeper(k)
	settle := func() {
		t.Helper()
		for i := 0; i < 6; i++ {
			e.pass()
			e.r.bg.wait(context.Background())
		}
	}
	e.declare("box", busybox+"persistent = true\nenv = { A = \"1\" }\n")
	settle()
	if got := k.took(); len(got) != 1 || got[0] != "create box from localhost/ynhd-test/busybox:latest" {
		t.Fatalf("first start: %q", got)
	}
	if u := e.fake.unit("box.service"); u.active != "active" {
		t.Fatalf("box is %s after its container was created", u.active)
	}
	if c := pod.containers["box"]; c.Base != "localhost/ynhd-test/busybox:latest" || c.Config == "" {
		t.Fatalf("container labels: %+v", c)
	}

	// Idle: nothing to do, and the container stays.
	if st := e.pass(); st.LastPass.Actions != 0 {
		t.Fatalf("idle pass acted: %+v", st.LastPass)
	}

	// A changed setting: stop, snapshot, remove, create from the snapshot,
	// start.
	e.declare("box", busybox+"persistent = true\nenv = { A = \"2\" }\n")
	settle()
	got := strings.Join(k.took(), "; ")
	want := "snapshot box before-change -> localhost/ynhd-snapshots/box:1; remove box; create box from localhost/ynhd-snapshots/box:1"
	if got != want {
		t.Fatalf("change:\n got %s\nwant %s", got, want)
	}
	if u := e.fake.unit("box.service"); u.active != "active" {
		t.Fatalf("box is %s after the recreate", u.active)
	}
	if c := pod.containers["box"]; c.Base != "localhost/ynhd-test/busybox:latest" {
		t.Errorf("the base label after a recreate from a snapshot: %q", c.Base)
	}
	if st := e.pass(); st.LastPass.Actions != 0 {
		t.Fatalf("pass after the recreate acted: %+v", st.LastPass)
	}

	// A changed image waits for `ynhd recreate`.
	e.declare("box", "image = \"localhost/ynhd-test/debian-systemd:latest\"\npersistent = true\nenv = { A = \"2\" }\n")
	st := e.pass()
	if got := k.took(); len(got) != 0 {
		t.Fatalf("an image change was applied: %q", got)
	}
	if a := appStatus(st, "box"); !strings.Contains(a.Problem, "ynhd recreate box") {
		t.Errorf("pending image change not shown: %+v", a)
	}
	if u := e.fake.unit("box.service"); u.active != "active" {
		t.Errorf("an image change stopped the app: %s", u.active)
	}

	// Removed behind ynhd's back: created again from the base, loudly.
	e.declare("box", busybox+"persistent = true\nenv = { A = \"2\" }\n")
	settle()
	k.took()
	delete(pod.containers, "box")
	p := e.plan()
	if !strings.Contains(p, "removed behind ynhd's back") {
		t.Errorf("plan for a removed container: %s", p)
	}
	settle()
	if got := k.took(); len(got) != 1 || got[0] != "create box from localhost/ynhd-test/busybox:latest" {
		t.Fatalf("recreate after removal: %q", got)
	}

	// A daemon killed between removing the old container and creating
	// the new one: the next pass creates it from the recorded snapshot.
	if err := e.r.intents.SetKept("box", "localhost/ynhd-snapshots/box:7"); err != nil {
		t.Fatal(err)
	}
	delete(pod.containers, "box")
	settle()
	if got := k.took(); len(got) != 1 || got[0] != "create box from localhost/ynhd-snapshots/box:7" {
		t.Fatalf("finishing a recreate: %q", got)
	}
	if kept, _ := e.r.intents.Kept(); kept["box"] != "" {
		t.Errorf("the recreate record stayed: %q", kept["box"])
	}
}

func appStatus(st Status, app string) AppStatus {
	for _, a := range st.Apps {
		if a.App == app {
			return a
		}
	}
	return AppStatus{}
}

func (k *fakeKeeper) EnsureVolume(_ context.Context, v decl.Volume) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pod.volumes[v.Name] = v
	return nil
}

func (k *fakeKeeper) EnsureNetwork(_ context.Context, name string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pod.networks[name] = true
	return nil
}

// failingList is a podman API whose lists fail.
type failingList struct{ *fakePodman }

func (f failingList) Containers(context.Context, map[string]bool) (map[string]podman.Container, error) {
	return nil, fmt.Errorf("listing images: image not known")
}

// TestStorageWithoutAPI: when the podman API answers with an error, the
// network and volume an app needs are created through the CLI, and the
// API is asked again soon.
func TestStorageWithoutAPI(t *testing.T) {
	e := newEnv(t)
	pod := newFakePodman()
	e.r.SetPodman(failingList{pod})
	k := &fakeKeeper{pod: pod}
	e.r.SetKeeper(k)
	e.declare("net", busybox+"network = \"backend\"\n[[volumes]]\nname = \"net-tmp\"\ntarget = \"/tmp\"\noptions = { type = \"tmpfs\", device = \"tmpfs\" }\n")
	e.pass()
	if !pod.networks["backend"] {
		t.Error("the network was not created through the CLI")
	}
	if _, ok := pod.volumes["net-tmp"]; !ok {
		t.Error("the volume was not created through the CLI")
	}
	if u := e.fake.unit("net.service"); u.active != "active" {
		t.Errorf("net is %s", u.active)
	}
	if d := e.r.podDown.Sub(e.now); d > podErrorRetryAfter {
		t.Errorf("podman left alone for %v after an error", d)
	}
}

// TestMissingImageAskedAgain: an image podman lacked (pull = "never") is
// looked for again soon, not only when podman's view is 10 minutes old.
func TestMissingImageAskedAgain(t *testing.T) {
	e := newEnv(t)
	pod := newFakePodman()
	e.r.SetPodman(pod)
	e.declare("local", "image = \"localhost/mine:1\"\npull = \"never\"\n")
	if st := e.pass(); !strings.Contains(appStatus(st, "local").Problem, "not in local storage") {
		t.Fatalf("missing image not reported: %+v", appStatus(st, "local"))
	}
	pod.images["localhost/mine:1"] = podman.Image{ID: "x"}
	e.now = e.now.Add(podProblemRefresh + time.Second)
	e.pass()
	if u := e.fake.unit("local.service"); u.active != "active" {
		t.Errorf("the app did not start once its image was there: %s", u.active)
	}
}

// TestHoldKeepsPassesAway: a held app is planned as busy, not started
// or restarted, until it is released; a second hold of it fails.
func TestHoldKeepsPassesAway(t *testing.T) {
	b := newBackground(zap.NewNop())
	woke := 0
	b.wake = func() { woke++ }
	release, ok := b.hold("updating", "img", []string{"a", "b"})
	if !ok {
		t.Fatal("first hold failed")
	}
	if _, ok := b.hold("updating", "img", []string{"b"}); ok {
		t.Error("b was held twice")
	}
	if got := b.Running(); got["a"].Kind != "updating" || got["b"].Kind != "updating" {
		t.Errorf("running %v", got)
	}
	release()
	if len(b.Running()) != 0 || woke != 1 {
		t.Errorf("after release: running %v, woke %d", b.Running(), woke)
	}
}

// TestReconcilerHoldRelease: the reconciler's release ends the hold.
func TestReconcilerHoldRelease(t *testing.T) {
	r := New(Config{DeclDir: t.TempDir()}, nil, nil, zap.NewNop(), nil)
	release, ok := r.Hold("updating", "img", "a")
	if !ok {
		t.Fatal("hold failed")
	}
	release()
	if _, ok := r.Hold("updating", "img", "a"); !ok {
		t.Error("a is still held after release")
	}
}
