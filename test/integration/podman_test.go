package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// appStatus reads one app from `ynhd status --json`.
func appStatus(t *testing.T, app string) map[string]any {
	t.Helper()
	var st struct {
		Apps []map[string]any `json:"apps"`
	}
	if err := json.Unmarshal([]byte(ynhdOut(t, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	for _, a := range st.Apps {
		if a["app"] == app {
			return a
		}
	}
	return nil
}

// reloadYnhd asks for a pass now (SIGHUP) instead of waiting for the timer.
func reloadYnhd(t *testing.T) {
	t.Helper()
	testenv.Systemctl(t, "reload", "ynhd.service")
}

// TestPullFailureIsolated: an image that cannot be pulled holds back only
// its own app, and says why.
func TestPullFailureIsolated(t *testing.T) {
	ensureDaemon(t)
	t.Cleanup(func() { undeclare(t, "p-bad"); undeclare(t, "p-good") })
	declare(t, "p-bad", "version = 1\nimage = \"registry.invalid/ynhd/nothing:1\"\n")
	declare(t, "p-good", fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sleep\", \"100000\"]\nstop_timeout = \"1s\"\n", testenv.BusyboxImage))
	waitContainer(t, "p-good", "running beside an unpullable app", anyCtr)
	var bad map[string]any
	testenv.WaitFor(t, 30*time.Second, 500*time.Millisecond, "p-bad's pull error in ynhd status", func() (bool, error) {
		bad = appStatus(t, "p-bad")
		msg, _ := bad["podman_error"].(string)
		return strings.Contains(msg, "registry.invalid/ynhd/nothing:1"), nil
	})
	if bad["condition"] != "failing" {
		t.Errorf("p-bad status: %v", bad)
	}
	if out, _ := testenv.SystemctlErr("is-active", "p-bad.service"); out == "active" || out == "activating" {
		t.Errorf("p-bad.service is %s without its image", out)
	}
	if j := journalSince(t, "ynhd.service", time.Now().Add(-time.Minute), "-p", "err"); !strings.Contains(j, "pulling registry.invalid/ynhd/nothing:1") {
		t.Errorf("ynhd's journal lacks the pull error:\n%s", j)
	}
}

// TestBuildRebuildsOnContentChange: an app with a [build] is built through
// the API; touching the context changes nothing, changing a file rebuilds
// and restarts it.
func TestBuildRebuildsOnContentChange(t *testing.T) {
	ensureDaemon(t)
	ctxDir := filepath.Join(declDir(t), "b-app-src")
	t.Cleanup(func() { undeclare(t, "b-app"); os.RemoveAll(ctxDir) })
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(ctxDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Containerfile", fmt.Sprintf("FROM %s\nCOPY msg /msg\nCMD [\"sh\", \"-c\", \"echo b-app says $(cat /msg); exec sleep 100000\"]\n", testenv.BusyboxImage))
	write("msg", "v1")
	start := time.Now()
	declare(t, "b-app", "version = 1\nstop_timeout = \"1s\"\n[build]\ncontext = \"b-app-src\"\n")
	first := waitContainer(t, "b-app", "built and running", anyCtr)
	testenv.WaitFor(t, 20*time.Second, 200*time.Millisecond, "v1 in the journal", func() (bool, error) {
		return strings.Contains(journalSince(t, "b-app.service", start), "b-app says v1"), nil
	})
	if j := journalSince(t, "ynhd.service", start); !strings.Contains(j, "build app=b-app") || !strings.Contains(j, "STEP") {
		t.Errorf("ynhd's journal lacks the build and its output:\n%s", j)
	}

	// A new mtime, same content: no rebuild.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(ctxDir, "msg"), later, later)
	reloadYnhd(t)
	time.Sleep(3 * time.Second)
	if c, _ := current("b-app"); c.ID != first.ID {
		t.Fatal("touching the build context restarted the app")
	}
	if n := strings.Count(journalSince(t, "ynhd.service", start), "build app=b-app"); n != 1 {
		t.Errorf("%d builds after a touch, want 1", n)
	}

	// New content: rebuilt and restarted.
	write("msg", "v2")
	reloadYnhd(t)
	waitContainer(t, "b-app", "rebuilt", func(c ctr) bool { return c.ID != first.ID })
	testenv.WaitFor(t, 20*time.Second, 200*time.Millisecond, "v2 in the journal", func() (bool, error) {
		return strings.Contains(journalSince(t, "b-app.service", start), "b-app says v2"), nil
	})
}

// TestBuildIgnoreFile: files the context's .containerignore excludes are
// not part of the build, so changing them neither rebuilds nor restarts
// the app; the built image lacks them, as podman's build leaves them out.
func TestBuildIgnoreFile(t *testing.T) {
	ensureDaemon(t)
	ctxDir := filepath.Join(declDir(t), "bi-app-src")
	t.Cleanup(func() {
		undeclare(t, "bi-app")
		os.RemoveAll(ctxDir)
		testenv.PodmanErr("rmi", "-f", "localhost/ynhd/bi-app:latest")
	})
	write := func(name, content string) {
		p := filepath.Join(ctxDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Containerfile", fmt.Sprintf("FROM %s\nCOPY . /app\nCMD [\"sh\", \"-c\", \"echo bi-app has $(ls /app); exec sleep 100000\"]\n", testenv.BusyboxImage))
	write(".containerignore", "logs\n*.tmp\n")
	write("msg", "v1")
	write("logs/today.log", "1")
	start := time.Now()
	declare(t, "bi-app", "version = 1\nstop_timeout = \"1s\"\n[build]\ncontext = \"bi-app-src\"\n")
	first := waitContainer(t, "bi-app", "built and running", anyCtr)
	testenv.WaitFor(t, 20*time.Second, 200*time.Millisecond, "the listing in the journal", func() (bool, error) {
		return strings.Contains(journalSince(t, "bi-app.service", start), "bi-app has"), nil
	})
	if j := journalSince(t, "bi-app.service", start); strings.Contains(j, "logs") || !strings.Contains(j, "msg") {
		t.Errorf("the image should have msg and no logs:\n%s", j)
	}

	// Ignored paths change: no rebuild, no restart.
	write("logs/today.log", "2")
	write("logs/tomorrow.log", "3")
	write("scratch.tmp", "x")
	reloadYnhd(t)
	time.Sleep(3 * time.Second)
	if c, _ := current("bi-app"); c.ID != first.ID {
		t.Fatal("changing ignored files restarted the app")
	}
	if n := strings.Count(journalSince(t, "ynhd.service", start), "build app=bi-app"); n != 1 {
		t.Errorf("%d builds after changing ignored files, want 1", n)
	}

	// A file that is sent changes: rebuilt and restarted.
	write("msg", "v2")
	reloadYnhd(t)
	waitContainer(t, "bi-app", "rebuilt", func(c ctr) bool { return c.ID != first.ID })
}

// TestNetworkByName: two apps on a named network reach each other by name,
// and the network and a volume with driver options are created through
// the API with ynhd's label.
func TestNetworkByName(t *testing.T) {
	ensureDaemon(t)
	t.Cleanup(func() {
		undeclare(t, "n-server")
		undeclare(t, "n-client")
		testenv.PodmanErr("network", "rm", "ynhd-it-net")
		testenv.PodmanErr("volume", "rm", "n-scratch")
	})
	serverDecl := fmt.Sprintf(`version = 1
image = %q
command = ["sh", "-c", "echo served-by-n-server > /srv/index.html; exec httpd -f -p 8080 -h /srv"]
network = "ynhd-it-net"
stop_timeout = "1s"
[[volumes]]
name = "n-scratch"
target = "/srv"
options = { type = "tmpfs", device = "tmpfs", o = "rw,exec" }
`, testenv.BusyboxImage)
	declare(t, "n-server", serverDecl)
	declare(t, "n-client", fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sleep\", \"100000\"]\nnetwork = \"ynhd-it-net\"\nstop_timeout = \"1s\"\n", testenv.BusyboxImage))
	waitContainer(t, "n-server", "running", anyCtr)
	waitContainer(t, "n-client", "running", anyCtr)
	// busybox's static wget cannot resolve names; nslookup asks the
	// network's DNS, nc connects.
	var got string
	testenv.WaitFor(t, 20*time.Second, 500*time.Millisecond, "n-client reaching n-server by name", func() (bool, error) {
		out, err := testenv.PodmanErr("exec", "n-client", "sh", "-c",
			`ip=$(nslookup n-server | awk '/^Address: / {print $2}'); printf 'GET / HTTP/1.0\r\n\r\n' | nc "$ip" 8080`)
		got = out
		return strings.Contains(out, "served-by-n-server"), err
	})
	for _, obj := range [][]string{{"network", "inspect", "--format", "{{.Labels}}", "ynhd-it-net"}, {"volume", "inspect", "--format", "{{.Labels}}", "n-scratch"}} {
		if out := testenv.Podman(t, obj...); !strings.Contains(out, "io.ynhd.managed") {
			t.Errorf("%s %s: labels %s", obj[0], obj[len(obj)-1], out)
		}
	}
	if opts := testenv.Podman(t, "volume", "inspect", "--format", "{{.Options}}", "n-scratch"); !strings.Contains(opts, "o:rw,exec") {
		t.Errorf("n-scratch options: %s (got %q from n-client)", opts, got)
	}

	// Changed options on an existing volume are reported, not applied.
	declare(t, "n-server", strings.Replace(serverDecl, `o = "rw,exec"`, `o = "rw,noexec"`, 1))
	// Volumes are compared when a pass asks podman (after the restart the
	// edit causes): give a busy machine time, and say what status held.
	var last map[string]any
	testenv.WaitFor(t, 90*time.Second, 500*time.Millisecond, "the volume option drift in ynhd status", func() (bool, error) {
		last = appStatus(t, "n-server")
		w, _ := last["warning"].(string)
		if strings.Contains(w, "n-scratch") && strings.Contains(w, "rw,exec") {
			return true, nil
		}
		return false, fmt.Errorf("n-server's status: %v", last)
	})
	if opts := testenv.Podman(t, "volume", "inspect", "--format", "{{.Options}}", "n-scratch"); !strings.Contains(opts, "o:rw,exec") {
		t.Errorf("n-scratch options changed: %s", opts)
	}

	// Deleting the apps keeps the volume; prune lists it and, asked, removes it.
	undeclare(t, "n-server")
	undeclare(t, "n-client")
	if _, err := testenv.PodmanErr("volume", "exists", "n-scratch"); err != nil {
		t.Fatal("n-scratch was removed with its app")
	}
	if out := ynhdOut(t, "prune", "--volumes"); !strings.Contains(out, "would remove volume n-scratch") {
		t.Errorf("prune --volumes:\n%s", out)
	}
	if _, err := testenv.PodmanErr("volume", "exists", "n-scratch"); err != nil {
		t.Fatal("prune without --yes removed n-scratch")
	}
	if out := ynhdOut(t, "prune", "--volumes", "--yes"); !strings.Contains(out, "removed volume n-scratch") {
		t.Errorf("prune --volumes --yes:\n%s", out)
	}
}

// TestNewImageReplacesContainer: when the image an app's name points to
// changes, ynhd replaces the running container.
func TestNewImageReplacesContainer(t *testing.T) {
	ensureDaemon(t)
	const tag = "localhost/ynhd-it/replace:latest"
	t.Cleanup(func() { undeclare(t, "i-app"); testenv.PodmanErr("rmi", "--force", tag) })
	testenv.Podman(t, "tag", testenv.BusyboxImage, tag)
	declare(t, "i-app", fmt.Sprintf("version = 1\nimage = %q\npull = \"never\"\ncommand = [\"sleep\", \"100000\"]\nstop_timeout = \"1s\"\n", tag))
	first := waitContainer(t, "i-app", "running", anyCtr)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte("FROM "+testenv.BusyboxImage+"\nRUN echo new > /new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Podman(t, "build", "--quiet", "-t", tag, dir)
	reloadYnhd(t)
	c := waitContainer(t, "i-app", "replaced on the new image", func(c ctr) bool { return c.ID != first.ID })
	if out, err := testenv.PodmanErr("exec", "i-app", "cat", "/new"); err != nil || out != "new" {
		t.Errorf("container %s does not run the new image: %q %v", c.ID, out, err)
	}
}
