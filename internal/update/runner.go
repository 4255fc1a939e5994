package update

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/decl"
)

// Backoff after failed checks: 5 minutes, doubling, at most 6 hours, and
// never later than the next scheduled check.
const (
	firstBackoff = 5 * time.Minute
	maxBackoff   = 6 * time.Hour
	// busyRetry is how soon a check that found its app busy (a pull, a
	// build) is tried again.
	busyRetry = time.Minute
)

// Hold keeps the reconciler's passes away from apps during an update
// (reconcile.Reconciler.Hold).
type Hold func(kind, image string, apps ...string) (release func(), ok bool)

// Runner decides when checks are due and runs them, one at a time, in
// its own goroutine. Due and Ask are cheap: they make no podman or D-Bus
// call (Due reads an app's state file once, when it first sees the app
// or its schedule changed).
type Runner struct {
	U    *Updater
	Hold Hold
	Log  *zap.Logger

	mu      sync.Mutex
	next    map[string]due
	queue   []job
	queued  map[string]bool
	later   []later // jobs that found their app busy
	running bool
	wg      sync.WaitGroup
}

type due struct {
	at       time.Time
	schedule string
}

type later struct {
	job
	at time.Time
}

type job struct {
	app   *decl.App
	all   []*decl.App
	check bool
}

// Due queues the checks that are due at now among apps (the declared,
// valid apps) and the requests made by `ynhd update`, and starts the
// worker if it is idle. ctx bounds the checks it starts.
func (r *Runner) Due(ctx context.Context, now time.Time, apps []*decl.App, reqs []Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next == nil {
		r.next, r.queued = map[string]due{}, map[string]bool{}
	}
	byName := map[string]*decl.App{}
	for _, a := range apps {
		byName[a.Name] = a
	}
	for app := range r.next {
		if a := byName[app]; a == nil || a.UpdatePolicy() == "off" {
			delete(r.next, app)
		}
	}
	var wait []later
	for _, l := range r.later {
		switch a := byName[l.app.Name]; {
		case a == nil || a.UpdatePolicy() == "off":
		case now.Before(l.at):
			wait = append(wait, l)
		case !r.queued[a.Name]:
			r.enqueue(job{app: a, all: apps, check: l.check})
		}
	}
	r.later = wait
	for _, q := range reqs {
		if a := byName[q.App]; a != nil && !r.queued[a.Name] {
			r.enqueue(job{app: a, all: apps, check: q.Check})
		}
	}
	for _, a := range apps {
		if a.UpdatePolicy() == "off" || r.queued[a.Name] {
			continue
		}
		d, ok := r.next[a.Name]
		if !ok || d.schedule != a.Update.Schedule {
			d = r.plan(a, now)
			r.next[a.Name] = d
		}
		if !now.Before(d.at) {
			delete(r.next, a.Name) // planned again from the state the check leaves
			r.enqueue(job{app: a, all: apps})
		}
	}
	if len(r.queue) > 0 && !r.running {
		r.running = true
		r.wg.Add(1)
		go r.work(ctx)
	}
}

// NextDue returns when the earliest planned check is due (zero: none).
func (r *Runner) NextDue() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var t time.Time
	for _, d := range r.next {
		if t.IsZero() || d.at.Before(t) {
			t = d.at
		}
	}
	for _, l := range r.later {
		if t.IsZero() || l.at.Before(t) {
			t = l.at
		}
	}
	return t
}

// plan computes a's next check from its recorded state: the schedule's
// next time after the last check, plus the app's delay; sooner after a
// failure (backoff). A check missed while ynhd was not running is due at
// once.
func (r *Runner) plan(a *decl.App, now time.Time) due {
	sc, err := decl.ParseSchedule(a.Update.Schedule)
	if err != nil { // validated before; keep the daemon going anyway
		sc, _ = decl.ParseSchedule(decl.DefaultUpdateSchedule)
	}
	d := due{schedule: a.Update.Schedule}
	st, err := r.U.Store.Load(a.Name)
	if err != nil {
		r.Log.Warn("reading update state; checking as if never checked", zap.String("app", a.Name), zap.Error(err))
		st = &State{}
	}
	last := st.LastCheck
	if last.IsZero() {
		d.at = sc.Next(now).Add(a.UpdateDelay())
		return d
	}
	d.at = sc.Next(last.Add(-a.UpdateDelay())).Add(a.UpdateDelay())
	if st.Failures > 0 {
		b := firstBackoff << min(st.Failures-1, 10)
		if b > maxBackoff {
			b = maxBackoff
		}
		if retry := last.Add(b); retry.Before(d.at) {
			d.at = retry
		}
	}
	return d
}

func (r *Runner) enqueue(j job) {
	r.queue = append(r.queue, j)
	r.queued[j.app.Name] = true
}

func (r *Runner) work(ctx context.Context) {
	defer r.wg.Done()
	for {
		r.mu.Lock()
		if len(r.queue) == 0 || ctx.Err() != nil {
			r.running = false
			r.mu.Unlock()
			return
		}
		j := r.queue[0]
		r.queue = r.queue[1:]
		r.mu.Unlock()
		r.run(ctx, j)
		r.mu.Lock()
		delete(r.queued, j.app.Name)
		r.mu.Unlock()
	}
}

func (r *Runner) run(ctx context.Context, j job) {
	apps := []string{j.app.Name}
	for _, d := range dependents(j.app.Name, j.all) {
		apps = append(apps, d.Name)
	}
	kind := "updating"
	if j.check {
		kind = "checking for an update of"
	}
	release, ok := r.Hold(kind, j.app.ImageRef(), apps...)
	if !ok {
		r.mu.Lock()
		r.later = append(r.later, later{job: j, at: time.Now().Add(busyRetry)})
		r.mu.Unlock()
		r.Log.Info("update check postponed: the app or one that depends on it is busy", zap.String("app", j.app.Name))
		return
	}
	defer release()
	r.U.Check(ctx, j.app, j.all, j.check)
}

// Wait waits for the running check to end, or ctx.
func (r *Runner) Wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
