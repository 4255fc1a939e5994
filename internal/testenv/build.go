package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// buildTags are the Makefile's: the podman bindings need them.
const buildTags = "remote exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper containers_image_openpgp"

// BuildYnhd builds ynhd from this tree into dir (recreated, world-readable)
// and copies packaging/install.sh and the unit template beside it, so the
// test user can install ynhd the way `make install` does. It returns the
// binary and the packaging directory. Run it outside the environment.
func BuildYnhd(dir string) (bin, packaging string, err error) {
	root, err := RepoRoot()
	if err != nil {
		return "", "", err
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", "", err
	}
	packaging = filepath.Join(dir, "packaging")
	if err := os.MkdirAll(packaging, 0o755); err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "ynhd")
	build := exec.Command("go", "build", "-tags", buildTags, "-o", bin, "./cmd/ynhd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building ynhd: %v\n%s", err, out)
	}
	for _, f := range []string{"install.sh", "ynhd.service.in", "ynhd-network-online.service.in"} {
		b, err := os.ReadFile(filepath.Join(root, "packaging", f))
		if err != nil {
			return "", "", err
		}
		if err := os.WriteFile(filepath.Join(packaging, f), b, 0o755); err != nil {
			return "", "", err
		}
	}
	for _, d := range []string{dir, packaging} {
		if err := os.Chmod(d, 0o755); err != nil {
			return "", "", err
		}
	}
	return bin, packaging, nil
}

// Control runs hack/testenv.sh with args as root, outside the environment,
// and returns its combined output.
func Control(args ...string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	out, err := control(filepath.Join(root, script), args...)
	return string(out), err
}

// Exclusive is for root tests that change the environment itself (restart
// its manager, break a host condition): it skips the test unless it runs as
// root (giving why), waits until no other test process uses the
// environment, brings it up, and keeps it to this test until the test ends.
// With CI=true an environment that cannot start fails the test.
func Exclusive(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip(why + " needs root; run `make test` as root")
	}
	unlock, err := LockExclusive()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	if out, err := Control("up", "--transient"); err != nil {
		if isCI() {
			t.Fatalf("the test environment could not start: %v\n%s", err, out)
		}
		t.Skipf("the test environment could not start: %v\n%s", err, out)
	}
}

// LockExclusive waits until no test process uses the environment and keeps
// others out until the returned function is called: for tests that stop
// and restart the environment itself.
func LockExclusive() (unlock func(), err error) {
	f, err := os.OpenFile(leaseFile, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := flock(f, true); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}

func flock(f *os.File, exclusive bool) error {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	return syscall.Flock(int(f.Fd()), how)
}
