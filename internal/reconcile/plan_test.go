package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/units"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// sealed returns unit bytes carrying ynhd's marker for source.
func sealed(t *testing.T, source, body string) []byte {
	t.Helper()
	u := &units.Unit{}
	u.Section("Service").Raw("ExecStart", body)
	u.Section(units.MarkerSection).Text("Source", source)
	b, err := units.Seal(u)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMakePlan(t *testing.T) {
	const dir = "/home/u/.config/ynhd"
	web := sealed(t, dir+"/web.toml", "/bin/web")
	web2 := sealed(t, dir+"/web.toml", "/bin/web --v2")
	edited := []byte(strings.Replace(string(web), "/bin/web", "/bin/evil", 1))
	want := func(app string, content []byte, enabled bool) Desired {
		return Desired{App: app, Unit: app + ".service", Source: dir + "/" + app + ".toml", Content: content, Enabled: enabled, Restart: "always"}
	}
	running := func(file []byte, enabled bool) *Observed {
		return &Observed{Unit: "web.service", File: file, Ours: file != nil, Intact: true, Enabled: enabled,
			LoadState: "loaded", ActiveState: "active", SubState: "running"}
	}
	inactive := func(file []byte, enabled bool) *Observed {
		o := running(file, enabled)
		o.ActiveState, o.SubState = "inactive", "dead"
		return o
	}
	tests := []struct {
		name    string
		desired []Desired
		world   map[string]*Observed
		backoff map[string]*Backoff
		want    string
		in      func(*Input)
	}{
		{"new app", []Desired{want("web", web, true)}, nil, nil,
			"write web.service (new)\nenable web.service\nstart web.service (new)\n", nil},
		{"unchanged and running", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": running(web, true)}, nil, "", nil},
		{"system mode: static user made first", []Desired{func() Desired {
			d := want("web", web, true)
			d.User = "ynhd-web"
			return d
		}()}, nil, nil,
			"user web.service (ynhd-web)\nwrite web.service (new)\nenable web.service\nstart web.service (new)\n", nil},
		{"changed", []Desired{want("web", web2, true)}, map[string]*Observed{"web.service": running(web, true)}, nil,
			"write web.service (changed)\nreload\nrestart web.service (unit changed)\n", nil},
		{"edited by hand", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": func() *Observed {
			o := running(edited, true)
			o.Intact = false
			return o
		}()}, nil,
			"write web.service (edited by hand; restoring)\nreload\nrestart web.service (unit changed)\n", nil},
		{"declaration deleted", nil, map[string]*Observed{"web.service": running(web, true)}, nil,
			"stop web.service (declaration removed)\ndisable web.service (declaration removed)\nremove web.service (declaration removed)\nreload\n", nil},
		{"someone else's file", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": {Unit: "web.service", File: []byte("[Service]\n")}}, nil,
			"problem web: web.service exists and was not written by ynhd; ynhd leaves it alone: remove it, or rename /home/u/.config/ynhd/web.toml\n", nil},
		{"name taken elsewhere", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": {Unit: "web.service", LoadState: "loaded", Foreign: true}}, nil,
			"problem web: the unit name web.service is taken (another unit); ynhd leaves it alone: rename /home/u/.config/ynhd/web.toml\n", nil},
		{"invalid declaration keeps the running unit", []Desired{{App: "web", Unit: "web.service", Problem: "web.toml:2:1: image: bad"}},
			map[string]*Observed{"web.service": running(web, true)}, nil, "problem web: web.toml:2:1: image: bad\n", nil},
		{"disabled", []Desired{want("web", web, false)}, map[string]*Observed{"web.service": running(web, true)}, nil,
			"stop web.service (enabled = false)\ndisable web.service (enabled = false)\n", nil},
		{"stopped by the user stays stopped", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": inactive(web, true)}, nil, "",
			func(in *Input) { in.Stopped = map[string]bool{"web": true} }},
		{"stopped by the user, then edited: started with the edit", []Desired{want("web", web2, true)}, map[string]*Observed{"web.service": inactive(web, true)}, nil,
			"write web.service (changed)\nreload\nrestart web.service (unit changed)\n",
			func(in *Input) { in.Stopped = map[string]bool{"web": true} }},
		{"stopped by the user, hand edit restored: still stopped", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": func() *Observed {
			o := inactive(edited, true)
			o.Intact = false
			return o
		}()}, nil, "write web.service (edited by hand; restoring)\nreload\n",
			func(in *Input) { in.Stopped = map[string]bool{"web": true} }},
		{"inactive, not stopped by anyone: started", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": inactive(web, true)}, nil,
			"start web.service (not running)\n", nil},
		{"enabled again: enabled and started", []Desired{func() Desired {
			d := want("web", web, true)
			d.Restart = "on-failure"
			return d
		}()}, map[string]*Observed{"web.service": inactive(web, false)}, nil,
			"enable web.service\nstart web.service (enabled)\n", nil},
		{"ended by itself with restart = on-failure: left alone", []Desired{func() Desired {
			d := want("web", web, true)
			d.Restart = "on-failure"
			return d
		}()}, map[string]*Observed{"web.service": inactive(web, true)}, nil, "", nil},
		{"restart owed by a daemon that died after writing", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": running(web, true)}, nil,
			"reload\nrestart web.service (unit changed; restart unfinished)\n",
			func(in *Input) { in.Owed = map[string]string{"web": UnitHash(web)} }},
		{"start owed by a daemon that died after writing", []Desired{func() Desired {
			d := want("web", web, true)
			d.Restart = "no"
			return d
		}()}, map[string]*Observed{"web.service": inactive(web, true)}, nil,
			"reload\nstart web.service (start unfinished)\n",
			func(in *Input) { in.Owed = map[string]string{"web": UnitHash(web)} }},
		{"stale owed record is ignored", []Desired{want("web", web2, true)}, map[string]*Observed{"web.service": running(web2, true)}, nil, "",
			func(in *Input) { in.Owed = map[string]string{"web": UnitHash(web)} }},
		{"unreadable directory removes nothing", nil, map[string]*Observed{"web.service": running(web, true)}, nil, "",
			func(in *Input) { in.Incomplete = true }},
		{"pull in the background: app waits", []Desired{want("web", web, true)}, nil, nil,
			"problem web: pulling x (1s); the app starts when it is done\n",
			func(in *Input) { in.Preparing = map[string]string{"web": "pulling x (1s)"} }},
		{"failed step waits for its retry", []Desired{want("web", web2, true)}, map[string]*Observed{"web.service": running(web, true)}, nil,
			"problem web: write: no space left on device; retrying at 12:00:02\n",
			func(in *Input) {
				in.Retry = map[string]*Retry{"web": {Op: OpWrite, Err: "write: no space left on device", Failures: 1, Next: t0.Add(2 * time.Second)}}
			}},
		{"failed, backoff pending", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": func() *Observed {
			o := running(web, true)
			o.ActiveState, o.SubState, o.NRestarts = "failed", "failed", 2
			return o
		}()}, map[string]*Backoff{"web": {Failures: 2, Next: t0.Add(time.Second)}}, "", nil},
		{"failed, backoff due", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": func() *Observed {
			o := running(web, true)
			o.ActiveState, o.SubState, o.NRestarts = "failed", "failed", 2
			return o
		}()}, map[string]*Backoff{"web": {Failures: 2, Next: t0}}, "start web.service (failed; restart 3)\n", nil},
		{"failed once is restarted", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": func() *Observed {
			o := running(web, true)
			o.ActiveState, o.SubState = "failed", "failed"
			return o
		}()}, nil, "start web.service (failed; restart 1)\n", nil},
		{"failed after the user stopped it is left alone", []Desired{want("web", web, true)}, map[string]*Observed{"web.service": func() *Observed {
			o := running(web, true)
			o.ActiveState, o.SubState = "failed", "failed"
			return o
		}()}, nil, "", func(in *Input) { in.Stopped = map[string]bool{"web": true} }},
		{"disabled and failed", []Desired{want("web", web, false)}, map[string]*Observed{"web.service": func() *Observed {
			o := running(web, false)
			o.ActiveState, o.SubState = "failed", "failed"
			return o
		}()}, nil, "stop web.service (enabled = false)\n", nil},
		{"another directory's unit is left alone", nil, map[string]*Observed{"web.service": {Unit: "web.service", File: web, Ours: false, ActiveState: "active"}}, nil, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &World{Units: tt.world}
			if w.Units == nil {
				w.Units = map[string]*Observed{}
			}
			in := Input{Desired: tt.desired, World: w, Backoff: tt.backoff, Now: t0}
			if tt.in != nil {
				tt.in(&in)
			}
			got := MakePlan(in).String()
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("plan (-got +want):\n%s", diff)
			}
		})
	}
}

