package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/keep"
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
// backoff of failing apps, the retries of failed steps, the pulls and
// builds running in the background, and the problems already logged, so a
// crash loop or an invalid declaration is reported once per change, not
// once per pass. Its methods are safe for concurrent use; passes are
// serialized.
type Reconciler struct {
	cfg Config
	m   Manager
	f   Files
	log *zap.Logger
	now func() time.Time

	calls    *counter                             // D-Bus and podman calls, for PassStats
	p        Podman                               // nil: no podman API, units do it all
	u        Users                                // nil in user mode
	k        Keeper                               // nil: no persistent containers (system mode)
	journal  UnitLog                              // nil: failures are not diagnosed
	intents  Intents                              // stops by a person, owed restarts
	bg       *background                          // pulls and builds
	diag     map[string]diagnosis                 // app -> what its failed unit's journal said
	waiting  bool                                 // the last plan held an app back for a dependency's health
	held     map[string]bool                      // apps whose start waits for a dependency's health
	podErr   string                               // last podman API error, logged once
	podDown  time.Time                            // podman is not asked again before this
	podCache World                                // what podman said last (Containers, Images)
	written  sync.Map                             // unit name -> UnitHash of what ynhd last wrote ("" removed)
	podSeen  time.Time                            // when
	markers  map[string]markerMemo                // unit files' markers, by unit
	files    decl.FileCache                       // declarations by content
	renders  map[*decl.App][]byte                 // their units
	seen     atomic.Pointer[map[string]UnitState] // declared units as the last pass saw them
	dirErr   string                               // last error reading the declarations directory
	last     []Desired                            // the last complete set of declarations
	lastKeys map[string]fileKey                   // the files it was read from
	gone     map[string]time.Time                 // app -> when its declaration was first seen gone
	warnings map[string]string

	mu       sync.Mutex
	backoff  map[string]*Backoff
	retry    map[string]*Retry
	problems map[string]string // app -> last logged problem
	failed   map[string]string // app -> last apply error
	status   Status
	observed time.Time // end of the last pass that observed the manager

	wake   func() // called when a late job result comes
	lateMu sync.Mutex
	late   map[string]string // app -> result of a job that ended after its pass
}

// New returns a Reconciler. now may be nil (time.Now).
func New(cfg Config, m Manager, f Files, log *zap.Logger, now func() time.Time) *Reconciler {
	if now == nil {
		now = time.Now
	}
	cfg.DeclDir = filepath.Clean(cfg.DeclDir)
	c := &counter{}
	return &Reconciler{cfg: cfg, m: countingManager{m, c}, f: f, log: log, now: now, calls: c,
		backoff: map[string]*Backoff{}, markers: map[string]markerMemo{}, retry: map[string]*Retry{}, problems: map[string]string{}, failed: map[string]string{},
		warnings: map[string]string{}, held: map[string]bool{}, diag: map[string]diagnosis{}, late: map[string]string{}, gone: map[string]time.Time{},
		intents: newMemIntents(), bg: newBackground(log)}
}

// SetPodman gives the reconciler the podman API: it then pulls and builds
// images, creates volumes and networks before apps start, and replaces
// containers whose image changed. Call it before the first pass.
func (r *Reconciler) SetPodman(p Podman) { r.p = countingPodman{timedPodman{p}, r.calls} }

// Keeper creates and recreates persistent apps' containers; keep.Podman
// satisfies it.
type Keeper interface {
	Create(ctx context.Context, args []string) error
	Remove(ctx context.Context, app string, stopSeconds int) error
	Take(ctx context.Context, app, base, reason string, now time.Time) (keep.Snapshot, error)
	Prune(ctx context.Context, app string, keep int) ([]string, error)
	// EnsureVolume and EnsureNetwork create them through the podman CLI,
	// for passes where the API does not answer.
	EnsureVolume(ctx context.Context, v decl.Volume) error
	EnsureNetwork(ctx context.Context, name string) error
}

// SetKeeper gives a user-mode reconciler the means to keep persistent
// apps' containers. Call it before the first pass.
func (r *Reconciler) SetKeeper(k Keeper) {
	r.k = k
	r.bg.keep = r.keepOp
}

func (r *Reconciler) keepFunc() func(context.Context, Action) error {
	if r.k == nil {
		return nil
	}
	return r.keepOp
}

// KeepRunOptions are how a persistent app's container is created: as a
// user-mode unit runs it.
var KeepRunOptions = podman.RunOptions{Cgroups: podman.CgroupsSplit}

