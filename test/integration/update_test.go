package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// registryUnit is the transient user unit the local registry runs in.
const registryUnit = "ynhd-it-registry.service"

// startRegistry runs Debian's docker-registry on a free loopback port as
// a transient user unit (its requests are in its journal) and returns its
// address. It is stopped when the test ends.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Skip("no docker-registry (Debian package docker-registry; hack/testenv.sh up installs it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "data"), addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.SystemctlErr("reset-failed", registryUnit)
	if out, err := exec.Command("systemd-run", "--user", "--unit="+registryUnit, "--collect", bin, "serve", cfg).CombinedOutput(); err != nil {
		t.Fatalf("starting the registry: %v\n%s", err, out)
	}
	t.Cleanup(func() { testenv.SystemctlErr("stop", registryUnit) })
	testenv.WaitFor(t, 20*time.Second, 100*time.Millisecond, "registry listening on "+addr, func() (bool, error) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil, nil
	})
	return addr
}

// buildVariant builds a tiny image named localhost/ynhd-it-upd:TAG from
// the busybox image with /version, and /healthy when healthy.
func buildVariant(t *testing.T, tag string, healthy bool) string {
	t.Helper()
	dir := t.TempDir()
	cf := fmt.Sprintf("FROM %s\nCOPY version /version\n", testenv.BusyboxImage)
	if healthy {
		cf += "COPY version /healthy\n"
	}
	os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(cf), 0o644)
	os.WriteFile(filepath.Join(dir, "version"), []byte(tag+"\n"), 0o644)
	name := "localhost/ynhd-it-upd:" + tag
	testenv.Podman(t, "build", "-q", "-t", name, dir)
	t.Cleanup(func() { testenv.PodmanErr("rmi", "-f", name) })
	return name
}

// pushAs moves the registry's tag to the local image src.
func pushAs(t *testing.T, src, ref string) {
	t.Helper()
	testenv.Podman(t, "push", "-q", "--tls-verify=false", src, "docker://"+ref)
}

func imageID(t *testing.T, ref string) string {
	t.Helper()
	return testenv.Podman(t, "image", "inspect", "--format", "{{.Id}}", ref)
}

func containerImage(t *testing.T, app string) string {
	t.Helper()
	out, _ := testenv.PodmanErr("container", "inspect", "--format", "{{.Image}}", app)
	return out
}

