package daemon

import (
	"path/filepath"
	"slices"
	"strings"

	"github.com/fsnotify/fsnotify"
	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
)

// watch follows the declarations directory, its parent (so that a
// directory removed and created again is noticed and watched again) and
// the unit directory.
type watch struct {
	w                        *fsnotify.Watcher
	closes                   *closeWatch // nil if inotify gave none
	declDir, parent, unitDir string
	log                      *zap.Logger
	declLost                 bool
	// rewatch is set when the directory's name changed hands in its
	// parent (created, removed, renamed): an inotify watch follows an
	// inode, not a name, so the watch is made again.
	rewatch bool
}

func newWatch(declDir, unitDir string, log *zap.Logger) (*watch, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &watch{w: fw, declDir: filepath.Clean(declDir), parent: filepath.Dir(filepath.Clean(declDir)), unitDir: filepath.Clean(unitDir), log: log}
	if cw, err := newCloseWatch(); err == nil {
		w.closes = cw
	} else {
		log.Debug("no close-after-write events; in-place writes wait a moment", zap.Error(err))
	}
	if err := fw.Add(w.parent); err != nil {
		log.Warn("cannot watch the declarations directory's parent; a removed directory is noticed by the timer", zap.String("dir", w.parent), zap.Error(err))
	}
	w.ensure()
	return w, nil
}

func (w *watch) Events() <-chan fsnotify.Event { return w.w.Events }
func (w *watch) Errors() <-chan error          { return w.w.Errors }
func (w *watch) Close() error {
	if w.closes != nil {
		w.closes.Close()
	}
	return w.w.Close()
}

// Closed receives when a declaration was closed after writing (never, if
// inotify gave no such watch).
func (w *watch) Closed() <-chan struct{} {
	if w.closes == nil {
		return nil
	}
	return w.closes.C()
}

// ensure (re)adds the watches on the declarations and unit directories
// that are missing (the directory was removed, or could not be read), and
// reports whether the declarations directory's watch came back after it
// had been lost.
func (w *watch) ensure() bool {
	list := w.w.WatchList()
	back := false
	if w.rewatch && slices.Contains(list, w.declDir) {
		_ = w.w.Remove(w.declDir)
		list = slices.DeleteFunc(list, func(s string) bool { return s == w.declDir })
		w.declLost = true
	}
	w.rewatch = false
	if !slices.Contains(list, w.declDir) {
		err := w.w.Add(w.declDir)
		switch {
		case err == nil:
			back = w.declLost
			w.declLost = false
			if w.closes != nil {
				_ = w.closes.add(w.declDir) // without it, in-place writes wait a moment
			}
		case !w.declLost:
			w.declLost = true
			w.log.Warn("declarations directory not watched; watching for it to come back", zap.String("dir", w.declDir), zap.Error(err))
		}
	}
	if !slices.Contains(list, w.unitDir) {
		_ = w.w.Add(w.unitDir) // the timer covers a unit directory that cannot be watched
	}
	return back
}

// relevant filters events: declarations (not dotfiles, editor swap or
// backup files) and the variables file (decl.VarsFile), the declarations directory itself appearing or going in
// its parent, and ynhd's own unit files.
func (w *watch) relevant(ev fsnotify.Event, ours map[string]bool, own func(string) bool) bool {
	if ev.Op == fsnotify.Chmod && filepath.Clean(ev.Name) != w.declDir {
		return false
	}
	dir, name := filepath.Dir(ev.Name), filepath.Base(ev.Name)
	switch filepath.Clean(dir) {
	case w.declDir:
		return decl.IsDeclarationFile(name) || name == decl.VarsFile
	case w.unitDir:
		return ours[name] && !strings.HasPrefix(name, ".") && (own == nil || !own(name))
	case w.parent:
		if filepath.Clean(ev.Name) != w.declDir {
			return false
		}
		if ev.Op&(fsnotify.Create|fsnotify.Remove|fsnotify.Rename) != 0 {
			w.rewatch = true
		}
		return true
	}
	return false
}
