// Package bench measures ynhd against its floor in the real test
// environment: how long a declaration takes to become a running container
// compared with raw podman and raw systemctl, what an idle pass costs with
// 10, 50 and 200 apps, and the daemon's memory and idle CPU. It prints a
// table and writes JSON; it never fails on a time. Run it with `make bench`
// (YNHD_BENCH=1); `make test` skips it.
package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

const (
	envBin  = "YNHD_IT_BIN"
	envPkg  = "YNHD_IT_PACKAGING"
	envOut  = "YNHD_BENCH_OUT"
	runs    = 10
	appCmd  = `["sleep", "1000000"]`
	stopArg = `stop_timeout = "1s"`
)

func TestMain(m *testing.M) {
	testenv.Prepare = func() error {
		if os.Getenv("YNHD_BENCH") == "" {
			return nil
		}
		bin, pkg, err := testenv.BuildYnhd("/var/tmp/ynhd-bench")
		if err != nil {
			return err
		}
		os.Setenv(envBin, bin)
		os.Setenv(envPkg, pkg)
		out := "/var/tmp/ynhd-bench-out"
		os.RemoveAll(out)
		if err := os.MkdirAll(out, 0o777); err != nil {
			return err
		}
		os.Chmod(out, 0o777)
		os.Setenv(envOut, out)
		return nil
	}
	testenv.Main(m)
}

// result is one figure beside its floor, and the target for it if
// it has one. A missed target is printed, never a test failure.
type result struct {
	Name    string  `json:"name"`
	Ynhd    float64 `json:"ynhd"`
	Floor   float64 `json:"floor,omitempty"`
	FloorIs string  `json:"floor_is,omitempty"`
	Unit    string  `json:"unit"`
	Note    string  `json:"note,omitempty"`
	Target  string  `json:"target,omitempty"`
	Met     *bool   `json:"met,omitempty"`
}

func (r result) ratio() string {
	if r.Floor == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.Ynhd/r.Floor)
}

// ratioAtMost sets the target "ratio <= max" (or "< max" when strict).
func (r result) ratioAtMost(max float64, strict bool) result {
	q := r.Ynhd / r.Floor
	ok := q <= max
	r.Target = fmt.Sprintf("<=%.2fx", max)
	if strict {
		ok = q < max
		r.Target = fmt.Sprintf("<%.2fx", max)
	}
	r.Met = &ok
	return r
}

// below sets the target "value < max" (or "<= max" when !strict).
func (r result) below(max float64, strict bool) result {
	ok := r.Ynhd < max
	op := "<"
	if !strict {
		ok, op = r.Ynhd <= max, "<="
	}
	r.Target = strings.TrimSpace(fmt.Sprintf("%s%g %s", op, max, r.Unit))
	r.Met = &ok
	return r
}

func (r result) verdict() string {
	switch {
	case r.Met == nil:
		return ""
	case *r.Met:
		return "ok"
	}
	return "MISS"
}

type bench struct {
	t       *testing.T
	floor   map[string]float64
	home    string
	decl    string
	units   string
	ev      *eventLog
	files   *fileLog
	results []result
}

func (b *bench) add(r result) {
	b.results = append(b.results, r)
	b.t.Logf("%s: %.1f %s (floor %.1f, ratio %s) %s %s %s", r.Name, r.Ynhd, r.Unit, r.Floor, r.ratio(), r.Target, r.verdict(), r.Note)
}

