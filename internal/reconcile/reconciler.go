package reconcile

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
	"github.com/ynhd/ynhd/internal/units"
)

// Config says where declarations and units live and how units are
// rendered.
type Config struct {
	DeclDir string // absolute
	Home    string // expands ~/ in declarations
	Host    decl.Host
	Mode    units.Mode
	Podman  string
}

// Reconciler runs passes. It remembers, between passes, the restart
// backoff of failing apps and the problems already logged, so a crash loop
// or an invalid declaration is reported once per change, not once per pass.
// Its methods are safe for concurrent use; passes are serialized.
type Reconciler struct {
	cfg Config
	m   Manager
	f   Files
	log *zap.Logger
	now func() time.Time

	calls    *counter             // D-Bus and podman calls, for PassStats
	p        Podman               // nil: no podman API, units do it all
	u        Users                // nil in user mode
	journal  UnitLog              // nil: failures are not diagnosed
	diag     map[string]diagnosis // app -> what its failed unit's journal said
	waiting  bool                 // the last plan held an app back for a dependency's health
	held     map[string]bool      // apps whose start waits for a dependency's health
	podErr   string               // last podman API error, logged once
	warnings map[string]string

	mu       sync.Mutex
	backoff  map[string]*Backoff
	problems map[string]string // app -> last logged problem
	failed   map[string]string // app -> last apply error
	status   Status
}

// New returns a Reconciler. now may be nil (time.Now).
func New(cfg Config, m Manager, f Files, log *zap.Logger, now func() time.Time) *Reconciler {
	if now == nil {
		now = time.Now
	}
	cfg.DeclDir = filepath.Clean(cfg.DeclDir)
	c := &counter{}
	return &Reconciler{cfg: cfg, m: countingManager{m, c}, f: f, log: log, now: now, calls: c,
		backoff: map[string]*Backoff{}, problems: map[string]string{}, failed: map[string]string{}, warnings: map[string]string{}, held: map[string]bool{},
		diag: map[string]diagnosis{}}
}

// SetPodman gives the reconciler the podman API: it then pulls and builds
// images, creates volumes and networks before apps start, and replaces
// containers whose image changed. Call it before the first pass.
func (r *Reconciler) SetPodman(p Podman) { r.p = countingPodman{p, r.calls} }

// SetUsers gives a system-mode reconciler the means to create the static
// users of apps that need many ids. Call it before the first pass.
func (r *Reconciler) SetUsers(u Users) { r.u = u }

// Desired loads every declaration in the directory and renders the valid
// ones. A missing directory means no apps.
func (r *Reconciler) Desired() []Desired {
	files, err := decl.DeclarationFiles(r.cfg.DeclDir)
	if err != nil {
		r.log.Debug("no declarations directory", zap.String("dir", r.cfg.DeclDir), zap.Error(err))
		return nil
	}
	var out []Desired
	for _, l := range decl.LoadFiles(files, r.cfg.Host, r.cfg.Home) {
		d := Desired{App: l.Name, Unit: l.Name + ".service", Source: l.File}
		if !l.OK() {
			d.Problem = joinDiagnostics(l.Diagnostics.Errors())
			out = append(out, d)
			continue
		}
		app := l.Parsed.App
		b, err := units.RenderBytes(app, units.Options{Mode: r.cfg.Mode, Podman: r.cfg.Podman})
		if err != nil {
			d.Problem = err.Error()
		} else {
			d.Content, d.Enabled, d.Restart, d.Decl = b, app.IsEnabled(), app.Restart, app
			if route, _ := app.SystemRoute(); r.cfg.Mode == units.System && route == decl.RouteStatic {
				d.User = units.SystemUserName(app.Name)
			}
		}
		if err == nil && app.Build != nil && r.p != nil {
			if d.ContextHash, err = podman.ContextHash(app.Build); err != nil {
				d.Problem, d.Content, d.Decl = err.Error(), nil, nil
			}
		}
		out = append(out, d)
	}
	return out
}

func joinDiagnostics(ds decl.Diagnostics) string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Plan observes and plans without changing anything.
func (r *Reconciler) Plan(ctx context.Context) (*Plan, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, _, _, err := r.plan(ctx)
	return p, err
}

