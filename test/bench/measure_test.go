package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ynhd/ynhd/internal/reconcile"
	"github.com/ynhd/ynhd/internal/testenv"
)

func runSh(script string) (string, error) {
	out, err := exec.Command("sh", "-c", script).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

var image = testenv.BusyboxImage

// Every app and floor container runs without a network: the figures are
// about ynhd, systemd and podman, not slirp4netns.
const noNet = `network = "none"`

const (
	// settle is the pause after each measured step, so that what a step
	// leaves running (ynhd's pass after its units' state signals, which
	// are debounced 1 s; podman's cleanup processes) does not fall into
	// the next step's figure.
	settle = 1500 * time.Millisecond
	// bulkRuns is how many times the 50-app figures are taken.
	bulkRuns = 3
)

// render returns the unit ynhd renders for the benchmark's declaration
// under the app name name: the floor's "equivalent hand-written unit".
func (b *bench) render(name string) []byte {
	b.t.Helper()
	f := filepath.Join(b.t.TempDir(), name+".toml")
	if err := os.WriteFile(f, []byte(decl(image, noNet)), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return []byte(b.cmd(filepath.Join(b.home, ".local/bin/ynhd"), "render", f) + "\n")
}

func (b *bench) writeUnit(name string, content []byte) {
	b.t.Helper()
	if err := os.WriteFile(filepath.Join(b.units, name+".service"), content, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// podmanService is podman.service's ActiveState and the monotonic time
// its main process last started (changes whenever it starts again).
func (b *bench) podmanService() (state, started string) {
	out, _ := runSh(`systemctl --user show -p ActiveState -p ExecMainStartTimestampMonotonic podman.service`)
	for _, l := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(l, "=")
		switch k {
		case "ActiveState":
			state = v
		case "ExecMainStartTimestampMonotonic":
			started = v
		}
	}
	return state, started
}

// waitPodmanIdle waits until podman.service has exited for being idle
// (it does after about 5 s without a call). It reports false if it keeps
// running: then something keeps calling it.
func (b *bench) waitPodmanIdle(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if st, _ := b.podmanService(); st != "active" && st != "activating" && st != "deactivating" {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// ping makes one call to podman's API on a new connection.
func ping() (time.Duration, error) {
	sock := filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "podman", "podman.sock")
	c := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		}}}
	t0 := time.Now()
	resp, err := c.Get("http://d/v4.0.0/libpod/_ping")
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	d := time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		return d, fmt.Errorf("_ping: %s", resp.Status)
	}
	return d, nil
}

// coldStart measures what the first podman API call costs once
// podman.service has exited for being idle (socket activation starts it
// again), beside the same call while it runs. ynhd pays it whenever a
// pass needs podman more than ~5 s after the last one did.
func (b *bench) coldStart(when string) {
	var cold, warm []time.Duration
	for i := 0; i < 3; i++ {
		time.Sleep(6 * time.Second)
		if !b.waitPodmanIdle(time.Minute) {
			b.add(result{Name: "podman.service cold start, " + when, Unit: "ms", Note: "podman.service did not idle out within a minute"})
			return
		}
		c, err := ping()
		if err != nil {
			b.t.Fatal(err)
		}
		w, err := ping()
		if err != nil {
			b.t.Fatal(err)
		}
		cold, warm = append(cold, c), append(warm, w)
	}
	b.add(result{Name: "podman.service cold start, " + when, Ynhd: median(cold), Floor: median(warm), Unit: "ms",
		FloorIs: "the same API call (_ping) with the service running", Note: "median of 3; a cost, not ynhd's: paid by the first podman call after 5 s idle"})
}