// keepOp creates a persistent app's container (OpCreate), or replaces it
// by one with the declaration's settings created from a snapshot of it
// (OpRecreate). The snapshot is recorded before the old container is
// removed, so a daemon killed in between finishes from it.
func (r *Reconciler) keepOp(ctx context.Context, act Action) error {
	if r.k == nil {
		return errors.New("persistent containers are kept only in user mode")
	}
	a, from := act.Decl, act.Image
	if act.Op == OpRecreate {
		snap, err := r.k.Take(ctx, act.App, act.Base, "before-change", r.now())
		if err != nil {
			return fmt.Errorf("taking a snapshot before recreating the container: %w", err)
		}
		r.log.Info("snapshot taken", zap.String("app", act.App), zap.String("snapshot", snap.Ref))
		if err := r.intents.SetKept(act.App, snap.Ref+" "+act.Base); err != nil {
			return fmt.Errorf("recording the snapshot: %w", err)
		}
		if err := r.k.Remove(ctx, act.App, podman.StopSeconds(a)); err != nil {
			return err
		}
		from = snap.Ref
	}
	if err := r.k.Create(ctx, podman.CreateArgs(a, KeepRunOptions, from, act.Base)); err != nil {
		return err
	}
	if err := r.intents.SetKept(act.App, ""); err != nil {
		r.log.Warn("recording a created container", zap.String("app", act.App), zap.Error(err))
	}
	if act.Op == OpRecreate {
		if gone, err := r.k.Prune(ctx, act.App, a.KeepSnapshots); err != nil {
			r.log.Warn("pruning snapshots", zap.String("app", act.App), zap.Error(err))
		} else if len(gone) > 0 {
			r.log.Info("old snapshots removed", zap.String("app", act.App), zap.Strings("snapshots", gone))
		}
	}
	return nil
}

// SetUsers gives a system-mode reconciler the means to create the static
// users of apps that need many ids. Call it before the first pass.
func (r *Reconciler) SetUsers(u Users) { r.u = u }

// SetIntents gives the reconciler a record that outlives the process
// (see Intents); without one it keeps it in memory. Call it before the
// first pass.
func (r *Reconciler) SetIntents(i Intents) { r.intents = i }

// SetWake sets what is called when something the reconciler waits for
// happened outside a pass (a background pull or build ended, a job's late
// result came): the caller should pass soon. Call it before the first
// pass.
func (r *Reconciler) SetWake(f func()) {
	r.bg.wake = f
	r.wake = f
}

// Hold keeps passes away from apps while something outside them works on
// them (an image update): a pass plans nothing for a held app and status
// shows kind and image as what it is busy with. It fails (false) when one
// of the apps is busy already. release ends the hold and asks for a pass.
func (r *Reconciler) Hold(kind, image string, apps ...string) (release func(), ok bool) {
	done, ok := r.bg.hold(kind, image, apps)
	if !ok {
		return nil, false
	}
	return func() {
		r.Refresh() // the images and containers changed: the next pass asks podman
		done()
	}, true
}

// Apps returns the valid declarations the last pass read. Call it from
// the goroutine that runs passes, between them.
func (r *Reconciler) Apps() []*decl.App {
	out := make([]*decl.App, 0, len(r.last))
	for _, d := range r.last {
		if d.Decl != nil {
			out = append(out, d.Decl)
		}
	}
	return out
}

// Close stops the background pulls and builds.
func (r *Reconciler) Close() { r.bg.stop() }

// Busy reports whether a pull or build runs in the background.
func (r *Reconciler) Busy() bool { return r.bg.busy() }

// Preparing returns the pulls and builds running now, by app, each with
// its last step.
func (r *Reconciler) Preparing() map[string]Preparation { return r.bg.Running() }

// WaitBackground waits until no pull or build runs, or ctx is done.
func (r *Reconciler) WaitBackground(ctx context.Context) { r.bg.wait(ctx) }

// Refresh makes the next pass ask podman whatever it plans: a pass a
// person asked for (SIGHUP) sees an image that changed under a running
// container at once, not at the next periodic refresh.
func (r *Reconciler) Refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.podSeen = time.Time{}
}

// OwnChange reports whether the unit file name is as ynhd last left it
// (written with that content, or removed): a change the daemon's watch
// reports for it is ynhd's own and needs no pass.
func (r *Reconciler) OwnChange(name string) bool {
	want, ok := r.written.Load(name)
	if !ok {
		return false
	}
	b, err := os.ReadFile(filepath.Join(r.f.Dir(), name))
	if errors.Is(err, fs.ErrNotExist) {
		return want.(string) == ""
	}
	return err == nil && want.(string) == UnitHash(b)
}

// Observed is when a pass last observed the manager: the daemon's
// watchdog is fed only while this advances.
func (r *Reconciler) Observed() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.observed
}

// Desired loads every declaration in the directory and renders the valid
// ones. A missing directory means no apps.
func (r *Reconciler) Desired() []Desired {
	ds, _ := r.load()
	return ds
}