func median(ds []time.Duration) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return ms(s[len(s)/2])
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (b *bench) sh(script string) string {
	b.t.Helper()
	out, err := runSh(script)
	if err != nil {
		b.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

// cmd runs a command directly (no shell in the measured time) and fails
// the test if it fails.
func (b *bench) cmd(name string, args ...string) string {
	b.t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		b.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func decl(image, extra string) string {
	return fmt.Sprintf("version = 1\nimage = %q\ncommand = %s\n%s\n%s", image, appCmd, stopArg, extra)
}

// stage writes declarations the documented way up to the last step: each
// to a dotfile in the declarations directory. The returned function
// renames them all into place and returns when it began: the start of
// every ynhd figure.
func (b *bench) stage(apps map[string]string) (renameAll func() time.Time) {
	b.t.Helper()
	for app, src := range apps {
		if err := os.WriteFile(filepath.Join(b.decl, "."+app+".tmp"), []byte(src), 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	return func() time.Time {
		t0 := time.Now()
		for app := range apps {
			if err := os.Rename(filepath.Join(b.decl, "."+app+".tmp"), filepath.Join(b.decl, app+".toml")); err != nil {
				b.t.Fatal(err)
			}
		}
		return t0
	}
}

// drop writes declarations and renames them into place.
func (b *bench) drop(apps map[string]string) time.Time { return b.stage(apps)() }

// since returns the time from t0 to t, failing the test on err.
func (b *bench) since(t0, t time.Time, err error) time.Duration {
	b.t.Helper()
	if err != nil {
		b.fatal(err)
	}
	if d := t.Sub(t0); d > 0 {
		return d
	}
	b.t.Fatalf("an event at %v precedes its action at %v", t, t0)
	return 0
}

// fatal fails the test with what ynhd and the manager said lately.
func (b *bench) fatal(err error) {
	b.t.Helper()
	out, _ := runSh(`journalctl --user -u ynhd -o short-precise --no-pager -n 40; systemctl --user list-units --all --no-pager 's-*' 'st-*' 'bulk-*' 'floor-*'; podman ps -a`)
	b.t.Fatalf("%v\n%s", err, out)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (b *bench) waitFor(what string, timeout time.Duration, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBench(t *testing.T) {
	if os.Getenv("YNHD_BENCH") == "" {
		t.Skip("benchmarks run with make bench (YNHD_BENCH=1)")
	}
	testenv.Require(t)
	home, _ := os.UserHomeDir()
	b := &bench{t: t, home: home, decl: filepath.Join(home, ".config", "ynhd"), units: testenv.UnitDir(), floor: map[string]float64{}}
	os.MkdirAll(b.decl, 0o755)
	b.cleanup()
	t.Cleanup(b.cleanup)
	b.sh(fmt.Sprintf(`bash %s/install.sh %s "" "$HOME/.local/bin" "$HOME/.local/share/systemd/user" >/dev/null && systemctl --user daemon-reload`,
		os.Getenv(envPkg), os.Getenv(envBin)))
	b.sh(`systemctl --user restart ynhd`)

	var err error
	if b.files, err = watchRemovals(b.units); err != nil {
		t.Fatal(err)
	}
	defer b.files.w.Close()
	// The stream is ready once it reports a container made after it
	// started. A stream opened on a journal that has no file of the user's
	// yet may never see one: then it is started again.
	for try := 1; ; try++ {
		if b.ev, err = startEvents(); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now()
		b.cmd("podman", "create", "--network=none", "--name", "bench-ready", image, "true")
		_, err = b.ev.wait("bench-ready", "create", t0, 20*time.Second)
		b.cmd("podman", "rm", "-f", "bench-ready")
		if err == nil {
			break
		}
		b.ev.stop()
		if try == 3 {
			t.Fatalf("podman events: %v", err)
		}
	}
	defer b.ev.stop()

	b.coldStart("0 apps")
	b.single()
	b.bulk(50)
	b.steady()
	b.idle()
	b.report()
}

// cleanup removes what a run (this one or an interrupted one) left:
// declarations, the floor's hand-written units, containers.
func (b *bench) cleanup() {
	b.t.Helper()
	runSh(`rm -f ~/.config/ynhd/*.toml ~/.config/ynhd/.*.tmp`)
	if _, err := runSh(`systemctl --user is-active -q ynhd`); err == nil {
		runSh(`systemctl --user reload ynhd`)
		// The daemon stops and removes the apps; give it the time.
		b.waitFor("the daemon to remove every app", 10*time.Minute, func() bool {
			out, _ := runSh(`ls ~/.config/systemd/user/ | grep -c -e '^s-' -e '^bulk-' -e '^st-'`)
			return atoi(out) == 0
		})
	}
	runSh(`systemctl --user stop ynhd 'floor-*' 's-*' 'bulk-*' 'st-*' 2>/dev/null
		cd ~/.config/systemd/user && rm -f floor-*.service s-*.service bulk-*.service st-*.service
		rm -f ~/.config/systemd/user/ynhd.service.d/bench-interval.conf
		find ~/.config/systemd/user -xtype l -delete
		podman rm -af -t0 >/dev/null 2>&1; systemctl --user reset-failed; systemctl --user daemon-reload; true`)
}

// report prints the table and writes the JSON.
func (b *bench) report() {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-52s %11s %11s %6s %9s %5s  %s\n", "measure", "value", "floor", "ratio", "target", "", "floor is / note")
	for _, r := range b.results {
		note := r.FloorIs
		if r.Note != "" {
			note = strings.TrimPrefix(note+"; "+r.Note, "; ")
		}
		floor := "-"
		if r.Floor != 0 {
			floor = strings.TrimSpace(fmt.Sprintf("%.1f %s", r.Floor, r.Unit))
		}
		target := r.Target
		if target == "" {
			target = "-"
		}
		fmt.Fprintf(&sb, "%-52s %11s %11s %6s %9s %5s  %s\n", r.Name, strings.TrimSpace(fmt.Sprintf("%.1f %s", r.Ynhd, r.Unit)),
			floor, r.ratio(), target, r.verdict(), note)
	}
	fmt.Println(sb.String())
	if dir := os.Getenv(envOut); dir != "" {
		data, _ := json.MarshalIndent(b.results, "", "  ")
		os.WriteFile(filepath.Join(dir, "bench.json"), data, 0o644)
		os.WriteFile(filepath.Join(dir, "bench.txt"), []byte(sb.String()), 0o644)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}
