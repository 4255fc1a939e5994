package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	sddbus "github.com/coreos/go-systemd/v22/dbus"
	"github.com/fsnotify/fsnotify"
	"github.com/godbus/dbus/v5"
	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/reconcile"
)

// TestScheduleFloors: however often a pass is asked for, passes are at
// least minPassGap apart, and after a failed pass not before its backoff.
func TestScheduleFloors(t *testing.T) {
	s := &schedule{}
	now := time.Now()
	s.ran(now)
	s.due("files changed", now.Add(-time.Second)) // asked for in the past
	if c := s.c(); c == nil {
		t.Fatal("nothing scheduled")
	}
	start := time.Now()
	<-s.t.C
	if got := time.Since(start); got < minPassGap/2 {
		t.Errorf("pass %v after the last; want at least %v", got, minPassGap)
	}
	if s.take() != "files changed" || !s.at.IsZero() {
		t.Error("take did not clear the schedule")
	}
	if s.c() != nil {
		t.Error("a channel with nothing due")
	}
	var waits []time.Duration
	for i := 0; i < 9; i++ {
		waits = append(waits, s.failed())
	}
	if waits[0] != failedPassBackoff || waits[8] != maxFailedPassBackoff || waits[3] != 8*failedPassBackoff {
		t.Errorf("failed-pass backoff %v", waits)
	}
	s.due("files changed", time.Now())
	s.c()
	if !s.notUntil.After(time.Now().Add(maxFailedPassBackoff / 2)) {
		t.Error("an event overrode the failed-pass backoff")
	}
}

// TestWatchComesBack: a declarations directory removed and created again
// is watched again, and its appearance is an event the loop acts on.
func TestWatchComesBack(t *testing.T) {
	root := t.TempDir()
	decl, units := filepath.Join(root, "ynhd"), filepath.Join(root, "units")
	for _, d := range []string{decl, units} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w, err := newWatch(decl, units, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.ensure() {
		t.Error("ensure reported a comeback without a loss")
	}
	if err := os.Rename(decl, decl+".away"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w, func(ev fsnotify.Event) bool { return w.relevant(ev, nil, nil) })
	w.ensure()
	// Another directory takes the name: it is the one watched now.
	if err := os.Mkdir(decl, 0o755); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w, func(ev fsnotify.Event) bool { return w.relevant(ev, nil, nil) })
	if !w.ensure() {
		t.Error("ensure did not report the directory back")
	}
	if err := os.WriteFile(filepath.Join(decl, "web.toml"), []byte("version = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, w, func(ev fsnotify.Event) bool { return w.relevant(ev, nil, nil) && filepath.Base(ev.Name) == "web.toml" })
}

func waitEvent(t *testing.T, w *watch, ok func(fsnotify.Event) bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-w.Events():
			if ok(ev) {
				return
			}
		case <-timeout:
			t.Fatal("no relevant event")
		}
	}
}

func TestSweep(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".ynhd-web.service-123", ".status.json.tmp-9", "web.service", ".keep"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sweep(zap.NewNop(), dir)
	es, _ := os.ReadDir(dir)
	var left []string
	for _, e := range es {
		left = append(left, e.Name())
	}
	if len(left) != 2 || left[0] != ".keep" || left[1] != "web.service" {
		t.Errorf("left %v", left)
	}
}

// TestSignalsSeenAlready: the signals of a start the last pass saw end
// active cause no pass; a failure, a state the pass did not see, or a
// signal without a state does.
func TestSignalsSeenAlready(t *testing.T) {
	up := func(unit, active, sub string) *sddbus.PropertiesUpdate {
		ch := map[string]dbus.Variant{}
		if active != "" {
			ch["ActiveState"], ch["SubState"] = dbus.MakeVariant(active), dbus.MakeVariant(sub)
		}
		return &sddbus.PropertiesUpdate{UnitName: unit, Changed: ch}
	}
	seen := map[string]reconcile.UnitState{"a.service": {Active: "active", Sub: "running"}, "b.service": {Active: "failed", Sub: "failed"}}
	var g signals
	g.add(up("a.service", "activating", "start"))
	g.add(up("a.service", "active", "running"))
	if !g.seenAlready(seen) {
		t.Error("a start the last pass saw end asked for a pass")
	}
	for _, c := range []*sddbus.PropertiesUpdate{up("b.service", "failed", "failed"), up("a.service", "deactivating", "stop-sigterm"), up("a.service", "", "")} {
		g.add(up("a.service", "active", "running"))
		g.add(c)
		if g.seenAlready(seen) {
			t.Errorf("%s %v asked for no pass", c.UnitName, c.Changed)
		}
	}
	if !g.seenAlready(seen) {
		t.Error("signals were not forgotten")
	}
}

// TestCloseWatch: a declaration written in place is reported when closed;
// a file only read, or one that is not a declaration, is not.
func TestCloseWatch(t *testing.T) {
	dir := t.TempDir()
	cw, err := newCloseWatch()
	if err != nil {
		t.Skip("no inotify:", err)
	}
	defer cw.Close()
	if err := cw.add(dir); err != nil {
		t.Fatal(err)
	}
	quiet := func(what string) {
		select {
		case <-cw.C():
			t.Errorf("%s was reported", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	quiet("a file that is not a declaration")
	if err := os.WriteFile(filepath.Join(dir, "web.toml"), []byte("version = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cw.C():
	case <-time.After(5 * time.Second):
		t.Fatal("a declaration closed after writing was not reported")
	}
	if _, err := os.ReadFile(filepath.Join(dir, "web.toml")); err != nil {
		t.Fatal(err)
	}
	quiet("a declaration only read")
}

// TestScheduleUnitReasonsYield: a pass due for unit signals that is also
// owed for another reason (the timer, a file) carries that reason, so it
// is never skipped as signals the last pass saw.
func TestScheduleUnitReasonsYield(t *testing.T) {
	now := time.Now()
	var s schedule
	s.due("unit state changed", now.Add(time.Second))
	s.due("timer", now.Add(2*time.Second))
	if s.reason != "timer" || !s.at.Equal(now.Add(time.Second)) {
		t.Errorf("got %q at %v", s.reason, s.at.Sub(now))
	}
	var s2 schedule
	s2.due("files changed", now.Add(time.Second))
	s2.due("unit signal", now)
	if s2.reason != "files changed" || !s2.at.Equal(now) {
		t.Errorf("got %q at %v", s2.reason, s2.at.Sub(now))
	}
}
