package update

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ynhd/ynhd/internal/keep"
	"github.com/ynhd/ynhd/internal/podman"
)

// world is a fake registry, podman and service manager in one: the
// registry maps refs to digests, local storage maps refs to image IDs and
// image IDs to digests, and a unit's (re)start makes its container run
// whatever its ref names then, healthy unless the image is in sick.
type world struct {
	mu       sync.Mutex
	remote   map[string]string // ref -> digest served
	byDigest map[string]string // digest -> image ID a pull gives
	tags     map[string]string // ref -> local image ID
	digests  map[string][]string
	images   map[string]bool
	running  map[string]string // app -> image ID
	refs     map[string]string // app -> ref
	sick     map[string]bool   // image IDs whose health check fails
	down     bool              // the registry does not answer
	ctr      map[string]string // persistent app -> image its container was created from
	crash    map[string]bool   // image IDs whose container stops after the first look at it
	looks    map[string]int    // app -> looks at a container of a crash image
	snaps    int
	log      []string
}

func newWorld() *world {
	return &world{remote: map[string]string{}, byDigest: map[string]string{}, tags: map[string]string{},
		digests: map[string][]string{}, images: map[string]bool{}, running: map[string]string{},
		refs: map[string]string{}, sick: map[string]bool{}, ctr: map[string]string{},
		crash: map[string]bool{}, looks: map[string]int{}}
}

func (w *world) record(f string, args ...any) { w.log = append(w.log, fmt.Sprintf(f, args...)) }

func (w *world) Log() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.log, "\n")
}

func (w *world) Registry(_ context.Context, ref string, _ bool) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.record("head %s", ref)
	if w.down {
		return "", errors.New("connection refused")
	}
	return w.remote[ref], nil
}

func (w *world) Containers(_ context.Context, _ map[string]bool) (map[string]podman.Container, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]podman.Container{}
	for app, id := range w.running {
		h := "healthy"
		if w.sick[id] {
			h = "unhealthy"
		}
		state := "running"
		if w.crash[id] {
			h = "starting"
			if w.looks[app]++; w.looks[app] > 1 {
				state, h = "exited", ""
			}
		}
		out[app] = podman.Container{App: app, ID: "c-" + app + "-" + id, State: state, ImageID: id, Health: h}
	}
	for app, id := range w.ctr {
		if _, ok := out[app]; !ok {
			out[app] = podman.Container{App: app, State: "exited", ImageID: id}
		}
	}
	return out, nil
}

func (w *world) LocalImage(_ context.Context, ref string) (string, []string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := w.tags[ref]
	return id, w.digests[id], nil
}

func (w *world) PullImage(_ context.Context, ref string, _ bool) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.record("pull %s", ref)
	if w.down {
		return "", errors.New("connection refused")
	}
	d := w.remote[ref]
	id := w.byDigest[d]
	name, _, _ := strings.Cut(ref, ":")
	w.tags[ref], w.images[id] = id, true
	w.digests[id] = append(w.digests[id], name+"@"+d)
	return id, nil
}

func (w *world) TagImage(_ context.Context, id, ref string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.record("tag %s %s", id, ref)
	w.tags[ref] = id
	return nil
}

func (w *world) RemoveImage(_ context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.running {
		if r == id {
			return errors.New("in use")
		}
	}
	for _, t := range w.tags {
		if t == id {
			return errors.New("tagged")
		}
	}
	w.record("rmi %s", id)
	delete(w.images, id)
	return nil
}

func (w *world) Start(_ context.Context, unit string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	app := strings.TrimSuffix(unit, ".service")
	w.record("start %s", app)
	w.running[app] = w.image(app)
	return nil
}

func (w *world) Stop(_ context.Context, unit string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	app := strings.TrimSuffix(unit, ".service")
	w.record("stop %s", app)
	delete(w.running, app)
	return nil
}

func (w *world) Restart(_ context.Context, unit string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	app := strings.TrimSuffix(unit, ".service")
	w.record("restart %s", app)
	w.running[app] = w.image(app)
	return nil
}

// image is what app's unit runs: its container's image when it is
// persistent, else what its ref names.
func (w *world) image(app string) string {
	if id, ok := w.ctr[app]; ok {
		return id
	}
	return w.tags[w.refs[app]]
}

// The fake keeps persistent containers: a snapshot's reference is its ID.

func (w *world) Inspect(_ context.Context, app string) (keep.Container, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, ok := w.ctr[app]
	if !ok {
		return keep.Container{}, false, nil
	}
	state := "exited"
	if _, ok := w.running[app]; ok {
		state = "running"
	}
	return keep.Container{ID: "c-" + app, State: state, Image: id, Base: w.refs[app]}, true, nil
}

func (w *world) Take(_ context.Context, app, base, reason string, _ time.Time) (keep.Snapshot, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.snaps++
	id := fmt.Sprintf("snap%d", w.snaps)
	w.record("snapshot %s %s (%s, base %s)", app, id, reason, base)
	w.images[id] = true
	return keep.Snapshot{Ref: id, ID: id, Base: base, Reason: reason}, nil
}

func (w *world) Remove(_ context.Context, app string, _ int) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.record("rm %s", app)
	delete(w.ctr, app)
	delete(w.running, app)
	return nil
}

func (w *world) Create(_ context.Context, args []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var name, image, base string
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "--name="):
			name = strings.TrimPrefix(a, "--name=")
		case strings.HasPrefix(a, "--label="+podman.LabelBase+"="):
			base, image = strings.TrimPrefix(a, "--label="+podman.LabelBase+"="), args[i+1]
		}
	}
	w.record("create %s from %s (base %s)", name, image, base)
	w.ctr[name] = w.tags[image]
	if w.ctr[name] == "" {
		w.ctr[name] = image // an image ID or a snapshot
	}
	return nil
}

func (w *world) Prune(context.Context, string, int) ([]string, error) { return nil, nil }

// clock is a fake time that each look at it moves on.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

func sorted(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (w *world) ResetFailedUnitContext(context.Context, string) error { return nil }
