// Package testenv runs integration tests inside the ynhd test environment:
// a real `systemd --user` manager with journald and rootless podman for a
// dedicated test user, set up by hack/testenv.sh.
//
// A package with integration tests calls Main from its TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// and every integration test starts with testenv.Require(t). When `go test`
// runs as root, Main brings the environment up (hack/testenv.sh up), re-runs
// the test binary as the test user inside it (hack/testenv.sh exec) and
// exits with its status. Run as any other user, the tests skip with a reason.
//
// Inside the environment the process runs as the test user in a cgroup the
// user's manager delegates to it, so systemctl --user, journalctl --user,
// go-systemd's user D-Bus connection and podman all work directly.
//
// Environment variables:
//
//	YNHD_TESTENV=1        set inside the environment
//	YNHD_TESTENV_KEEP     if set, Main leaves the environment up afterwards;
//	                      otherwise it runs `hack/testenv.sh down --if-unused`,
//	                      which stops the environment if Main started it and
//	                      no other test process is using it
//	CI=true               a failed `up` fails the run instead of skipping
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
)

// Images available in the test user's podman storage. They are built
// locally from Debian packages; no registry is needed.
const (
	// BusyboxImage has /bin/busybox with all applet links (sh, httpd, nc,
	// sleep, env, cat, hostname, ...), an /etc/passwd and /etc/group with
	// root and nobody, and CMD ["/bin/sh"].
	BusyboxImage = "localhost/ynhd-test/busybox:latest"
	// SystemdImage is a minimal Debian bookworm that boots systemd:
	// CMD ["/sbin/init"], STOPSIGNAL SIGRTMIN+3.
	SystemdImage = "localhost/ynhd-test/debian-systemd:latest"
)

const (
	// envInside is set to 1 by hack/testenv.sh exec.
	envInside = "YNHD_TESTENV"
	// envKeep keeps the environment up after Main.
	envKeep = "YNHD_TESTENV_KEEP"
	// leaseFile is share-locked while a test run uses the environment;
	// `hack/testenv.sh down --if-unused` does nothing while it is.
	leaseFile = "/run/ynhd-testenv.lease"
	// stateDir is where hack/testenv.sh keeps its state.
	stateDir = "/run/ynhd-testenv"
	// script is the environment's control script, relative to the
	// repository root.
	script = "hack/testenv.sh"
)

const notRootReason = "integration tests need root to start the ynhd test environment " +
	"(hack/testenv.sh); run `make test` as root"

// skipReason is why Require skips; empty inside the environment.
var skipReason = "not inside the ynhd test environment; the package's TestMain must call testenv.Main"

// Prepare, when set before Main, runs as root outside the environment once
// it is up and leased to this test process, before the tests run inside:
// for building what the tests install. Variables it sets whose names start
// with YNHD_ reach the tests.
var Prepare func() error

// Inside reports whether the process runs inside the test environment.
func Inside() bool { return os.Getenv(envInside) == "1" }

// Main runs the tests of a package; call it from TestMain. It does not
// return.
//
//   - Inside the environment it runs the tests.
//   - Outside, as a user other than root, it runs them with Require
//     skipping.
//   - Outside as root it starts the environment, runs a copy of the test
//     binary (with the same arguments) as the test user inside it and exits
//     with its status. If the environment cannot start, the tests skip with
//     the reason, except with CI=true, where the run fails.
func Main(m *testing.M) {
	if Inside() {
		skipReason = ""
		os.Exit(m.Run())
	}
	if os.Geteuid() != 0 {
		skipReason = notRootReason
		os.Exit(m.Run())
	}
	os.Exit(runOutside(m))
}

// Require skips the test unless it runs inside the environment.
func Require(t testing.TB) {
	t.Helper()
	if !Inside() {
		t.Skip(skipReason)
	}
}

