package reconcile

import (
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
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

// dirKeys stats the files of a list and returns their keys; a file that
// cannot be stat'ed gets the zero key (never equal to a real one, so it is
// read, and its error reported, by the slow path). Files are stat'ed
// relative to their directory, opened once, so the path is not walked
// again for each.
func dirKeys(files []string) map[string]fileKey {
	out := make(map[string]fileKey, len(files))
	dirfd, dir := -1, ""
	defer func() {
		if dirfd >= 0 {
			unix.Close(dirfd)
		}
	}()
	var st unix.Stat_t
	for _, f := range files {
		d, name := filepath.Split(f)
		if d != dir || dirfd < 0 {
			if dirfd >= 0 {
				unix.Close(dirfd)
			}
			dir = d
			var err error
			if dirfd, err = unix.Open(d, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				dirfd = -1
			}
		}
		if dirfd < 0 {
			out[f] = fileKey{size: -1}
			continue
		}
		if err := unix.Fstatat(dirfd, name, &st, 0); err != nil {
			out[f] = fileKey{size: -1}
			continue
		}
		out[f] = fileKey{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino}
	}
	return out
}

// varsKey is dirKeys' key of the variables file; a missing file has the
// zero key (dirKeys' size -1 would make every pass read everything).
func varsKey(path string) fileKey {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return fileKey{}
	}
	return fileKey{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino}
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
	keys := make(map[string]fileKey, len(entries))
	files := make(map[string][]byte, len(entries))
	dirfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(dirfd)
	var st unix.Stat_t
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !isUnitName(name) {
			continue
		}
		if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue // gone or replaced since the listing
		}
		k := fileKey{size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), ino: st.Ino}
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
