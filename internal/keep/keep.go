// Package keep runs the podman commands behind persistent apps
// (`persistent = true`): a container created once and started and stopped
// by its unit, so its root file system survives restarts; snapshots of it
// (`podman commit` to a local image per app and time); and its
// recreation from a snapshot when a change needs a new container.
//
// Every command runs the podman CLI with a deadline, so what ynhd creates
// is exactly what `podman create` with the same arguments creates. Volumes
// are never named by any command here: their data is never touched.
package keep

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
)

// Labels ynhd puts on snapshots, beside podman.LabelBase.
const (
	// LabelSnapshotOf names the app a snapshot image belongs to.
	LabelSnapshotOf = "io.ynhd.snapshot-of"
	// LabelSnapshotWhy says why a snapshot was taken.
	LabelSnapshotWhy = "io.ynhd.snapshot-reason"
)

// SnapshotRepo is where snapshots are tagged: SnapshotRepo+APP:TIME.
const SnapshotRepo = "localhost/ynhd-snapshots/"

// Timeouts: a commit copies the container's whole file system.
const (
	commandTimeout  = 2 * time.Minute
	snapshotTimeout = 30 * time.Minute
)

// Podman runs podman commands for persistent apps.
type Podman struct {
	Bin string // podman's path; "podman" when empty
	// NotifySocket is the service manager's notification socket, given
	// to `podman create` so that a container in systemd mode tells the
	// manager when it is ready ($XDG_RUNTIME_DIR/systemd/notify for a
	// user manager).
	NotifySocket string
}

// Error is a failed podman command with what it printed.
type Error struct {
	Args   []string
	Err    error
	Stderr string
}

func (e *Error) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if i := strings.LastIndex(msg, "\n"); i >= 0 {
		msg = msg[i+1:]
	}
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("podman %s: %s", e.Args[0], strings.TrimPrefix(msg, "Error: "))
}

func (e *Error) Unwrap() error { return e.Err }

func (p Podman) run(ctx context.Context, timeout time.Duration, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	bin := p.Bin
	if bin == "" {
		bin = "podman"
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	env := os.Environ()
	if p.NotifySocket != "" && len(args) > 0 && args[0] == "create" {
		env = append(env, "NOTIFY_SOCKET="+p.NotifySocket)
	}
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w after %s", ctx.Err(), timeout)
		}
		return nil, &Error{Args: args, Err: err, Stderr: errb.String()}
	}
	return out.Bytes(), nil
}

// Container is what ynhd reads of a persistent app's container.
type Container struct {
	ID      string
	State   string
	Image   string // the image it was created from (the base or a snapshot)
	Config  string // podman.LabelConfig
	Base    string // podman.LabelBase
	Created time.Time
}

// Inspect returns app's container, or ok=false when there is none.
func (p Podman) Inspect(ctx context.Context, app string) (c Container, ok bool, err error) {
	out, err := p.run(ctx, commandTimeout, "container", "inspect", "--format", "json", app)
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) && strings.Contains(pe.Stderr, "no such container") {
			return c, false, nil
		}
		return c, false, err
	}
	var list []struct {
		ID      string `json:"Id"`
		Created time.Time
		State   struct{ Status string }
		Config  struct{ Labels map[string]string }
		Image   string `json:"ImageName"`
	}
	if err := json.Unmarshal(out, &list); err != nil || len(list) != 1 {
		return c, false, fmt.Errorf("reading podman's description of container %s: %v", app, err)
	}
	l := list[0]
	return Container{ID: l.ID, State: l.State.Status, Image: l.Image, Config: l.Config.Labels[podman.LabelConfig],
		Base: l.Config.Labels[podman.LabelBase], Created: l.Created}, true, nil
}

// Create creates a container with `podman create ARGS...` (ARGS from
// podman.CreateArgs, labels included).
func (p Podman) Create(ctx context.Context, args []string) error {
	_, err := p.run(ctx, commandTimeout, append([]string{"create"}, args...)...)
	return err
}

// Remove removes app's container (not its volumes). It is not an error
// if there is none.
func (p Podman) Remove(ctx context.Context, app string, stopSeconds int) error {
	_, err := p.run(ctx, commandTimeout, "rm", "--force", "--ignore", fmt.Sprintf("--time=%d", stopSeconds), app)
	return err
}