func (r *Reconciler) plan(ctx context.Context) (*Plan, []Desired, *World, error) {
	desired := r.Desired()
	names := make([]string, len(desired))
	for i, d := range desired {
		names[i] = d.Unit
	}
	w, err := Observe(ctx, r.m, r.f, r.cfg.DeclDir, names)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := observeUsers(r.u, w, desired); err != nil {
		return nil, nil, nil, err
	}
	if r.p != nil {
		if err := observePodman(ctx, r.p, w, desired); err != nil {
			if err.Error() != r.podErr {
				r.podErr = err.Error()
				r.log.Warn("podman API unavailable; leaving images, volumes and networks to the units", zap.Error(err))
			}
		} else if r.podErr != "" {
			r.podErr = ""
			r.log.Info("podman API available again")
		}
	}
	now := r.now()
	for app, b := range r.backoff {
		if o := w.Units[app+".service"]; o != nil && o.ActiveState == "active" && now.Sub(b.Last) > steadyAfter {
			r.log.Info("app runs steadily again", zap.String("app", app))
			delete(r.backoff, app)
		}
	}
	for _, d := range desired {
		o := w.Units[d.Unit]
		if o == nil || !o.GaveUp() || d.Content == nil || !d.Enabled || d.Restart == "no" {
			continue
		}
		if b := r.backoff[d.App]; b == nil {
			r.backoff[d.App] = &Backoff{GaveUp: true, Next: now.Add(delay(0))}
			r.log.Error("app is crash-looping: systemd gave up restarting it; ynhd restarts it with backoff",
				zap.String("app", d.App), zap.String("unit", d.Unit), zap.String("result", o.Result), zap.Duration("next_in", delay(0)))
		}
	}
	r.diagnose(ctx, desired, w)
	p := MakePlan(Input{Desired: desired, World: w, Backoff: r.backoff, Now: now, Held: r.held})
	r.waiting = p.Waiting
	declared := map[string]bool{}
	for _, d := range desired {
		declared[d.App] = true
	}
	for app := range r.held {
		if !declared[app] {
			delete(r.held, app)
		}
	}
	for _, pr := range p.Problems {
		if pr.Held {
			r.held[pr.App] = true
		}
	}
	return p, desired, w, nil
}

// Pass runs one Observe -> Plan -> Apply pass and returns the status after
// it. The error joins the failures of individual apps; the others were
// still applied.
func (r *Reconciler) Pass(ctx context.Context) (Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start, cpu0, dbus0, pod0 := time.Now(), cpuTime(), r.calls.dbus.Load(), r.calls.podman.Load()
	p, desired, w, err := r.plan(ctx)
	if err != nil {
		return r.status, err
	}
	r.logProblems(desired)
	var applyErr error
	if !p.Empty() {
		var res Applied
		env := Env{Manager: r.m, Files: r.f, Podman: r.p, Users: r.u}
		if r.cfg.Mode == units.System {
			env.Journal = "journalctl -u"
		}
		res, applyErr = Apply(ctx, env, r.log, p)
		r.afterApply(p, res)
		// Re-observe so the status shows the result, not the plan's input.
		if w2, err := Observe(ctx, r.m, r.f, r.cfg.DeclDir, unitNames(desired)); err == nil {
			w = w2
		}
	}
	r.status = r.makeStatus(desired, w)
	r.status.LastPass = PassStats{Apps: len(desired), Actions: len(p.Actions), Wall: time.Since(start), CPU: cpuTime() - cpu0,
		DBusCalls: r.calls.dbus.Load() - dbus0, PodmanCalls: r.calls.podman.Load() - pod0}
	return r.status, applyErr
}

func unitNames(ds []Desired) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Unit
	}
	return out
}

// logProblems logs an invalid declaration when its problem first appears
// or changes, and when it is fixed.
func (r *Reconciler) logProblems(desired []Desired) {
	seen := map[string]bool{}
	for _, d := range desired {
		seen[d.App] = true
		prev, had := r.problems[d.App]
		switch {
		case d.Problem != "" && d.Problem != prev:
			r.problems[d.App] = d.Problem
			for _, line := range strings.Split(d.Problem, "\n") {
				r.log.Error("invalid declaration; the app keeps its last good version", zap.String("app", d.App), zap.String("problem", line))
			}
		case d.Problem == "" && had:
			delete(r.problems, d.App)
			r.log.Info("declaration is valid again", zap.String("app", d.App))
		}
	}
	for app := range r.problems {
		if !seen[app] {
			delete(r.problems, app)
		}
	}
}

