package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// handUnit renders the unit ynhd would write for a declaration and
// installs it by hand under another name: the floor's "equivalent
// hand-written unit".
func (b *bench) handUnit(name string) {
	dir := b.t.TempDir()
	f := filepath.Join(dir, name+".toml")
	if err := os.WriteFile(f, []byte(decl(image, noNet)), 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.sh(fmt.Sprintf(`$HOME/.local/bin/ynhd render %s > %s/%s.service`, f, b.units, name))
}

func (b *bench) floors() {
	var podmanRun, unitStart, unitRestart, unitStop []time.Duration
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		b.sh(fmt.Sprintf(`podman run -d --network=none --name floor-run %s sleep 1000000 >/dev/null`, image))
		podmanRun = append(podmanRun, time.Since(t0))
		b.sh(`podman rm -f -t0 floor-run >/dev/null`)
	}
	b.handUnit("floor-unit")
	b.sh(`systemctl --user daemon-reload`)
	for i := 0; i < runs; i++ {
		t0 := time.Now()
		b.sh(`systemctl --user start floor-unit.service`)
		unitStart = append(unitStart, time.Since(t0))
		t0 = time.Now()
		b.sh(`systemctl --user restart floor-unit.service`)
		unitRestart = append(unitRestart, time.Since(t0))
		t0 = time.Now()
		b.sh(`systemctl --user stop floor-unit.service`)
		unitStop = append(unitStop, time.Since(t0))
	}
	b.floor = map[string]float64{"podman run -d": median(podmanRun), "systemctl start": median(unitStart),
		"systemctl restart": median(unitRestart), "systemctl stop": median(unitStop)}

	// 50 hand-written units: one daemon-reload, one start call.
	var names []string
	for i := 0; i < 50; i++ {
		n := fmt.Sprintf("floor-bulk-%02d", i)
		b.handUnit(n)
		names = append(names, n+".service")
	}
	t0 := time.Now()
	b.sh(`systemctl --user daemon-reload && systemctl --user start ` + strings.Join(names, " "))
	b.floor["bulk 50"] = float64(time.Since(t0)) / float64(time.Millisecond)
	b.sh(`systemctl --user stop ` + strings.Join(names, " ") + ` floor-unit.service; rm -f ` + b.units + `/floor-*.service; systemctl --user daemon-reload`)
}

func (b *bench) isRunning(app string) bool {
	out, _ := runSh(`podman container inspect --format '{{.State.Running}}' ` + app + ` 2>/dev/null`)
	return out == "true"
}

func (b *bench) containerID(app string) string {
	out, _ := runSh(`podman container inspect --format '{{.Id}}' ` + app + ` 2>/dev/null`)
	return out
}

func (b *bench) single() {
	var drop, edit, del []time.Duration
	for i := 0; i < runs; i++ {
		app := fmt.Sprintf("s-%02d", i)
		t0 := time.Now()
		b.drop(map[string]string{app: decl(image, noNet)})
		b.waitFor(app+" running", time.Minute, func() bool { return b.isRunning(app) })
		drop = append(drop, time.Since(t0))

		old := b.containerID(app)
		t0 = time.Now()
		b.drop(map[string]string{app: decl(image, noNet+"\nenv = { V = \"2\" }")})
		b.waitFor(app+" restarted", time.Minute, func() bool { id := b.containerID(app); return id != "" && id != old && b.isRunning(app) })
		edit = append(edit, time.Since(t0))

		t0 = time.Now()
		os.Remove(filepath.Join(b.decl, app+".toml"))
		b.waitFor(app+" removed", time.Minute, func() bool {
			_, err := os.Stat(filepath.Join(b.units, app+".service"))
			return os.IsNotExist(err) && b.containerID(app) == ""
		})
		del = append(del, time.Since(t0))
	}
	b.add(result{Name: "drop -> running, one app (median of 10)", Ynhd: median(drop), Floor: b.floor["podman run -d"], FloorIs: "podman run -d", Unit: "ms"})
	b.add(result{Name: "drop -> running, one app, vs systemctl", Ynhd: median(drop), Floor: b.floor["systemctl start"], FloorIs: "systemctl --user start of a loaded unit", Unit: "ms"})
	b.add(result{Name: "edit -> restarted with the new config", Ynhd: median(edit), Floor: b.floor["systemctl restart"], FloorIs: "systemctl --user restart", Unit: "ms"})
	b.add(result{Name: "delete -> stopped and unit removed", Ynhd: median(del), Floor: b.floor["systemctl stop"], FloorIs: "systemctl --user stop", Unit: "ms"})
}

func (b *bench) declareN(prefix string, n int) map[string]string {
	apps := map[string]string{}
	for i := 0; i < n; i++ {
		apps[fmt.Sprintf("%s-%03d", prefix, i)] = decl(image, noNet)
	}
	return apps
}

