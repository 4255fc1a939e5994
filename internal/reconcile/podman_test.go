package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
)

// fakePodman is podman's API in memory.
type fakePodman struct {
	images     map[string]podman.Image
	containers map[string]podman.Container
	volumes    map[string]decl.Volume
	networks   map[string]bool
	secrets    map[string]string // name -> hash label
	pullErr    map[string]error
	calls      []string
	nextID     int
	onList     func() // called on each container list
}

func newFakePodman() *fakePodman {
	return &fakePodman{images: map[string]podman.Image{}, containers: map[string]podman.Container{},
		volumes: map[string]decl.Volume{}, networks: map[string]bool{}, pullErr: map[string]error{}}
}

func (p *fakePodman) id() string { p.nextID++; return fmt.Sprintf("img%d", p.nextID) }

func (p *fakePodman) Containers(context.Context, map[string]bool) (map[string]podman.Container, error) {
	if p.onList != nil {
		p.onList()
	}
	return p.containers, nil
}
func (p *fakePodman) Images(context.Context) (map[string]podman.Image, error) { return p.images, nil }
func (p *fakePodman) Pull(_ context.Context, ref string) error {
	p.calls = append(p.calls, "pull "+ref)
	if err := p.pullErr[ref]; err != nil {
		return err
	}
	p.images[ref] = podman.Image{ID: p.id()}
	return nil
}
func (p *fakePodman) Build(_ context.Context, b podman.BuildSpec) (string, error) {
	p.calls = append(p.calls, "build "+b.Tag)
	img := podman.Image{ID: p.id(), Labels: b.Labels}
	p.images[podman.NormalizeRef(b.Tag)] = img
	return img.ID, nil
}
func (p *fakePodman) EnsureVolume(_ context.Context, v decl.Volume) (podman.VolumeState, error) {
	p.calls = append(p.calls, "volume "+v.Name)
	if have, ok := p.volumes[v.Name]; ok {
		if fmt.Sprint(have.Options) != fmt.Sprint(v.Options) {
			return podman.VolumeState{Drift: "volume " + v.Name + " differs"}, nil
		}
		return podman.VolumeState{}, nil
	}
	p.volumes[v.Name] = v
	return podman.VolumeState{Created: true}, nil
}
func (p *fakePodman) Secrets(context.Context) (map[string]string, error) {
	return maps.Clone(p.secrets), nil
}
func (p *fakePodman) EnsureSecret(_ context.Context, name string, data []byte, hash string) error {
	p.calls = append(p.calls, "secret "+name)
	if p.secrets == nil {
		p.secrets = map[string]string{}
	}
	p.secrets[name] = hash
	return nil
}
func (p *fakePodman) EnsureNetwork(_ context.Context, name string) (bool, error) {
	p.calls = append(p.calls, "network "+name)
	created := !p.networks[name]
	p.networks[name] = true
	return created, nil
}

// run starts the app's container from its current image, as systemd
// starting the unit would.
func (p *fakePodman) run(app, ref string) {
	p.containers[app] = podman.Container{App: app, ID: "ctr-" + app, State: "running", ImageID: p.images[podman.NormalizeRef(ref)].ID}
}

