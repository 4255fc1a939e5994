package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/podman"
)

// prepTimeout bounds one background pull or build.
const prepTimeout = 2 * time.Hour

// Preparation is a pull or build running in the background for an app.
type Preparation struct {
	Op    Op        `json:"-"`
	Kind  string    `json:"kind"` // pulling or building
	Image string    `json:"image"`
	Since time.Time `json:"since"`
	Step  string    `json:"step,omitempty"` // the last line of output (a build step)
}

func (p Preparation) String() string {
	s := fmt.Sprintf("%s %s (%s)", p.Kind, p.Image, time.Since(p.Since).Round(time.Second))
	if p.Step != "" {
		s += ": " + p.Step
	}
	return s
}

// background runs pulls and builds outside passes, one at a time per app,
// so that a slow image holds back only its own app. When one ends it
// records the outcome and calls wake, and the next pass starts the app
// (or schedules a retry).
type background struct {
	log  *zap.Logger
	wake func()
	// keep creates or recreates a persistent app's container.
	keep func(context.Context, Action) error

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	running map[string]*Preparation
	ended   map[string]error // app -> outcome not yet taken by a pass
	wg      sync.WaitGroup
}

func newBackground(log *zap.Logger) *background {
	ctx, cancel := context.WithCancel(context.Background())
	return &background{log: log, wake: func() {}, ctx: ctx, cancel: cancel,
		running: map[string]*Preparation{}, ended: map[string]error{}}
}

// start runs act's pull or build in the background unless one already
// runs for the app.
func (b *background) start(p Podman, act Action) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running[act.App] != nil {
		return
	}
	kind := "pulling"
	switch act.Op {
	case OpBuild:
		kind = "building"
	case OpCreate:
		kind = "creating its container from"
	case OpRecreate:
		kind = "snapshotting and recreating its container on"
	}
	prep := &Preparation{Op: act.Op, Kind: kind, Image: act.Image, Since: time.Now()}
	b.running[act.App] = prep
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		ctx, cancel := context.WithTimeout(b.ctx, prepTimeout)
		defer cancel()
		out := &stepWriter{b: b, prep: prep, log: b.log, app: act.App}
		var err error
		switch {
		case act.Op == OpCreate || act.Op == OpRecreate:
			if b.keep == nil {
				err = errors.New("persistent containers are kept only in user mode")
			} else {
				err = b.keep(ctx, act)
			}
		case act.Op == OpPull:
			err = p.Pull(podman.WithProgress(ctx, out), act.Image)
		default:
			bl := act.Build
			_, err = p.Build(ctx, podman.BuildSpec{
				Context: bl.Context, File: bl.File, Args: bl.Args, Target: bl.Target, Tag: bl.Tag,
				Labels: map[string]string{podman.LabelContextHash: act.ContextHash}, Output: out,
			})
		}
		b.mu.Lock()
		delete(b.running, act.App)
		if err != nil {
			err = &PrepError{Op: act.Op, Err: err}
		}
		b.ended[act.App] = err
		b.mu.Unlock()
		if err == nil {
			b.log.Info(act.Op.String()+" done", zap.String("app", act.App), zap.String("image", act.Image),
				zap.Duration("took", time.Since(prep.Since).Round(time.Millisecond)))
		}
		b.wake()
	}()
}

// Running returns what runs now, by app.
func (b *background) Running() map[string]Preparation {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]Preparation{}
	for app, p := range b.running {
		out[app] = *p
	}
	return out
}

// takeEnded returns and forgets the outcomes of jobs that ended.
func (b *background) takeEnded() map[string]error {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.ended
	b.ended = map[string]error{}
	return out
}

// busy reports whether a job runs.
func (b *background) busy() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.running) > 0
}

// wait waits for every running job, or ctx.
func (b *background) wait(ctx context.Context) {
	done := make(chan struct{})
	go func() { b.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// stop cancels every job.
func (b *background) stop() { b.cancel() }

// stepWriter logs a build's output line by line and keeps the last line
// as the job's step.
type stepWriter struct {
	b     *background
	prep  *Preparation
	log   *zap.Logger
	app   string
	part  []byte
	blobs int // layers a pull has started copying
}

func (w *stepWriter) Write(p []byte) (int, error) {
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			if len(w.part) > 64<<10 {
				w.part = w.part[:0] // a line too long to be a step
			}
			return len(p), nil
		}
		if line := strings.TrimSpace(string(w.part[:i])); line != "" {
			if step := w.step(line); step != "" {
				w.b.mu.Lock()
				w.prep.Step = truncate(step, 120)
				w.b.mu.Unlock()
			}
		}
		w.part = w.part[i+1:]
	}
}

// step returns what a line of build or pull output says about progress,
// or "". A build's steps are "STEP 3/7: ..." (or "[2/3] STEP ..." for a
// stage); a pull's are the layers it copies, counted, and its last stages.
func (w *stepWriter) step(line string) string {
	if w.prep.Op != OpPull {
		w.log.Info("build output", zap.String("app", w.app), zap.String("line", line))
		if strings.HasPrefix(line, "STEP ") || strings.HasPrefix(line, "[") {
			return line
		}
		return ""
	}
	switch {
	case strings.HasPrefix(line, "Copying blob "):
		w.blobs++
		return fmt.Sprintf("layer %d: %s", w.blobs, strings.TrimPrefix(line, "Copying blob "))
	case strings.HasPrefix(line, "Copying config"), strings.HasPrefix(line, "Writing manifest"),
		strings.HasPrefix(line, "Storing signatures"), strings.HasPrefix(line, "Trying to pull"):
		return line
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// hold marks apps busy with work done outside passes, as if a job ran
// for each, unless one of them is busy already.
func (b *background) hold(kind, image string, apps []string) (release func(), ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, app := range apps {
		if b.running[app] != nil {
			return nil, false
		}
	}
	now := time.Now()
	for _, app := range apps {
		b.running[app] = &Preparation{Kind: kind, Image: image, Since: now}
	}
	return func() {
		b.mu.Lock()
		for _, app := range apps {
			delete(b.running, app)
		}
		b.mu.Unlock()
		b.wake()
	}, true
}
