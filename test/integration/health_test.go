package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// TestUnhealthyRestarted: a container whose health check fails is killed
// by podman and its unit brings a new one up.
func TestUnhealthyRestarted(t *testing.T) {
	ensureDaemon(t)
	t.Cleanup(func() { undeclare(t, "h-sick") })
	declare(t, "h-sick", fmt.Sprintf(`version = 1
image = %q
command = ["sleep", "100000"]
stop_timeout = "1s"
[health]
cmd = ["sh", "-c", "test ! -f /tmp/sick"]
interval = "1s"
retries = 1
`, testenv.BusyboxImage))
	first := waitContainer(t, "h-sick", "running", anyCtr)
	testenv.WaitFor(t, 30*time.Second, 500*time.Millisecond, "h-sick healthy", func() (bool, error) {
		out, err := testenv.PodmanErr("inspect", "--format", "{{.State.Health.Status}}", "h-sick")
		return out == "healthy", err
	})
	testenv.Podman(t, "exec", "h-sick", "touch", "/tmp/sick")
	waitContainer(t, "h-sick", "replaced after turning unhealthy", func(c ctr) bool { return c.ID != first.ID })
	testenv.WaitFor(t, 30*time.Second, 500*time.Millisecond, "h-sick healthy again and shown in ynhd status", func() (bool, error) {
		return appStatus(t, "h-sick")["health"] == "healthy", nil
	})
}

// TestHealthGatedStart: an app that requires another healthy starts only
// after the other's health check passes.
func TestHealthGatedStart(t *testing.T) {
	ensureDaemon(t)
	t.Cleanup(func() { undeclare(t, "g-web"); undeclare(t, "g-db") })
	declare(t, "g-db", fmt.Sprintf(`version = 1
image = %q
command = ["sh", "-c", "sleep 4; touch /ready; exec sleep 100000"]
stop_timeout = "1s"
[health]
cmd = ["test", "-f", "/ready"]
interval = "1s"
retries = 30
`, testenv.BusyboxImage))
	declare(t, "g-web", fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sleep\", \"100000\"]\nstop_timeout = \"1s\"\nrequires_healthy = [\"g-db\"]\n", testenv.BusyboxImage))
	db := waitContainer(t, "g-db", "running", anyCtr)
	web := waitContainer(t, "g-web", "running once g-db is healthy", anyCtr)
	if gap := web.Started.Sub(db.Started); gap < 4*time.Second {
		t.Errorf("g-web started %v after g-db, before g-db could be healthy (4 s)", gap)
	}
}