// load reads the declarations. When the directory cannot be listed it
// returns the last set it could read (nil before the first) and the error:
// a directory that is unreadable or gone for a moment is not the deletion
// of every app.
func (r *Reconciler) load() ([]Desired, error) {
	files, err := decl.DeclarationFiles(r.cfg.DeclDir)
	if err != nil {
		return r.last, err
	}
	// Nothing changed on disk: the last parse stands (a build's context
	// is hashed again: its files are not declarations).
	keys := dirKeys(files)
	// The variables file is part of what the declarations say.
	keys[decl.VarsFile] = varsKey(filepath.Join(r.cfg.DeclDir, decl.VarsFile))
	if r.last != nil && sameKeys(keys, r.lastKeys) {
		return r.rehashContexts(r.last), nil
	}
	r.lastKeys = keys
	var out []Desired
	// Only files whose content changed are decoded, validated and
	// rendered again.
	renders := make(map[*decl.App][]byte, len(files))
	for _, l := range decl.LoadFilesCached(files, r.cfg.Host, r.cfg.Home, &r.files) {
		d := Desired{App: l.Name, Unit: l.Name + ".service", Source: l.File}
		if !l.OK() {
			d.Problem = joinDiagnostics(l.Diagnostics.Errors())
			out = append(out, d)
			continue
		}
		app := l.Parsed.App
		b, ok := r.renders[app]
		var err error
		if !ok {
			b, err = units.RenderBytes(app, units.Options{Mode: r.cfg.Mode, Podman: r.cfg.Podman})
		}
		if err == nil {
			renders[app] = b
		}
		if err != nil {
			d.Problem = err.Error()
		} else {
			d.Content, d.Enabled, d.Restart, d.Decl = b, app.IsEnabled(), app.Restart, app
			if app.Persistent {
				d.Keep = &Keep{Config: podman.ConfigHash(app, KeepRunOptions), Base: app.ImageRef()}
			}
			if route, _ := app.SystemRoute(); r.cfg.Mode == units.System && route == decl.RouteStatic {
				d.User = units.SystemUserName(app.Name)
			}
		}
		if err == nil && app.Build != nil && r.p != nil {
			if d.ContextHash, err = podman.ContextHash(app.Build); err != nil {
				d.Problem, d.Content, d.Decl = err.Error(), nil, nil
			}
		}
		if err == nil && len(app.Secrets) > 0 {
			if d.Secrets, err = hashSecrets(app); err != nil {
				d.Problem, d.Content, d.Decl = err.Error(), nil, nil
				r.lastKeys = nil // read it again next time: the source may appear
			}
		}
		out = append(out, d)
	}
	r.last, r.renders = out, renders
	return out, nil
}

// hashSecrets reads the value of every secret ynhd makes for app and
// returns their hashes by podman secret name; the values are dropped.
func hashSecrets(app *decl.App) (map[string]string, error) {
	out := map[string]string{}
	for _, s := range app.Secrets {
		if !s.Managed() {
			continue
		}
		data, err := podman.ReadSecret(s, nil)
		if err != nil {
			return nil, err
		}
		out[s.PodmanName(app.Name)] = podman.SecretHash(data)
	}
	return out, nil
}

