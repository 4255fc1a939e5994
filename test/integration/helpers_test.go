package integration

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
	"github.com/ynhd/ynhd/internal/testenv"
	"github.com/ynhd/ynhd/internal/units"
)

// app is a declaration under test, rendered and installed as a user unit.
type app struct {
	t    *testing.T
	bus  *sddbus.Conn
	name string
	file string // the declaration
	unit string
	decl *decl.App
}

// install writes src as NAME.toml in a fresh declarations directory,
// checks and renders it exactly as `ynhd render` does, installs the unit
// in the user's unit directory and reloads the manager over D-Bus. The unit,
// its container and its volumes are removed when the test ends.
func install(t *testing.T, bus *sddbus.Conn, name, src string) *app {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, name+".toml")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	loaded := decl.LoadFiles([]string{file}, decl.HostFacts(true), home)[0]
	if !loaded.OK() {
		t.Fatalf("declaration does not check: %v", loaded.Diagnostics.Err())
	}
	b, err := units.RenderBytes(loaded.Parsed.App, units.Options{Mode: units.User})
	if err != nil {
		t.Fatal(err)
	}
	a := &app{t: t, bus: bus, name: name, file: file, unit: name + ".service", decl: loaded.Parsed.App}
	// What ynhd does before it starts an app: the volumes with options
	// and the named network must exist (the unit only checks).
	for _, v := range a.decl.Volumes {
		if v.Driver != "" || len(v.Options) > 0 {
			_, _ = testenv.PodmanErr(append([]string{"volume", "create"}, podman.VolumeCreateArgs(v)...)...)
		}
	}
	if podman.NeedsNetwork(a.decl) {
		_, _ = testenv.PodmanErr("network", "create", a.decl.Network)
	}
	path := filepath.Join(testenv.UnitDir(), a.unit)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		ch := make(chan string, 1)
		if _, err := bus.StopUnitContext(ctx, a.unit, "replace", ch); err == nil {
			<-ch
		}
		_ = os.Remove(path)
		_ = bus.ReloadContext(ctx)
		_, _ = testenv.PodmanErr("rm", "--force", "--ignore", name)
		for _, v := range a.decl.Volumes {
			_, _ = testenv.PodmanErr("volume", "rm", "--force", v.Name)
		}
	})
	a.reload()
	return a
}

func (a *app) reload() {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.bus.ReloadContext(ctx); err != nil {
		a.t.Fatalf("daemon-reload: %v", err)
	}
}

// job runs a start/stop job over D-Bus, waits for its result and returns
// how long it took. A result other than "done" fails the test with the
// unit's journal.
func (a *app) job(verb string, timeout time.Duration) time.Duration {
	a.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ch := make(chan string, 1)
	start := time.Now()
	var err error
	switch verb {
	case "start":
		_, err = a.bus.StartUnitContext(ctx, a.unit, "replace", ch)
	case "stop":
		_, err = a.bus.StopUnitContext(ctx, a.unit, "replace", ch)
	default:
		a.t.Fatalf("unknown job %q", verb)
	}
	if err != nil {
		a.t.Fatalf("%s %s: %v", verb, a.unit, err)
	}
	select {
	case res := <-ch:
		if res != "done" {
			a.t.Fatalf("%s %s: job %s\njournal:\n%s", verb, a.unit, res, testenv.Journal(a.t, a.unit))
		}
	case <-ctx.Done():
		a.t.Fatalf("%s %s: no job result within %v", verb, a.unit, timeout)
	}
	return time.Since(start)
}

// state returns the unit's ActiveState and SubState.
func (a *app) state() (string, string) {
	a.t.Helper()
	props, err := a.bus.GetUnitPropertiesContext(context.Background(), a.unit)
	if err != nil {
		a.t.Fatal(err)
	}
	return props["ActiveState"].(string), props["SubState"].(string)
}

// container is the part of `podman inspect` the tests read.
type container struct {
	ID    string `json:"Id"`
	State struct {
		Running   bool
		StartedAt time.Time
	}
	Config struct {
		Env      []string
		Hostname string
		Labels   map[string]string
	}
	Mounts []struct {
		Type        string
		Name        string
		Source      string
		Destination string
		RW          bool
	}
	EffectiveCaps []string
}

func (a *app) inspect() container {
	a.t.Helper()
	out := testenv.Podman(a.t, "container", "inspect", a.name)
	var cs []container
	if err := json.Unmarshal([]byte(out), &cs); err != nil || len(cs) != 1 {
		a.t.Fatalf("podman inspect %s: %v\n%s", a.name, err, out)
	}
	return cs[0]
}

func (a *app) exists() bool {
	_, err := testenv.PodmanErr("container", "exists", a.name)
	return err == nil
}

func (a *app) exec(args ...string) string {
	a.t.Helper()
	return testenv.Podman(a.t, append([]string{"exec", a.name}, args...)...)
}

func (a *app) waitJournal(substr string) {
	a.t.Helper()
	testenv.WaitFor(a.t, 20*time.Second, 200*time.Millisecond, "journal of "+a.unit+" to show "+substr, func() (bool, error) {
		return strings.Contains(testenv.Journal(a.t, a.unit), substr), nil
	})
}
