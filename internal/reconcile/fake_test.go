package reconcile

import (
	"context"
	"fmt"
	"sort"
	"strings"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/godbus/dbus/v5"
)

// fakeUnit is the manager's view of one unit.
type fakeUnit struct {
	load, active, sub string
}

// fake is a systemd manager and unit directory in memory. String prints
// its state so tests compare text.
type fake struct {
	dir     string
	files   map[string][]byte
	enabled map[string]bool
	units   map[string]*fakeUnit
	// loaded is the unit file content the manager last loaded.
	loaded  map[string][]byte
	calls   []string
	failJob map[string]string // unit -> job result other than done
	foreign map[string]string // unit -> fragment path elsewhere
	taken   map[string]string // unit -> what holds the name on the search path
	// writeErr fails every write; queueErr fails queueing a job for a
	// unit (the bus went away mid-call).
	writeErr error
	queueErr map[string]error
	result   map[string]string // unit -> Result of a failed service
	// nrestarts counts systemd's automatic restarts per unit.
	nrestarts map[string]uint32
}

func newFake() *fake {
	return &fake{dir: "/home/u/.config/systemd/user", files: map[string][]byte{}, enabled: map[string]bool{},
		units: map[string]*fakeUnit{}, loaded: map[string][]byte{}, failJob: map[string]string{}, foreign: map[string]string{}, taken: map[string]string{}, result: map[string]string{}, nrestarts: map[string]uint32{}}
}

func (f *fake) call(format string, args ...any) {
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fake) unit(name string) *fakeUnit {
	u := f.units[name]
	if u == nil {
		u = &fakeUnit{load: "not-found", active: "inactive", sub: "dead"}
		f.units[name] = u
	}
	return u
}

// Files.

func (f *fake) Dir() string { return f.dir }
func (f *fake) ReadUnits() (map[string][]byte, error) {
	out := map[string][]byte{}
	for k, v := range f.files {
		out[k] = v
	}
	return out, nil
}
func (f *fake) Write(name string, b []byte) error {
	f.call("write %s", name)
	if f.writeErr != nil {
		return f.writeErr
	}
	f.files[name] = b
	return nil
}
func (f *fake) Remove(name string) error {
	f.call("remove %s", name)
	delete(f.files, name)
	return nil
}
func (f *fake) Enabled(name string) bool { return f.enabled[name] }
func (f *fake) Taken(name string) string { return f.taken[name] }

// Manager.

func (f *fake) ListUnitsByNamesContext(_ context.Context, names []string) ([]sddbus.UnitStatus, error) {
	f.call("list %s", strings.Join(names, ","))
	var out []sddbus.UnitStatus
	for _, n := range names {
		u := f.unit(n)
		if _, ok := f.foreign[n]; ok {
			u.load = "loaded"
		}
		out = append(out, sddbus.UnitStatus{Name: n, LoadState: u.load, ActiveState: u.active, SubState: u.sub})
	}
	return out, nil
}

func (f *fake) GetUnitPropertyContext(_ context.Context, unit, prop string) (*sddbus.Property, error) {
	path := f.foreign[unit]
	if path == "" {
		path = f.dir + "/" + unit
	}
	return &sddbus.Property{Name: prop, Value: dbus.MakeVariant(path)}, nil
}

func (f *fake) GetUnitTypePropertyContext(_ context.Context, unit, _, prop string) (*sddbus.Property, error) {
	if prop == "NRestarts" {
		return &sddbus.Property{Name: prop, Value: dbus.MakeVariant(f.nrestarts[unit])}, nil
	}
	return &sddbus.Property{Name: prop, Value: dbus.MakeVariant(f.result[unit])}, nil
}

func (f *fake) ReloadContext(context.Context) error {
	f.call("reload")
	for name, u := range f.units {
		if _, ok := f.files[name]; ok {
			u.load = "loaded"
		} else if _, foreign := f.foreign[name]; !foreign {
			u.load = "not-found"
		}
	}
	for name := range f.files {
		f.unit(name).load = "loaded"
	}
	f.loaded = map[string][]byte{}
	for k, v := range f.files {
		f.loaded[k] = v
	}
	return nil
}

func (f *fake) job(verb, name string, ch chan<- string, active, sub string) (int, error) {
	f.call("%s %s", verb, name)
	if err := f.queueErr[name]; err != nil {
		return 0, err
	}
	// Like systemd, a start loads a unit the manager does not know yet.
	if u := f.unit(name); u.load == "not-found" && verb != "stop" {
		if b, ok := f.files[name]; ok {
			u.load = "loaded"
			f.loaded[name] = b
		} else {
			return 0, fmt.Errorf("Unit %s not found.", name)
		}
	}
	if res, ok := f.failJob[name]; ok {
		u := f.unit(name)
		u.active, u.sub = "failed", "failed"
		ch <- res
		return 1, nil
	}
	u := f.unit(name)
	u.active, u.sub = active, sub
	ch <- "done"
	return 1, nil
}

func (f *fake) StartUnitContext(_ context.Context, name, _ string, ch chan<- string) (int, error) {
	return f.job("start", name, ch, "active", "running")
}
func (f *fake) StopUnitContext(_ context.Context, name, _ string, ch chan<- string) (int, error) {
	return f.job("stop", name, ch, "inactive", "dead")
}
func (f *fake) RestartUnitContext(_ context.Context, name, _ string, ch chan<- string) (int, error) {
	return f.job("restart", name, ch, "active", "running")
}
func (f *fake) ResetFailedUnitContext(_ context.Context, name string) error {
	f.call("reset-failed %s", name)
	if u := f.unit(name); u.active == "failed" {
		u.active, u.sub = "inactive", "dead"
	}
	return nil
}
func (f *fake) EnableUnitFilesContext(_ context.Context, names []string, _, _ bool) (bool, []sddbus.EnableUnitFileChange, error) {
	f.call("enable %s", strings.Join(names, ","))
	for _, n := range names {
		f.enabled[n] = true
	}
	return true, nil, nil
}
func (f *fake) DisableUnitFilesContext(_ context.Context, names []string, _ bool) ([]sddbus.DisableUnitFileChange, error) {
	f.call("disable %s", strings.Join(names, ","))
	for _, n := range names {
		delete(f.enabled, n)
	}
	return nil, nil
}

// String prints every unit: file (with its first distinguishing line),
// enabled, and manager state.
func (f *fake) String() string {
	names := map[string]bool{}
	for n := range f.files {
		names[n] = true
	}
	for n, u := range f.units {
		if u.load != "not-found" || u.active != "inactive" {
			names[n] = true
		}
	}
	var lines []string
	for n := range names {
		u := f.unit(n)
		file := "-"
		if b, ok := f.files[n]; ok {
			file = fmt.Sprintf("file(%d)", len(b))
		}
		lines = append(lines, fmt.Sprintf("%s %s enabled=%v %s/%s", n, file, f.enabled[n], u.active, u.sub))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
