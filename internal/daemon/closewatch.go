package daemon

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ynhd/ynhd/internal/decl"
)

// closeWatch reports declarations closed after writing (inotify's
// IN_CLOSE_WRITE, which fsnotify does not expose). A file written in
// place (an editor that truncates and rewrites) is whole once closed, so
// the pass need not wait for a debounce; fsnotify's write events, which
// come before the close, still wait a moment.
type closeWatch struct {
	f *os.File
	c chan struct{}
}

func newCloseWatch() (*closeWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	// A non-blocking descriptor in an *os.File is read through the
	// runtime's poller, and Close ends a Read in progress.
	cw := &closeWatch{f: os.NewFile(uintptr(fd), "inotify"), c: make(chan struct{}, 1)}
	go cw.run()
	return cw, nil
}

// add watches dir (again: after the directory was replaced, the name
// points at a new inode).
func (cw *closeWatch) add(dir string) error {
	rc, err := cw.f.SyscallConn()
	if err != nil {
		return err
	}
	var aerr error
	if err := rc.Control(func(fd uintptr) {
		_, aerr = unix.InotifyAddWatch(int(fd), dir, unix.IN_CLOSE_WRITE|unix.IN_ONLYDIR)
	}); err != nil {
		return err
	}
	if aerr != nil {
		return &os.PathError{Op: "inotify_add_watch", Path: dir, Err: aerr}
	}
	return nil
}

// C receives a value (coalesced) when a declaration was closed after
// writing.
func (cw *closeWatch) C() <-chan struct{} { return cw.c }

func (cw *closeWatch) Close() error { return cw.f.Close() }

func (cw *closeWatch) run() {
	const header = unix.SizeofInotifyEvent // wd, mask, cookie, len: 4 bytes each
	buf := make([]byte, 64*(header+unix.NAME_MAX+1))
	for {
		n, err := cw.f.Read(buf)
		if err != nil {
			return
		}
		for off := 0; off+header <= n; {
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			size := int(binary.NativeEndian.Uint32(buf[off+12:]))
			end := min(off+header+size, n)
			name := strings.TrimRight(string(buf[off+header:end]), "\x00")
			off = end
			if mask&unix.IN_CLOSE_WRITE == 0 || !(decl.IsDeclarationFile(filepath.Base(name)) || filepath.Base(name) == decl.VarsFile) {
				continue
			}
			select {
			case cw.c <- struct{}{}:
			default:
			}
		}
	}
}