// ynhdRunErr runs ynhd and returns its combined output and exit code.
func ynhdRunErr(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(ynhdBin(t), args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("ynhd %s: %v", strings.Join(args, " "), err)
	return "", 0
}

type historyEvent struct {
	Kind, From, To, Digest, Reason string
}

func history(t *testing.T, app string) []historyEvent {
	t.Helper()
	var h struct{ Events []historyEvent }
	if err := json.Unmarshal([]byte(ynhdOut(t, "history", "--json", app)), &h); err != nil {
		t.Fatal(err)
	}
	return h.Events
}

// TestImageUpdate follows one app through the update cases: an unchanged
// tag pulls nothing (the registry serves no manifest or layer), a tag
// moved to a healthy image is pulled and run with the app that requires
// it restarted after it is healthy, a tag moved to an image whose health
// check fails is rolled back to the previous image ID and not tried again,
// and a registry that is down leaves the app running and says so.
func TestImageUpdate(t *testing.T) {
	ensureDaemon(t)
	addr := startRegistry(t)
	ref := addr + "/ynhd-it/upd-web:1"
	v1, v2, v3 := buildVariant(t, "v1", true), buildVariant(t, "v2", true), buildVariant(t, "v3-sick", false)
	pushAs(t, v1, ref)
	testenv.Podman(t, "pull", "-q", "--tls-verify=false", ref)
	t.Cleanup(func() {
		undeclare(t, "upd-api")
		undeclare(t, "upd-web")
		testenv.PodmanErr("rmi", "-f", ref)
		os.Remove(filepath.Join(stateHome(t), "ynhd", "updates", "upd-web.json"))
	})
	first := imageID(t, ref)
	declare(t, "upd-web", fmt.Sprintf(`version = 1
image = %q
command = ["sleep", "100000"]
stop_timeout = "1s"
[health]
cmd = ["test", "-f", "/healthy"]
interval = "1s"
retries = 2
[update]
policy = "registry"
tls_verify = false
health_window = "40s"
`, ref))
	declare(t, "upd-api", fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sleep\", \"100000\"]\nstop_timeout = \"1s\"\nrequires = [\"upd-web\"]\n", testenv.BusyboxImage))
	waitContainer(t, "upd-web", "running", anyCtr)
	api0 := waitContainer(t, "upd-api", "running", anyCtr)

	// Unchanged: one HEAD, no manifest or blob served.
	mark := time.Now()
	time.Sleep(1100 * time.Millisecond) // the journal's --since has whole seconds
	out, code := ynhdRunErr(t, "update", "upd-web")
	if code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("unchanged tag: exit %d:\n%s", code, out)
	}
	t.Logf("unchanged: %s", strings.TrimSpace(out))
	time.Sleep(time.Second)
	reg := journalSince(t, registryUnit, mark.Add(time.Second))
	if !strings.Contains(reg, "HEAD") {
		t.Errorf("the registry saw no HEAD request:\n%s", reg)
	}
	for _, line := range strings.Split(reg, "\n") {
		if strings.Contains(line, "method=GET") && (strings.Contains(line, "/blobs/") || strings.Contains(line, "/manifests/")) {
			t.Errorf("an unchanged tag downloaded something: %s", line)
		}
	}
	if c := containerImage(t, "upd-web"); c != first {
		t.Fatalf("upd-web runs %s, want %s", c, first)
	}

	// A healthy image: --check reports it, update moves to it.
	pushAs(t, v2, ref)
	if out, code := ynhdRunErr(t, "update", "--check", "upd-web"); code != 0 || !strings.Contains(out, "update available") {
		t.Fatalf("--check: exit %d:\n%s", code, out)
	}
	if c := containerImage(t, "upd-web"); c != first {
		t.Fatalf("--check changed the image: %s", c)
	}
	out, code = ynhdRunErr(t, "update", "upd-web")
	if code != 0 || !strings.Contains(out, "updated from") {
		t.Fatalf("healthy update: exit %d:\n%s\n%s", code, out, lastLines(journalSince(t, "ynhd.service", mark), 30))
	}
	t.Logf("healthy: %s", strings.TrimSpace(out))
	second := imageID(t, ref)
	if second == first || containerImage(t, "upd-web") != second {
		t.Fatalf("after the update upd-web runs %s (tag names %s, was %s)", containerImage(t, "upd-web"), second, first)
	}
	web := waitContainer(t, "upd-web", "running the new image", anyCtr)
	api := waitContainer(t, "upd-api", "restarted after upd-web", func(c ctr) bool { return c.ID != api0.ID })
	if healthy := firstHealthy(t, "upd-web"); !api.Started.After(healthy) {
		t.Errorf("upd-api started at %s, before upd-web's first passing health check (%s; started %s)", api.Started, healthy, web.Started)
	} else {
		t.Logf("upd-web started %s, healthy %s, upd-api started %s", web.Started.Format(time.StampMilli), healthy.Format(time.StampMilli), api.Started.Format(time.StampMilli))
	}
	if h := history(t, "upd-web"); len(h) == 0 || h[len(h)-1].Kind != "updated" || h[len(h)-1].To != second {
		t.Errorf("history after the update: %+v", h)
	}

	// An image whose health check fails: rolled back to the second image.
	pushAs(t, v3, ref)
	start := time.Now()
	out, code = ynhdRunErr(t, "update", "upd-web")
	if code == 0 || !strings.Contains(out, "rolled back") {
		t.Fatalf("sick update: exit %d:\n%s", code, out)
	}
	took := time.Since(start)
	if took > 40*time.Second+30*time.Second {
		t.Errorf("the rollback took %s, more than the 40 s window allows for", took)
	}
	t.Logf("sick (%s): %s", took.Round(100*time.Millisecond), strings.TrimSpace(out))
	if c, id := containerImage(t, "upd-web"), imageID(t, ref); c != second || id != second {
		t.Errorf("after the rollback upd-web runs %s and the tag names %s, want %s", c, id, second)
	}
	waitContainer(t, "upd-api", "running after the rollback", anyCtr)
	h := history(t, "upd-web")
	if len(h) == 0 || h[len(h)-1].Kind != "rolled-back" || h[len(h)-1].From != second || h[len(h)-1].Reason == "" {
		t.Errorf("history after the rollback: %+v", h)
	}
	if out, _ := ynhdRunErr(t, "update", "upd-web"); !strings.Contains(out, "rolled back before") {
		t.Errorf("the bad digest was tried again:\n%s", out)
	}
	if st := ynhdOut(t, "status"); !strings.Contains(st, "upd-web: rolled-back at") {
		t.Errorf("ynhd status does not show the rollback:\n%s", st)
	}

	// The registry down: the check fails, the app runs on.
	before, _ := current("upd-web")
	testenv.Systemctl(t, "stop", registryUnit)
	out, code = ynhdRunErr(t, "update", "upd-web")
	if code == 0 || !strings.Contains(out, "check failed") {
		t.Errorf("registry down: exit %d:\n%s", code, out)
	}
	t.Logf("registry down: %s", strings.TrimSpace(out))
	if after, ok := current("upd-web"); !ok || after.ID != before.ID {
		t.Errorf("the app was touched while the registry was down")
	}
	if st := ynhdOut(t, "status"); !strings.Contains(st, "check failed") {
		t.Errorf("ynhd status does not report the failed check:\n%s", st)
	}
}

