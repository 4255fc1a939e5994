package podman

import (
	"errors"
	"io"
	"strings"
	"time"
)

// ErrNoAPI is returned by a Client built without the podman bindings
// (plain `go build`; `make build` includes them).
var ErrNoAPI = errors.New("this ynhd was built without podman API support; build it with make build")

// Container is what ynhd needs to know about one of its containers.
type Container struct {
	App     string
	ID      string
	State   string // created, running, exited, ...
	ImageID string
	Image   string
	Health  string // healthy, unhealthy, starting, or "" without a check
	// StartedAt is when the container last started; Ports its published
	// ports as HOST->CONTAINER/PROTO.
	StartedAt time.Time
	Ports     []string
	// Config and Base are a persistent app's container's LabelConfig and
	// LabelBase: the settings and the base image it was created with.
	Config, Base string
}

// Image is a local image.
type Image struct {
	ID     string
	Labels map[string]string
}

// VolumeState says how an existing volume differs from its declaration.
type VolumeState struct {
	Created bool
	// Drift describes options that differ from the declaration; they are
	// not changed, since that would mean deleting the volume's data.
	Drift string
}

// BuildSpec is one image build.
type BuildSpec struct {
	Context string // absolute context directory
	File    string // Containerfile relative to Context; "" lets podman pick
	Args    map[string]string
	Target  string
	Tag     string
	Labels  map[string]string
	Output  io.Writer // the build's output
}

// LabelContextHash is the label on images ynhd builds: the hash of the
// build context and settings they were built from.
const LabelContextHash = "io.ynhd.context-hash"

// NormalizeRef gives the name podman stores an image reference under when
// it is fully qualified: a missing tag means :latest. Short names are
// returned unchanged (podman resolves them through registries.conf).
func NormalizeRef(ref string) string {
	if strings.Contains(ref, "@") {
		return ref
	}
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref
	}
	return ref + ":latest"
}
