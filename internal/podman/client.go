//go:build remote

package podman

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/containers/buildah/define"
	"github.com/containers/common/libnetwork/types"
	"github.com/containers/podman/v4/pkg/bindings"
	"github.com/containers/podman/v4/pkg/bindings/containers"
	"github.com/containers/podman/v4/pkg/bindings/images"
	"github.com/containers/podman/v4/pkg/bindings/network"
	"github.com/containers/podman/v4/pkg/bindings/secrets"
	"github.com/containers/podman/v4/pkg/bindings/volumes"
	"github.com/containers/podman/v4/pkg/domain/entities"

	"github.com/ynhd/ynhd/internal/decl"
)

// Client talks to the user's podman API service through podman's Go
// bindings. It is the only code in ynhd that imports them. Its methods take
// a context only for cancellation; the connection lives in the client.
type Client struct {
	conn context.Context
}

// SocketPath is the user's podman API socket: $XDG_RUNTIME_DIR/podman/podman.sock.
func SocketPath() string {
	run := os.Getenv("XDG_RUNTIME_DIR")
	if run == "" {
		run = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	return filepath.Join(run, "podman", "podman.sock")
}

// Dial connects to the podman API at socket (a path). The service must be
// listening (podman.socket started). ctx bounds only the dial: the bindings
// keep the context they connect with for the connection's whole life.
func Dial(ctx context.Context, socket string) (*Client, error) {
	type result struct {
		conn context.Context
		err  error
	}
	done := make(chan result, 1)
	go func() {
		conn, err := bindings.NewConnection(context.Background(), "unix://"+socket)
		done <- result{conn, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		r.err = ctx.Err()
	}
	conn, err := r.conn, r.err
	if err != nil {
		return nil, fmt.Errorf("connecting to the podman API at %s: %w (is podman.socket started? systemctl --user start podman.socket)", socket, err)
	}
	return &Client{conn: conn}, nil
}

func (c *Client) ctx(ctx context.Context) context.Context {
	// The bindings keep the connection in the context; carry the caller's
	// cancellation over to it.
	merged, cancel := context.WithCancel(c.conn)
	go func() {
		select {
		case <-ctx.Done():
		case <-merged.Done():
		}
		cancel()
	}()
	return merged
}

// Containers lists ynhd's containers (label io.ynhd.app) by app, in one
// call. Health is filled in only for apps in withHealth (one inspect each).
func (c *Client) Containers(ctx context.Context, withHealth map[string]bool) (map[string]Container, error) {
	cctx := c.ctx(ctx)
	all := true
	list, err := containers.List(cctx, &containers.ListOptions{All: &all, Filters: map[string][]string{"label": {LabelApp}}})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	out := map[string]Container{}
	for _, lc := range list {
		app := lc.Labels[LabelApp]
		if app == "" {
			continue
		}
		ct := Container{App: app, ID: lc.ID, State: lc.State, ImageID: lc.ImageID, Image: lc.Image, Config: lc.Labels[LabelConfig], Base: lc.Labels[LabelBase]}
		if lc.StartedAt > 0 {
			ct.StartedAt = time.Unix(lc.StartedAt, 0)
		}
		for _, p := range lc.Ports {
			host := strconv.Itoa(int(p.HostPort))
			if p.HostIP != "" {
				host = p.HostIP + ":" + host
			}
			ct.Ports = append(ct.Ports, fmt.Sprintf("%s->%d/%s", host, p.ContainerPort, p.Protocol))
		}
		sort.Strings(ct.Ports)
		if withHealth[app] && lc.State == "running" {
			if data, err := containers.Inspect(cctx, lc.ID, nil); err == nil && data.State != nil {
				ct.Health = data.State.Health.Status
			}
		}
		out[app] = ct
	}
	return out, nil
}

// ImageID returns the ID of a local image, or "" when there is none.
func (c *Client) ImageID(ctx context.Context, ref string) (string, error) {
	cctx := c.ctx(ctx)
	ok, err := images.Exists(cctx, ref, nil)
	if err != nil || !ok {
		return "", err
	}
	img, err := images.GetImage(cctx, ref, nil)
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// Pull pulls an image; podman's progress lines go to the writer of
// WithProgress, if ctx has one.
func (c *Client) Pull(ctx context.Context, ref string) error {
	opts := &images.PullOptions{}
	if w := progressOf(ctx); w != nil {
		opts.WithProgressWriter(w)
	} else {
		opts.WithQuiet(true)
	}
	_, err := images.Pull(c.ctx(ctx), ref, opts)
	if err != nil {
		return fmt.Errorf("pulling %s: %w", ref, err)
	}
	return nil
}

// Build builds an image from a context directory through the API and
// returns its ID.
func (c *Client) Build(ctx context.Context, b BuildSpec) (string, error) {
	var files []string
	if b.File != "" {
		files = []string{filepath.Join(b.Context, b.File)}
	}
	var labels []string
	for k, v := range b.Labels {
		labels = append(labels, k+"="+v)
	}
	out := b.Output
	if out == nil {
		out = io.Discard
	}
	report, err := images.Build(c.ctx(ctx), files, entities.BuildOptions{BuildOptions: define.BuildOptions{
		ContextDirectory: b.Context,
		Args:             b.Args,
		Target:           b.Target,
		Output:           b.Tag,
		AdditionalTags:   nil,
		Labels:           labels,
		Out:              out,
		Err:              out,
		ReportWriter:     out,
		CommonBuildOpts:  &define.CommonBuildOptions{},
		PullPolicy:       define.PullIfMissing,
	}})
	if err != nil {
		return "", fmt.Errorf("building %s from %s: %w", b.Tag, b.Context, err)
	}
	return report.ID, nil
}

// EnsureVolume creates a named volume with its driver and options if it
// does not exist. An existing volume is never modified.
func (c *Client) EnsureVolume(ctx context.Context, v decl.Volume) (VolumeState, error) {
	cctx := c.ctx(ctx)
	ok, err := volumes.Exists(cctx, v.Name, nil)
	if err != nil {
		return VolumeState{}, fmt.Errorf("volume %s: %w", v.Name, err)
	}
	if !ok {
		_, err := volumes.Create(cctx, entities.VolumeCreateOptions{Name: v.Name, Driver: v.Driver, Options: v.Options,
			Labels: map[string]string{LabelManaged: "true"}}, nil)
		if err != nil {
			return VolumeState{}, fmt.Errorf("creating volume %s: %w", v.Name, err)
		}
		return VolumeState{Created: true}, nil
	}
	got, err := volumes.Inspect(cctx, v.Name, nil)
	if err != nil {
		return VolumeState{}, fmt.Errorf("volume %s: %w", v.Name, err)
	}
	return VolumeState{Drift: VolumeDrift(v, got.Driver, got.Options)}, nil
}

// VolumeDrift describes how an existing volume's driver and options
// differ from the declaration, or is "" when they do not. The volume is
// never recreated for it (that deletes its data); the message says so.
func VolumeDrift(v decl.Volume, driver string, options map[string]string) string {
	var diffs []string
	keys := make([]string, 0, len(v.Options))
	for k := range v.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if have, want := options[k], v.Options[k]; have != want {
			diffs = append(diffs, fmt.Sprintf("%s=%q (declared %q)", k, have, want))
		}
	}
	if v.Driver != "" && driver != v.Driver {
		diffs = append(diffs, fmt.Sprintf("driver %q (declared %q)", driver, v.Driver))
	}
	if len(diffs) == 0 {
		return ""
	}
	return "volume " + v.Name + " exists with " + strings.Join(diffs, ", ") +
		"; ynhd does not recreate it, since that deletes its data: remove it yourself (podman volume rm " + v.Name + ") to apply the declaration"
}

// EnsureNetwork creates a named network if it does not exist.
func (c *Client) EnsureNetwork(ctx context.Context, name string) (created bool, err error) {
	cctx := c.ctx(ctx)
	ok, err := network.Exists(cctx, name, nil)
	if err != nil {
		return false, fmt.Errorf("network %s: %w", name, err)
	}
	if ok {
		return false, nil
	}
	_, err = network.Create(cctx, &types.Network{Name: name, Labels: map[string]string{LabelManaged: "true"}, DNSEnabled: true})
	if err != nil && !errors.Is(err, context.Canceled) {
		return false, fmt.Errorf("creating network %s: %w", name, err)
	}
	return err == nil, err
}

// Secrets lists the user's podman secrets by name, with the value of
// LabelSecretHash for the ones ynhd created ("" for the others). Values are
// not read. podman 4.3's list leaves labels out, so each secret named like
// one of ynhd's (ynhd.APP.NAME) is inspected: one call more per secret.
func (c *Client) Secrets(ctx context.Context) (map[string]string, error) {
	cctx := c.ctx(ctx)
	list, err := secrets.List(cctx, nil)
	if err != nil {
		return nil, fmt.Errorf("listing secrets: %w", err)
	}
	out := make(map[string]string, len(list))
	for _, s := range list {
		name := s.Spec.Name
		out[name] = ""
		labels := s.Spec.Labels
		if labels == nil && strings.HasPrefix(name, "ynhd.") {
			got, err := secrets.Inspect(cctx, name, nil)
			if err != nil {
				return nil, fmt.Errorf("secret %s: %w", name, err)
			}
			labels = got.Spec.Labels
		}
		if labels[LabelManaged] == "true" {
			out[name] = labels[LabelSecretHash]
		}
	}
	return out, nil
}

// EnsureSecret makes the podman secret name hold data: a secret ynhd
// created earlier is removed and created again (podman cannot update
// one); a secret of the same name that ynhd did not create is left alone
// and reported. The value travels in the request's body, never in a
// command line, and no error carries it.
func (c *Client) EnsureSecret(ctx context.Context, name string, data []byte, hash string) error {
	cctx := c.ctx(ctx)
	if got, err := secrets.Inspect(cctx, name, nil); err == nil {
		if got.Spec.Labels[LabelManaged] != "true" {
			return fmt.Errorf("podman secret %s exists and was not created by ynhd; ynhd leaves it alone: remove it (podman secret rm %s) or rename the secret", name, name)
		}
		if got.Spec.Labels[LabelSecretHash] == hash {
			return nil
		}
		if err := secrets.Remove(cctx, name); err != nil {
			return fmt.Errorf("replacing secret %s: %w", name, err)
		}
	}
	_, err := secrets.Create(cctx, bytes.NewReader(data), &secrets.CreateOptions{Name: &name,
		Labels: map[string]string{LabelManaged: "true", LabelSecretHash: hash}})
	if err != nil {
		return fmt.Errorf("creating secret %s: %w", name, err)
	}
	return nil
}

// Images lists local images by every name they carry, in one call.
func (c *Client) Images(ctx context.Context) (map[string]Image, error) {
	list, err := images.List(c.ctx(ctx), nil)
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	out := map[string]Image{}
	for _, s := range list {
		img := Image{ID: s.ID, Labels: s.Labels}
		for _, n := range append(s.RepoTags, s.Names...) {
			out[n] = img
		}
	}
	return out, nil
}

// ManagedVolumes lists the volumes ynhd created (label io.ynhd.managed).
func (c *Client) ManagedVolumes(ctx context.Context) ([]string, error) {
	list, err := volumes.List(c.ctx(ctx), &volumes.ListOptions{Filters: map[string][]string{"label": {LabelManaged}}})
	if err != nil {
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	var names []string
	for _, v := range list {
		names = append(names, v.Name)
	}
	return names, nil
}

// RemoveVolume deletes a volume and its data. It fails while a container
// uses the volume.
func (c *Client) RemoveVolume(ctx context.Context, name string) error {
	if err := volumes.Remove(c.ctx(ctx), name, nil); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	return nil
}

// LocalImage returns a local image's ID and the registry digests it is
// known by (repo@sha256:...), or "" when there is none.
func (c *Client) LocalImage(ctx context.Context, ref string) (id string, digests []string, err error) {
	cctx := c.ctx(ctx)
	ok, err := images.Exists(cctx, ref, nil)
	if err != nil || !ok {
		return "", nil, err
	}
	img, err := images.GetImage(cctx, ref, nil)
	if err != nil {
		return "", nil, err
	}
	return img.ID, img.RepoDigests, nil
}

// PullImage pulls an image; tlsVerify false allows plain HTTP and
// certificates that do not verify. It returns the pulled image's ID.
func (c *Client) PullImage(ctx context.Context, ref string, tlsVerify bool) (string, error) {
	quiet, skip := true, !tlsVerify
	ids, err := images.Pull(c.ctx(ctx), ref, &images.PullOptions{Quiet: &quiet, SkipTLSVerify: &skip})
	if err != nil {
		return "", fmt.Errorf("pulling %s: %w", ref, err)
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("pulling %s: podman named no image", ref)
	}
	return ids[0], nil
}

// TagImage points ref at the image id.
func (c *Client) TagImage(ctx context.Context, id, ref string) error {
	repo, tag := splitTag(NormalizeRef(ref))
	if err := images.Tag(c.ctx(ctx), id, tag, repo, nil); err != nil {
		return fmt.Errorf("tagging %s as %s: %w", shortID(id), ref, err)
	}
	return nil
}

// RemoveImage removes an image by ID; an image a container uses or that
// another name still holds is left alone (podman refuses without force).
func (c *Client) RemoveImage(ctx context.Context, id string) error {
	_, errs := images.Remove(c.ctx(ctx), []string{id}, nil)
	return errors.Join(errs...)
}

func splitTag(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i <= strings.LastIndex(ref, "/") {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
