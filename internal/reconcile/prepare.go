package reconcile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
)

// Podman is the part of the podman API the reconciler uses;
// *podman.Client satisfies it. Containers and Images are one call each per
// pass; the others run only for apps the plan acts on.
type Podman interface {
	Containers(ctx context.Context, withHealth map[string]bool) (map[string]podman.Container, error)
	Images(ctx context.Context) (map[string]podman.Image, error)
	Pull(ctx context.Context, ref string) error
	Build(ctx context.Context, b podman.BuildSpec) (string, error)
	EnsureVolume(ctx context.Context, v decl.Volume) (podman.VolumeState, error)
	EnsureNetwork(ctx context.Context, name string) (bool, error)
	// Secrets lists podman secrets by name, with the hash label of those
	// ynhd made; EnsureSecret makes one hold data (see podman.Client).
	Secrets(ctx context.Context) (map[string]string, error)
	EnsureSecret(ctx context.Context, name string, data []byte, hash string) error
}

// observePodman adds what podman knows to w: ynhd's containers and the
// local images.
func observePodman(ctx context.Context, p Podman, w *World, desired []Desired) error {
	health := map[string]bool{}
	for _, d := range desired {
		if d.Decl != nil && d.Decl.Health != nil {
			health[d.App] = true
		}
	}
	cs, err := p.Containers(ctx, health)
	if err != nil {
		return err
	}
	imgs, err := p.Images(ctx)
	if err != nil {
		return err
	}
	w.Podman, w.Containers, w.Images = true, cs, imgs
	w.Secrets = nil
	for _, d := range desired {
		if d.Decl != nil && len(d.Decl.Secrets) > 0 {
			if w.Secrets, err = p.Secrets(ctx); err != nil {
				return err
			}
			break
		}
	}
	return nil
}

// planSecrets adds the podman secrets an app needs that are missing or
// hold an older value, and reports whether the app can start (every
// secret the user makes exists) and whether a running container must be
// replaced to see a new value.
func planSecrets(p *Plan, d Desired, w *World) (ok, replace bool) {
	if !w.Podman || d.Decl == nil {
		return true, false
	}
	ok = true
	for _, s := range d.Decl.Secrets {
		name := s.PodmanName(d.App)
		have, exists := w.Secrets[name]
		switch {
		case !s.Managed() && !exists:
			p.Problems = append(p.Problems, Problem{App: d.App, FromPodman: true, Message: fmt.Sprintf(
				"podman secret %s does not exist: create it (podman secret create %s FILE), or give the secret a file or env in %s", name, name, d.Source)})
			ok = false
		case s.Managed() && have != d.Secrets[name]:
			reason := "missing"
			if exists {
				reason, replace = "changed", true
			}
			p.add(Action{Op: OpSecret, App: d.App, Unit: d.Unit, Reason: name + " " + reason, Secret: s})
		}
	}
	return ok, replace
}

// planImage adds the pull or build an app needs before it can start, and
// reports whether the app can start at all, and whether its running
// container must be replaced because its image changed. An app with an
// update policy is not replaced: its update check moves it to the new
// image and rolls it back if it does not come up (package update).
func planImage(p *Plan, d Desired, w *World) (ok, replace bool) {
	ok, replace = planImageChange(p, d, w)
	if replace && d.Decl.UpdatePolicy() != "off" {
		replace = false
	}
	return ok, replace
}

func planImageChange(p *Plan, d Desired, w *World) (ok, replace bool) {
	if !w.Podman || d.Decl == nil {
		return true, false
	}
	ref := podman.NormalizeRef(d.Decl.ImageRef())
	img, have := w.Images[ref]
	switch {
	case d.Decl.Build != nil && (!have || img.Labels[podman.LabelContextHash] != d.ContextHash):
		reason := "build context changed"
		if !have {
			reason = "image missing"
		}
		p.add(Action{Op: OpBuild, App: d.App, Unit: d.Unit, Reason: reason, Image: ref, Build: d.Decl.Build, ContextHash: d.ContextHash})
		c, running := w.Containers[d.App]
		return true, running && c.State == "running"
	case have:
		c, running := w.Containers[d.App]
		return true, running && c.State == "running" && c.ImageID != "" && c.ImageID != img.ID
	case d.Decl.Pull == "never":
		p.Problems = append(p.Problems, Problem{App: d.App, FromPodman: true, Message: fmt.Sprintf(
			"image %s is not in local storage and pull = \"never\"; build or load it, or allow pulling", ref)})
		return false, false
	case isShortName(d.Decl.ImageRef()):
		return true, false // podman run resolves and pulls it
	default:
		p.add(Action{Op: OpPull, App: d.App, Unit: d.Unit, Reason: "image missing", Image: ref})
		return true, false
	}
}

func isShortName(ref string) bool {
	short, _ := decl.CheckImageRef(ref)
	return short
}