// env is a declarations directory and a reconciler over a fake manager.
type env struct {
	t    *testing.T
	dir  string
	fake *fake
	now  time.Time
	r    *Reconciler
}

func newEnv(t *testing.T) *env {
	e := &env{t: t, dir: t.TempDir(), fake: newFake(), now: t0}
	e.r = New(Config{DeclDir: e.dir, Home: "/home/u", Mode: units.User}, e.fake, e.fake, zap.NewNop(), func() time.Time { return e.now })
	return e
}

func (e *env) declare(app, src string) {
	e.t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, app+".toml"), []byte("version = 1\n"+src), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) plan() string {
	e.t.Helper()
	p, err := e.r.Plan(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return p.String()
}

func (e *env) pass() Status {
	e.t.Helper()
	e.fake.calls = nil
	s, err := e.r.Pass(context.Background())
	if err != nil {
		e.t.Fatalf("pass: %v", err)
	}
	return s
}

const busybox = "image = \"localhost/ynhd-test/busybox:latest\"\n"

// TestIdempotent applies plans to the fake and checks that the next plan
// is empty every time, through create, edit, no-op rewrite and delete.
func TestIdempotent(t *testing.T) {
	e := newEnv(t)
	e.declare("web", busybox+"requires = [\"db\"]\n")
	e.declare("db", busybox)
	e.declare("cache", busybox+"enabled = false\n")
	e.pass()
	if diff := cmp.Diff(e.fake.calls, []string{
		"list cache.service,db.service,web.service",
		"write cache.service", "write db.service", "write web.service",
		"start db.service", "start web.service",
		"enable db.service,web.service",
		"list cache.service,db.service,web.service",
	}); diff != "" {
		t.Errorf("first pass calls (-got +want):\n%s", diff)
	}
	if p := e.plan(); p != "" {
		t.Fatalf("plan after applying is not empty:\n%s", p)
	}
	want := "cache.service file(N) enabled=false inactive/dead\ndb.service file(N) enabled=true active/running\nweb.service file(N) enabled=true active/running"
	if got := normalizeSizes(e.fake.String()); got != want {
		t.Errorf("state:\n%s\nwant:\n%s", got, want)
	}

	// Rewriting a file with identical content changes nothing.
	e.declare("db", busybox)
	if p := e.plan(); p != "" {
		t.Fatalf("identical rewrite plans:\n%s", p)
	}

	// An edit restarts only the edited app.
	e.declare("db", busybox+"env = { A = \"1\" }\n")
	if diff := cmp.Diff(e.plan(), "write db.service (changed)\nreload\nrestart db.service (unit changed)\n"); diff != "" {
		t.Errorf("edit plan (-got +want):\n%s", diff)
	}
	e.pass()
	if p := e.plan(); p != "" {
		t.Fatalf("plan after edit is not empty:\n%s", p)
	}

	// A broken edit keeps the last good unit and is a problem.
	e.declare("db", busybox+"env = 3\n")
	if p := e.plan(); !strings.HasPrefix(p, "problem db: ") || strings.Contains(p, "write") {
		t.Fatalf("broken edit plans:\n%s", p)
	}
	s := e.pass()
	if got := s.Summary(); got != "3 apps: 1 running, 1 disabled, 1 invalid" {
		t.Errorf("summary %q", got)
	}
	if e.fake.unit("db.service").active != "active" {
		t.Error("db stopped because of a broken edit")
	}

	// Delete: stopped, disabled, removed; the others untouched.
	os.Remove(filepath.Join(e.dir, "db.toml"))
	os.Remove(filepath.Join(e.dir, "web.toml")) // web requires db
	// A declaration just gone waits a moment (the whole directory may be
	// on its way out), then its app is removed.
	e.pass()
	if e.fake.unit("db.service").active != "active" {
		t.Error("db stopped in the pass that first saw its file gone")
	}
	e.now = e.now.Add(deleteGrace)
	e.pass()
	if p := e.plan(); p != "" {
		t.Fatalf("plan after delete is not empty:\n%s", p)
	}
	if got := normalizeSizes(e.fake.String()); got != "cache.service file(N) enabled=false inactive/dead" {
		t.Errorf("after delete:\n%s", got)
	}
}

func normalizeSizes(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "file("); i >= 0 {
			j := strings.Index(l[i:], ")")
			l = l[:i] + "file(N)" + l[i+j+1:]
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// TestBackoff: a unit that keeps failing is restarted after growing delays
// and reported as crash-looping, not restarted on every pass.
func TestBackoff(t *testing.T) {
	e := newEnv(t)
	e.declare("crash", busybox)
	e.pass()
	fail := func() {
		u := e.fake.unit("crash.service")
		u.active, u.sub = "failed", "failed"
		e.fake.nrestarts["crash.service"] = 2
	}
	var restarts []string
	for i := 0; i < 20; i++ {
		fail()
		e.pass()
		for _, c := range e.fake.calls {
			if c == "start crash.service" {
				restarts = append(restarts, e.now.Sub(t0).String())
			}
			if strings.HasPrefix(c, "reset-failed") {
				t.Errorf("backoff restart reset systemd's start limit: %s", c)
			}
		}
		e.now = e.now.Add(30 * time.Second)
	}
	if diff := cmp.Diff(restarts, []string{"1m0s", "3m0s", "7m0s"}); diff != "" {
		t.Errorf("restart times (-got +want):\n%s", diff)
	}
	st := e.r.Status().Apps[0]
	if !st.CrashLooping || st.Restarts != 3 || st.Condition != "failing" {
		t.Errorf("status %+v", st)
	}
	// Running steadily for a while forgives the failures.
	e.fake.unit("crash.service").active = "active"
	e.now = e.now.Add(5 * time.Minute)
	e.pass()
	if st := e.r.Status().Apps[0]; st.CrashLooping || st.Restarts != 0 {
		t.Errorf("after steady running: %+v", st)
	}
}

// TestStartLimitIsCrashLoop: a failed unit means systemd gave up restarting
// it: the app is crash-looping at once, and ynhd waits before trying again.
// An app declared restart = "no" stays failed.
func TestStartLimitIsCrashLoop(t *testing.T) {
	e := newEnv(t)
	e.declare("crash", busybox)
	e.pass()
	u := e.fake.unit("crash.service")
	u.active, u.sub = "failed", "failed"
	e.fake.nrestarts["crash.service"] = 2
	e.pass()
	st := e.r.Status().Apps[0]
	if !st.CrashLooping || st.Condition != "failing" || !st.NextRetry.Equal(t0.Add(time.Minute)) {
		t.Errorf("status %+v", st)
	}
	if p := e.plan(); p != "" {
		t.Errorf("plan before the backoff is due:\n%s", p)
	}

	e.declare("once", busybox+"restart = \"no\"\n")
	e.pass()
	u = e.fake.unit("once.service")
	u.active, u.sub = "failed", "failed"
	e.fake.nrestarts["once.service"] = 2
	e.now = e.now.Add(time.Hour)
	e.pass()
	if p := e.plan(); strings.Contains(p, "once") {
		t.Errorf("restart = no app restarted:\n%s", p)
	}
}