// rehashContexts returns ds with the context hash of every build
// recomputed.
func (r *Reconciler) rehashContexts(ds []Desired) []Desired {
	if r.p == nil {
		return ds
	}
	var out []Desired
	for i, d := range ds {
		if d.Decl != nil && len(d.Decl.Secrets) > 0 {
			hs, err := hashSecrets(d.Decl)
			if err != nil || !maps.Equal(hs, d.Secrets) {
				if out == nil {
					out = append([]Desired(nil), ds...)
				}
				if err != nil {
					out[i].Problem, out[i].Content, out[i].Decl = err.Error(), nil, nil
					r.lastKeys = nil // read everything again next time
					continue
				}
				out[i].Secrets = hs
			}
		}
		if d.Decl == nil || d.Decl.Build == nil {
			continue
		}
		h, err := podman.ContextHash(d.Decl.Build)
		if err == nil && h == d.ContextHash {
			continue
		}
		if out == nil {
			out = append([]Desired(nil), ds...)
		}
		if err != nil {
			out[i].Problem, out[i].Content, out[i].Decl = err.Error(), nil, nil
			r.lastKeys = nil // read everything again next time
		} else {
			out[i].ContextHash = h
		}
	}
	if out == nil {
		return ds
	}
	if r.lastKeys != nil {
		r.last = out
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
	p, _, _, err := r.plan(ctx, false)
	return p, err
}

// podObserveTimeout bounds the podman calls of one observation; a podman
// that does not answer in time is not asked again for podRetryAfter, and
// apps are planned without it meanwhile (their units pull and create what
// they need themselves).
const (
	podObserveTimeout = 10 * time.Second
	podRetryAfter     = 30 * time.Second
	// podErrorRetryAfter is the wait after podman answered with an error.
	podErrorRetryAfter = 3 * time.Second
	// podProblemRefresh is how old podman's answer may be when a problem
	// comes from it (an image it lacked, a container's labels): a person
	// fixing it (podman load, ynhd recreate) is seen this soon.
	podProblemRefresh = 15 * time.Second
)

// plan observes and plans. acting is set for a pass, which may also
// tidy the record of owed restarts; a plan or status only reads it.
func (r *Reconciler) plan(ctx context.Context, acting bool) (*Plan, []Desired, *World, error) {
	desired, dirErr := r.load()
	r.noteDirError(dirErr)
	names := make([]string, len(desired), len(desired)+4)
	groups := map[string]bool{}
	for i, d := range desired {
		names[i] = d.Unit
		if d.Decl != nil && d.Decl.PartOf != "" && !groups[d.Decl.PartOf] {
			groups[d.Decl.PartOf] = true
			names = append(names, units.GroupUnit(d.Decl.PartOf))
		}
	}
	w, err := observe(ctx, r.m, r.f, r.cfg.DeclDir, names, r.markers)
	if err != nil {
		return nil, nil, nil, err
	}
	r.observed = r.now()
	if err := observeUsers(r.u, w, desired); err != nil {
		return nil, nil, nil, err
	}
	now := r.now()
	r.takeLate()
	r.takeBackground(now)
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
	stopped, err := r.intents.Stopped()
	if err != nil {
		r.log.Warn("reading which apps were stopped by hand; starting none that is not running", zap.Error(err))
		stopped = map[string]bool{}
		for _, d := range desired {
			stopped[d.App] = true
		}
	}
	owed := r.owed(desired, acting)
	preparing := map[string]string{}
	for app, pr := range r.bg.Running() {
		preparing[app] = pr.String()
	}
	in := Input{Desired: desired, World: w, Backoff: r.backoff, Now: now, Held: r.held,
		Stopped: stopped, Owed: owed, Retry: r.retry, Preparing: preparing, Incomplete: dirErr != nil,
		StorageByCLI: r.k != nil,
		Groups:       GroupTargets(desired, w, units.Options{Mode: r.cfg.Mode, Podman: r.cfg.Podman}, r.cfg.DeclDir)}
	for _, d := range desired {
		if d.Keep != nil {
			kept, kerr := r.intents.Kept()
			if kerr != nil {
				r.log.Warn("reading which containers ynhd created", zap.Error(kerr))
			}
			in.Kept = kept
			break
		}
	}
	if acting {
		in.Vanishing = r.vanishing(desired, w, now)
	}
	var p *Plan
	if r.p != nil {
		// podman is asked only when the plan may need it: a pass with
		// nothing to do (the usual timer pass) starts no podman service.
		// What it said last is kept for the status.
		if acting && !r.needPodman(in) {
			w.Podman, w.Containers, w.Images, w.Secrets = r.podCache.Podman, r.podCache.Containers, r.podCache.Images, r.podCache.Secrets
		} else {
			r.observePodman(ctx, w, desired)
		}
	}
	p = MakePlan(in)
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
	for app := range r.retry {
		if app != "" && !declared[app] {
			delete(r.retry, app)
		}
	}
	for _, pr := range p.Problems {
		if pr.Held {
			r.held[pr.App] = true
		}
	}
	return p, desired, w, nil
}

// deleteGrace is how long a declaration must stay gone before its app is
// removed.
const deleteGrace = 2 * time.Second

// vanishing returns the apps whose unit is ynhd's but whose declaration
// has been gone for less than deleteGrace, and remembers when each was
// first seen gone. One declaration removed alone is a person's act and is
// not held back (a delete should cost what a stop costs); several gone at
// once may be the whole directory on its way out (rm -rf removes the
// files first, and a pass can fall in between), so they wait.
func (r *Reconciler) vanishing(desired []Desired, w *World, now time.Time) map[string]bool {
	declared := map[string]bool{}
	for _, d := range desired {
		declared[d.App] = true
	}
	out := map[string]bool{}
	seen := map[string]bool{}
	for name, o := range w.Units {
		app := unitApp(name)
		if _, group := units.GroupName(name); !o.Ours || declared[app] || group {
			continue // a group's target goes with its last member (planGroupGone)
		}
		seen[app] = true
		since, ok := r.gone[app]
		if !ok {
			since = now
			r.gone[app] = now
		}
		if now.Sub(since) < deleteGrace {
			out[app] = true
		}
	}
	for app := range r.gone {
		if !seen[app] {
			delete(r.gone, app)
		}
	}
	if len(out) == 1 && len(r.gone) == 1 {
		for app := range out {
			delete(r.gone, app) // alone: removed now
		}
		return nil
	}
	return out
}

// noteDirError logs a declarations directory that cannot be read when
// that starts and when it ends.
func (r *Reconciler) noteDirError(err error) {
	switch {
	case err != nil && err.Error() != r.dirErr:
		r.dirErr = err.Error()
		r.log.Error("cannot read the declarations directory; every app keeps running as it is until it can be read",
			zap.String("dir", r.cfg.DeclDir), zap.Error(err))
	case err == nil && r.dirErr != "":
		r.dirErr = ""
		r.log.Info("declarations directory readable again", zap.String("dir", r.cfg.DeclDir))
	}
}

// podRefresh is how often a pass asks podman even when nothing seems to
// need it, to notice an image that changed under a running container.
const podRefresh = 10 * time.Minute

// needPodman reports whether a pass must ask podman: what podman said
// last is missing or old, an app waits for a dependency's health, a
// build's context no longer matches its image, or the plan made with
// what podman said last has a step that asks podman (a pull, build,
// volume or network) or starts an app again after a failure (the image
// may be what failed). A drop or an edit whose image is known is applied
// without a podman call, so it does not pay for a podman service that
// has exited for being idle.
func (r *Reconciler) needPodman(in Input) bool {
	if r.podCache.Images == nil || r.podSeen.IsZero() || r.now().Sub(r.podSeen) > podRefresh || len(r.held) > 0 || r.waiting {
		return true
	}
	for _, d := range in.Desired {
		if d.Decl == nil || d.Decl.Build == nil {
			continue
		}
		img, ok := r.podCache.Images[podman.NormalizeRef(d.Decl.ImageRef())]
		if !ok || img.Labels[podman.LabelContextHash] != d.ContextHash {
			return true
		}
	}
	w := *in.World
	w.Podman, w.Containers, w.Images, w.Secrets = r.podCache.Podman, r.podCache.Containers, r.podCache.Images, r.podCache.Secrets
	in.World = &w
	p := MakePlan(in)
	if p.Waiting {
		return true
	}
	for _, pr := range p.Problems {
		if pr.FromPodman && r.now().Sub(r.podSeen) > podProblemRefresh {
			return true
		}
	}
	for _, a := range p.Actions {
		switch a.Op {
		case OpPull, OpBuild, OpVolume, OpNetwork, OpSecret, OpUser, OpCreate, OpRecreate:
			return true
		case OpStart, OpRestart:
			if strings.HasPrefix(a.Reason, "failed") || a.Reason == "image changed" || a.Reason == "secret changed" {
				return true
			}
		}
	}
	return false
}

// observePodman adds podman's view to w unless podman recently failed to
// answer in time.
func (r *Reconciler) observePodman(ctx context.Context, w *World, desired []Desired) {
	if r.p == nil || r.now().Before(r.podDown) {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, podObserveTimeout)
	defer cancel()
	err := observePodman(pctx, r.p, w, desired)
	if err == nil {
		r.podCache, r.podSeen = World{Podman: true, Containers: w.Containers, Images: w.Images, Secrets: w.Secrets}, r.now()
	}
	switch {
	case err != nil:
		w.Podman = false
		// A podman that did not answer in time is left alone a while; one
		// that answered with an error (an image removed while it listed
		// them) is asked again soon.
		wait := podRetryAfter
		if !errors.Is(err, context.DeadlineExceeded) {
			wait = podErrorRetryAfter
		}
		r.podDown = r.now().Add(wait)
		if err.Error() != r.podErr {
			r.podErr = err.Error()
			r.log.Warn("podman API unavailable; apps are applied without it (their units pull and create what they need) and it is asked again later",
				zap.Error(err), zap.Duration("retry_in", wait))
		}
	case r.podErr != "":
		r.podErr = ""
		r.log.Info("podman API available again")
	}
}

// owed reads the record of owed starts and restarts and drops entries
// that no longer apply (the app is gone, or its unit changed since).
func (r *Reconciler) owed(desired []Desired, tidy bool) map[string]string {
	owed, err := r.intents.Owed()
	if err != nil {
		r.log.Warn("reading owed restarts", zap.Error(err))
		return map[string]string{}
	}
	keep := map[string]string{}
	for _, d := range desired {
		if h, ok := owed[d.App]; ok && (d.Content == nil || h == UnitHash(d.Content)) {
			keep[d.App] = h
		}
	}
	if tidy && !sameOwed(keep, owed) {
		if err := r.intents.SetOwed(keep); err != nil {
			r.log.Warn("recording owed restarts", zap.Error(err))
		}
	}
	return keep
}

// takeBackground turns ended pulls and builds into retries (failures) or
// forgets their retry (success).
func (r *Reconciler) takeBackground(now time.Time) {
	for app, err := range r.bg.takeEnded() {
		// What podman holds changed (an image, a container): ask again.
		r.podSeen = time.Time{}
		if err == nil {
			delete(r.retry, app)
			continue
		}
		var pe *PrepError
		op := OpPull
		if errors.As(err, &pe) {
			op = pe.Op
		}
		r.noteRetry(app, op, err, now)
	}
}

// noteRetry records a failed step and when to try it again.
func (r *Reconciler) noteRetry(app string, op Op, err error, now time.Time) {
	rt := r.retry[app]
	if rt == nil {
		rt = &Retry{}
		r.retry[app] = rt
	}
	rt.Op, rt.Err = op, err.Error()
	rt.Failures++
	d := retryDelay(op, rt.Failures)
	rt.Next = now.Add(d)
	r.log.Error("step failed; retrying with backoff", zap.String("app", app), zap.String("step", op.String()),
		zap.Error(err), zap.Int("failures", rt.Failures), zap.Duration("next_in", d))
}

// takeLate applies the results of jobs that came after their pass.
func (r *Reconciler) takeLate() {
	r.lateMu.Lock()
	late := r.late
	r.late = map[string]string{}
	r.lateMu.Unlock()
	if len(late) == 0 {
		return
	}
	owed, _ := r.intents.Owed()
	changed := false
	for app, res := range late {
		if res == resultLost {
			continue // unknown: what is owed stays owed, and is done again
		}
		if _, ok := owed[app]; ok {
			delete(owed, app)
			changed = true
		}
		if res != "done" {
			r.failed[app] = fmt.Sprintf("%s.service: job %s", app, res)
		}
	}
	if changed {
		if err := r.intents.SetOwed(owed); err != nil {
			r.log.Warn("recording owed restarts", zap.Error(err))
		}
	}
}

// resultLost is a late job's result when none came within jobTimeout
// (its connection was lost): whether it ran is unknown.
const resultLost = "lost"

// lateJob waits in the background for a job's result that did not come
// within the pass.
func (r *Reconciler) lateJob(act Action, ch <-chan string) {
	go func() {
		res := resultLost
		select {
		case res = <-ch:
		case <-time.After(jobTimeout):
		}
		r.lateMu.Lock()
		r.late[act.App] = res
		r.lateMu.Unlock()
		r.log.Info(act.Op.String()+" job ended", zap.String("app", act.App), zap.String("result", res))
		if r.wake != nil {
			r.wake()
		}
	}()
}

// Pass runs one Observe -> Plan -> Apply pass and returns the status after
// it. The error joins the failures of individual apps; the others were
// still applied.
func (r *Reconciler) Pass(ctx context.Context) (Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start, cpu0, dbus0, pod0 := time.Now(), cpuTime(), r.calls.dbus.Load(), r.calls.podman.Load()
	p, desired, w, err := r.plan(ctx, true)
	if err != nil {
		return r.status, err
	}
	r.logProblems(desired, p)
	var applyErr error
	if !p.Empty() {
		owed := r.commit(p, desired)
		env := Env{Manager: r.m, Files: r.f, Podman: r.p, Users: r.u, Late: r.lateJob, Keep: r.keepFunc(), CLI: r.k, APIDown: r.p != nil && !w.Podman,
			Background: func(act Action) bool { r.bg.start(r.p, act); return true }}
		if r.cfg.Mode == units.System {
			env.Journal = "journalctl -u"
		}
		var res Applied
		res, applyErr = Apply(ctx, env, r.log, p)
		r.afterApply(p, res, owed)
		// Re-observe so the status shows the result, not the plan's input.
		if w2, err := observe(ctx, r.m, r.f, r.cfg.DeclDir, unitNames(desired), r.markers); err == nil {
			w2.Podman, w2.Containers, w2.Images = w.Podman, w.Containers, w.Images
			if r.p != nil && p.Has(OpStart, OpRestart, OpStop) {
				// The containers podman listed are not the ones running
				// now. Asked after the jobs, this costs no start any time,
				// and later passes need not ask.
				r.observePodman(ctx, w2, desired)
			}
			w = w2
		}
	}
	r.status = r.makeStatus(desired, w, p)
	r.publish(r.status)
	r.status.LastPass = PassStats{Apps: len(desired), Actions: len(p.Actions), Wall: time.Since(start), CPU: cpuTime() - cpu0,
		DBusCalls: r.calls.dbus.Load() - dbus0, PodmanCalls: r.calls.podman.Load() - pod0}
	return r.status, applyErr
}

// commit records, before anything is written, the starts and restarts
// the plan owes, so a daemon killed half-way finishes them when it comes
// back; and forgets a person's stop of apps whose declaration was edited.
func (r *Reconciler) commit(p *Plan, desired []Desired) map[string]string {
	owed, err := r.intents.Owed()
	if err != nil {
		owed = map[string]string{}
	}
	content := map[string][]byte{}
	for _, d := range desired {
		content[d.App] = d.Content
	}
	before := copyMap(owed)
	for _, a := range p.Actions {
		if (a.Op == OpStart || a.Op == OpRestart) && content[a.App] != nil {
			owed[a.App] = UnitHash(content[a.App])
		}
	}
	if !sameOwed(before, owed) {
		if err := r.intents.SetOwed(owed); err != nil {
			r.log.Warn("recording owed restarts; a daemon killed now may leave an app on its old unit until the next edit", zap.Error(err))
		}
	}
	return owed
}

func unitNames(ds []Desired) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Unit
	}
	return out
}