func (b *bench) bulk(n int) {
	t0 := time.Now()
	b.drop(b.declareN("bulk", n))
	b.waitFor("all bulk apps running", 5*time.Minute, func() bool { return running("bulk-") == n })
	b.add(result{Name: fmt.Sprintf("bulk: %d dropped at once -> all running", n), Ynhd: float64(time.Since(t0)) / float64(time.Millisecond),
		Floor: b.floor["bulk 50"], FloorIs: "daemon-reload + one systemctl --user start of 50 units", Unit: "ms"})
	t0 = time.Now()
	for app := range b.declareN("bulk", n) {
		os.Remove(filepath.Join(b.decl, app+".toml"))
	}
	b.waitFor("all bulk apps removed", 5*time.Minute, func() bool { return running("bulk-") == 0 })
	b.add(result{Name: fmt.Sprintf("bulk: %d deleted at once -> all stopped", n), Ynhd: float64(time.Since(t0)) / float64(time.Millisecond), Unit: "ms"})
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

// pass triggers a pass (SIGHUP) and returns its figures.
func (b *bench) pass() reconcile.PassStats {
	before := b.status().Time
	b.sh(`systemctl --user reload ynhd`)
	var st reconcile.Status
	b.waitFor("a pass", time.Minute, func() bool { st = b.status(); return st.Time.After(before) })
	return st.LastPass
}

func (b *bench) pid() string { return b.sh(`systemctl --user show -p MainPID --value ynhd`) }

// rssKiB is the daemon's resident memory.
func (b *bench) rssKiB() float64 {
	out := b.sh(`grep VmRSS /proc/` + b.pid() + `/status | awk '{print $2}'`)
	return float64(atoi(out))
}

func (b *bench) steady() {
	b.add(result{Name: "daemon RSS, 0 apps", Ynhd: b.rssKiB() / 1024, Unit: "MiB"})
	for _, n := range []int{10, 50, 200} {
		b.drop(b.declareN("st", n))
		b.waitFor(fmt.Sprintf("%d apps running", n), 10*time.Minute, func() bool { return running("st-") == n })
		time.Sleep(3 * time.Second) // let the passes the starts caused settle
		var wall, cpu []time.Duration
		var last reconcile.PassStats
		for i := 0; i < 5; i++ {
			last = b.pass()
			wall = append(wall, last.Wall)
			cpu = append(cpu, last.CPU)
		}
		b.add(result{Name: fmt.Sprintf("idle pass, %d apps: wall", n), Ynhd: median(wall), Unit: "ms"})
		b.add(result{Name: fmt.Sprintf("idle pass, %d apps: CPU", n), Ynhd: median(cpu), Unit: "ms"})
		b.add(result{Name: fmt.Sprintf("idle pass, %d apps: D-Bus calls", n), Ynhd: float64(last.DBusCalls), Unit: "", Note: fmt.Sprintf("%d actions", last.Actions)})
		b.add(result{Name: fmt.Sprintf("idle pass, %d apps: podman API calls", n), Ynhd: float64(last.PodmanCalls), Unit: ""})

		// One app changed: the pass that restarts it.
		one := "st-000"
		old := b.containerID(one)
		env := fmt.Sprintf("env = { N = \"%d\" }", n)
		b.drop(map[string]string{one: decl(image, noNet+"\n"+env)})
		b.waitFor(one+" restarted", time.Minute, func() bool { id := b.containerID(one); return id != "" && id != old })
		st := b.status().LastPass
		for i := 0; i < 50 && st.Actions == 0; i++ { // the pass that acted may be followed by idle ones
			time.Sleep(100 * time.Millisecond)
			st = b.status().LastPass
		}
		b.add(result{Name: fmt.Sprintf("pass with 1 of %d apps changed: wall", n), Ynhd: float64(st.Wall) / float64(time.Millisecond), Unit: "ms",
			Note: fmt.Sprintf("%d actions, %d D-Bus, %d podman calls; includes the restart job", st.Actions, st.DBusCalls, st.PodmanCalls)})
		if n == 50 || n == 200 {
			b.add(result{Name: fmt.Sprintf("daemon RSS, %d apps", n), Ynhd: b.rssKiB() / 1024, Unit: "MiB"})
		}
	}
}

// cpuTicks is the daemon's user+system CPU time in clock ticks.
func (b *bench) cpuTicks() int {
	f := strings.Fields(b.sh(`cat /proc/` + b.pid() + `/stat`))
	return atoi(f[13]) + atoi(f[14])
}

func (b *bench) idle() {
	t0 := b.cpuTicks()
	time.Sleep(time.Minute)
	used := float64(b.cpuTicks()-t0) * 10 // 100 ticks per second
	b.add(result{Name: "daemon CPU over 1 min idle, 200 apps", Ynhd: used, Unit: "ms", Note: fmt.Sprintf("%.2f%% of one core; includes one timed pass", used/600)})
}
