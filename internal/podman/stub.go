//go:build !remote

package podman

import (
	"context"

	"github.com/ynhd/ynhd/internal/decl"
)

// Client is the podman API client. This build has no podman bindings (they
// need the build tags the Makefile sets): every method returns ErrNoAPI and
// ynhd leaves images, volumes and networks to the units.
type Client struct{}

// SocketPath is the user's podman API socket.
func SocketPath() string { return "" }

// Dial always fails in this build.
func Dial(context.Context, string) (*Client, error) { return nil, ErrNoAPI }

// Containers implements the reconciler's Podman.
func (*Client) Containers(context.Context, map[string]bool) (map[string]Container, error) {
	return nil, ErrNoAPI
}

// Images implements the reconciler's Podman.
func (*Client) Images(context.Context) (map[string]Image, error) { return nil, ErrNoAPI }

// ImageID implements the reconciler's Podman.
func (*Client) ImageID(context.Context, string) (string, error) { return "", ErrNoAPI }

// Pull implements the reconciler's Podman.
func (*Client) Pull(context.Context, string) error { return ErrNoAPI }

// Build implements the reconciler's Podman.
func (*Client) Build(context.Context, BuildSpec) (string, error) { return "", ErrNoAPI }

// EnsureVolume implements the reconciler's Podman.
func (*Client) EnsureVolume(context.Context, decl.Volume) (VolumeState, error) {
	return VolumeState{}, ErrNoAPI
}

// EnsureNetwork implements the reconciler's Podman.
func (*Client) EnsureNetwork(context.Context, string) (bool, error) { return false, ErrNoAPI }

// ManagedVolumes fails in this build.
func (*Client) ManagedVolumes(context.Context) ([]string, error) { return nil, ErrNoAPI }

// RemoveVolume fails in this build.
func (*Client) RemoveVolume(context.Context, string) error { return ErrNoAPI }

// LocalImage needs the podman API.
func (*Client) LocalImage(context.Context, string) (string, []string, error) {
	return "", nil, ErrNoAPI
}

// PullImage needs the podman API.
func (*Client) PullImage(context.Context, string, bool) (string, error) { return "", ErrNoAPI }

// TagImage needs the podman API.
func (*Client) TagImage(context.Context, string, string) error { return ErrNoAPI }

// RemoveImage needs the podman API.
func (*Client) RemoveImage(context.Context, string) error { return ErrNoAPI }

// RemoteDigest needs the registry client built with the podman API.
func RemoteDigest(context.Context, string, bool) (string, error) { return "", ErrNoAPI }

// Secrets implements the reconciler's Podman.
func (*Client) Secrets(context.Context) (map[string]string, error) { return nil, ErrNoAPI }

// EnsureSecret implements the reconciler's Podman.
func (*Client) EnsureSecret(context.Context, string, []byte, string) error { return ErrNoAPI }
