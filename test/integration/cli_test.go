package integration

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// ynhdCode runs the installed ynhd and returns its stdout and exit code.
func ynhdCode(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(ynhdBin(t), args...).Output()
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

// TestPlanExitCodes: ynhd plan exits 2 while a declaration waits to be
// applied, naming the steps in plan --json, and 0 once the daemon has
// applied it; a usage error is 64, never plan's 2; status --json carries
// its schema_version.
func TestPlanExitCodes(t *testing.T) {
	ensureDaemon(t)
	src := fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sleep\", \"100000\"]\nstop_timeout = \"1s\"\n", testenv.BusyboxImage)

	// A directory the daemon does not read: its app is all changes.
	pending := filepath.Join(home(t), ".cache", "ynhd-it-plan")
	if err := os.MkdirAll(pending, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(pending) })
	if err := os.WriteFile(filepath.Join(pending, "c-plan.toml"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := ynhdCode(t, "plan", "--json", "--dir", pending)
	var p struct {
		SchemaVersion int  `json:"schema_version"`
		Changes       bool `json:"changes"`
		Actions       []struct {
			Op, App, Unit string
		} `json:"actions"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("plan --json: %v\n%s", err, out)
	}
	var steps []string
	for _, a := range p.Actions {
		if a.App == "c-plan" {
			steps = append(steps, a.Op)
		}
	}
	if code != 2 || p.SchemaVersion != 1 || !p.Changes || !strings.Contains(strings.Join(steps, " "), "write") || !strings.Contains(strings.Join(steps, " "), "start") {
		t.Errorf("plan --json of an unapplied app: exit %d, steps %v\n%s", code, steps, out)
	}
	if _, code := ynhdCode(t, "plan", "--dir", pending, "--frob"); code != 64 {
		t.Errorf("plan with an unknown flag: exit %d, want 64", code)
	}

	// Applied by the daemon: nothing left to do.
	declare(t, "c-plan", src)
	t.Cleanup(func() { undeclare(t, "c-plan") })
	waitContainer(t, "c-plan", "running", anyCtr)
	testenv.WaitFor(t, 30*time.Second, time.Second, "ynhd plan to exit 0", func() (bool, error) {
		out, code := ynhdCode(t, "plan")
		if code != 0 && code != 2 {
			return false, fmt.Errorf("ynhd plan: exit %d\n%s", code, out)
		}
		return code == 0, nil
	})

	out, _ = ynhdCode(t, "status", "--json")
	var st struct {
		SchemaVersion int `json:"schema_version"`
		Apps          []struct {
			App         string `json:"app"`
			ActiveState string `json:"active_state"`
		} `json:"apps"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.SchemaVersion != 1 {
		t.Fatalf("status --json: schema_version %d, %v\n%s", st.SchemaVersion, err, out)
	}
	for _, a := range st.Apps {
		if a.App == "c-plan" && a.ActiveState != "active" {
			t.Errorf("status --json: c-plan is %q", a.ActiveState)
		}
	}
}