// Snapshot is a committed image of a persistent app's container.
type Snapshot struct {
	Ref     string    `json:"ref"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Base    string    `json:"base"`
	Reason  string    `json:"reason,omitempty"`
	Size    int64     `json:"size"`
}

// SnapshotRef is the tag of app's snapshot taken at t.
func SnapshotRef(app string, t time.Time) string {
	return SnapshotRepo + app + ":" + t.UTC().Format("20060102-150405")
}

// Take commits app's container to a snapshot image labelled with the app,
// the base image and why. The container is not paused: callers stop it
// first, so the file system is at rest.
func (p Podman) Take(ctx context.Context, app, base, reason string, now time.Time) (Snapshot, error) {
	return p.take(ctx, app, base, reason, now, false)
}

// TakeLive is Take of a container that may be running: it is paused while
// it is committed.
func (p Podman) TakeLive(ctx context.Context, app, base, reason string, now time.Time) (Snapshot, error) {
	return p.take(ctx, app, base, reason, now, true)
}

func (p Podman) take(ctx context.Context, app, base, reason string, now time.Time, pause bool) (Snapshot, error) {
	ref := SnapshotRef(app, now)
	// Two snapshots in the same second: the later gets a suffix.
	if snaps, err := p.Snapshots(ctx, app); err == nil {
		for n := 2; containsRef(snaps, ref); n++ {
			ref = fmt.Sprintf("%s-%d", SnapshotRef(app, now), n)
		}
	}
	args := []string{"commit", "--quiet", fmt.Sprintf("--pause=%t", pause),
		"--change=LABEL " + LabelSnapshotOf + "=" + app,
		"--change=LABEL " + podman.LabelBase + "=" + base,
		"--change=LABEL " + LabelSnapshotWhy + "=" + reason,
		app, ref}
	out, err := p.run(ctx, snapshotTimeout, args...)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{Ref: ref, ID: strings.TrimSpace(string(out)), Created: now, Base: base, Reason: reason}, nil
}

func containsRef(snaps []Snapshot, ref string) bool {
	for _, s := range snaps {
		if s.Ref == ref {
			return true
		}
	}
	return false
}

// Snapshots lists app's snapshots, oldest first.
func (p Podman) Snapshots(ctx context.Context, app string) ([]Snapshot, error) {
	out, err := p.run(ctx, commandTimeout, "images", "--format", "json", "--filter", "label="+LabelSnapshotOf+"="+app)
	if err != nil {
		return nil, err
	}
	var list []struct {
		ID      string `json:"Id"`
		Names   []string
		Created int64
		Size    int64
		Labels  map[string]string
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return nil, fmt.Errorf("reading podman's image list: %v", err)
	}
	var snaps []Snapshot
	for _, im := range list {
		for _, name := range im.Names {
			if !strings.HasPrefix(name, SnapshotRepo+app+":") {
				continue
			}
			snaps = append(snaps, Snapshot{Ref: name, ID: im.ID, Created: time.Unix(im.Created, 0), Base: im.Labels[podman.LabelBase],
				Reason: im.Labels[LabelSnapshotWhy], Size: im.Size})
		}
	}
	sort.Slice(snaps, func(i, j int) bool {
		if !snaps[i].Created.Equal(snaps[j].Created) {
			return snaps[i].Created.Before(snaps[j].Created)
		}
		return snaps[i].Ref < snaps[j].Ref
	})
	return snaps, nil
}

// Prune removes app's snapshots beyond the newest keep. A snapshot a
// container still uses is kept. It returns the removed tags.
func (p Podman) Prune(ctx context.Context, app string, keep int) ([]string, error) {
	snaps, err := p.Snapshots(ctx, app)
	if err != nil || len(snaps) <= keep {
		return nil, err
	}
	var removed []string
	for _, s := range snaps[:len(snaps)-keep] {
		if _, err := p.run(ctx, commandTimeout, "rmi", s.Ref); err == nil {
			removed = append(removed, s.Ref)
		}
	}
	return removed, nil
}

// Find returns the snapshot of app named by name: a full reference, its
// tag (the time), or "" for the newest.
func Find(snaps []Snapshot, app, name string) (Snapshot, error) {
	if len(snaps) == 0 {
		return Snapshot{}, fmt.Errorf("%s has no snapshots", app)
	}
	if name == "" {
		return snaps[len(snaps)-1], nil
	}
	for _, s := range snaps {
		if s.Ref == name || strings.TrimPrefix(s.Ref, SnapshotRepo+app+":") == name || strings.HasPrefix(s.ID, name) && len(name) >= 12 {
			return s, nil
		}
	}
	return Snapshot{}, fmt.Errorf("%s has no snapshot %q; `ynhd snapshots %s` lists them", app, name, app)
}

// EnsureVolume creates volume v (with its driver and options) unless it
// exists: what the podman API does for ynhd, through the CLI, for when
// the API does not answer.
func (p Podman) EnsureVolume(ctx context.Context, v decl.Volume) error {
	if _, err := p.run(ctx, commandTimeout, "volume", "exists", v.Name); err == nil {
		return nil
	}
	_, err := p.run(ctx, commandTimeout, append([]string{"volume", "create"}, podman.VolumeCreateArgs(v)...)...)
	return err
}

// VolumeDrift is podman.VolumeDrift for an existing volume, read with
// podman volume inspect: what the API path reports, when the API is down.
func (p Podman) VolumeDrift(ctx context.Context, v decl.Volume) (string, error) {
	out, err := p.run(ctx, commandTimeout, "volume", "inspect", v.Name)
	if err != nil {
		return "", err
	}
	var got []struct {
		Driver  string            `json:"Driver"`
		Options map[string]string `json:"Options"`
	}
	if err := json.Unmarshal(out, &got); err != nil || len(got) != 1 {
		return "", fmt.Errorf("podman volume inspect %s: unexpected output", v.Name)
	}
	return podman.VolumeDrift(v, got[0].Driver, got[0].Options), nil
}

// EnsureNetwork creates the named network unless it exists (see
// EnsureVolume).
func (p Podman) EnsureNetwork(ctx context.Context, name string) error {
	if _, err := p.run(ctx, commandTimeout, "network", "exists", name); err == nil {
		return nil
	}
	_, err := p.run(ctx, commandTimeout, "network", "create", "--label="+podman.LabelManaged+"=true", name)
	return err
}
