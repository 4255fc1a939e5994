package keep

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// archiveTimeout bounds one save, load, export or import: they copy whole
// file systems.
const archiveTimeout = 2 * time.Hour

// Save writes image ref to file as an OCI archive (podman save), base
// layers included, so it loads on a machine without the base image.
func (p Podman) Save(ctx context.Context, ref, file string) error {
	_, err := p.run(ctx, archiveTimeout, "save", "--quiet", "--format=oci-archive", "--output="+file, ref)
	return err
}

// Load loads an archive written by Save and returns the names podman
// reports loading.
func (p Podman) Load(ctx context.Context, file string) ([]string, error) {
	out, err := p.run(ctx, archiveTimeout, "load", "--input="+file)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "Loaded image: "); ok {
			names = append(names, name)
		} else if name, ok := strings.CutPrefix(strings.TrimSpace(line), "Loaded image(s): "); ok {
			names = append(names, strings.Split(name, ",")...)
		}
	}
	return names, nil
}

// Tag adds ref to image.
func (p Podman) Tag(ctx context.Context, image, ref string) error {
	_, err := p.run(ctx, commandTimeout, "tag", image, ref)
	return err
}

// VolumeExists reports whether the named volume exists.
func (p Podman) VolumeExists(ctx context.Context, name string) bool {
	_, err := p.run(ctx, commandTimeout, "volume", "exists", name)
	return err == nil
}

// ExportVolume writes the content of a volume to file as a tar archive.
func (p Podman) ExportVolume(ctx context.Context, name, file string) error {
	_, err := p.run(ctx, archiveTimeout, "volume", "export", "--output="+file, name)
	return err
}

// ImportVolume unpacks a tar archive written by ExportVolume into an
// existing volume.
func (p Podman) ImportVolume(ctx context.Context, name, file string) error {
	_, err := p.run(ctx, archiveTimeout, "volume", "import", name, file)
	return err
}

// CreateCommand returns the command line a container was created with
// (podman records it), and whether the container exists.
func (p Podman) CreateCommand(ctx context.Context, name string) ([]string, bool, error) {
	out, err := p.run(ctx, commandTimeout, "container", "inspect", "--format", "{{json .Config.CreateCommand}}", name)
	if err != nil {
		if pe, ok := err.(*Error); ok && strings.Contains(pe.Stderr, "no such container") {
			return nil, false, nil
		}
		return nil, false, err
	}
	var argv []string
	if err := json.Unmarshal(out, &argv); err != nil {
		return nil, true, err
	}
	return argv, true, nil
}

// RemoveKeepVolumes stops and removes a container (not its volumes).
func (p Podman) RemoveKeepVolumes(ctx context.Context, name string, stopSeconds int) error {
	return p.Remove(ctx, name, stopSeconds)
}
