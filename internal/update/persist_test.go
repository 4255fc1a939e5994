package update

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/reconcile"
)

// setupPersistent makes web persistent and alone: its container was
// recreated (a settings change) from a snapshot, snap0, of a container
// created from image old.
func setupPersistent(t *testing.T) (*world, *Updater, *decl.App) {
	w, u, all := setup(t)
	a := all[1]
	a.Persistent, a.KeepSnapshots, a.Requires = true, 3, nil
	w.running = map[string]string{"web": "snap0"}
	w.ctr["web"], w.images["snap0"] = "snap0", true
	intents := reconcile.StateDir(t.TempDir())
	u.Keep, u.Intents = w, intents
	return w, u, a
}

func TestPersistentUnchangedTagKeepsItsContainer(t *testing.T) {
	w, u, a := setupPersistent(t)
	for i := 0; i < 2; i++ {
		out := u.Check(context.Background(), a, []*decl.App{a}, false)
		if out.Err != nil || !strings.HasPrefix(out.Result, "up to date") {
			t.Fatalf("check %d: got %+v, want up to date (the base is compared, not the snapshot it runs)", i, out)
		}
	}
	if diff := cmp.Diff(w.Log(), "head "+ref+"\nhead "+ref); diff != "" {
		t.Errorf("calls (-got +want):\n%s", diff)
	}
	if w.running["web"] != "snap0" {
		t.Errorf("web runs %s, want snap0", w.running["web"])
	}
}

func TestPersistentHealthyUpdateSnapshotsFirst(t *testing.T) {
	w, u, a := setupPersistent(t)
	w.remote[ref] = "sha256:new"
	out := u.Check(context.Background(), a, []*decl.App{a}, false)
	if out.Err != nil || out.Result != "updated from old to new (snapshot snap1)" {
		t.Fatalf("got %+v\ncalls:\n%s", out, w.Log())
	}
	want := strings.Join([]string{"head " + ref, "pull " + ref, "stop web", "snapshot web snap1 (update, base " + ref + ")",
		"rm web", "create web from new (base " + ref + ")", "restart web"}, "\n")
	if diff := cmp.Diff(w.Log(), want); diff != "" {
		t.Errorf("calls (-got +want):\n%s", diff)
	}
	st, _ := u.Store.Load("web")
	if e, _ := st.Last(); e.Kind != KindUpdated || e.Snapshot != "snap1" || st.ImageID != "new" {
		t.Errorf("state %+v", st)
	}
	if kept, _ := u.Intents.Kept(); kept["web"] != "" {
		t.Errorf("kept record %q left behind", kept["web"])
	}
	// Recreated later from a snapshot (a settings change): still up to date.
	w.ctr["web"], w.running["web"] = "snap9", "snap9"
	w.log = nil
	if out = u.Check(context.Background(), a, []*decl.App{a}, false); !strings.HasPrefix(out.Result, "up to date") || w.Log() != "head "+ref {
		t.Errorf("after a recreate: %+v, calls:\n%s", out, w.Log())
	}
}

func TestPersistentSickUpdateRollsBackToSnapshot(t *testing.T) {
	w, u, a := setupPersistent(t)
	w.remote[ref] = "sha256:bad"
	out := u.Check(context.Background(), a, []*decl.App{a}, false)
	if out.Err != nil || !strings.HasPrefix(out.Result, "rolled back to snapshot snap1: its health check failed") {
		t.Fatalf("got %+v\ncalls:\n%s", out, w.Log())
	}
	want := strings.Join([]string{"head " + ref, "pull " + ref, "stop web", "snapshot web snap1 (update, base " + ref + ")",
		"rm web", "create web from bad (base " + ref + ")", "restart web", "stop web",
		"rm web", "create web from snap1 (base " + ref + ")", "tag old " + ref, "restart web", "rmi bad"}, "\n")
	if diff := cmp.Diff(w.Log(), want); diff != "" {
		t.Errorf("calls (-got +want):\n%s", diff)
	}
	if w.running["web"] != "snap1" {
		t.Errorf("web runs %q, want the snapshot", w.running["web"])
	}
	st, _ := u.Store.Load("web")
	if e, _ := st.Last(); e.Kind != KindRolledBack || e.Snapshot != "snap1" || st.ImageID != "old" || !st.isBad("sha256:bad") {
		t.Errorf("state %+v", st)
	}
	w.log = nil
	if out = u.Check(context.Background(), a, []*decl.App{a}, false); !strings.Contains(out.Result, "rolled back before") || w.Log() != "head "+ref {
		t.Errorf("second check: %+v, calls:\n%s", out, w.Log())
	}
}

func TestPersistentStoppedIsNotUpdated(t *testing.T) {
	w, u, a := setupPersistent(t)
	delete(w.running, "web")
	w.remote[ref] = "sha256:new"
	out := u.Check(context.Background(), a, []*decl.App{a}, false)
	if out.Err != nil || !strings.Contains(out.Result, "web is stopped") || w.Log() != "head "+ref {
		t.Errorf("got %+v, calls:\n%s", out, w.Log())
	}
}

func TestPersistentCrashingUpdateRollsBack(t *testing.T) {
	w, u, a := setupPersistent(t)
	w.remote[ref], w.byDigest["sha256:crash"], w.crash["crash"] = "sha256:crash", "crash", true
	out := u.Check(context.Background(), a, []*decl.App{a}, false)
	if out.Err != nil || !strings.HasPrefix(out.Result, "rolled back to snapshot snap1: it did not stay up") {
		t.Fatalf("got %+v\ncalls:\n%s", out, w.Log())
	}
	if w.running["web"] != "snap1" {
		t.Errorf("web runs %q, want the snapshot", w.running["web"])
	}
}
