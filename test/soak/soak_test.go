// Package soak runs ynhd for a long while in the real test environment
// under a steady stream of random changes: apps added, edited, deleted and
// broken (invalid declarations) at about 2 per second, with ynhd restarted
// every 2 minutes. It checks that a restart of ynhd restarts no app that
// had converged, prints ynhd's resident memory and open file descriptors
// over time, and at the end that everything converged with nothing leaked:
// no unit, container, cidfile or network left for an app that is not
// declared, and every volume's data intact.
//
// It is not part of `make test`; `make soak` runs it (as root):
//
//	YNHD_SOAK=1                 run at all
//	YNHD_SOAK_MINUTES=10        how long the changes go on
//	YNHD_SOAK_APPS=100          how many apps
package soak

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/test/faults/fenv"
)

const (
	// restartEvery is how often ynhd is restarted.
	restartEvery = 2 * time.Minute
	// sampleEvery is how often ynhd's memory and descriptors are printed.
	sampleEvery = 30 * time.Second
	// opEvery is the mean time between two changes.
	opEvery = 500 * time.Millisecond
	// network is the podman network every tenth app joins, so that
	// networks ynhd creates are covered.
	network = "soak-net"
)

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// decl is an app's declaration at REV: a busybox app with a volume and a
// marker (fenv.AppDecl); every tenth app joins the shared network.
func decl(app string, i int, rev string) string {
	src := fenv.AppDecl(app, rev)
	if i%10 == 0 {
		src = strings.Replace(src, `network = "none"`, fmt.Sprintf("network = %q", network), 1)
	}
	return src
}

// brokenDecl is an invalid declaration: ynhd must report it and keep the
// app running as last declared.
func brokenDecl(app, rev string) string {
	return fenv.AppDecl(app, rev) + "\n[[ports]]\nhost_port = \"not a number\"\ncontainer_port = 80\n"
}

// app is what the soak knows of one of its apps.
type app struct {
	i        int
	declared bool
	broken   bool // the declaration on disk is invalid
	rev      int  // the last valid REV
	touched  time.Time
}

type sample struct {
	at       time.Duration
	pid      string
	rss, fds int
	apps     int
}

func TestSoak(t *testing.T) {
	if os.Getenv("YNHD_SOAK") != "1" {
		t.Skip("the soak test runs for minutes; run it with `make soak` (YNHD_SOAK=1)")
	}
	minutes := envInt(t, "YNHD_SOAK_MINUTES", 10)
	n := envInt(t, "YNHD_SOAK_APPS", 100)
	f := fenv.Setup(t, "soak-", "the soak test")
	f.After = append(f.After, func() { f.ShErr("podman network rm -f " + network) })
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 1))
	t.Logf("%d apps, %d minutes, random seed %d", n, minutes, seed)

	apps := map[string]*app{}
	names := f.Names(n)
	all := map[string]string{}
	for i, a := range names {
		apps[a] = &app{i: i, declared: true}
		all[a] = decl(a, i, "0")
	}
	f.Sh(fenv.DeclareScript(all))
	sync := func() {
		// fenv's view: the apps declared with valid content and their REV.
		f.Decls, f.Revs = map[string]string{}, map[string]string{}
		for a, s := range apps {
			if s.declared {
				f.Decls[a], f.Revs[a] = decl(a, s.i, strconv.Itoa(s.rev)), strconv.Itoa(s.rev)
			}
		}
	}
	sync()
	f.Converged("all apps declared", 10*time.Minute)

	var samples []sample
	start := time.Now()
	takeSample := func() {
		out, _ := f.ShErr(`pid=$(systemctl --user show -p MainPID --value ynhd)
echo "$pid $(awk '/^VmRSS:/ { print $2 }' /proc/$pid/status) $(ls /proc/$pid/fd | wc -l)"`)
		var s sample
		fmt.Sscan(out, &s.pid, &s.rss, &s.fds)
		s.at = time.Since(start).Round(time.Second)
		for _, a := range apps {
			if a.declared {
				s.apps++
			}
		}
		samples = append(samples, s)
		t.Logf("%8v  pid %-7s  VmRSS %6d kB  fds %4d  apps %d", s.at, s.pid, s.rss, s.fds, s.apps)
	}
	takeSample()

	ops := map[string]int{}
	op := func() {
		a := names[rng.IntN(n)]
		s := apps[a]
		var kind, src string
		switch r := rng.IntN(100); {
		case !s.declared:
			kind, s.declared, s.broken = "add", true, false
			s.rev++
			src = decl(a, s.i, strconv.Itoa(s.rev))
		case r < 50:
			kind, s.broken = "edit", false
			s.rev++
			src = decl(a, s.i, strconv.Itoa(s.rev))
		case r < 70:
			kind, s.broken = "invalid", true
			src = brokenDecl(a, strconv.Itoa(s.rev+1000))
		default:
			kind, s.declared = "delete", false
		}
		s.touched = time.Now()
		ops[kind]++
		if kind == "delete" {
			f.Sh("rm ~/.config/ynhd/" + a + ".toml")
			return
		}
		f.Sh(fenv.DeclareScript(map[string]string{a: src}))
	}

	// restart restarts ynhd and checks that no app that had converged
	// before was restarted by it.
	restart := func() {
		sync()
		// Apps not changed in the last seconds; of these, the settled
		// ones run their declared REV: no pass has anything to do for
		// them, and a restart of ynhd must leave them alone.
		var steady []string
		for a, s := range apps {
			if s.declared && time.Since(s.touched) > 5*time.Second {
				steady = append(steady, a)
			}
		}
		before, err := f.Look(steady)
		if err != nil {
			t.Fatal(err)
		}
		var settled []string
		for _, a := range steady {
			if c := before.Ctrs[a]; c.State == "running" && c.Has("REV="+f.Revs[a]) {
				settled = append(settled, a)
			}
		}
		begin := time.Now()
		f.Sh(`systemctl --user restart ynhd`)
		took := time.Since(begin).Round(100 * time.Millisecond)
		time.Sleep(3 * time.Second)
		after, err := f.Look(settled)
		if err != nil {
			t.Fatal(err)
		}
		changed := 0
		for _, a := range settled {
			if after.Ctrs[a].ID != before.Ctrs[a].ID || after.Ctrs[a].State != "running" {
				changed++
				t.Errorf("restarting ynhd changed %s's container: %s %s, was %s", a, after.Ctrs[a].ID, after.Ctrs[a].State, before.Ctrs[a].ID)
			}
		}
		t.Logf("%8v  ynhd restarted in %v; %d of %d settled apps unchanged", time.Since(start).Round(time.Second), took, len(settled)-changed, len(settled))
	}

	end := start.Add(time.Duration(minutes) * time.Minute)
	nextSample, nextRestart := start.Add(sampleEvery), start.Add(restartEvery)
	for time.Now().Before(end) {
		op()
		time.Sleep(time.Duration(rng.Int64N(int64(2 * opEvery))))
		if time.Now().After(nextSample) {
			takeSample()
			nextSample = nextSample.Add(sampleEvery)
		}
		if time.Now().After(nextRestart) && time.Now().Before(end) {
			restart()
			nextRestart = time.Now().Add(restartEvery)
		}
	}
	t.Logf("changes: %v", ops)

	// Repair what is broken, then everything must converge.
	fix := map[string]string{}
	for a, s := range apps {
		if s.declared && s.broken {
			s.rev++
			s.broken = false
			fix[a] = decl(a, s.i, strconv.Itoa(s.rev))
		}
	}
	if len(fix) > 0 {
		f.Sh(fenv.DeclareScript(fix))
	}
	sync()
	f.Converged("at the end", 10*time.Minute)
	takeSample()

	leaks(t, f, apps)
	flat(t, samples)
}