// runOutside brings the environment up, runs the test binary inside and
// returns the exit status for Main.
func runOutside(m *testing.M) int {
	fail := func(msg string) int {
		if isCI() {
			fmt.Fprintf(os.Stderr, "FAIL: %s\n(CI=true: integration tests must not be skipped)\n", msg)
			return 1
		}
		skipReason = msg
		return m.Run()
	}

	root, err := RepoRoot()
	if err != nil {
		return fail("cannot find the ynhd test environment: " + err.Error())
	}
	ctl := filepath.Join(root, script)

	// Hold the lease from before `up` until after the run, so that a
	// parallel test process's `down --if-unused` leaves the environment up.
	lease, err := os.OpenFile(leaseFile, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fail("cannot open the test environment's lease file: " + err.Error())
	}
	if err := syscall.Flock(int(lease.Fd()), syscall.LOCK_SH); err != nil {
		return fail("cannot lock the test environment's lease file: " + err.Error())
	}
	down := func() {
		lease.Close() // releases the lock
		if os.Getenv(envKeep) != "" {
			return
		}
		if out, err := control(ctl, "down", "--if-unused"); err != nil {
			fmt.Fprintf(os.Stderr, "testenv: %s down: %v\n%s", script, err, out)
		}
	}

	if _, err := control(ctl, "status"); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: starting the ynhd test environment (%s up)\n", script)
	}
	if out, err := control(ctl, "up", "--transient"); err != nil {
		down()
		return fail(fmt.Sprintf("the ynhd test environment could not start (%s up: %v):\n%s",
			script, err, tail(out, 30)))
	}
	if Prepare != nil {
		if err := Prepare(); err != nil {
			down()
			fmt.Fprintf(os.Stderr, "testenv: preparing the tests: %v\n", err)
			return 1
		}
	}
	code, err := runInside(ctl)
	down()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// control runs hack/testenv.sh with args and returns its combined output.
func control(ctl string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append([]string{ctl}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.Bytes(), err
}

// runInside copies the test binary where the test user can read it and
// runs it with the same arguments inside the environment.
func runInside(ctl string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 1, err
	}
	dir, err := os.MkdirTemp("/var/tmp", "ynhd-testenv-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		return 1, err
	}
	bin := filepath.Join(dir, filepath.Base(exe))
	if err := copyFile(exe, bin, 0o755); err != nil {
		return 1, fmt.Errorf("copying the test binary: %w", err)
	}
	uid, gid, err := testUser()
	if err != nil {
		return 1, err
	}
	args, outputs, err := rewriteArgs(os.Args[1:], dir, uid, gid)
	if err != nil {
		return 1, err
	}

	cmd := exec.Command("bash", append([]string{ctl, "exec", "--", bin}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// hack/testenv.sh exec execs its way down to the test binary, so the
	// child's pid is the test binary's: pass on the signals `go test` and
	// a terminal send.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 1, err
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	code := cmd.ProcessState.ExitCode()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		err = nil
		if code < 0 {
			code = 1
			err = fmt.Errorf("test binary inside the environment: %v", cmd.ProcessState)
		}
	}
	if cerr := outputs.copyBack(); cerr != nil && err == nil {
		err = cerr
	}
	return code, err
}

// outputMap records files and directories the test binary writes (as
// given by -test.* flags) that were redirected to places the test user can
// write, to be copied back after the run.
type outputMap []struct {
	tmp, orig string
	dir       bool
}

// Flags naming files or directories the test binary writes.
var (
	outputFileFlags = map[string]bool{
		"testlogfile": true, "coverprofile": true, "cpuprofile": true,
		"memprofile": true, "blockprofile": true, "mutexprofile": true,
		"trace": true,
	}
	outputDirFlags = map[string]bool{"outputdir": true, "gocoverdir": true}
)

// rewriteArgs redirects the output files and directories named in the
// -test.* flags of args (typically in the go command's private temporary
// directory, which the test user cannot write) to directories below dir
// owned by the test user.
func rewriteArgs(args []string, dir string, uid, gid int) ([]string, outputMap, error) {
	var outs outputMap
	out := make([]string, 0, len(args))
	for i, a := range args {
		name, val, ok := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(a, "-"), "-"), "=")
		name, isTest := strings.CutPrefix(name, "test.")
		isFile, isDir := outputFileFlags[name], outputDirFlags[name]
		if !ok || !isTest || val == "" || !(isFile || isDir) || (isFile && !filepath.IsAbs(val)) {
			out = append(out, a)
			continue
		}
		sub := filepath.Join(dir, "out"+strconv.Itoa(i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			return nil, nil, err
		}
		if err := os.Chown(sub, uid, gid); err != nil {
			return nil, nil, err
		}
		tmp := sub
		if isFile {
			tmp = filepath.Join(sub, filepath.Base(val))
		}
		outs = append(outs, struct {
			tmp, orig string
			dir       bool
		}{tmp, val, isDir})
		out = append(out, "-test."+name+"="+tmp)
	}
	return out, outs, nil
}

