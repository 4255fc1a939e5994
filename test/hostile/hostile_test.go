// Package hostile runs the real ynhd on the inputs of the hostile-input
// report (issue 11): a declaration of 200,000 nested brackets, a 100 MB
// file, a FIFO and a symlink to /dev/zero among the declarations. `ynhd
// check` must refuse each quickly within a fixed memory bound, and the
// daemon's pass must report them without blocking. The check test needs
// only Go; the daemon test runs in the test environment, as root, which
// it takes exclusively (like test/reboot), and skips otherwise.
package hostile

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// checkRSSBound is the documented bound (docs/security.md) on the peak
// resident memory of `ynhd check` on any input. The measure is an upper
// bound: a child's peak RSS includes its parent's at fork.
const checkRSSBound = 64 << 20

func build(t *testing.T) string {
	t.Helper()
	bin, _, err := testenv.BuildYnhd(filepath.Join(os.TempDir(), "ynhd-hostile"))
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func TestCheckStaysBounded(t *testing.T) {
	bin := build(t)
	dir := t.TempDir()
	write := func(name string, parts ...string) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, s := range parts {
			if _, err := f.WriteString(s); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	brackets := write("brackets.toml", "x = ", strings.Repeat("[", 200_000), strings.Repeat("]", 200_000), "\n")
	// 100 MiB of comments, written a MiB at a time: the child's peak RSS
	// starts from this process's own peak (Linux carries it across fork
	// and exec), so this process must stay small.
	mib := strings.Repeat("# "+strings.Repeat("c", 1021)+"\n", 1024)
	chunks := make([]string, 100)
	for i := range chunks {
		chunks[i] = mib
	}
	huge := write("comments.toml", chunks...)
	// The most a file within the bounds costs: the longest table name,
	// then as many long unknown keys as allowed, each reported.
	var keys []string
	for i := range 4000 {
		keys = append(keys, strings.Repeat("k", 100)+strconv.Itoa(i)+" = 1\n")
	}
	worst := write("worst.toml", append([]string{"[" + strings.Repeat("t.", 7) + strings.Repeat("t", 120) + "]\n"}, keys...)...)
	fifo := filepath.Join(dir, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	zero := filepath.Join(dir, "zero.toml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{brackets, "brackets.toml:1:13: arrays and inline tables nested more than 8 deep"},
		{huge, "comments.toml: cannot read: 104857600 bytes, more than the 1048576 bytes (1 MiB)"},
		{fifo, "fifo.toml: cannot read: a FIFO (named pipe), not a regular file"},
		{zero, "zero.toml: cannot read: a character device, not a regular file"},
		{worst, `worst.toml:1:1: t: unknown key "t"`}, // the outermost unknown key, once
	} {
		t.Run(filepath.Base(tt.file), func(t *testing.T) {
			cmd := exec.Command(bin, "check", tt.file)
			timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
			out, err := cmd.Output()
			timer.Stop()
			if err == nil {
				t.Fatalf("check accepts it:\n%s", out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("output %q, want %q", out, tt.want)
			}
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			rss := ru.Maxrss << 10 // KiB on Linux
			t.Logf("peak RSS %.1f MiB", float64(rss)/(1<<20))
			if rss > checkRSSBound {
				t.Errorf("peak RSS %d MiB, more than %d MiB", rss>>20, checkRSSBound>>20)
			}
		})
	}
}

// TestDaemonPassSkipsWhatItCannotRead runs one pass of ynhd (what the
// daemon does on each change) as the test user with a FIFO and a symlink
// to /dev/zero among the declarations: it must finish and name both, where
// it used to block forever in open() or read /dev/zero until killed. A
// pass that fails later, for a reason of its own, skips the test.
func TestDaemonPassSkipsWhatItCannotRead(t *testing.T) {
	testenv.Exclusive(t, "running ynhd in the test environment")
	bin := build(t)
	script := `set -e
mkdir -p ~/.config/ynhd
cd ~/.config/ynhd
rm -f hostile-fifo.toml hostile-zero.toml
mkfifo hostile-fifo.toml
ln -s /dev/zero hostile-zero.toml
rc=0; timeout 60 ` + bin + ` plan || rc=$?
echo "exit=$rc"`
	t.Cleanup(func() {
		testenv.Control("exec", "--", "sh", "-c", "rm -f ~/.config/ynhd/hostile-fifo.toml ~/.config/ynhd/hostile-zero.toml")
	})
	out, _ := testenv.Control("exec", "--", "sh", "-c", script)
	switch {
	case strings.Contains(out, "exit=124"):
		t.Fatalf("the pass blocked (killed after 60 s):\n%s", out)
	case !strings.Contains(out, "exit=0"):
		// Reading the declarations is the pass's first step; it got
		// through it, then failed for a reason of its own.
		t.Skipf("plan failed after reading the declarations, for another reason:\n%s", out)
	}
	for _, want := range []string{"hostile-fifo.toml: cannot read: a FIFO", "hostile-zero.toml: cannot read: a character device"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
}
