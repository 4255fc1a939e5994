package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"

	sddbus "github.com/coreos/go-systemd/v22/dbus"

	"github.com/ynhd/ynhd/internal/units"
)

// Manager is the part of the systemd manager's D-Bus API the reconciler
// uses; *dbus.Conn from go-systemd satisfies it. Job methods queue a job
// and return; its result ("done", "failed", "canceled", "timeout",
// "dependency", "skipped") arrives later on ch.
type Manager interface {
	ListUnitsByNamesContext(ctx context.Context, units []string) ([]sddbus.UnitStatus, error)
	GetUnitPropertyContext(ctx context.Context, unit, property string) (*sddbus.Property, error)
	GetUnitTypePropertyContext(ctx context.Context, unit, unitType, property string) (*sddbus.Property, error)
	ReloadContext(ctx context.Context) error
	StartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	StopUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	RestartUnitContext(ctx context.Context, name, mode string, ch chan<- string) (int, error)
	ResetFailedUnitContext(ctx context.Context, name string) error
	EnableUnitFilesContext(ctx context.Context, files []string, runtime, force bool) (bool, []sddbus.EnableUnitFileChange, error)
	DisableUnitFilesContext(ctx context.Context, files []string, runtime bool) ([]sddbus.DisableUnitFileChange, error)
}

// Observe reads the unit directory and asks the manager, in one call, for
// the state of every unit that is declared or carries ynhd's marker for a
// declaration in declDir.
func Observe(ctx context.Context, m Manager, f Files, declDir string, declared []string) (*World, error) {
	return observe(ctx, m, f, declDir, declared, nil)
}

// markerMemo is a unit file's marker as read from the file's content, so
// a pass reads (and hashes) only the unit files that changed.
type markerMemo struct {
	data []byte
	m    units.Marker
	ok   bool
}

func readMarker(memo map[string]markerMemo, name string, b []byte) (units.Marker, bool) {
	if memo == nil {
		return units.ReadMarker(b)
	}
	if e, hit := memo[name]; hit && bytes.Equal(e.data, b) {
		return e.m, e.ok
	}
	mk, ok := units.ReadMarker(b)
	memo[name] = markerMemo{data: bytes.Clone(b), m: mk, ok: ok}
	return mk, ok
}

func observe(ctx context.Context, m Manager, f Files, declDir string, declared []string, memo map[string]markerMemo) (*World, error) {
	files, err := f.ReadUnits()
	if err != nil {
		return nil, fmt.Errorf("reading unit directory %s: %w", f.Dir(), err)
	}
	for name := range memo {
		if _, ok := files[name]; !ok {
			delete(memo, name)
		}
	}
	w := &World{Units: make(map[string]*Observed, len(files)+len(declared))}
	for name, b := range files {
		o := &Observed{Unit: name, File: b}
		if mk, ok := readMarker(memo, name, b); ok {
			o.Source, o.Intact = mk.Source, mk.Intact
			o.Ours = filepath.Dir(mk.Source) == filepath.Clean(declDir)
			if mk.Group != "" {
				// A group's target comes from the whole directory.
				o.Ours = filepath.Clean(mk.Source) == filepath.Clean(declDir)
			}
		}
		// Only units that are ours or declared matter.
		w.Units[name] = o
	}
	names := map[string]bool{}
	for _, u := range declared {
		names[u] = true
		if w.Units[u] == nil {
			w.Units[u] = &Observed{Unit: u}
		}
	}
	for name, o := range w.Units {
		if o.Ours {
			names[name] = true
		}
	}
	for name := range w.Units {
		if !names[name] {
			delete(w.Units, name)
		}
	}
	list := sortedKeys(names)
	if len(list) == 0 {
		return w, nil
	}
	statuses, err := m.ListUnitsByNamesContext(ctx, list)
	if err != nil {
		return nil, fmt.Errorf("asking systemd for unit states: %w", err)
	}
	for _, s := range statuses {
		o := w.Units[s.Name]
		if o == nil {
			continue
		}
		if s.LoadState != "not-found" {
			o.LoadState, o.ActiveState, o.SubState = s.LoadState, s.ActiveState, s.SubState
		}
		o.Enabled = f.Enabled(s.Name)
	}
	// Why a failed unit failed (one call per failed unit, which is rare).
	for _, o := range w.Units {
		if o.ActiveState != "failed" {
			continue
		}
		if p, err := m.GetUnitTypePropertyContext(ctx, o.Unit, "Service", "Result"); err == nil {
			o.Result, _ = p.Value.Value().(string)
		}
		if p, err := m.GetUnitTypePropertyContext(ctx, o.Unit, "Service", "NRestarts"); err == nil {
			o.NRestarts, _ = p.Value.Value().(uint32)
		}
	}
	// A declared name with no file of ours here may be held elsewhere:
	// a mask, an alias, a linked unit, a drop-in, a vendor unit.
	for _, u := range declared {
		o := w.Units[u]
		if o.File != nil {
			continue
		}
		if o.LoadState == "masked" {
			o.Foreign, o.TakenBy = true, u+" is masked"
			continue
		}
		if by := f.Taken(u); by != "" {
			o.Foreign, o.TakenBy = true, by
		}
	}
	// A loaded unit with no file here is someone else's, unless the
	// manager still remembers a file of ours that was deleted.
	for _, o := range w.Units {
		if o.File != nil || o.LoadState != "loaded" || o.Foreign {
			continue
		}
		p, err := m.GetUnitPropertyContext(ctx, o.Unit, "FragmentPath")
		if err != nil {
			return nil, fmt.Errorf("asking systemd where %s comes from: %w", o.Unit, err)
		}
		frag, _ := p.Value.Value().(string)
		if frag != "" && frag != filepath.Join(f.Dir(), o.Unit) {
			o.Foreign, o.TakenBy = true, frag+" is loaded for it"
		}
	}
	return w, nil
}
