package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Intents is what must outlive one ynhd process for the reconciler to
// converge after a crash:
//
//   - the apps a person stopped with `ynhd stop` (stay stopped until
//     `ynhd start`, `ynhd restart` or an edit of their declaration), and
//   - the starts and restarts a pass committed to before it wrote the
//     units they need (a write-ahead record): a daemon killed between the
//     write and the restart finishes the restart when it comes back,
//     instead of seeing a unit that matches its declaration and a
//     container that still runs the old one.
type Intents interface {
	// Stopped returns the apps stopped by a person.
	Stopped() (map[string]bool, error)
	// SetStopped records or clears a person's stop.
	SetStopped(app string, stopped bool) error
	// Owed returns, per app, the hash of the unit a start or restart is
	// owed for (see UnitHash).
	Owed() (map[string]string, error)
	// SetOwed replaces the record of owed starts and restarts.
	SetOwed(map[string]string) error
	// Kept returns the persistent apps whose container ynhd created, each
	// with the snapshot a recreate was taking it from ("" once done).
	Kept() (map[string]string, error)
	// SetKept records that ynhd created app's container, or (from not
	// empty) that it is recreating it from that snapshot.
	SetKept(app, from string) error
}

// UnitHash is the short hash Intents records a unit by.
func UnitHash(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:12])
}

// StateDir is Intents on disk: stopped/APP files (created by `ynhd stop`,
// read every pass with one readdir) and owed.json, written atomically.
type StateDir string

// make creates the state directory, 0700, without narrowing the
// directories above it: in system mode its parent also holds the apps'
// state directories, which their users must traverse.
func (d StateDir) make() error {
	if err := os.MkdirAll(filepath.Dir(string(d)), 0o755); err != nil {
		return err
	}
	if err := os.Mkdir(string(d), 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}

// Stopped implements Intents.
func (d StateDir) Stopped() (map[string]bool, error) {
	out := map[string]bool{}
	es, err := os.ReadDir(filepath.Join(string(d), "stopped"))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if !strings.HasPrefix(e.Name(), ".") {
			out[e.Name()] = true
		}
	}
	return out, nil
}

// SetStopped implements Intents.
func (d StateDir) SetStopped(app string, stopped bool) error {
	if app == "" || strings.ContainsAny(app, "/\x00") || app == "." || app == ".." {
		return fmt.Errorf("invalid app name %q", app)
	}
	dir := filepath.Join(string(d), "stopped")
	p := filepath.Join(dir, app)
	if !stopped {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := d.make(); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	return f.Close()
}

// Owed implements Intents.
func (d StateDir) Owed() (map[string]string, error) {
	out := map[string]string{}
	b, err := os.ReadFile(filepath.Join(string(d), "owed.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	var rec struct {
		Owed map[string]string `json:"owed"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return out, nil // a torn record is no worse than none: the timer re-checks
	}
	if rec.Owed != nil {
		out = rec.Owed
	}
	return out, nil
}

// SetOwed implements Intents.
func (d StateDir) SetOwed(m map[string]string) error {
	p := filepath.Join(string(d), "owed.json")
	if len(m) == 0 {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	b, err := json.Marshal(struct {
		Owed map[string]string `json:"owed"`
	}{m})
	if err != nil {
		return err
	}
	if err := d.make(); err != nil {
		return err
	}
	return WriteFileAtomic(p, b, 0o600)
}

// Kept implements Intents: kept/APP files holding the snapshot a
// recreate started from.
func (d StateDir) Kept() (map[string]string, error) {
	out := map[string]string{}
	dir := filepath.Join(string(d), "kept")
	es, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".") || !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out[e.Name()] = strings.TrimSpace(string(b))
	}
	return out, nil
}

// SetKept implements Intents.
func (d StateDir) SetKept(app, from string) error {
	if app == "" || strings.ContainsAny(app, "/\x00") || app == "." || app == ".." {
		return fmt.Errorf("invalid app name %q", app)
	}
	if err := d.make(); err != nil {
		return err
	}
	dir := filepath.Join(string(d), "kept")
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, app), []byte(from+"\n"), 0o600)
}

// WriteFileAtomic writes data to a temporary file beside path (whose
// directory must exist), syncs it
// and renames it over path, so readers see the old or the new content,
// never half of it. A failure leaves no temporary file behind.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	name := tmp.Name()
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		return err
	}
	ok = true
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
	return nil
}

// memIntents is Intents in memory, for a reconciler without a state
// directory (tests, and one-shot commands that were given none).
type memIntents struct {
	stopped map[string]bool
	owed    map[string]string
	kept    map[string]string
}

func newMemIntents() *memIntents {
	return &memIntents{stopped: map[string]bool{}, owed: map[string]string{}, kept: map[string]string{}}
}

func (m *memIntents) Kept() (map[string]string, error) { return copyMap(m.kept), nil }
func (m *memIntents) SetKept(app, from string) error {
	m.kept[app] = from
	return nil
}

func (m *memIntents) Stopped() (map[string]bool, error) { return copyMap(m.stopped), nil }
func (m *memIntents) SetStopped(app string, s bool) error {
	if s {
		m.stopped[app] = true
	} else {
		delete(m.stopped, app)
	}
	return nil
}
func (m *memIntents) Owed() (map[string]string, error) { return copyMap(m.owed), nil }
func (m *memIntents) SetOwed(o map[string]string) error {
	m.owed = copyMap(o)
	return nil
}

func copyMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sameKeys reports whether two owed records are equal.
func sameOwed(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	ka, kb := sortedKeys(a), sortedKeys(b)
	sort.Strings(kb)
	for i := range ka {
		if ka[i] != kb[i] || a[ka[i]] != b[kb[i]] {
			return false
		}
	}
	return true
}

// ErrLocked is returned by Lock when another ynhd process acts on the
// same state directory.
var ErrLocked = errors.New("another ynhd process holds the lock")

// Lock takes the state directory's lock, which every ynhd process that
// acts (the daemon, `ynhd apply`) holds while it does, so that two never
// act at once. It does not wait: when another process holds it, it returns
// ErrLocked and that process's id (0 if unknown). The lock goes with the
// process, so a killed daemon never leaves it held.
func (d StateDir) Lock() (unlock func(), holder int, err error) {
	if err := d.make(); err != nil {
		return nil, 0, err
	}
	p := filepath.Join(string(d), "lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, 0, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b[:n])))
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, pid, ErrLocked
		}
		return nil, 0, err
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() { f.Close() }, 0, nil
}