// leaks checks what Converged does not: cidfiles of apps not running,
// networks ynhd made that no declaration names, and the volumes of apps
// deleted meanwhile, whose data must be intact too.
func leaks(t *testing.T, f *fenv.F, apps map[string]*app) {
	t.Helper()
	var names []string
	for a := range apps {
		names = append(names, a)
	}
	s, err := f.Look(names)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range fenv.SortedKeys(apps) {
		if f.Marks[a] != "" && s.Marks[a] != f.Marks[a] {
			t.Errorf("%s: volume marker %q, was %q: volume data lost", a, s.Marks[a], f.Marks[a])
		}
	}
	out := f.Sh(`cd "$XDG_RUNTIME_DIR" && for c in *.cid; do [ -e "$c" ] && echo "${c%.cid}"; done; true`)
	for _, c := range strings.Fields(out) {
		if st := s.Ctrs[c]; apps[c] != nil && (!apps[c].declared || st.State != "running") {
			t.Errorf("leaked cidfile %s.cid (app declared: %v, container %q)", c, apps[c].declared, st.State)
		}
	}
	named := false
	for _, a := range apps {
		named = named || (a.declared && a.i%10 == 0)
	}
	nets := f.Sh(`podman --cgroup-manager=cgroupfs network ls --filter label=io.ynhd.managed=true --format '{{.Name}}'`)
	for _, name := range strings.Fields(nets) {
		if !(name == network && named) {
			t.Errorf("leaked network %s: made by ynhd, named by no declaration", name)
		}
	}
	t.Logf("leak check: %d containers, %d cidfiles, networks made by ynhd: %q", len(s.Ctrs), len(strings.Fields(out)), nets)
}

// flat checks that ynhd's memory and descriptors do not grow over the run:
// the last sample against the largest of the first two minutes (the first
// ynhd process), with room for noise.
func flat(t *testing.T, samples []sample) {
	t.Helper()
	var base sample
	for _, s := range samples {
		if s.at > restartEvery {
			break
		}
		base.rss, base.fds = max(base.rss, s.rss), max(base.fds, s.fds)
	}
	last := samples[len(samples)-1]
	t.Logf("VmRSS first 2 min max %d kB, at the end %d kB; fds %d, at the end %d", base.rss, last.rss, base.fds, last.fds)
	if last.rss > 2*base.rss {
		t.Errorf("ynhd's resident memory grew from %d kB to %d kB", base.rss, last.rss)
	}
	if last.fds > base.fds+10 {
		t.Errorf("ynhd's open file descriptors grew from %d to %d", base.fds, last.fds)
	}
}
