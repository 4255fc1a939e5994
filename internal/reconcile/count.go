package reconcile

import (
	"context"
	"sync/atomic"
	"syscall"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
)

// PassStats is what one pass cost: wall and CPU time of the process, and
// the calls it made to systemd over D-Bus and to podman's API. A steady
// pass must not make calls in proportion to the number of apps.
type PassStats struct {
	Apps        int           `json:"apps"`
	Actions     int           `json:"actions"`
	Wall        time.Duration `json:"wall_ns"`
	CPU         time.Duration `json:"cpu_ns"`
	DBusCalls   int64         `json:"dbus_calls"`
	PodmanCalls int64         `json:"podman_calls"`
}

// counter counts calls through the Manager and Podman interfaces.
type counter struct{ dbus, podman atomic.Int64 }

// cpuTime is the CPU time (user + system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingManager counts D-Bus calls.
type countingManager struct {
	m Manager
	c *counter
}

func (m countingManager) ListUnitsByNamesContext(ctx context.Context, units []string) ([]sddbus.UnitStatus, error) {
	m.c.dbus.Add(1)
	return m.m.ListUnitsByNamesContext(ctx, units)
}
func (m countingManager) GetUnitPropertyContext(ctx context.Context, unit, property string) (*sddbus.Property, error) {
	m.c.dbus.Add(1)
	return m.m.GetUnitPropertyContext(ctx, unit, property)
}
func (m countingManager) GetUnitTypePropertyContext(ctx context.Context, unit, unitType, property string) (*sddbus.Property, error) {
	m.c.dbus.Add(1)
	return m.m.GetUnitTypePropertyContext(ctx, unit, unitType, property)
}
func (m countingManager) ReloadContext(ctx context.Context) error {
	m.c.dbus.Add(1)
	return m.m.ReloadContext(ctx)
}
func (m countingManager) StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	m.c.dbus.Add(1)
	return m.m.StartUnitContext(ctx, name, mode, ch)
}
func (m countingManager) StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	m.c.dbus.Add(1)
	return m.m.StopUnitContext(ctx, name, mode, ch)
}
func (m countingManager) RestartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error) {
	m.c.dbus.Add(1)
	return m.m.RestartUnitContext(ctx, name, mode, ch)
}
func (m countingManager) ResetFailedUnitContext(ctx context.Context, name string) error {
	m.c.dbus.Add(1)
	return m.m.ResetFailedUnitContext(ctx, name)
}
func (m countingManager) EnableUnitFilesContext(ctx context.Context, files []string, runtime, force bool) (bool, []sddbus.EnableUnitFileChange, error) {
	m.c.dbus.Add(1)
	return m.m.EnableUnitFilesContext(ctx, files, runtime, force)
}
func (m countingManager) DisableUnitFilesContext(ctx context.Context, files []string, runtime bool) ([]sddbus.DisableUnitFileChange, error) {
	m.c.dbus.Add(1)
	return m.m.DisableUnitFilesContext(ctx, files, runtime)
}

// countingPodman counts podman API calls (each method is one call, except
// Containers, which adds one inspect per app with a health check).
type countingPodman struct {
	p Podman
	c *counter
}

func (p countingPodman) Containers(ctx context.Context, withHealth map[string]bool) (map[string]podman.Container, error) {
	p.c.podman.Add(1 + int64(len(withHealth)))
	return p.p.Containers(ctx, withHealth)
}
func (p countingPodman) Images(ctx context.Context) (map[string]podman.Image, error) {
	p.c.podman.Add(1)
	return p.p.Images(ctx)
}
func (p countingPodman) Pull(ctx context.Context, ref string) error {
	p.c.podman.Add(1)
	return p.p.Pull(ctx, ref)
}
func (p countingPodman) Build(ctx context.Context, b podman.BuildSpec) (string, error) {
	p.c.podman.Add(1)
	return p.p.Build(ctx, b)
}
func (p countingPodman) EnsureVolume(ctx context.Context, v decl.Volume) (podman.VolumeState, error) {
	p.c.podman.Add(2)
	return p.p.EnsureVolume(ctx, v)
}
func (p countingPodman) Secrets(ctx context.Context) (map[string]string, error) {
	p.c.podman.Add(1)
	return p.p.Secrets(ctx)
}
func (p countingPodman) EnsureSecret(ctx context.Context, name string, data []byte, hash string) error {
	p.c.podman.Add(2)
	return p.p.EnsureSecret(ctx, name, data, hash)
}
func (p countingPodman) EnsureNetwork(ctx context.Context, name string) (bool, error) {
	p.c.podman.Add(1)
	return p.p.EnsureNetwork(ctx, name)
}

// Connected passes the wrapped Manager's Connected through (see
// connected); a Manager that cannot tell is taken as connected.
func (m countingManager) Connected() bool {
	if c, ok := m.m.(connected); ok {
		return c.Connected()
	}
	return true
}
