package reconcile

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ynhd/ynhd/internal/podman"
)

// TestHoldThroughRequires: web requires app, which requires db healthy.
// Starting web would make systemd start app too, whose check of db fails:
// web waits for db like app does.
func TestHoldThroughRequires(t *testing.T) {
	e := newEnv(t)
	pod := newFakePodman()
	e.r.SetPodman(pod)
	const img = "docker.io/library/busybox:1"
	pod.images[img] = podman.Image{ID: "img-busybox"}
	e.declare("db", fmt.Sprintf("image = %q\n[health]\ncmd = [\"true\"]\n", img))
	e.declare("app", fmt.Sprintf("image = %q\nrequires_healthy = [\"db\"]\n", img))
	e.declare("web", fmt.Sprintf("image = %q\nrequires = [\"app\"]\n", img))
	e.pass()
	pod.run("db", img)
	pod.containers["db"] = podman.Container{App: "db", State: "running", ImageID: "img-busybox", Health: "starting"}
	p := e.plan()
	if strings.Contains(p, "start web") || strings.Contains(p, "start app") ||
		!strings.Contains(p, "problem web: waiting for db to be healthy before starting (app, which it requires and systemd would start with it, needs it)") {
		t.Fatalf("plan while db starts:\n%s", p)
	}
	c := pod.containers["db"]
	c.Health = "healthy"
	pod.containers["db"] = c
	if p := e.plan(); !strings.Contains(p, "start app.service") || !strings.Contains(p, "start web.service") {
		t.Errorf("plan once db is healthy:\n%s", p)
	}
}
