package update

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
)

const ref = "registry.example:5000/web:1"

func app(name, policy string, health bool, requires ...string) *decl.App {
	a := &decl.App{Name: name, Image: ref, Requires: requires,
		Update: &decl.Update{Policy: policy, Schedule: "daily", RandomDelay: &decl.Duration{}, HealthWindow: decl.Duration{Duration: 30 * time.Second}, KeepImages: 1}}
	if health {
		a.Health = &decl.Health{Cmd: []string{"true"}}
	}
	return a
}

// setup: web runs image old (digest d-old) with db beneath it and api
// above it (api requires web).
func setup(t *testing.T) (*world, *Updater, []*decl.App) {
	w := newWorld()
	w.remote[ref], w.byDigest["sha256:old"], w.byDigest["sha256:new"], w.byDigest["sha256:bad"] = "sha256:old", "old", "new", "bad"
	w.tags[ref], w.images["old"] = "old", true
	w.digests["old"] = []string{"registry.example:5000/web@sha256:old"}
	w.sick["bad"] = true
	all := []*decl.App{app("db", "off", false), app("web", "registry", true, "db"), app("api", "off", false, "web"), app("worker", "off", false, "api")}
	for _, a := range all {
		w.refs[a.Name], w.running[a.Name] = ref, "old"
	}
	u := &Updater{Podman: w, Registry: w.Registry, Units: w, Store: Store(t.TempDir()), Log: zap.NewNop(),
		Now: (&clock{t: time.Date(2026, 11, 29, 4, 0, 0, 0, time.UTC)}).Now, Poll: time.Millisecond}
	return w, u, all
}

func TestUnchangedTagPullsNothing(t *testing.T) {
	w, u, all := setup(t)
	out := u.Check(context.Background(), all[1], all, false)
	if out.Err != nil || !strings.HasPrefix(out.Result, "up to date") {
		t.Fatalf("got %+v, want up to date", out)
	}
	if diff := cmp.Diff(w.Log(), "head "+ref); diff != "" {
		t.Errorf("calls (-got +want):\n%s", diff)
	}
}

func TestHealthyUpdateRestartsDependentsAfter(t *testing.T) {
	w, u, all := setup(t)
	w.remote[ref] = "sha256:new"
	out := u.Check(context.Background(), all[1], all, true)
	if out.Err != nil || !strings.Contains(out.Result, "update available") || strings.Contains(w.Log(), "pull") {
		t.Fatalf("--check: got %+v, calls:\n%s", out, w.Log())
	}
	w.log = nil
	out = u.Check(context.Background(), all[1], all, false)
	if out.Err != nil || out.Result != "updated from old to new" {
		t.Fatalf("got %+v", out)
	}
	want := strings.Join([]string{"head " + ref, "pull " + ref, "stop worker", "stop api", "restart web", "start api", "start worker"}, "\n")
	if diff := cmp.Diff(w.Log(), want); diff != "" {
		t.Errorf("calls (-got +want):\n%s", diff)
	}
	st, _ := u.Store.Load("web")
	if e, ok := st.Last(); !ok || e.Kind != KindUpdated || e.From != "old" || e.To != "new" || e.Digest != "sha256:new" {
		t.Errorf("last event %+v", e)
	}
	// keep_images = 1: the next update removes old, keeps new.
	w.remote[ref], w.byDigest["sha256:newer"] = "sha256:newer", "newer"
	w.running["db"] = "db-image"
	w.log = nil
	u.Check(context.Background(), all[1], all, false)
	if !strings.Contains(w.Log(), "rmi old") || strings.Contains(w.Log(), "rmi new") {
		t.Errorf("prune: calls:\n%s", w.Log())
	}
	if st, _ = u.Store.Load("web"); !cmp.Equal(st.Kept, []string{"new"}) {
		t.Errorf("kept %v, want [new]", st.Kept)
	}
}

func TestSickUpdateRolledBackAndMarkedBad(t *testing.T) {
	w, u, all := setup(t)
	w.remote[ref] = "sha256:bad"
	out := u.Check(context.Background(), all[1], all, false)
	if out.Err != nil || !strings.HasPrefix(out.Result, "rolled back to old: its health check failed") {
		t.Fatalf("got %+v", out)
	}
	want := strings.Join([]string{"head " + ref, "pull " + ref, "stop worker", "stop api", "restart web", "tag old " + ref, "restart web", "rmi bad", "start api", "start worker"}, "\n")
	if diff := cmp.Diff(w.Log(), want); diff != "" {
		t.Errorf("calls (-got +want):\n%s", diff)
	}
	if w.running["web"] != "old" || w.running["api"] != "old" {
		t.Errorf("running %v, want web and api on old", w.running)
	}
	st, _ := u.Store.Load("web")
	if e, _ := st.Last(); e.Kind != KindRolledBack || e.To != "bad" || st.ImageID != "old" || !st.isBad("sha256:bad") {
		t.Errorf("state %+v", st)
	}
	// Not tried again until the tag moves.
	w.log = nil
	out = u.Check(context.Background(), all[1], all, false)
	if !strings.Contains(out.Result, "rolled back before") || w.Log() != "head "+ref {
		t.Errorf("second check: %+v, calls:\n%s", out, w.Log())
	}
	w.remote[ref] = "sha256:new"
	if out = u.Check(context.Background(), all[1], all, false); out.Result != "updated from old to new" {
		t.Errorf("after the tag moved: %+v", out)
	}
}

