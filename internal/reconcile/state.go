// Package reconcile keeps the units in a unit directory and the manager's
// state in line with a directory of declarations. A pass is Observe -> Plan
// -> Apply: Observe reads the unit files and asks systemd for the units'
// states, Plan is a pure function of what is desired and what is observed,
// and Apply carries a plan out through small interfaces satisfied by
// go-systemd's *dbus.Conn and the filesystem.
//
// ynhd only changes, stops or removes units that carry its marker (see
// units.ReadMarker) and were rendered from a declaration in its directory.
package reconcile

import (
	"time"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
)

// Desired is what one declaration asks for.
type Desired struct {
	App    string
	Unit   string // NAME.service
	Source string // the declaration file
	// Content is the rendered unit. It is nil when the declaration is
	// invalid: the app then keeps whatever unit it had (its last good
	// declaration) and the plan leaves it alone.
	Content []byte
	Enabled bool
	// Restart is the declared restart policy; ynhd does not restart a
	// failed app whose policy is "no".
	Restart string
	// Decl is the valid declaration (nil when invalid), for the podman
	// side: image, build, volumes, network, health.
	Decl *decl.App
	// ContextHash is the hash of a build's context (see
	// podman.ContextHash).
	ContextHash string
	// Secrets are the hashes (podman.SecretHash) of the values of the
	// secrets ynhd makes for the app, by podman secret name.
	Secrets map[string]string
	// User is the static system user a system-mode app runs as (see
	// decl.RouteStatic), which must exist with subordinate ids before the
	// app starts; empty for every other app.
	User string
	// Problem is why the declaration cannot be applied (one line per
	// diagnostic), empty when it can.
	Problem string
	// Keep is what a persistent app's container must carry; nil for
	// other apps.
	Keep *Keep
}

// Keep is what a persistent app's container must be.
type Keep struct {
	Config string // podman.ConfigHash of the declaration
	Base   string // the declaration's image
}

// Observed is what is known about one unit.
type Observed struct {
	Unit string
	// File is the unit file's content in the unit directory, nil when
	// there is none.
	File []byte
	// Ours is true when File carries ynhd's marker for a declaration in
	// the declarations directory; Intact when its hash still matches.
	Ours, Intact bool
	Source       string // the marker's Source
	Enabled      bool   // linked into the install target's .wants
	// LoadState, ActiveState and SubState are systemd's; "" when the
	// manager does not know the unit.
	LoadState, ActiveState, SubState string
	// Foreign is true when the name is taken by a unit ynhd did not
	// write: the manager loads it from another file, it is masked, or a
	// file, link or drop-in of that name is on the manager's search path.
	// TakenBy says what.
	Foreign bool
	TakenBy string
	// Result is systemd's Result of a failed service, e.g. "exit-code" or
	// "start-limit-hit", and NRestarts its automatic restarts since it was
	// last started on purpose; read only for failed units.
	Result    string
	NRestarts uint32
}

// GaveUp reports whether systemd stopped restarting a failed unit: it
// restarted it until the start limit. A unit that failed without being
// restarted (say a stop that had to kill the container) was not crashing.
func (o *Observed) GaveUp() bool {
	return o.ActiveState == "failed" && (o.NRestarts >= gaveUpRestarts || o.Result == "start-limit-hit")
}

// gaveUpRestarts is how many automatic restarts systemd makes before its
// start limit (StartLimitBurst=3: the first start and two restarts).
const gaveUpRestarts = 2

// World is one observation: every unit that matters, by unit name, and
// what podman knows (when Podman is true).
type World struct {
	Units      map[string]*Observed
	Podman     bool
	Containers map[string]podman.Container // by app
	Images     map[string]podman.Image     // by every name
	// Secrets are podman's secrets by name, with the hash label of those
	// ynhd made ("" for the user's own); nil unless an app declares one.
	Secrets map[string]string
	// Users are the static system users (Desired.User) that exist with
	// their subordinate ids.
	Users map[string]bool
}

// Backoff is the restart history of one app that keeps failing.
type Backoff struct {
	// GaveUp is set when systemd stopped restarting the unit.
	GaveUp   bool
	Failures int       // restarts by ynhd since it last ran steadily
	Next     time.Time // no restart before this
	Last     time.Time // last restart by ynhd
}

// Crash-loop handling. systemd restarts a failing unit itself, at most
// StartLimitBurst times per StartLimitIntervalSec (3 per 60 s, see the
// renderer); past that it leaves the unit failed with "start-limit-hit".
// ynhd then restarts it after backoffBase, doubling up to backoffMax,
// without resetting systemd's start limit, so the two together never start
// an app more than a handful of times a minute. A unit whose policy
// restarts it is failed after restarts only once systemd gave up on it, so
// such an app is crash-looping; so is one ynhd restarted crashLoopAfter
// times. It is forgiven once it stays active for steadyAfter. A unit that
// failed on a stop (a container killed after its stop timeout) is left
// alone: that was a person, or ynhd, stopping it.
const (
	backoffBase    = 60 * time.Second
	backoffMax     = 5 * time.Minute
	crashLoopAfter = 2
	steadyAfter    = 2 * time.Minute
)

// delay is the wait before restart number n+1.
func delay(n int) time.Duration {
	d := backoffBase
	for i := 0; i < n && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}

// CrashLooping reports whether the app is considered crash-looping.
func (b *Backoff) CrashLooping() bool { return b != nil && (b.GaveUp || b.Failures >= crashLoopAfter) }

// Retry is the wait before an app's failed pull, build or apply step (a
// unit write, an enable, a job that could not be queued) is tried again.
// It is not a crash: nothing restarts the app because of it, and the app
// is not counted as crash-looping.
type Retry struct {
	Op       Op
	Err      string
	Failures int
	Next     time.Time
}

// Waits before a failed step is tried again: a pull or build (which
// involves a registry or a long build) from prepRetryBase, any other step
// (a write on a full disk, a D-Bus call during a manager re-exec) from
// applyRetryBase; they double up to retryMax and applyRetryMax.
const (
	prepRetryBase  = 30 * time.Second
	applyRetryBase = 2 * time.Second
	applyRetryMax  = 30 * time.Second
	retryMax       = 5 * time.Minute
)

func retryDelay(op Op, failures int) time.Duration {
	d, most := applyRetryBase, applyRetryMax
	if op == OpPull || op == OpBuild || op == OpVolume || op == OpNetwork || op == OpSecret || op == OpUser {
		d, most = prepRetryBase, retryMax
	}
	for i := 1; i < failures && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}
