package decl

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// MaxFileSize is the largest declaration ynhd reads: 1 MiB. A longer file
// is refused before it is read, so a huge or endless file (a log, a
// symlink to /dev/zero) costs nothing.
const MaxFileSize = 1 << 20

// ReadFile reads one declaration file, refusing anything that is not a
// regular file of at most MaxFileSize bytes. A symlink is followed, but
// only to a regular file. The file is stat'ed before it is opened, so a
// FIFO or a device is never opened at all, then opened without blocking
// (O_NONBLOCK) and checked again with fstat, so a swap between the two
// steps is refused too. With strict (system mode) the file must also be
// trusted: see CheckTrusted.
//
// Errors say what is wrong and how to fix it; they never block and never
// read more than MaxFileSize+1 bytes.
func ReadFile(path string, strict bool) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, st, strict); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fst, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(st, fst) {
		return nil, fmt.Errorf("the file was replaced while being opened; try again")
	}
	if err := checkRegular(path, fst, strict); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(int64(len(data)))
	}
	return data, nil
}

func checkRegular(path string, st fs.FileInfo, strict bool) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s, not a regular file: ynhd reads declarations only from regular files (a symlink must point to one); remove it or replace it with a file", kindOf(st.Mode()))
	}
	if st.Size() > MaxFileSize {
		return tooLarge(st.Size())
	}
	if strict {
		return CheckTrusted(path, st)
	}
	return nil
}

func tooLarge(n int64) error {
	return fmt.Errorf("%d bytes, more than the %d bytes (1 MiB) a declaration may have; a declaration is a few lines: move data into files the app reads (binds, env_files)", n, MaxFileSize)
}

func kindOf(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "a special file"
}

// trustedOwner reports whether uid may own what system mode reads: root,
// or the user running ynhd (root too when it is the system daemon), the
// rule sshd's StrictModes applies to a user's own files.
func trustedOwner(uid uint32) bool {
	return uid == 0 || int(uid) == os.Geteuid()
}

// CheckTrusted applies system mode's rule to a file or directory that ynhd
// reads as root (st describes path, symlinks followed): it must be owned
// by root and not writable by group or others, or whoever can write it can
// run anything as an app's user. The error gives the chown or chmod that
// fixes it.
func CheckTrusted(path string, st fs.FileInfo) error {
	shown := path
	if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
		shown = real
		path = fmt.Sprintf("%s (a symlink to %s)", path, real)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("cannot read the owner of " + path)
	}
	if !trustedOwner(sys.Uid) {
		return fmt.Errorf("%s is owned by uid %d, not root: in system mode only root may write what ynhd reads; fix: sudo chown root:root %s", path, sys.Uid, shown)
	}
	if st.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%s is writable by group or others (mode %04o): in system mode only root may write what ynhd reads; fix: sudo chmod go-w %s", path, st.Mode().Perm(), shown)
	}
	return nil
}

// checkTrustedPath stats path and applies CheckTrusted.
func checkTrustedPath(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	return CheckTrusted(path, st)
}
