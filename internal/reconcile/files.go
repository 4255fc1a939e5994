package reconcile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ynhd/ynhd/internal/units"
)

// Files is the unit directory as the reconciler sees it.
type Files interface {
	// Dir is the directory's absolute path.
	Dir() string
	// ReadUnits returns every regular *.service file in the directory,
	// and every group target (units.GroupName).
	ReadUnits() (map[string][]byte, error)
	// Write replaces a unit file atomically.
	Write(name string, data []byte) error
	// Remove deletes a unit file; a missing file is not an error.
	Remove(name string) error
	// Enabled reports whether the unit is linked into the install target.
	Enabled(name string) bool
	// Taken says what else holds a unit name whose file is not in the
	// directory as a regular file: a symlink in the directory (a mask,
	// an alias, a `systemctl link`), or a unit file, link or drop-in
	// directory anywhere else on the manager's search path. "" when the
	// name is free.
	Taken(name string) string
}

// UnitDir is a unit directory on disk, e.g. ~/.config/systemd/user.
// Target is the install target units are enabled into (default.target
// for users, multi-user.target for the system manager). SearchPath is the
// manager's whole unit search path (its UnitPath property), which Taken
// looks through.
type UnitDir struct {
	Path       string
	Target     string
	SearchPath []string
	// cache keeps the files read by the last call of ReadUnits (see
	// NewUnitDir); without it every call reads every file.
	cache *unitCache
}

// NewUnitDir returns a UnitDir whose ReadUnits reads only the files that
// changed since its last call.
func NewUnitDir(path, target string, searchPath []string) UnitDir {
	return UnitDir{Path: path, Target: target, SearchPath: searchPath, cache: &unitCache{}}
}

// Dir implements Files.
func (u UnitDir) Dir() string { return u.Path }

// ReadUnits implements Files. Symlinks (units linked or masked by hand) are
// not ynhd's and are skipped.
func (u UnitDir) ReadUnits() (map[string][]byte, error) {
	if u.cache == nil {
		u.cache = &unitCache{}
	}
	files, err := u.cache.read(u.Path, func() ([]fs.DirEntry, error) { return os.ReadDir(u.Path) })
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]byte{}, nil
	}
	return files, err
}

func isUnitName(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	_, group := units.GroupName(name)
	return group || strings.HasSuffix(name, ".service")
}

// Taken implements Files.
func (u UnitDir) Taken(name string) string {
	own := filepath.Join(u.Path, name)
	if fi, err := os.Lstat(own); err == nil && !fi.Mode().IsRegular() {
		if fi.Mode()&fs.ModeSymlink != 0 {
			if dest, err := os.Readlink(own); err == nil {
				if dest == "/dev/null" {
					return own + " masks it (a symlink to /dev/null)"
				}
				return own + " is a symlink to " + dest + " (an alias or a linked unit)"
			}
		}
		return own + " is not a regular file"
	}
	for _, dir := range u.SearchPath {
		if filepath.Clean(dir) == filepath.Clean(u.Path) {
			continue
		}
		for _, n := range []string{name, name + ".d"} {
			if _, err := os.Lstat(filepath.Join(dir, n)); err == nil {
				return filepath.Join(dir, n) + " exists"
			}
		}
	}
	return ""
}

// checkOurs refuses to replace or remove a path that is not a regular
// file carrying ynhd's marker: the planner decided from an earlier read,
// and someone may have put a mask or their own unit there since.
func checkOurs(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (a mask, alias or link ynhd did not write); ynhd leaves it alone", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if _, ok := units.ReadMarker(b); !ok {
		return fmt.Errorf("%s was not written by ynhd; ynhd leaves it alone", path)
	}
	return nil
}

// Write implements Files: a temporary file in the same directory, synced,
// then renamed over the unit, so the manager never reads half a unit. It
// replaces only a unit ynhd wrote.
func (u UnitDir) Write(name string, data []byte) error {
	if err := os.MkdirAll(u.Path, 0o755); err != nil {
		return err
	}
	if err := checkOurs(filepath.Join(u.Path, name)); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(u.Path, ".ynhd-"+name+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(u.Path, name)); err != nil {
		return err
	}
	if d, err := os.Open(u.Path); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Remove implements Files. It removes only a unit ynhd wrote.
func (u UnitDir) Remove(name string) error {
	if err := checkOurs(filepath.Join(u.Path, name)); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(u.Path, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// Enabled implements Files.
func (u UnitDir) Enabled(name string) bool {
	_, err := os.Lstat(filepath.Join(u.Path, u.Target+".wants", name))
	return err == nil
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func unitApp(unit string) string { return strings.TrimSuffix(unit, ".service") }

func errorf(unit, format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{unit}, args...)...)
}

// DefaultSearchPath is the unit search path systemd uses when nothing
// overrides it (systemd.unit(5)), for the system manager or for a user
// manager with the given home and runtime directory: what `ynhd check`
// looks through without asking a manager.
func DefaultSearchPath(system bool, home, runtimeDir string) []string {
	if system {
		return []string{"/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
			"/run/systemd/generator.early", "/etc/systemd/system", "/etc/systemd/system.attached", "/run/systemd/system",
			"/run/systemd/system.attached", "/run/systemd/generator", "/usr/local/lib/systemd/system", "/lib/systemd/system",
			"/usr/lib/systemd/system", "/run/systemd/generator.late"}
	}
	p := []string{filepath.Join(home, ".config/systemd/user.control")}
	if runtimeDir != "" {
		p = append(p, filepath.Join(runtimeDir, "systemd/user.control"), filepath.Join(runtimeDir, "systemd/transient"),
			filepath.Join(runtimeDir, "systemd/generator.early"))
	}
	p = append(p, filepath.Join(home, ".config/systemd/user"), "/etc/xdg/systemd/user", "/etc/systemd/user")
	if runtimeDir != "" {
		p = append(p, filepath.Join(runtimeDir, "systemd/user"))
	}
	p = append(p, "/run/systemd/user")
	if runtimeDir != "" {
		p = append(p, filepath.Join(runtimeDir, "systemd/generator"))
	}
	p = append(p, filepath.Join(home, ".local/share/systemd/user"), "/usr/local/share/systemd/user", "/usr/share/systemd/user",
		"/usr/local/lib/systemd/user", "/usr/lib/systemd/user")
	if runtimeDir != "" {
		p = append(p, filepath.Join(runtimeDir, "systemd/generator.late"))
	}
	return p
}

// NameTaken says what keeps ynhd from owning a unit name in u, "" if
// nothing: a file of that name in u that ynhd did not write, or anything
// Taken finds.
func (u UnitDir) NameTaken(name string) string {
	own := filepath.Join(u.Path, name)
	if fi, err := os.Lstat(own); err == nil && fi.Mode().IsRegular() {
		b, err := os.ReadFile(own)
		if err != nil {
			return own + " cannot be read: " + err.Error()
		}
		if _, ok := units.ReadMarker(b); !ok {
			return own + " exists and was not written by ynhd"
		}
		return ""
	}
	return u.Taken(name)
}