// single takes the one-app figures, the variants interleaved in every
// round so that drift hits them all alike. Each time runs from the
// action to podman's own event for the container.
func (b *bench) single() {
	b.writeUnit("floor-unit", b.render("floor-unit"))
	b.cmd("systemctl", "--user", "daemon-reload")
	quadlet := make([][]byte, runs)
	for i := range quadlet {
		quadlet[i] = b.render(fmt.Sprintf("floor-q-%02d", i))
	}
	var run, start, quad, drop, restart, edit, stop, del []time.Duration
	coldDrops := 0
	for i := 0; i < runs; i++ {
		// 1. podman run -d.
		t0 := time.Now()
		b.cmd("podman", "run", "-d", "--network=none", "--name", "floor-run", image, "sleep", "1000000")
		t, err := b.ev.wait("floor-run", "start", t0, time.Minute)
		run = append(run, b.since(t0, t, err))
		b.cmd("podman", "rm", "-f", "-t0", "floor-run")
		time.Sleep(settle)

		// 2. systemctl start of the loaded hand-written unit.
		t0 = time.Now()
		b.cmd("systemctl", "--user", "start", "floor-unit.service")
		t, err = b.ev.wait("floor-unit", "start", t0, time.Minute)
		start = append(start, b.since(t0, t, err))
		time.Sleep(settle)

		// 3. What a Quadlet user does: write a new unit, daemon-reload,
		// start.
		q := fmt.Sprintf("floor-q-%02d", i)
		t0 = time.Now()
		b.writeUnit(q, quadlet[i])
		b.cmd("systemctl", "--user", "daemon-reload")
		b.cmd("systemctl", "--user", "start", q+".service")
		t, err = b.ev.wait(q, "start", t0, time.Minute)
		quad = append(quad, b.since(t0, t, err))
		time.Sleep(settle)

		// 4. ynhd: the declaration renamed into place.
		app := fmt.Sprintf("s-%02d", i)
		_, podBefore := b.podmanService()
		t0 = b.drop(map[string]string{app: decl(image, noNet)})
		t, err = b.ev.wait(app, "start", t0, time.Minute)
		drop = append(drop, b.since(t0, t, err))
		time.Sleep(settle)
		if _, podAfter := b.podmanService(); podAfter != podBefore {
			coldDrops++
		}

		// Restarts: systemctl restart, then an edit of the declaration.
		t0 = time.Now()
		b.cmd("systemctl", "--user", "restart", "floor-unit.service")
		t, err = b.ev.wait("floor-unit", "start", t0, time.Minute)
		restart = append(restart, b.since(t0, t, err))
		time.Sleep(settle)

		t0 = b.drop(map[string]string{app: decl(image, noNet+"\nenv = { V = \"2\" }")})
		t, err = b.ev.wait(app, "start", t0, time.Minute)
		edit = append(edit, b.since(t0, t, err))
		time.Sleep(settle)

		// Stops: systemctl stop (done when the call returns and the
		// container is removed), then a deleted declaration (done when
		// the container is removed and the unit file is gone).
		t0 = time.Now()
		b.cmd("systemctl", "--user", "stop", "floor-unit.service")
		returned := time.Now()
		t, err = b.ev.wait("floor-unit", "remove", t0, time.Minute)
		stop = append(stop, b.since(t0, later(t, returned), err))
		b.cmd("systemctl", "--user", "stop", q+".service")
		os.Remove(filepath.Join(b.units, q+".service"))
		time.Sleep(settle)

		t0 = time.Now()
		if err := os.Remove(filepath.Join(b.decl, app+".toml")); err != nil {
			b.t.Fatal(err)
		}
		t, err = b.ev.wait(app, "remove", t0, time.Minute)
		gone, ferr := b.files.waitAll([]string{app + ".service"}, t0, time.Minute)
		if ferr != nil {
			err = ferr
		}
		del = append(del, b.since(t0, later(t, gone), err))
		time.Sleep(settle)
		b.t.Logf("round %d (ms): run %d, start %d, write+reload+start %d, drop %d, restart %d, edit %d, stop %d, delete %d", i,
			run[i]/time.Millisecond, start[i]/time.Millisecond, quad[i]/time.Millisecond, drop[i]/time.Millisecond,
			restart[i]/time.Millisecond, edit[i]/time.Millisecond, stop[i]/time.Millisecond, del[i]/time.Millisecond)
	}
	b.cmd("systemctl", "--user", "daemon-reload")
	b.floor["podman run -d"] = median(run)
	b.floor["systemctl start"] = median(start)
	b.floor["quadlet"] = median(quad)

	med := median(drop)
	b.add(result{Name: "floor: systemctl --user start, loaded unit", Ynhd: median(start), Floor: median(run), Unit: "ms",
		FloorIs: "podman run -d", Note: "median of 10"})
	b.add(result{Name: "floor: write unit + daemon-reload + start", Ynhd: median(quad), Floor: median(start), Unit: "ms",
		FloorIs: "systemctl --user start of a loaded unit", Note: "what a Quadlet user does; median of 10"})
	b.add(result{Name: "drop -> running, vs podman run -d", Ynhd: med, Floor: median(run), Unit: "ms", FloorIs: "podman run -d",
		Note: fmt.Sprintf("median of 10; %d of 10 drops started podman.service", coldDrops)})
	b.add(result{Name: "drop -> running, vs systemctl start", Ynhd: med, Floor: median(start), Unit: "ms",
		FloorIs: "systemctl --user start of the same unit, loaded", Note: perRound(drop, start)}.ratioAtMost(1.10, false))
	b.add(result{Name: "drop -> running, vs write + reload + start", Ynhd: med, Floor: median(quad), Unit: "ms",
		FloorIs: "write unit + daemon-reload + systemctl --user start", Note: perRound(drop, quad)}.ratioAtMost(1.00, true))
	b.add(result{Name: "edit -> restarted with the new config", Ynhd: median(edit), Floor: median(restart), Unit: "ms",
		FloorIs: "systemctl --user restart", Note: perRound(edit, restart)}.ratioAtMost(1.10, false))
	b.add(result{Name: "delete -> removed, unit file gone", Ynhd: median(del), Floor: median(stop), Unit: "ms",
		FloorIs: "systemctl --user stop", Note: perRound(del, stop)}.ratioAtMost(1.10, false))
	b.t.Logf("single rounds (ms): run %v\nstart %v\nquadlet %v\ndrop %v\nrestart %v\nedit %v\nstop %v\ndelete %v",
		rounds(run), rounds(start), rounds(quad), rounds(drop), rounds(restart), rounds(edit), rounds(stop), rounds(del))
}

