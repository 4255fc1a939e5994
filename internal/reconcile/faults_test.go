package reconcile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFailedWriteIsRetried: a unit that cannot be written (a full disk)
// leaves the old unit alone, is reported with its cause, and is written
// once the disk has room, without anything else to trigger it.
func TestFailedWriteIsRetried(t *testing.T) {
	e := newEnv(t)
	e.declare("web", busybox)
	e.pass()
	e.declare("web", busybox+"env = { A = \"1\" }\n")
	e.fake.writeErr = syscall.ENOSPC
	st, _ := e.r.Pass(context.Background())
	if a := st.Apps[0]; a.Condition != "failing" || !strings.Contains(a.PodmanError, "no space left") || a.CrashLooping || a.Restarts != 0 {
		t.Errorf("status after a failed write: %+v", a)
	}
	if w := e.r.NextWake(); !w.Equal(e.now.Add(applyRetryBase)) {
		t.Errorf("next wake %v, want the retry at +%v", w.Sub(e.now), applyRetryBase)
	}
	e.now = e.now.Add(time.Second)
	if p := e.plan(); !strings.Contains(p, "retrying at") || !strings.HasPrefix(p, "problem web:") || strings.Count(p, "\n") != 1 {
		t.Errorf("plan before the retry:\n%s", p)
	}
	e.fake.writeErr = nil
	e.now = e.now.Add(2 * time.Second)
	st = e.pass()
	if a := st.Apps[0]; a.Condition != "running" || a.PodmanError != "" {
		t.Errorf("status after the retry: %+v", a)
	}
	if !strings.Contains(strings.Join(e.fake.calls, " "), "restart web.service") {
		t.Errorf("the retry did not restart web: %v", e.fake.calls)
	}
}

// TestUnfinishedRestartIsFinished: a restart that could not be queued
// (the manager re-executed mid-call) is owed; a later pass, here by a
// reconciler that knows only the record on disk (a new daemon), restarts
// the app although its unit already matches the declaration.
func TestUnfinishedRestartIsFinished(t *testing.T) {
	e := newEnv(t)
	state := StateDir(t.TempDir())
	e.r.SetIntents(state)
	e.declare("web", busybox)
	e.pass()
	e.declare("web", busybox+"env = { A = \"1\" }\n")
	e.fake.queueErr = map[string]error{"web.service": errors.New("Message recipient disconnected from message bus without replying")}
	if _, err := e.r.Pass(context.Background()); err == nil {
		t.Fatal("no error for a restart that could not be queued")
	}
	owed, _ := state.Owed()
	if owed["web"] == "" {
		t.Fatalf("no owed restart recorded: %v", owed)
	}
	// A new daemon: the unit on disk matches the declaration.
	e.fake.queueErr = nil
	e2 := &env{t: t, dir: e.dir, fake: e.fake, now: e.now.Add(time.Second)}
	e2.r = New(e.r.cfg, e.fake, e.fake, e.r.log, func() time.Time { return e2.now })
	e2.r.SetIntents(state)
	if p := e2.plan(); p != "reload\nrestart web.service (unit changed; restart unfinished)\n" {
		t.Fatalf("plan of the new daemon:\n%s", p)
	}
	e2.pass()
	if p := e2.plan(); p != "" {
		t.Errorf("plan after finishing:\n%s", p)
	}
	if owed, _ := state.Owed(); len(owed) != 0 {
		t.Errorf("owed after finishing: %v", owed)
	}
}

// TestStopIntent: ynhd stop's record keeps an app stopped across passes;
// an edit clears it and starts the app.
func TestStopIntent(t *testing.T) {
	e := newEnv(t)
	e.declare("web", busybox)
	e.pass()
	if err := e.r.intents.SetStopped("web", true); err != nil {
		t.Fatal(err)
	}
	u := e.fake.unit("web.service")
	u.active, u.sub = "inactive", "dead"
	if p := e.plan(); p != "" {
		t.Errorf("plan for an app stopped by a person:\n%s", p)
	}
	if st := e.pass(); st.Apps[0].Condition != "stopped" || !st.Apps[0].StoppedByUser {
		t.Errorf("status %+v", st.Apps[0])
	}
	e.declare("web", busybox+"env = { A = \"2\" }\n")
	e.pass()
	if u.active != "active" {
		t.Error("an edit did not start the stopped app")
	}
	if s, _ := e.r.intents.Stopped(); s["web"] {
		t.Error("the edit did not clear the stop")
	}
}

// TestDeletionIsOnlyAPersonsAct: one declaration removed is a deletion
// at once; several gone in one pass wait a moment (rm -rf removes the
// files before the directory); a directory that cannot be read or is
// gone removes nothing, however long.
func TestDeletionIsOnlyAPersonsAct(t *testing.T) {
	e := newEnv(t)
	for _, app := range []string{"a", "b", "c", "d"} {
		e.declare(app, busybox)
	}
	e.pass()
	os.Remove(filepath.Join(e.dir, "a.toml"))
	e.pass()
	if _, ok := e.fake.files["a.service"]; ok {
		t.Error("a lone deletion waited")
	}
	os.Remove(filepath.Join(e.dir, "b.toml"))
	os.Remove(filepath.Join(e.dir, "c.toml"))
	e.pass()
	if _, ok := e.fake.files["b.service"]; !ok {
		t.Error("two declarations gone at once were removed without waiting")
	}
	// The directory itself goes: nothing is removed, however long.
	os.Remove(filepath.Join(e.dir, "d.toml"))
	os.Remove(e.dir)
	for i := 0; i < 5; i++ {
		e.now = e.now.Add(time.Minute)
		e.pass()
	}
	for _, u := range []string{"b.service", "c.service", "d.service"} {
		if _, ok := e.fake.files[u]; !ok || e.fake.unit(u).active != "active" {
			t.Errorf("%s removed or stopped while the directory was gone", u)
		}
	}
	if st := e.r.Status(); len(st.Problems) == 0 || !strings.Contains(st.Problems[0], "cannot read") {
		t.Errorf("status problems %q", st.Problems)
	}
}