// stateHome is where ynhd keeps its state for the test user.
func stateHome(t *testing.T) string {
	if s := os.Getenv("XDG_STATE_HOME"); s != "" {
		return s
	}
	return filepath.Join(home(t), ".local", "state")
}

// firstHealthy returns when the app's current container first passed its
// health check.
func firstHealthy(t *testing.T, app string) time.Time {
	t.Helper()
	var log []struct {
		End      string
		ExitCode int
	}
	out := testenv.Podman(t, "inspect", "--format", "{{json .State.Health.Log}}", app)
	if err := json.Unmarshal([]byte(out), &log); err != nil {
		t.Fatalf("health log %q: %v", out, err)
	}
	for _, e := range log {
		if e.ExitCode == 0 {
			if ts, err := time.Parse(time.RFC3339Nano, e.End); err == nil {
				return ts
			}
			t.Fatalf("health log time %q", e.End)
		}
	}
	t.Fatalf("no passing health check in %s", out)
	return time.Time{}
}

// TestImageUpdateLocal: policy local follows a tag moved in local storage
// (no registry): a healthy image is taken, a sick one rolled back and the
// tag pointed at the previous image again.
func TestImageUpdateLocal(t *testing.T) {
	ensureDaemon(t)
	ref := "localhost/ynhd-it-upd-local:1"
	v1, v2, sick := buildVariant(t, "l1", true), buildVariant(t, "l2", true), buildVariant(t, "l3-sick", false)
	testenv.Podman(t, "tag", v1, ref)
	t.Cleanup(func() {
		undeclare(t, "updl-web")
		testenv.PodmanErr("rmi", ref)
		os.Remove(filepath.Join(stateHome(t), "ynhd", "updates", "updl-web.json"))
	})
	declare(t, "updl-web", fmt.Sprintf(`version = 1
image = %q
command = ["sleep", "100000"]
stop_timeout = "1s"
[health]
cmd = ["test", "-f", "/healthy"]
interval = "1s"
retries = 2
[update]
policy = "local"
health_window = "40s"
`, ref))
	waitContainer(t, "updl-web", "running", anyCtr)
	if out, code := ynhdRunErr(t, "update", "updl-web"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("unchanged: exit %d:\n%s", code, out)
	}
	// The daemon's passes leave a re-tagged image to the update while it
	// runs; the tag is moved and the update asked for at once.
	testenv.Podman(t, "tag", v2, ref)
	out, code := ynhdRunErr(t, "update", "updl-web")
	second := imageID(t, v2)
	if code != 0 || containerImage(t, "updl-web") != second {
		t.Fatalf("healthy: exit %d, runs %s, want %s:\n%s", code, containerImage(t, "updl-web"), second, out)
	}
	t.Logf("healthy: %s", strings.TrimSpace(out))
	testenv.Podman(t, "tag", sick, ref)
	out, code = ynhdRunErr(t, "update", "updl-web")
	if code == 0 || !strings.Contains(out, "rolled back") {
		t.Fatalf("sick: exit %d:\n%s", code, out)
	}
	t.Logf("sick: %s", strings.TrimSpace(out))
	if c, id := containerImage(t, "updl-web"), imageID(t, ref); c != second || id != second {
		t.Errorf("after the rollback updl-web runs %s and the tag names %s, want %s", c, id, second)
	}
}