// perRound is the median of the rounds' own ratios a[i]/b[i]: less
// sensitive than a ratio of medians to drift over the run, since each
// round's variants ran within seconds of each other.
func perRound(a, b []time.Duration) string {
	var q []time.Duration
	for i := range a {
		q = append(q, time.Duration(float64(a[i])/float64(b[i])*1e6))
	}
	return fmt.Sprintf("median of per-round ratios %.2f", median(q))
}

func rounds(ds []time.Duration) []int {
	var out []int
	for _, d := range ds {
		out = append(out, int(d/time.Millisecond))
	}
	return out
}

func (b *bench) declareN(prefix string, n int) map[string]string {
	apps := map[string]string{}
	for i := 0; i < n; i++ {
		apps[fmt.Sprintf("%s-%03d", prefix, i)] = decl(image, noNet)
	}
	return apps
}

func names(apps map[string]string, suffix string) []string {
	var out []string
	for a := range apps {
		out = append(out, a+suffix)
	}
	return out
}

// bulk takes the n-app figures, floor and ynhd interleaved, bulkRuns
// times: n declarations dropped at once against one daemon-reload and one
// start call of n hand-written units, each to the nth container's start
// event; and the deletes against one stop call.
func (b *bench) bulk(n int) {
	var floorUnits, floorNames []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("floor-bulk-%02d", i)
		b.writeUnit(name, b.render(name))
		floorUnits, floorNames = append(floorUnits, name+".service"), append(floorNames, name)
	}
	b.cmd("systemctl", "--user", "daemon-reload")
	apps := b.declareN("bulk", n)
	appNames := names(apps, "")
	var fStart, fStop, yStart, yStop []time.Duration
	for r := 0; r < bulkRuns; r++ {
		t0 := time.Now()
		b.cmd("systemctl", "--user", "daemon-reload")
		b.cmd("systemctl", append([]string{"--user", "start"}, floorUnits...)...)
		t, err := b.ev.waitAll(floorNames, "start", t0, 5*time.Minute)
		fStart = append(fStart, b.since(t0, t, err))
		time.Sleep(2 * settle)

		t0 = time.Now()
		b.cmd("systemctl", append([]string{"--user", "stop"}, floorUnits...)...)
		returned := time.Now()
		t, err = b.ev.waitAll(floorNames, "remove", t0, 5*time.Minute)
		fStop = append(fStop, b.since(t0, later(t, returned), err))
		time.Sleep(2 * settle)

		t0 = b.drop(apps)
		t, err = b.ev.waitAll(appNames, "start", t0, 5*time.Minute)
		yStart = append(yStart, b.since(t0, t, err))
		time.Sleep(2 * settle)

		t0 = time.Now()
		for _, app := range appNames {
			os.Remove(filepath.Join(b.decl, app+".toml"))
		}
		t, err = b.ev.waitAll(appNames, "remove", t0, 5*time.Minute)
		gone, ferr := b.files.waitAll(names(apps, ".service"), t0, 5*time.Minute)
		if ferr != nil {
			err = ferr
		}
		yStop = append(yStop, b.since(t0, later(t, gone), err))
		time.Sleep(2 * settle)
	}
	runSh(`rm -f ` + b.units + `/floor-bulk-*.service`)
	b.cmd("systemctl", "--user", "daemon-reload")
	note := fmt.Sprintf("median of %d; ", bulkRuns)
	b.add(result{Name: fmt.Sprintf("bulk: %d dropped at once -> all running", n), Ynhd: median(yStart), Floor: median(fStart), Unit: "ms",
		FloorIs: fmt.Sprintf("daemon-reload + one systemctl --user start of %d units", n), Note: note + perRound(yStart, fStart)}.ratioAtMost(1.05, false))
	b.add(result{Name: fmt.Sprintf("bulk: %d deleted at once -> all removed", n), Ynhd: median(yStop), Floor: median(fStop), Unit: "ms",
		FloorIs: fmt.Sprintf("one systemctl --user stop of %d units", n), Note: note + perRound(yStop, fStop)})
	b.t.Logf("bulk rounds (ms): floor start %v, ynhd %v; floor stop %v, ynhd %v", rounds(fStart), rounds(yStart), rounds(fStop), rounds(yStop))
}