// logProblems logs an invalid declaration, or a plan's problem with an
// app (its unit name is taken), when it first appears or changes, and
// when it is fixed.
func (r *Reconciler) logProblems(desired []Desired, p *Plan) {
	seen := make(map[string]bool, len(desired))
	current := make(map[string]string, len(desired))
	for _, d := range desired {
		current[d.App] = d.Problem
	}
	for _, pr := range p.Problems {
		if pr.App != "" && !pr.Held && !pr.Waiting && current[pr.App] == "" {
			current[pr.App] = pr.Message
		}
	}
	for _, d := range desired {
		seen[d.App] = true
		prev, had := r.problems[d.App]
		problem := current[d.App]
		switch {
		case problem != "" && problem != prev:
			r.problems[d.App] = problem
			msg := "invalid declaration; the app keeps its last good version"
			if d.Problem == "" {
				msg = "cannot apply the declaration"
			}
			for _, line := range strings.Split(problem, "\n") {
				r.log.Error(msg, zap.String("app", d.App), zap.String("problem", line))
			}
		case problem == "" && had:
			delete(r.problems, d.App)
			r.log.Info("declaration can be applied again", zap.String("app", d.App))
		}
	}
	for app := range r.problems {
		if !seen[app] {
			delete(r.problems, app)
		}
	}
}