// planStorage adds the volumes and network an app needs, for apps the plan
// starts or restarts.
func planStorage(p *Plan, d Desired) {
	if d.Decl == nil {
		return
	}
	for _, v := range d.Decl.Volumes {
		p.add(Action{Op: OpVolume, App: d.App, Unit: d.Unit, Reason: v.Name, Volume: v})
	}
	if podman.NeedsNetwork(d.Decl) {
		p.add(Action{Op: OpNetwork, App: d.App, Unit: d.Unit, Reason: d.Decl.Network})
	}
}

// prepare carries out one pull, build, volume or network action; a
// build's output goes to out.
func (a *applier) prepare(ctx context.Context, act Action, out io.Writer) error {
	if act.Op == OpUser {
		if a.Users == nil {
			return errors.New("static system users can only be created in system mode")
		}
		ctx, cancel := context.WithTimeout(ctx, userTimeout)
		defer cancel()
		if ua, ok := a.Users.(interface {
			EnsureApp(ctx context.Context, user, app string) error
		}); ok { // records the app on the account (*sysuser.Users)
			return ua.EnsureApp(ctx, act.Reason, act.App)
		}
		return a.Users.Ensure(ctx, act.Reason)
	}
	if (a.Podman == nil || a.APIDown) && a.CLI != nil {
		switch act.Op {
		case OpVolume:
			if err := a.CLI.EnsureVolume(ctx, act.Volume); err != nil {
				return err
			}
			// An existing volume whose options differ is reported the
			// same whichever way podman was reached.
			if d, ok := a.CLI.(interface {
				VolumeDrift(context.Context, decl.Volume) (string, error)
			}); ok {
				if drift, err := d.VolumeDrift(ctx, act.Volume); err == nil && drift != "" {
					a.warn(act.App, drift)
				}
			}
			return nil
		case OpNetwork:
			return a.CLI.EnsureNetwork(ctx, act.Reason)
		}
	}
	if a.Podman == nil {
		return podman.ErrNoAPI
	}
	switch act.Op {
	case OpPull:
		return a.Podman.Pull(ctx, act.Image)
	case OpBuild:
		b := act.Build
		_, err := a.Podman.Build(ctx, podman.BuildSpec{
			Context: b.Context, File: b.File, Args: b.Args, Target: b.Target,
			Tag: b.Tag, Labels: map[string]string{podman.LabelContextHash: act.ContextHash}, Output: out,
		})
		return err
	case OpVolume:
		st, err := a.Podman.EnsureVolume(ctx, act.Volume)
		if err == nil && st.Drift != "" {
			a.warn(act.App, st.Drift)
		}
		return err
	case OpNetwork:
		_, err := a.Podman.EnsureNetwork(ctx, act.Reason)
		return err
	case OpSecret:
		data, err := podman.ReadSecret(act.Secret, nil)
		if err != nil {
			return err
		}
		return a.Podman.EnsureSecret(ctx, act.Secret.PodmanName(act.App), data, podman.SecretHash(data))
	case OpCreate, OpRecreate:
		if a.Keep == nil {
			return errors.New("persistent containers are kept only in user mode")
		}
		return a.Keep(ctx, act)
	}
	return nil
}

// userTimeout bounds the creation of a static user (useradd, usermod).
const userTimeout = 2 * time.Minute

// podCallTimeout bounds one podman API call other than a pull or build
// (which run in the background under prepTimeout).
const podCallTimeout = 30 * time.Second

// timedPodman gives every podman call a deadline, so a podman service that
// hangs holds back a pass for a bounded time only.
type timedPodman struct{ p Podman }

func timed(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= podCallTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, podCallTimeout)
}

func (t timedPodman) Containers(ctx context.Context, withHealth map[string]bool) (map[string]podman.Container, error) {
	ctx, cancel := timed(ctx)
	defer cancel()
	return t.p.Containers(ctx, withHealth)
}

func (t timedPodman) Images(ctx context.Context) (map[string]podman.Image, error) {
	ctx, cancel := timed(ctx)
	defer cancel()
	return t.p.Images(ctx)
}

func (t timedPodman) Pull(ctx context.Context, ref string) error { return t.p.Pull(ctx, ref) }

func (t timedPodman) Build(ctx context.Context, b podman.BuildSpec) (string, error) {
	return t.p.Build(ctx, b)
}

func (t timedPodman) EnsureVolume(ctx context.Context, v decl.Volume) (podman.VolumeState, error) {
	ctx, cancel := timed(ctx)
	defer cancel()
	return t.p.EnsureVolume(ctx, v)
}

func (t timedPodman) Secrets(ctx context.Context) (map[string]string, error) {
	ctx, cancel := timed(ctx)
	defer cancel()
	return t.p.Secrets(ctx)
}

func (t timedPodman) EnsureSecret(ctx context.Context, name string, data []byte, hash string) error {
	ctx, cancel := timed(ctx)
	defer cancel()
	return t.p.EnsureSecret(ctx, name, data, hash)
}

func (t timedPodman) EnsureNetwork(ctx context.Context, name string) (bool, error) {
	ctx, cancel := timed(ctx)
	defer cancel()
	return t.p.EnsureNetwork(ctx, name)
}