// afterApply updates backoff and error memory from what was done.
func (r *Reconciler) afterApply(p *Plan, res Applied) {
	now := r.now()
	// A backoff restart counts whether or not its job succeeded: the next
	// one waits longer either way.
	for _, a := range p.Actions {
		if a.Op != OpStart || !strings.HasPrefix(a.Reason, "failed") {
			continue
		}
		b := r.backoff[a.App]
		if b == nil {
			b = &Backoff{}
			r.backoff[a.App] = b
		}
		b.Failures++
		b.Last = now
		b.Next = now.Add(delay(b.Failures))
		if b.Failures == crashLoopAfter && !b.GaveUp { // reached without systemd giving up
			r.log.Error("app is crash-looping; restarting with backoff", zap.String("app", a.App),
				zap.Int("restarts", b.Failures), zap.Duration("next_in", delay(b.Failures)))
		}
	}
	for app, err := range res.Failed {
		var pe *PrepError
		if !errors.As(err, &pe) {
			continue
		}
		b := r.backoff[app]
		if b == nil {
			b = &Backoff{}
			r.backoff[app] = b
		}
		b.Failures++
		b.Last = now
		b.Next = now.Add(delay(b.Failures - 1))
		b.PrepErr = err.Error()
		r.log.Error("cannot prepare app; retrying with backoff", zap.String("app", app), zap.String("step", pe.Op.String()),
			zap.Error(pe.Err), zap.Duration("next_in", delay(b.Failures-1)))
	}
	for app, w := range res.Warnings {
		if r.warnings[app] != w {
			r.log.Warn(w, zap.String("app", app))
		}
		r.warnings[app] = w
	}
	for _, a := range res.Done {
		if b := r.backoff[a.App]; b != nil && b.PrepErr != "" && (a.Op == OpStart || a.Op == OpRestart) {
			delete(r.backoff, a.App) // prepared and started: the wait is over
		}
		if a.Op == OpStart || a.Op == OpRestart || a.Op == OpStop {
			delete(r.held, a.App)
		}
		switch {
		case a.Op == OpRestart || a.Op == OpRemove || (a.Op == OpStart && a.Reason == "new"):
			delete(r.backoff, a.App)
		}
		delete(r.failed, a.App)
	}
	for _, a := range p.Actions {
		if err, ok := res.Failed[a.App]; ok {
			r.failed[a.App] = err.Error()
		}
	}
}

// healthPoll is how soon a pass follows one that held an app back until a
// dependency is healthy: podman reports health changes to no one.
const healthPoll = 2 * time.Second

// NextWake is when the next pass is due besides the timer: a pending
// backoff restart, or a start waiting for a dependency's health (zero if
// none).
func (r *Reconciler) NextWake() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t time.Time
	if r.waiting {
		t = r.now().Add(healthPoll)
	}
	for _, b := range r.backoff {
		if t.IsZero() || b.Next.Before(t) {
			t = b.Next
		}
	}
	return t
}

// Status returns the status after the last pass.
func (r *Reconciler) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// Units is the set of unit names the reconciler manages after the last
// pass.
func (r *Reconciler) Units() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]bool{}
	for _, a := range r.status.Apps {
		out[a.Unit] = true
	}
	return out
}