// status reads the daemon's status file.
func (b *bench) status() reconcile.Status {
	var st reconcile.Status
	data, err := os.ReadFile(filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "ynhd", "status.json"))
	if err == nil {
		json.Unmarshal(data, &st)
	}
	return st
}

// pass forces a pass (systemctl reload: SIGHUP, and the status file is
// written after it) and returns its figures.
func (b *bench) pass() reconcile.PassStats {
	before := b.status().Time
	b.sh(`systemctl --user reload ynhd`)
	var st reconcile.Status
	b.waitFor("a pass", time.Minute, func() bool { st = b.status(); return st.Time.After(before) })
	return st.LastPass
}

func (b *bench) pid() string { return b.sh(`systemctl --user show -p MainPID --value ynhd`) }

// rssMiB is the daemon's resident memory.
func (b *bench) rssMiB() float64 {
	out := b.sh(`grep VmRSS /proc/` + b.pid() + `/status | awk '{print $2}'`)
	return float64(atoi(out)) / 1024
}

func (b *bench) rss(n int) {
	b.add(result{Name: fmt.Sprintf("daemon RSS, %d apps", n), Ynhd: b.rssMiB(), Unit: "MiB"}.below(30, true))
}

func (b *bench) steady() {
	b.rss(0)
	declared := 0
	for _, n := range []int{10, 50, 200} {
		apps := b.declareN("st", n)
		var added []string
		for i := declared; i < n; i++ {
			added = append(added, fmt.Sprintf("st-%03d", i))
		}
		declared = n
		t0 := b.drop(apps)
		if _, err := b.ev.waitAll(added, "start", t0, 10*time.Minute); err != nil {
			b.fatal(err)
		}
		time.Sleep(3 * time.Second) // let the passes the starts caused settle
		var wall, cpu []time.Duration
		var dbus, pod int64
		for i := 0; i < 5; i++ {
			last := b.pass()
			wall, cpu = append(wall, last.Wall), append(cpu, last.CPU)
			dbus, pod = max(dbus, last.DBusCalls), max(pod, last.PodmanCalls)
		}
		b.add(result{Name: fmt.Sprintf("reload pass, %d apps: CPU", n), Ynhd: median(cpu), Unit: "ms", Note: "median of 5; a reload also asks podman afresh"})
		b.add(result{Name: fmt.Sprintf("reload pass, %d apps: wall", n), Ynhd: median(wall), Unit: "ms", Note: "median of 5"})
		r := result{Name: fmt.Sprintf("idle pass, %d apps: D-Bus calls", n), Ynhd: float64(dbus), Note: "most in 5 reload passes; a timer pass makes the same"}
		if n == 200 {
			r = r.below(1, false)
		}
		b.add(r)
		b.add(result{Name: fmt.Sprintf("reload pass, %d apps: podman API calls", n), Ynhd: float64(pod), Note: "most in 5; a timer pass makes none (see below)"})

		if n == 50 || n == 200 {
			b.rss(n)
		}
	}
	b.daemonPasses(200)
	b.coldStart("200 apps")
}