// afterApply updates backoff, retries, owed restarts, a person's stops and
// error memory from what was done.
func (r *Reconciler) afterApply(p *Plan, res Applied, owed map[string]string) {
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
	inFlight := map[string]bool{}
	for _, a := range res.InFlight {
		inFlight[a.App] = true
	}
	failedOp := map[string]Op{}
	for _, a := range p.Actions {
		if _, ok := res.Failed[a.App]; ok {
			if _, seen := failedOp[a.App]; !seen {
				failedOp[a.App] = a.Op
			}
		}
	}
	for app, err := range res.Failed {
		var pe *PrepError
		var je *JobError
		op := failedOp[app]
		switch {
		case app == "":
			op = OpReload // owed restarts bring the reload back; the retry makes it soon
		case errors.As(err, &je):
			continue // the unit's own failure: systemd's state and the crash backoff
		case errors.As(err, &pe):
			op = pe.Op
		}
		r.noteRetry(app, op, err, now)
	}
	for app, w := range res.Warnings {
		if r.warnings[app] != w {
			r.log.Warn(w, zap.String("app", app))
		}
		r.warnings[app] = w
	}
	changedOwed := false
	for _, a := range res.Done {
		switch a.Op {
		case OpReload:
			delete(r.retry, "")
		case OpWrite:
			r.written.Store(a.Unit, UnitHash(a.Content))
		case OpRemove:
			r.written.Store(a.Unit, "")
		}
		if a.Op == OpStart || a.Op == OpRestart || a.Op == OpStop {
			delete(r.held, a.App)
		}
		if a.Op == OpRestart || a.Op == OpRemove || (a.Op == OpStart && a.Reason == "new") {
			delete(r.backoff, a.App)
		}
		if a.Op == OpWrite && (a.Reason == "changed" || a.Reason == "new") {
			if err := r.intents.SetStopped(a.App, false); err != nil {
				r.log.Warn("forgetting a stop after an edit", zap.String("app", a.App), zap.Error(err))
			}
		}
		if (a.Op == OpStart || a.Op == OpRestart || a.Op == OpRemove) && !inFlight[a.App] {
			if _, ok := owed[a.App]; ok {
				delete(owed, a.App)
				changedOwed = true
			}
		}
		if _, failed := res.Failed[a.App]; !failed && !res.Deferred[a.App] {
			delete(r.failed, a.App)
			delete(r.retry, a.App) // the app went through a pass: what failed before works
		}
	}
	for app, err := range res.Failed {
		if app == "" {
			continue
		}
		r.failed[app] = err.Error()
		// A job that ran and failed settled what was owed.
		var je *JobError
		if errors.As(err, &je) {
			if _, ok := owed[app]; ok {
				delete(owed, app)
				changedOwed = true
			}
		}
	}
	if changedOwed {
		if err := r.intents.SetOwed(owed); err != nil {
			r.log.Warn("recording owed restarts", zap.Error(err))
		}
	}
}

