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

// result is one figure beside its floor.
type result struct {
	Name    string  `json:"name"`
	Ynhd    float64 `json:"ynhd"`
	Floor   float64 `json:"floor,omitempty"`
	FloorIs string  `json:"floor_is,omitempty"`
	Unit    string  `json:"unit"`
	Note    string  `json:"note,omitempty"`
}

func (r result) ratio() string {
	if r.Floor == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.Ynhd/r.Floor)
}

type bench struct {
	t       *testing.T
	floor   map[string]float64
	home    string
	decl    string
	units   string
	results []result
}

func (b *bench) add(r result) {
	b.results = append(b.results, r)
	b.t.Logf("%s: %.1f %s (floor %.1f, ratio %s) %s", r.Name, r.Ynhd, r.Unit, r.Floor, r.ratio(), r.Note)
}

func median(ds []time.Duration) float64 {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[len(s)/2]) / float64(time.Millisecond)
}

func (b *bench) sh(script string) string {
	b.t.Helper()
	out, err := runSh(script)
	if err != nil {
		b.t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return out
}

func decl(image, extra string) string {
	return fmt.Sprintf("version = 1\nimage = %q\ncommand = %s\n%s\n%s", image, appCmd, stopArg, extra)
}

// drop writes declarations the documented way (dotfile, then rename),
// all renames together.
func (b *bench) drop(apps map[string]string) {
	for app, src := range apps {
		if err := os.WriteFile(filepath.Join(b.decl, "."+app+".tmp"), []byte(src), 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	for app := range apps {
		if err := os.Rename(filepath.Join(b.decl, "."+app+".tmp"), filepath.Join(b.decl, app+".toml")); err != nil {
			b.t.Fatal(err)
		}
	}
}

// running returns how many of ynhd's containers podman reports running.
func running(prefix string) int {
	out, _ := runSh(`podman ps --filter label=io.ynhd.app --format '{{.Names}}'`)
	n := 0
	for _, l := range strings.Fields(out) {
		if strings.HasPrefix(l, prefix) {
			n++
		}
	}
	return n
}

func (b *bench) waitFor(what string, timeout time.Duration, cond func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBench(t *testing.T) {
	if os.Getenv("YNHD_BENCH") == "" {
		t.Skip("benchmarks run with make bench (YNHD_BENCH=1)")
	}
	testenv.Require(t)
	home, _ := os.UserHomeDir()
	b := &bench{t: t, home: home, decl: filepath.Join(home, ".config", "ynhd"), units: testenv.UnitDir()}
	os.MkdirAll(b.decl, 0o755)
	b.sh(`rm -f ~/.config/ynhd/*.toml; systemctl --user stop ynhd 2>/dev/null; podman rm -af -t0 >/dev/null 2>&1; true`)
	b.sh(fmt.Sprintf(`bash %s/install.sh %s "" "$HOME/.local/bin" "$HOME/.local/share/systemd/user" >/dev/null && systemctl --user daemon-reload`,
		os.Getenv(envPkg), os.Getenv(envBin)))

	b.floors()
	b.sh(`systemctl --user restart ynhd`)
	b.single()
	b.bulk(50)
	b.steady()
	b.idle()
	b.report()
	b.sh(`rm -f ~/.config/ynhd/*.toml; systemctl --user reload ynhd; sleep 5; systemctl --user stop ynhd; true`)
}

// report prints the table and writes the JSON.
func (b *bench) report() {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%-46s %12s %12s %7s  %s\n", "measure", "ynhd", "floor", "ratio", "floor is / note")
	for _, r := range b.results {
		note := r.FloorIs
		if r.Note != "" {
			note = strings.TrimPrefix(note+"; "+r.Note, "; ")
		}
		floor := "-"
		if r.Floor != 0 {
			floor = fmt.Sprintf("%.1f %s", r.Floor, r.Unit)
		}
		fmt.Fprintf(&sb, "%-46s %12s %12s %7s  %s\n", r.Name, strings.TrimSpace(fmt.Sprintf("%.1f %s", r.Ynhd, r.Unit)), floor, r.ratio(), note)
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