func TestPodmanPreparation(t *testing.T) {
	e := newEnv(t)
	pod := newFakePodman()
	e.r.SetPodman(pod)
	const img = "docker.io/library/nginx:1.27"
	e.declare("web", fmt.Sprintf("image = %q\nnetwork = \"backend\"\n[[volumes]]\nname = \"web-data\"\ntarget = \"/data\"\n", img))
	e.declare("bad", "image = \"registry.invalid/x/y:1\"\n")
	pod.pullErr["registry.invalid/x/y:1"] = errors.New("dial tcp: lookup registry.invalid: no such host")

	want := `pull bad.service (image missing)
pull web.service (image missing)
volume web.service (web-data)
network web.service (backend)
write bad.service (new)
write web.service (new)
enable bad.service
enable web.service
start bad.service (new)
start web.service (new)
`
	if diff := cmp.Diff(e.plan(), want); diff != "" {
		t.Fatalf("plan (-got +want):\n%s", diff)
	}
	// The pulls run in the background: the pass starts them and waits
	// for neither, and both apps wait for their image.
	e.pass()
	if got := e.fake.String(); got != "" {
		t.Errorf("state while pulling:\n%s", got)
	}
	e.r.WaitBackground(context.Background())
	s := e.pass()
	// The failed pull held bad back; web went ahead.
	if got := normalizeSizes(e.fake.String()); got != "web.service file(N) enabled=true active/running" {
		t.Errorf("state:\n%s", got)
	}
	var bad AppStatus
	for _, a := range s.Apps {
		if a.App == "bad" {
			bad = a
		}
	}
	if bad.Condition != "failing" || !strings.Contains(bad.PodmanError, "no such host") || bad.CrashLooping || bad.Restarts != 0 {
		t.Errorf("bad's status: %+v", bad)
	}
	// Nothing is retried before the backoff; then the pull is.
	if p := e.plan(); !strings.HasPrefix(p, "problem bad: ") || strings.Contains(p, "pull") {
		t.Errorf("plan during backoff:\n%s", p)
	}
	delete(pod.pullErr, "registry.invalid/x/y:1")
	e.now = e.now.Add(prepRetryBase)
	e.pass()
	e.r.WaitBackground(context.Background())
	e.pass()
	if !pod.networks["backend"] || pod.volumes["web-data"].Name == "" {
		t.Error("network or volume not created")
	}
	pod.run("web", img)
	pod.run("bad", "registry.invalid/x/y:1")
	if p := e.plan(); p != "" {
		t.Fatalf("plan after preparing everything:\n%s", p)
	}

	// A new image under the same name replaces the container.
	pod.images[img] = podman.Image{ID: pod.id()}
	if diff := cmp.Diff(e.plan(), "volume web.service (web-data)\nnetwork web.service (backend)\nrestart web.service (image changed)\n"); diff != "" {
		t.Errorf("image drift plan (-got +want):\n%s", diff)
	}
}

// TestHealthGate: an app that requires another healthy is written and
// enabled, but started only once podman reports the other healthy.
func TestHealthGate(t *testing.T) {
	e := newEnv(t)
	pod := newFakePodman()
	e.r.SetPodman(pod)
	const img = "docker.io/library/busybox:1"
	pod.images[img] = podman.Image{ID: "img-busybox"}
	e.declare("db", fmt.Sprintf("image = %q\n[health]\ncmd = [\"true\"]\n", img))
	e.declare("web", fmt.Sprintf("image = %q\nrequires_healthy = [\"db\"]\n", img))
	e.pass()
	if got := normalizeSizes(e.fake.String()); got != "db.service file(N) enabled=true active/running\nweb.service file(N) enabled=true inactive/dead" {
		t.Fatalf("first pass:\n%s", got)
	}
	if w := e.r.NextWake(); !w.Equal(e.now.Add(healthPoll)) {
		t.Errorf("next wake %v, want a quick re-check", w)
	}
	pod.run("db", img)
	pod.containers["db"] = podman.Container{App: "db", State: "running", ImageID: "img-busybox", Health: "starting"}
	if p := e.plan(); !strings.Contains(p, "problem web: waiting for db to be healthy") || strings.Contains(p, "start web") {
		t.Fatalf("plan while db starts:\n%s", p)
	}
	c := pod.containers["db"]
	c.Health = "healthy"
	pod.containers["db"] = c
	if diff := cmp.Diff(e.plan(), "start web.service (dependencies healthy)\n"); diff != "" {
		t.Errorf("plan once db is healthy (-got +want):\n%s", diff)
	}
}

// TestImageChangeLeftToUpdates: an app with an update policy is not
// restarted by a pass when its image changes: its update check applies
// the change, with a health-gated rollback.
func TestImageChangeLeftToUpdates(t *testing.T) {
	e := newEnv(t)
	pod := newFakePodman()
	e.r.SetPodman(pod)
	const img = "localhost/team/web:1"
	pod.images[img] = podman.Image{ID: "img-1"}
	e.declare("web", fmt.Sprintf("image = %q\n[update]\npolicy = \"local\"\n", img))
	e.pass()
	pod.run("web", img)
	pod.images[img] = podman.Image{ID: "img-2"}
	if p := e.plan(); p != "" {
		t.Errorf("plan after the tag moved:\n%s", p)
	}
}