func (r *Reconciler) makeStatus(desired []Desired, w *World) Status {
	s := Status{Time: r.now()}
	for _, d := range desired {
		a := AppStatus{App: d.App, Unit: d.Unit, Source: d.Source, Declaration: "ok", Enabled: d.Enabled}
		if d.Problem != "" {
			a.Declaration, a.Problem = "invalid", d.Problem
		}
		if o := w.Units[d.Unit]; o != nil {
			a.ActiveState, a.SubState = o.ActiveState, o.SubState
			if o.File == nil {
				a.ActiveState = "absent"
			}
		}
		if b := r.backoff[d.App]; b != nil {
			a.Restarts, a.CrashLooping, a.NextRetry = b.Failures, b.CrashLooping(), b.Next
		}
		a.LastError = r.failed[d.App]
		if dg := r.diag[d.App]; dg.msg != "" {
			a.LastError = dg.msg // the cause, beside which a failed job says little
		}
		a.Warning = r.warnings[d.App]
		if b := r.backoff[d.App]; b != nil && b.PrepErr != "" {
			a.PodmanError = b.PrepErr
		}
		if c, ok := w.Containers[d.App]; ok {
			a.ContainerID, a.ContainerState, a.Image, a.ImageID, a.Health = c.ID, c.State, c.Image, c.ImageID, c.Health
			a.Ports, a.Since = c.Ports, c.StartedAt
		} else if d.Decl != nil {
			a.Image = d.Decl.ImageRef()
		}
		s.Apps = append(s.Apps, a)
	}
	return s
}

// AppStatus is one app's state as ynhd sees it.
type AppStatus struct {
	App          string    `json:"app"`
	Unit         string    `json:"unit"`
	Source       string    `json:"source"`
	Declaration  string    `json:"declaration"` // ok or invalid
	Problem      string    `json:"problem,omitempty"`
	Enabled      bool      `json:"enabled"`
	ActiveState  string    `json:"active_state"`
	SubState     string    `json:"sub_state"`
	Restarts     int       `json:"restarts"` // restarts by ynhd's backoff
	CrashLooping bool      `json:"crash_looping"`
	NextRetry    time.Time `json:"next_retry,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	// From podman, when its API is available.
	ContainerID    string    `json:"container_id,omitempty"`
	ContainerState string    `json:"container_state,omitempty"`
	Image          string    `json:"image,omitempty"`
	ImageID        string    `json:"image_id,omitempty"`
	Health         string    `json:"health,omitempty"`
	Ports          []string  `json:"ports,omitempty"`
	Since          time.Time `json:"since,omitzero"`
	// PodmanError is why the app's image, volume or network could not be
	// prepared; it retries with backoff.
	PodmanError string `json:"podman_error,omitempty"`
	// Warning is a problem that does not stop the app.
	Warning string `json:"warning,omitempty"`
}

// Status is every app's state after a pass.
type Status struct {
	Time time.Time   `json:"time"`
	Apps []AppStatus `json:"apps"`
	// LastPass is what the pass that produced this status cost.
	LastPass PassStats `json:"last_pass"`
}

// Summary is a one-line account such as "5 apps: 4 running, 1 failing".
func (s Status) Summary() string {
	counts := map[string]int{}
	order := []string{"running", "starting", "stopped", "disabled", "failing", "invalid"}
	for _, a := range s.Apps {
		counts[a.Condition()]++
	}
	var parts []string
	for _, k := range order {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
		}
	}
	n := len(s.Apps)
	head := fmt.Sprintf("%d apps", n)
	if n == 1 {
		head = "1 app"
	}
	if len(parts) == 0 {
		return head
	}
	return head + ": " + strings.Join(parts, ", ")
}

// Condition sums an app's state up in one word: running, starting,
// stopped, disabled, failing or invalid.
func (a AppStatus) Condition() string {
	switch {
	case a.Declaration == "invalid":
		return "invalid"
	case a.CrashLooping || a.LastError != "" || a.PodmanError != "":
		return "failing"
	case a.ActiveState == "failed" && a.Enabled:
		return "failing"
	case a.ActiveState == "active" || a.ActiveState == "reloading":
		return "running"
	case a.ActiveState == "activating":
		return "starting"
	case !a.Enabled:
		return "disabled"
	}
	return "stopped"
}

// Snapshot observes without planning or applying and returns the status as
// it is now (with the backoff this reconciler knows of, usually none: the
// daemon's own status file has that).
func (r *Reconciler) Snapshot(ctx context.Context) (Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	desired := r.Desired()
	w, err := Observe(ctx, r.m, r.f, r.cfg.DeclDir, unitNames(desired))
	if err != nil {
		return Status{}, err
	}
	if r.p != nil {
		_ = observePodman(ctx, r.p, w, desired) // status works without it
	}
	return r.makeStatus(desired, w), nil
}