// healthPoll is how soon a pass follows one that held an app back until a
// dependency is healthy: podman reports health changes to no one.
const healthPoll = 2 * time.Second

// NextWake is when the next pass is due besides the timer: a pending
// backoff restart or retry, or a start waiting for a dependency's health
// (zero if none).
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
	for _, rt := range r.retry {
		if t.IsZero() || rt.Next.Before(t) {
			t = rt.Next
		}
	}
	for _, since := range r.gone {
		if due := since.Add(deleteGrace); t.IsZero() || due.Before(t) {
			t = due
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
	seen := r.seen.Load()
	if seen == nil {
		return map[string]bool{}
	}
	out := make(map[string]bool, len(*seen))
	for u := range *seen {
		out[u] = true
	}
	return out
}

// UnitState is a unit's state as the last pass saw it.
type UnitState struct{ Active, Sub string }

// Seen returns the declared units and their states as the last pass saw
// them. It never waits for a pass.
func (r *Reconciler) Seen() map[string]UnitState {
	if seen := r.seen.Load(); seen != nil {
		return *seen
	}
	return nil
}

func (r *Reconciler) publish(st Status) {
	seen := make(map[string]UnitState, len(st.Apps))
	for _, a := range st.Apps {
		seen[a.Unit] = UnitState{a.ActiveState, a.SubState}
	}
	for _, g := range st.Groups {
		seen[g.Unit] = UnitState{g.ActiveState, g.SubState}
	}
	r.seen.Store(&seen)
}

func (r *Reconciler) makeStatus(desired []Desired, w *World, p *Plan) Status {
	s := Status{SchemaVersion: StatusSchemaVersion, Time: r.now(), Pid: os.Getpid()}
	if r.dirErr != "" {
		s.Problems = append(s.Problems, "cannot read "+r.cfg.DeclDir+": "+r.dirErr+"; every app keeps running as it is")
	}
	if r.podErr != "" {
		s.Problems = append(s.Problems, "podman API unavailable: "+r.podErr)
	}
	stopped, _ := r.intents.Stopped()
	running := r.bg.Running()
	s.Apps = make([]AppStatus, 0, len(desired))
	for _, d := range desired {
		a := AppStatus{App: d.App, Unit: d.Unit, Source: d.Source, Declaration: "ok", Enabled: d.Enabled, StoppedByUser: stopped[d.App]}
		if d.Decl != nil {
			a.Group = d.Decl.PartOf
		}
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
		if rt := r.retry[d.App]; rt != nil {
			a.PodmanError, a.NextRetry = rt.Err, rt.Next
			a.LastError = ""
		}
		if pr, ok := running[d.App]; ok {
			a.Preparing = &pr
		}
		if c, ok := w.Containers[d.App]; ok {
			a.ContainerID, a.ContainerState, a.Image, a.ImageID, a.Health = c.ID, c.State, c.Image, c.ImageID, c.Health
			a.Ports, a.Since = c.Ports, c.StartedAt
		} else if d.Decl != nil {
			a.Image = d.Decl.ImageRef()
		}
		a.Condition = a.condition()
		s.Apps = append(s.Apps, a)
	}
	s.Groups = groupStatus(s.Apps, w)
	byApp := make(map[string]int, len(s.Apps))
	for i, a := range s.Apps {
		byApp[a.App] = i
	}
	for _, pr := range p.Problems {
		i, ok := byApp[pr.App]
		switch {
		case !ok:
			s.Problems = append(s.Problems, pr.Message)
		case !pr.Held && !pr.Waiting && s.Apps[i].Problem == "":
			s.Apps[i].Problem = pr.Message
			s.Apps[i].Condition = s.Apps[i].condition()
		}
	}
	return s
}

// StatusSchemaVersion is the version of the status JSON (the daemon's
// status file and `ynhd status --json`); it changes when a key changes
// meaning or goes away.
const StatusSchemaVersion = 1

// AppStatus is one app's state as ynhd sees it.
type AppStatus struct {
	App         string `json:"app"`
	Unit        string `json:"unit"`
	Source      string `json:"source"`
	Declaration string `json:"declaration"` // ok or invalid
	Problem     string `json:"problem,omitempty"`
	// Condition sums the state up in one word (see Condition).
	Condition string `json:"condition"`
	Enabled   bool   `json:"enabled"`
	// Group is the group the app is part of (part_of), if any.
	Group string `json:"group,omitempty"`
	// StoppedByUser is set after `ynhd stop`: the app stays stopped until
	// `ynhd start` or an edit.
	StoppedByUser bool `json:"stopped_by_user"`
	// ActiveState and SubState are systemd's (or "absent": no unit file).
	ActiveState  string    `json:"active_state"`
	SubState     string    `json:"sub_state"`
	Restarts     int       `json:"restarts"` // restarts by ynhd's crash backoff
	CrashLooping bool      `json:"crash_looping"`
	NextRetry    time.Time `json:"next_retry,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	// Preparing is the pull or build running for the app.
	Preparing *Preparation `json:"preparing,omitempty"`
	// From podman, when its API is available.
	ContainerID    string    `json:"container_id,omitempty"`
	ContainerState string    `json:"container_state,omitempty"`
	Image          string    `json:"image,omitempty"`
	ImageID        string    `json:"image_id,omitempty"`
	Health         string    `json:"health,omitempty"`
	Ports          []string  `json:"ports,omitempty"`
	Since          time.Time `json:"since,omitzero"`
	// PodmanError is why a step for the app failed (a pull, a build, a
	// volume, a unit write); it is retried at NextRetry.
	PodmanError string `json:"podman_error,omitempty"`
	// Warning is a problem that does not stop the app.
	Warning string `json:"warning,omitempty"`
}

// Status is every app's state after a pass.
type Status struct {
	SchemaVersion int       `json:"schema_version"`
	Time          time.Time `json:"time"`
	// Pid is the daemon's process id, so a reader can tell a status left
	// by a daemon that is gone.
	Pid  int         `json:"pid,omitempty"`
	Apps []AppStatus `json:"apps"`
	// Groups are the groups of apps (part_of) and their targets.
	Groups []GroupStatus `json:"groups,omitempty"`
	// Problems are not about one app (the directory cannot be read,
	// podman does not answer).
	Problems []string `json:"problems,omitempty"`
	// LastPass is what the pass that produced this status cost.
	LastPass PassStats `json:"last_pass"`
}

// Conditions, in the order Summary counts them.
var conditions = []string{"running", "starting", "pulling", "building", "stopped", "disabled", "failing", "invalid"}

// Summary is a one-line account such as "5 apps: 4 running, 1 failing".
func (s Status) Summary() string {
	counts := map[string]int{}
	for _, a := range s.Apps {
		c := a.Condition
		if c == "" {
			c = a.condition()
		}
		counts[c]++
	}
	var parts []string
	for _, k := range conditions {
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

// Failing reports whether any app is failing or invalid.
func (s Status) Failing() bool {
	for _, a := range s.Apps {
		if c := a.condition(); c == "failing" || c == "invalid" {
			return true
		}
	}
	return false
}

// ConditionOf sums an app's state up in one word (see AppStatus.Condition).
func ConditionOf(a AppStatus) string { return a.condition() }

// condition sums an app's state up in one word: running, starting,
// pulling, building, stopped, disabled, failing or invalid.
func (a AppStatus) condition() string {
	switch {
	case a.Declaration == "invalid":
		return "invalid"
	case a.Problem != "":
		return "failing" // the declaration cannot be applied (its unit name is taken)
	case a.Preparing != nil && a.ActiveState != "active":
		return a.Preparing.Kind
	case a.CrashLooping || a.LastError != "" || a.PodmanError != "":
		return "failing"
	case a.ActiveState == "failed" && a.Enabled && !a.StoppedByUser:
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
	p, desired, w, err := r.plan(ctx, false)
	if err != nil {
		return Status{}, err
	}
	return r.makeStatus(desired, w, p), nil
}