// cpuNs is the daemon's CPU time so far (every thread's
// sum_exec_runtime, in ns: finer than /proc/PID/stat's 10 ms ticks).
func (b *bench) cpuNs() int64 {
	var total int64
	tasks, _ := filepath.Glob("/proc/" + b.pid() + "/task/*/schedstat")
	for _, f := range tasks {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if fs := strings.Fields(string(data)); len(fs) > 0 {
			n, _ := strconv.ParseInt(fs[0], 10, 64)
			total += n
		}
	}
	return total
}

// withDaemonFlags restarts ynhd with extra flags for `ynhd run` (a
// drop-in), waits until its first pass has settled and podman.service has
// exited for being idle, and reports whether it did.
func (b *bench) withDaemonFlags(flags string) bool {
	dropin := filepath.Join(b.units, "ynhd.service.d")
	if err := os.MkdirAll(dropin, 0o755); err != nil {
		b.t.Fatal(err)
	}
	conf := "[Service]\nExecStart=\nExecStart=" + filepath.Join(b.home, ".local/bin/ynhd") + " run " + flags + "\n"
	if err := os.WriteFile(filepath.Join(dropin, "bench-interval.conf"), []byte(conf), 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.sh(`systemctl --user daemon-reload && systemctl --user restart ynhd`)
	time.Sleep(10 * time.Second) // its first pass asks podman
	return b.waitPodmanIdle(time.Minute)
}

func (b *bench) withoutDaemonFlags() {
	os.RemoveAll(filepath.Join(b.units, "ynhd.service.d"))
	b.sh(`systemctl --user daemon-reload && systemctl --user restart ynhd`)
}

// passLog returns the wall time of the passes the daemon logged (with
// --debug) for reason between since and until.
func (b *bench) passLog(reason string, since, until time.Time) []time.Duration {
	out := b.sh(fmt.Sprintf(`journalctl --user -u ynhd -o short-unix --no-pager --since @%d`, since.Unix()-1))
	want := "reason=" + reason + " "
	if strings.Contains(reason, " ") {
		want = `reason="` + reason + `"`
	}
	var walls []time.Duration
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		at, err := strconv.ParseFloat(f[0], 64)
		if err != nil || at < float64(since.UnixMicro())/1e6 || at > float64(until.UnixMicro())/1e6 {
			continue
		}
		_, rest, ok := strings.Cut(l, "took=")
		if !ok || !strings.Contains(l, "daemon: pass ") || !strings.Contains(l, want) {
			continue
		}
		if d, err := time.ParseDuration(strings.Trim(strings.Fields(rest)[0], `"`)); err == nil {
			walls = append(walls, d)
		}
	}
	return walls
}

