package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// reloads counts the daemon-reloads ynhd has logged: a planned one
// ("reload") and the one after a start the manager answered "not found".
func reloads(t *testing.T) int {
	return len(reloadLine.FindAllString(ynhdJournal(t), -1))
}

var reloadLine = regexp.MustCompile(`(?m)^daemon\.reconcile: (reload|reloaded for a unit)( |$)`)

func bboxDecl(word string) string {
	return fmt.Sprintf("version = 1\nimage = %q\ncommand = [\"sh\", \"-c\", \"echo %s; exec sleep 100000\"]\nnetwork = \"none\"\nstop_timeout = \"1s\"\nenv = { WORD = %q }\n",
		testenv.BusyboxImage, word, word)
}

// TestStartWithoutReload: a new unit file is started without a
// daemon-reload, whatever the manager remembered of its name: never
// referenced, referenced while absent by another unit's Wants= (kept as
// "not found"), deleted and written again. An edit of a loaded unit does
// reload, and runs the new configuration.
func TestStartWithoutReload(t *testing.T) {
	ensureDaemon(t)

	t.Run("never referenced", func(t *testing.T) {
		before := reloads(t)
		declare(t, "nr-fresh", bboxDecl("fresh"))
		waitContainer(t, "nr-fresh", "running", anyCtr)
		if n := reloads(t) - before; n != 0 {
			t.Errorf("%d reloads for a unit never referenced", n)
		}
		undeclare(t, "nr-fresh")
	})

	t.Run("referenced while absent", func(t *testing.T) {
		// A hand-written unit that wants nr-ref.service before it exists:
		// the manager keeps nr-ref.service loaded as not-found.
		holder := filepath.Join(testenv.UnitDir(), "nr-holder.service")
		if err := os.WriteFile(holder, []byte("[Unit]\nWants=nr-ref.service\n[Service]\nExecStart=/bin/sleep 100000\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			testenv.SystemctlErr("stop", "nr-holder.service")
			os.Remove(holder)
			testenv.SystemctlErr("daemon-reload")
		})
		testenv.Systemctl(t, "daemon-reload")
		testenv.SystemctlErr("start", "nr-holder.service")
		if out, _ := testenv.SystemctlErr("show", "-P", "LoadState", "nr-ref.service"); out != "not-found" {
			t.Fatalf("nr-ref.service is %q before its declaration; want not-found", out)
		}
		before := reloads(t)
		declare(t, "nr-ref", bboxDecl("ref"))
		waitContainer(t, "nr-ref", "running", anyCtr)
		if n := reloads(t) - before; n > 1 {
			t.Errorf("%d reloads for a unit kept as not-found; want at most the one after \"not found\"", n)
		} else {
			t.Logf("%d reloads for a unit kept as not-found", n)
		}
		undeclare(t, "nr-ref")
	})

	t.Run("deleted and written again", func(t *testing.T) {
		declare(t, "nr-again", bboxDecl("one"))
		waitContainer(t, "nr-again", "running", anyCtr)
		undeclare(t, "nr-again")
		// The case is a unit the manager has dropped: an inactive unit
		// whose file is gone is dropped soon, later on a busy machine.
		// While it is still loaded, a new file is an edit of a loaded
		// unit, and one reload is right.
		dropped := false
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			out, err := testenv.SystemctlErr("list-units", "--all", "--plain", "--no-legend", "nr-again.service")
			if dropped = err == nil && strings.TrimSpace(out) == ""; dropped {
				break
			}
		}
		before := reloads(t)
		declare(t, "nr-again", bboxDecl("two"))
		waitContainer(t, "nr-again", "running again", func(c ctr) bool { return slices.Contains(c.Env, "WORD=two") })
		want := 0
		if !dropped {
			want = 1
			t.Log("the manager still had nr-again loaded: its new file is an edit")
		}
		if n := reloads(t) - before; n > want {
			t.Errorf("%d reloads for a unit deleted and written again; want at most %d", n, want)
		}
		undeclare(t, "nr-again")
	})

	t.Run("edited while loaded", func(t *testing.T) {
		declare(t, "nr-edit", bboxDecl("old"))
		old := waitContainer(t, "nr-edit", "running", anyCtr)
		before := reloads(t)
		declare(t, "nr-edit", bboxDecl("new"))
		waitContainer(t, "nr-edit", "restarted with the edit", func(c ctr) bool {
			return c.ID != old.ID && slices.Contains(c.Env, "WORD=new")
		})
		if n := reloads(t) - before; n != 1 {
			t.Errorf("%d reloads for an edit of a loaded unit; want 1", n)
		}
		undeclare(t, "nr-edit")
	})
}