// copyBack copies what the test binary wrote to the original places.
func (o outputMap) copyBack() error {
	var errs []error
	for _, e := range o {
		if !e.dir {
			if _, err := os.Stat(e.tmp); err == nil {
				errs = append(errs, copyFile(e.tmp, e.orig, 0o644))
			}
			continue
		}
		errs = append(errs, filepath.WalkDir(e.tmp, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(e.tmp, p)
			dst := filepath.Join(e.orig, rel)
			if d.IsDir() {
				return os.MkdirAll(dst, 0o755)
			}
			if !d.Type().IsRegular() {
				return nil
			}
			return copyFile(p, dst, 0o644)
		}))
	}
	return errors.Join(errs...)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// testUser returns the test user's uid and gid as recorded by `up`.
func testUser() (uid, gid int, err error) {
	b, err := os.ReadFile(filepath.Join(stateDir, "uid"))
	if err != nil {
		return 0, 0, fmt.Errorf("the test environment's state: %w", err)
	}
	uid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, 0, fmt.Errorf("the test environment's state: %w", err)
	}
	// The test user's group has the same name; its gid is in the home
	// directory's ownership, which avoids parsing /etc/group.
	home, err := homeOf(uid)
	if err != nil {
		return 0, 0, err
	}
	st, err := os.Stat(home)
	if err != nil {
		return 0, 0, err
	}
	return uid, int(st.Sys().(*syscall.Stat_t).Gid), nil
}

// homeOf looks up the home directory of uid in /etc/passwd.
func homeOf(uid int) (string, error) {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 6 && f[2] == strconv.Itoa(uid) {
			return f[5], nil
		}
	}
	return "", fmt.Errorf("no user with uid %d in /etc/passwd", uid)
}

// RepoRoot walks up from the working directory to the directory with
// go.mod: the root of this tree, which has hack/testenv.sh.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, script)); err != nil {
				return "", err
			}
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func isCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// UnitDir returns the test user's unit directory, ~/.config/systemd/user,
// creating it if needed.
func UnitDir() string {
	home, err := os.UserHomeDir()
	if err != nil {
		panic("testenv: " + err.Error())
	}
	dir := filepath.Join(home, ".config", "systemd", "user")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic("testenv: " + err.Error())
	}
	return dir
}

// run runs name with args and returns its standard output with surrounding
// white space trimmed. On failure the error includes the standard error.
func run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	out := strings.TrimSpace(stdout.String())
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = out
		}
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out, nil
}

// PodmanErr runs podman as the test user and returns its standard output,
// trimmed. The error includes podman's standard error.
func PodmanErr(args ...string) (string, error) {
	return run("podman", args...)
}

// Podman runs podman as the test user and returns its standard output,
// trimmed; it fails the test if podman fails.
func Podman(t testing.TB, args ...string) string {
	t.Helper()
	out, err := PodmanErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// SystemctlErr runs `systemctl --user ARGS...` and returns its standard
// output, trimmed.
func SystemctlErr(args ...string) (string, error) {
	return run("systemctl", append([]string{"--user"}, args...)...)
}

// Systemctl runs `systemctl --user ARGS...` and returns its standard
// output, trimmed; it fails the test if systemctl fails.
func Systemctl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := SystemctlErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Journal returns the messages of the user unit in the user's journal
// (journalctl --user -u UNIT -o cat --no-pager). Messages may arrive with a
// small delay; poll with WaitFor.
func Journal(t testing.TB, unit string) string {
	t.Helper()
	out, err := run("journalctl", "--user", "-u", unit, "-o", "cat", "--no-pager")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// UserBus connects to the test user's systemd manager over D-Bus
// (go-systemd's NewUserConnectionContext); the connection is closed when
// the test ends.
func UserBus(t testing.TB) *sddbus.Conn {
	t.Helper()
	// The context bounds the connection's lifetime, not just its setup.
	conn, err := sddbus.NewUserConnectionContext(context.Background())
	if err != nil {
		t.Fatalf("connecting to the user manager: %v", err)
	}
	t.Cleanup(conn.Close)
	return conn
}

// WaitFor calls cond every interval until it returns true, and fails the
// test if that does not happen within timeout. An error from cond counts
// as "not yet"; the last one is reported on timeout.
func WaitFor(t testing.TB, timeout, interval time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok && err == nil {
			return
		}
		lastErr = err
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(interval)
	}
	if lastErr != nil {
		t.Fatalf("timed out after %v waiting for %s: %v", timeout, what, lastErr)
	}
	t.Fatalf("timed out after %v waiting for %s", timeout, what)
}
