package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// TestPersistentImageUpdate: a persistent app with a file written into its
// container (outside volumes) follows its tag: a healthy image is taken
// after a snapshot (its file system is the new image's), a sick one is
// rolled back to the snapshot taken just before it, with the file written
// before that update there again.
func TestPersistentImageUpdate(t *testing.T) {
	ensureDaemon(t)
	const app = "updp-web"
	addr := startRegistry(t)
	ref := addr + "/ynhd-it/updp-web:1"
	v1, v2, v3 := buildVariant(t, "p1", true), buildVariant(t, "p2", true), buildVariant(t, "p3-sick", false)
	pushAs(t, v1, ref)
	testenv.Podman(t, "pull", "-q", "--tls-verify=false", ref)
	t.Cleanup(func() {
		undeclare(t, app)
		testenv.PodmanErr("rm", "--force", "--ignore", app)
		out, _ := testenv.PodmanErr("images", "--quiet", "--filter", "label=io.ynhd.snapshot-of="+app)
		for _, id := range strings.Fields(out) {
			testenv.PodmanErr("rmi", "--force", id)
		}
		testenv.PodmanErr("rmi", "-f", ref)
		os.Remove(filepath.Join(stateHome(t), "ynhd", "updates", app+".json"))
	})
	first := imageID(t, ref)
	declare(t, app, fmt.Sprintf(`version = 1
image = %q
persistent = true
keep_snapshots = 3
command = ["sleep", "100000"]
stop_timeout = "1s"
[health]
cmd = ["test", "-f", "/healthy"]
interval = "1s"
retries = 2
[update]
policy = "registry"
tls_verify = false
health_window = "30s"
`, ref))
	c0 := waitContainer(t, app, "running", anyCtr)
	sh := func(script string) string {
		t.Helper()
		out, err := testenv.PodmanErr("exec", app, "sh", "-c", script)
		if err != nil {
			t.Fatalf("podman exec %s: %v\n%s", script, err, out)
		}
		return strings.TrimSpace(out)
	}
	sh("echo one > /etc/updp-mark")

	// Unchanged: the container is left alone.
	if out, code := ynhdRunErr(t, "update", app); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("unchanged tag: exit %d:\n%s", code, out)
	}
	if c, _ := current(app); c.ID != c0.ID {
		t.Fatalf("an unchanged tag replaced the container")
	}

	// A healthy image: a snapshot, then a container of the new image.
	pushAs(t, v2, ref)
	out, code := ynhdRunErr(t, "update", app)
	if code != 0 || !strings.Contains(out, "updated from") || !strings.Contains(out, "snapshot") {
		t.Fatalf("healthy update: exit %d:\n%s\n%s", code, out, lastLines(ynhdJournal(t), 30))
	}
	t.Logf("healthy: %s", strings.TrimSpace(out))
	second := imageID(t, ref)
	c1 := waitContainer(t, app, "running the new image", anyCtr)
	if second == first || c1.ID == c0.ID || containerImage(t, app) != second {
		t.Fatalf("after the update %s runs %s in %s (tag names %s, was %s)", app, containerImage(t, app), c1.ID, second, first)
	}
	if got := sh("cat /version; cat /etc/updp-mark 2>/dev/null || echo none"); got != "p2\nnone" {
		t.Errorf("after the update: %q, want the new image's files only", got)
	}
	snaps := ynhdOut(t, "snapshots", app)
	if !strings.Contains(snaps, " update ") {
		t.Errorf("no snapshot with reason update:\n%s", snaps)
	}
	// Still up to date afterwards (the base is compared, not the container's image).
	if out, code := ynhdRunErr(t, "update", app); code != 0 || !strings.Contains(out, "up to date") {
		t.Errorf("after the update: exit %d:\n%s", code, out)
	}

	// A sick image: rolled back to the snapshot taken before it.
	sh("echo two > /etc/updp-mark")
	pushAs(t, v3, ref)
	start := time.Now()
	out, code = ynhdRunErr(t, "update", app)
	if code == 0 || !strings.Contains(out, "rolled back to snapshot") {
		t.Fatalf("sick update: exit %d:\n%s\n%s", code, out, lastLines(ynhdJournal(t), 30))
	}
	took := time.Since(start)
	t.Logf("sick (%s): %s", took.Round(100*time.Millisecond), strings.TrimSpace(out))
	if strings.Contains(out, "within 30s") {
		// podman kills an unhealthy container and its unit starts the
		// same container again: that is seen, not waited out.
		t.Errorf("the failure was only noticed when the window ended")
	}
	c2 := waitContainer(t, app, "running the snapshot", anyCtr)
	if c2.ID == c1.ID {
		t.Errorf("the rollback kept the container")
	}
	if got := sh("cat /version /etc/updp-mark"); got != "p2\ntwo" {
		t.Errorf("after the rollback: %q, want the file written before the update", got)
	}
	if id := imageID(t, ref); id != second {
		t.Errorf("after the rollback the tag names %s, want %s", id, second)
	}
	h := history(t, app)
	if len(h) == 0 || h[len(h)-1].Kind != "rolled-back" {
		t.Errorf("history after the rollback: %+v", h)
	}
	if out, _ := ynhdRunErr(t, "update", app); !strings.Contains(out, "rolled back before") {
		t.Errorf("the bad digest was tried again:\n%s", out)
	}
	if c, _ := current(app); c.ID != c2.ID {
		t.Errorf("a check after the rollback replaced the container")
	}
}
