//go:build remote

package podman

import (
	"context"
	"fmt"

	"github.com/containers/image/v5/docker"
	"github.com/containers/image/v5/types"
)

// RemoteDigest asks the registry, with one HEAD request for the manifest,
// which digest the tag of ref names now; nothing is downloaded. It reads
// the user's registries.conf and auth files as podman does. tlsVerify false
// allows plain HTTP and certificates that do not verify.
func RemoteDigest(ctx context.Context, ref string, tlsVerify bool) (string, error) {
	r, err := docker.ParseReference("//" + NormalizeRef(ref))
	if err != nil {
		return "", fmt.Errorf("parsing %s: %w", ref, err)
	}
	sys := &types.SystemContext{}
	if !tlsVerify {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	}
	d, err := docker.GetDigest(ctx, sys, r)
	if err != nil {
		return "", fmt.Errorf("asking the registry for %s: %w", ref, err)
	}
	return d.String(), nil
}
