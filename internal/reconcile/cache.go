package reconcile

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// fileKey is what tells, without reading it, whether a file changed:
// size, modification and change times, inode. A rename over the file
// (how declarations and units are written) changes the inode; an edit in
// place changes the times.
type fileKey struct {
	size         int64
	mtime, ctime int64
	ino          uint64
}

func keyOf(fi fs.FileInfo) fileKey {
	k := fileKey{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		k.ino = st.Ino
		k.ctime = st.Ctim.Nano()
	}
	return k
}

// dirKeys stats the files of a list and returns their keys; a file that
// cannot be stat'ed gets the zero key (never equal to a real one, so it is
// read, and its error reported, by the slow path).
func dirKeys(files []string) map[string]fileKey {
	out := make(map[string]fileKey, len(files))
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			out[f] = keyOf(fi)
		} else {
			out[f] = fileKey{size: -1}
		}
	}
	return out
}

func sameKeys(a, b map[string]fileKey) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v || v.size < 0 {
			return false
		}
	}
	return true
}

// unitCache keeps the unit files read by the last pass, by name, with the
// key they had, so a pass reads only the files that changed.
type unitCache struct {
	keys  map[string]fileKey
	files map[string][]byte
}

// read returns every regular *.service file in dir, reading only those
// whose key changed since the last call.
func (c *unitCache) read(dir string, list func() ([]fs.DirEntry, error)) (map[string][]byte, error) {
	entries, err := list()
	if err != nil {
		return nil, err
	}
	keys := map[string]fileKey{}
	files := map[string][]byte{}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !isUnitName(name) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // gone since the listing
		}
		k := keyOf(fi)
		if b, ok := c.files[name]; ok && c.keys[name] == k {
			keys[name], files[name] = k, b
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		keys[name], files[name] = k, b
	}
	c.keys, c.files = keys, files
	return files, nil
}
