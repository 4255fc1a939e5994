// Package system tests ynhd where a person's machine has a real systemd:
// a Debian booted with systemd as PID 1 (hack/bootenv.sh), with logind,
// D-Bus and journald of its own. ynhd is installed there from this tree
// as the README says (`make install-system` as root, `make install
// PREFIX=~/.local` as a user), and then
//   - system mode (ynhd run --system as a system service): a busybox app
//     runs as a DynamicUser, a Debian+systemd app as the static user with
//     subordinate ids that ynhd creates, both survive restarts and keep
//     their data, and ynhd keeps its reconcile, drift and bad-input
//     behaviour;
//   - per-user mode on a real login setup: a user with lingering gets
//     user@UID.service from logind, and ynhd, installed by that user and
//     started with `systemctl --user -M USER@ start ynhd`, runs an app.
//
// It needs root; it takes the integration-test lease exclusively, so it
// runs alone. YNHD_BOOTENV_KEEP=1 leaves the booted system up afterwards
// (hack/bootenv.sh exec ... to look around, hack/bootenv.sh down to end it).
package system

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// The registry inside the booted system (see hack/bootenv.sh).
const (
	busybox       = "localhost:5815/ynhd-test/busybox:latest"
	debianSystemd = "localhost:5815/ynhd-test/debian-systemd:latest"
)

var (
	repo    string // this tree
	rootDir string // the booted system's / as seen from the host
	skip    string // why the tests cannot run, if they cannot
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		skip = "boots a Debian with systemd as PID 1, which needs root; run `make test` as root"
		return m.Run()
	}
	var err error
	if repo, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	unlock, err := testenv.LockExclusive()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer unlock()
	start := time.Now()
	if out, err := bootenv("up"); err != nil {
		fmt.Fprintf(os.Stderr, "hack/bootenv.sh up: %v\n%s", err, out)
		return 1
	}
	if os.Getenv("YNHD_BOOTENV_KEEP") != "1" {
		defer bootenv("down")
	}
	out, _ := bootenv("root")
	rootDir = strings.TrimSpace(out)
	fmt.Fprintf(os.Stderr, "booted system up in %.0f s\n", time.Since(start).Seconds())
	if err := install(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func bootenv(args ...string) (string, error) {
	out, err := exec.Command("bash", append([]string{filepath.Join(repo, "hack", "bootenv.sh")}, args...)...).CombinedOutput()
	return string(out), err
}

// install copies this tree into the booted system and runs `make
// install-system` there as root, with the host's Go toolchain and caches
// that hack/bootenv.sh binds in. (TestLingering installs the per-user way.)
func install() error {
	src := filepath.Join(rootDir, "usr/src/ynhd")
	if err := os.RemoveAll(src); err != nil {
		return err
	}
	files, err := exec.Command("git", "-C", repo, "ls-files", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("listing the tree: %w", err)
	}
	for _, f := range strings.Split(strings.TrimSpace(string(files)), "\n") {
		st, err := os.Lstat(filepath.Join(repo, f))
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		b, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			return err
		}
		dst := filepath.Join(src, f)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, st.Mode().Perm()); err != nil {
			return err
		}
	}
	env := goEnv()
	out, err := inside(fmt.Sprintf("cd /usr/src/ynhd && %s make install-system", env))
	if err != nil {
		return fmt.Errorf("make install-system in the booted system: %v\n%s", err, out)
	}
	return nil
}

// goEnv is the environment `make` needs inside to build offline with the
// host's toolchain and caches.
func goEnv() string {
	get := func(k string) string {
		v, _ := exec.Command("go", "env", k).Output()
		return strings.TrimSpace(string(v))
	}
	return fmt.Sprintf("env PATH=%s/bin:$PATH GOROOT=%s GOMODCACHE=%s GOCACHE=%s GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-mod=mod",
		get("GOROOT"), get("GOROOT"), get("GOMODCACHE"), get("GOCACHE"))
}

// inside runs a shell script as root in the booted system.
func inside(script string) (string, error) {
	out, err := bootenv("exec", "--", "bash", "-c", script)
	return strings.TrimSpace(out), err
}

// sh runs a script inside and fails the test if it fails.
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := inside(script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

// waitFor runs script inside until it succeeds.
func waitFor(t *testing.T, timeout time.Duration, what, script string) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		out, err := inside(script)
		if err == nil {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v\n%s", timeout, what, err, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// writeFile writes a file inside, atomically (ynhd watches directories).
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	host := filepath.Join(rootDir, path)
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(filepath.Dir(host), "."+filepath.Base(host)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, host); err != nil {
		t.Fatal(err)
	}
}

func requireBoot(t *testing.T) {
	t.Helper()
	if skip != "" {
		t.Skip(skip)
	}
}

// containerInit returns the pid, in the booted system, of the container's
// PID 1 in unit: the child of conmon, the unit's main process.
func containerInit(t *testing.T, unit string) string {
	t.Helper()
	return waitFor(t, 30*time.Second, unit+"'s container process", fmt.Sprintf(
		`c=$(systemctl show -p MainPID --value %s) && [ "$c" != 0 ] && p=$(pgrep -P "$c" | head -n 1) && [ -n "$p" ] && echo "$p"`, unit))
}