// daemonPasses measures, at n apps, the passes a reload does not
// reproduce (a reload also asks podman afresh). ynhd is restarted with
// --debug (a journal line per pass, with its wall time):
//
//   - with a 1 h interval: its CPU with no pass at all (the background),
//     and one pass after a declaration was renamed over with the same
//     content (its cache misses, nothing is to be done);
//   - with a 2 s interval: the CPU of its timer passes (all the daemon's
//     CPU in 30 s, less the background, divided by the passes), and
//     whether they started podman.service once it had exited.
//
// Then it is restarted as installed.
func (b *bench) daemonPasses(n int) {
	defer b.withoutDaemonFlags()
	name := fmt.Sprintf("timer passes at %d apps that started podman.service", n)
	if !b.withDaemonFlags("--interval=1h --debug") {
		b.add(result{Name: name, Ynhd: 1, Note: "podman.service never idled out: something keeps calling it"}.below(0, false))
		return
	}
	c0, t0 := b.cpuNs(), time.Now()
	time.Sleep(20 * time.Second)
	bgRate := float64(b.cpuNs()-c0) / float64(time.Since(t0)) // CPU ns per ns
	b.add(result{Name: fmt.Sprintf("daemon CPU with no pass, %d apps", n), Ynhd: bgRate * 1e3 * 60, Unit: "ms",
		Note: "per minute, 20 s measured: heartbeat, watchdog, runtime"})

	one := "st-001"
	c0, t0 = b.cpuNs(), b.drop(map[string]string{one: decl(image, noNet)})
	time.Sleep(2 * time.Second)
	used := float64(b.cpuNs()-c0) - bgRate*float64(time.Since(t0))
	if walls := b.passLog("files changed", t0, time.Now()); len(walls) > 0 {
		b.add(result{Name: fmt.Sprintf("pass after 1 of %d declarations rewritten: wall", n), Ynhd: ms(walls[0]), Unit: "ms",
			Note: fmt.Sprintf("same content, new inode; %.1f ms CPU; nothing to do", used/1e6)})
	}

	if !b.withDaemonFlags("--interval=2s --debug") {
		b.add(result{Name: name, Ynhd: 1, Note: "podman.service never idled out: something keeps calling it"}.below(0, false))
		return
	}
	_, podBefore := b.podmanService()
	c0, t0 = b.cpuNs(), time.Now()
	time.Sleep(30 * time.Second)
	gross := float64(b.cpuNs() - c0)
	until := time.Now()
	state, podAfter := b.podmanService()
	walls := b.passLog("timer", t0, until)
	if len(walls) == 0 {
		b.fatal(fmt.Errorf("no timer pass logged in 30 s with --interval=2s"))
	}
	passes := float64(len(walls))
	net := gross - bgRate*float64(until.Sub(t0))
	b.add(result{Name: fmt.Sprintf("timer pass, %d apps: CPU", n), Ynhd: net / passes / 1e6, Unit: "ms",
		Note: fmt.Sprintf("30 s of %d passes (--interval=2s), less the background; %.1f ms with it", len(walls), gross/passes/1e6)}.below(5, true))
	b.add(result{Name: fmt.Sprintf("timer pass, %d apps: wall", n), Ynhd: median(walls), Unit: "ms", Note: fmt.Sprintf("median of %d", len(walls))})
	started := 0.0
	if podAfter != podBefore || state == "active" || state == "activating" {
		started = 1
	}
	b.add(result{Name: name, Ynhd: started, Note: fmt.Sprintf("%d passes after it had exited; ActiveState after: %s", len(walls), state)}.below(0, false))
}

func (b *bench) idle() {
	c0 := b.cpuNs()
	time.Sleep(time.Minute)
	used := float64(b.cpuNs()-c0) / 1e6
	b.add(result{Name: "daemon CPU over 1 min idle, 200 apps", Ynhd: used, Unit: "ms", Note: fmt.Sprintf("%.3f%% of one core; one timer pass in it", used/600)})
}
