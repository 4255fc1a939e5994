package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// privateRuntimeDir is the runtime directory used when XDG_RUNTIME_DIR is
// unset: TMPDIR/ynhd-UID, created 0700 if missing. /tmp is shared and
// world-writable, so another local user may have made that name first
// (a directory of theirs, or a symlink to one) to plant files ynhd would
// write through. The directory is used only if it is a real directory
// (not a symlink), owned by this user and closed to everyone else; then
// nobody else can put anything in it. Otherwise it returns "" and the
// reason, and the caller keeps no state there.
func privateRuntimeDir() (string, error) {
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("ynhd-%d", os.Getuid()))
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return "", err
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return "", err
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	switch {
	case !st.IsDir():
		return "", fmt.Errorf("%s is not a directory (a symlink?): someone else may have made it; remove it, or set XDG_RUNTIME_DIR", dir)
	case !ok || int(sys.Uid) != os.Getuid():
		return "", fmt.Errorf("%s belongs to another user: remove it, or set XDG_RUNTIME_DIR", dir)
	case st.Mode().Perm()&0o077 != 0:
		return "", fmt.Errorf("%s is open to other users (mode %04o): remove it, or set XDG_RUNTIME_DIR", dir, st.Mode().Perm())
	}
	return dir, nil
}