func TestRegistryDownLeavesAppRunning(t *testing.T) {
	w, u, all := setup(t)
	w.down = true
	out := u.Check(context.Background(), all[1], all, false)
	if out.Err == nil || !strings.Contains(out.Result, "connection refused") {
		t.Fatalf("got %+v", out)
	}
	if w.running["web"] != "old" || strings.Contains(w.Log(), "restart") || strings.Contains(w.Log(), "stop") {
		t.Errorf("the app was touched:\n%s", w.Log())
	}
	st, _ := u.Store.Load("web")
	if st.Failures != 1 {
		t.Errorf("failures %d, want 1", st.Failures)
	}
}

func TestLocalPolicy(t *testing.T) {
	w, u, all := setup(t)
	all[1].Update.Policy = "local"
	out := u.Check(context.Background(), all[1], all, false)
	if !strings.HasPrefix(out.Result, "up to date") {
		t.Fatalf("got %+v", out)
	}
	w.tags[ref], w.images["new"] = "new", true
	out = u.Check(context.Background(), all[1], all, false)
	if out.Result != "updated from old to new" || strings.Contains(w.Log(), "head") || strings.Contains(w.Log(), "pull") {
		t.Fatalf("got %+v, calls:\n%s", out, w.Log())
	}
}

func TestDependentsOrder(t *testing.T) {
	all := []*decl.App{
		{Name: "c", Requires: []string{"b"}}, {Name: "b", RequiresHealthy: []string{"a"}},
		{Name: "d", Requires: []string{"a", "c"}}, {Name: "a"}, {Name: "x", Requires: []string{"y"}},
	}
	var got []string
	for _, a := range dependents("a", all) {
		got = append(got, a.Name)
	}
	if diff := cmp.Diff(got, []string{"b", "c", "d"}); diff != "" {
		t.Errorf("dependents (-got +want):\n%s", diff)
	}
}

func TestRunnerPlan(t *testing.T) {
	_, u, _ := setup(t)
	r := &Runner{U: u, Log: zap.NewNop()}
	a := app("web", "registry", false)
	a.Update.Schedule = "04:30"
	now := time.Date(2026, 11, 29, 4, 0, 0, 0, time.Local)
	if got := r.plan(a, now).at; !got.Equal(time.Date(2026, 11, 29, 4, 30, 0, 0, time.Local)) {
		t.Errorf("never checked: next %s", got)
	}
	// Last checked two days ago: missed, due at once.
	u.Store.Save("web", &State{LastCheck: now.Add(-48 * time.Hour)})
	if got := r.plan(a, now).at; got.After(now) {
		t.Errorf("missed check: next %s, want now", got)
	}
	// Failed 10 minutes ago, twice: retried 10 minutes after.
	u.Store.Save("web", &State{LastCheck: now.Add(-10 * time.Minute), Failures: 2})
	if got := r.plan(a, now).at; !got.Equal(now) {
		t.Errorf("after two failures: next %s, want %s", got, now)
	}
}

func TestRunnerDueOnlyWhenDue(t *testing.T) {
	w, u, all := setup(t)
	w.remote[ref] = "sha256:new"
	held := []string{}
	r := &Runner{U: u, Log: zap.NewNop(), Hold: func(kind, image string, apps ...string) (func(), bool) {
		held = append(held, strings.Join(apps, ","))
		return func() {}, true
	}}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.Local)
	r.Due(context.Background(), now, all, nil)
	r.Wait(context.Background())
	if w.Log() != "" {
		t.Fatalf("not due yet, but:\n%s", w.Log())
	}
	r.Due(context.Background(), now.Add(24*time.Hour), all, nil)
	r.Wait(context.Background())
	if !strings.Contains(w.Log(), "restart web") || len(held) != 1 || held[0] != "web,api,worker" {
		t.Errorf("due: held %v, calls:\n%s", held, w.Log())
	}
	w.log = nil
	r.Due(context.Background(), now.Add(24*time.Hour), all, []Request{{App: "web", Check: true}})
	r.Wait(context.Background())
	if w.Log() != "head "+ref {
		t.Errorf("request: calls:\n%s", w.Log())
	}
}

// TestRunnerBusyRetried: a request for an app that is busy (a pull runs)
// is kept and run, as the same kind of check, once the retry is due.
func TestRunnerBusyRetried(t *testing.T) {
	w, u, all := setup(t)
	w.remote[ref] = "sha256:new"
	busy := true
	r := &Runner{U: u, Log: zap.NewNop(), Hold: func(kind, image string, apps ...string) (func(), bool) {
		return func() {}, !busy
	}}
	now := time.Now()
	r.Due(context.Background(), now, all, []Request{{App: "web", Check: true}})
	r.Wait(context.Background())
	if w.Log() != "" || r.NextDue().After(now.Add(2*busyRetry)) {
		t.Fatalf("busy: calls %q, next due %s", w.Log(), r.NextDue())
	}
	busy = false
	r.Due(context.Background(), now.Add(busyRetry/2), all, nil)
	r.Wait(context.Background())
	if w.Log() != "" {
		t.Fatalf("retried before its time:\n%s", w.Log())
	}
	r.Due(context.Background(), now.Add(2*busyRetry), all, nil)
	r.Wait(context.Background())
	if w.Log() != "head "+ref {
		t.Errorf("retry: calls (want one check, no update):\n%s", w.Log())
	}
}
