// Package fenv drives ynhd in the real test environment for the fault
// suite (test/faults) and the soak test (test/soak): it installs ynhd the
// documented way as the test user, declares apps the documented way (a
// dotfile renamed into place), and checks convergence: every declared app
// running with the unit `ynhd render` gives, nothing extra, no temporary
// files, volume data intact. It is driven as root from outside the
// environment; every user action runs as the test user inside it
// (hack/testenv.sh exec), root-only steps in its mount namespace.
package fenv

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

const (
	// StateDir is where hack/testenv.sh keeps the environment's pids.
	StateDir = "/run/ynhd-testenv"
	// BuildDir receives the ynhd binary and its packaging for the test
	// user to install.
	BuildDir = "/var/tmp/ynhd-faults"
	// Bound is the generous limit within which every case must
	// converge; the time it really took is logged.
	Bound = 3 * time.Minute
	// YnhdCmd is the installed binary, as the test user sees it.
	YnhdCmd = "$HOME/.local/bin/ynhd"
)

// ownedUnits is the shell that lists the apps whose unit file carries
// ynhd's marker naming a declaration in ~/.config/ynhd: the units ynhd
// answers for. (Units rendered from elsewhere, e.g. by other test
// packages, are not its to remove.)
const ownedUnits = `cd ~/.config/systemd/user && for u in *.service; do [ -f "$u" ] && sed -n '/^\[X-Ynhd\]$/,$p' "$u" | grep -q "^Source=$HOME/.config/ynhd/" && echo "${u%.service}"; done`

// The build is shared by the tests of one run.
var built struct {
	once     sync.Once
	bin, pkg string
	err      error
}

// F is one test's view of the environment: the apps it declared (all
// named with its prefix) and what it saw of them.
type F struct {
	T      *testing.T
	Prefix string
	Home   string // the test user's home
	// Decls holds the declared apps: name -> declaration source.
	Decls map[string]string
	// Revs is the value of REV each app's container must run with.
	Revs map[string]string
	// Marks is each app's volume marker (content and modification time)
	// as first seen: volume data must survive every fault.
	Marks map[string]string
	// Start is when Setup began: the journal shown on failure starts there.
	Start time.Time
	// After runs at the end of cleanup, once the apps are gone.
	After []func()
}

// Setup takes the environment exclusively, installs ynhd built from this
// tree as the test user would (packaging/install.sh into ~/.local), starts
// it over an empty declarations directory, and registers the removal of
// every app the test declares.
func Setup(t *testing.T, prefix, why string) *F {
	t.Helper()
	begin := time.Now()
	testenv.Exclusive(t, why)
	t.Logf("environment taken and up in %v", time.Since(begin).Round(100*time.Millisecond))
	built.once.Do(func() { built.bin, built.pkg, built.err = testenv.BuildYnhd(BuildDir) })
	if built.err != nil {
		t.Fatal(built.err)
	}
	f := &F{T: t, Start: begin, Prefix: prefix, Decls: map[string]string{}, Revs: map[string]string{}, Marks: map[string]string{}}
	f.Home = f.Sh(`echo "$HOME"`)
	// Earlier runs or other packages may have left declarations: start
	// from none, and let the installed ynhd remove what they rendered.
	f.Sh(fmt.Sprintf(`set -e
bash %s/install.sh %s "" "$HOME/.local/bin" "$HOME/.local/share/systemd/user" >/dev/null
mkdir -p ~/.config/ynhd
chmod 755 ~/.config/ynhd
rm -f ~/.config/ynhd/*.toml ~/.config/ynhd/.*.tmp
systemctl --user daemon-reload
systemctl --user reset-failed
systemctl --user start podman.socket
systemctl --user restart ynhd`, built.pkg, built.bin))
	t.Cleanup(f.cleanup)
	f.WaitFor(2*time.Minute, "no unit of ynhd left over from earlier runs", func() (bool, string) {
		out, err := f.ShErr(ownedUnits + `; true`)
		return err == nil && out == "", out
	})
	t.Logf("ynhd installed and started in %v", time.Since(begin).Round(100*time.Millisecond))
	return f
}

// cleanup removes the test's declarations, waits for ynhd to remove their
// units and containers, deletes their volumes and stops ynhd, leaving the
// environment as it found it. It restarts ynhd first: a test may have left
// it stopped or stuck.
func (f *F) cleanup() {
	t := f.T
	begin := time.Now()
	defer func() { t.Logf("cleanup took %v", time.Since(begin).Round(100*time.Millisecond)) }()
	out, err := f.ShErr(fmt.Sprintf(`chmod 755 ~/.config/ynhd 2>/dev/null; mkdir -p ~/.config/ynhd
rm -f ~/.config/ynhd/%[1]s*.toml ~/.config/ynhd/.%[1]s*
systemctl --user reset-failed ynhd 2>/dev/null
systemctl --user restart ynhd
for i in $(seq 1 600); do
	left=$(cd ~/.config/systemd/user && ls -d %[1]s*.service 2>/dev/null; podman --cgroup-manager=cgroupfs ps -a -q --filter name=^%[1]s)
	[ -z "$left" ] && break
	sleep 0.2
done
[ -z "$left" ] || { echo "left behind: $left"; systemctl --user stop '%[1]s*'; podman rm -f -t 0 $(podman ps -a -q --filter name=^%[1]s); rm -f ~/.config/systemd/user/%[1]s*.service ~/.config/systemd/user/*/%[1]s*.service; systemctl --user daemon-reload; }
podman volume rm -f $(podman volume ls -q --filter name=^%[1]s) >/dev/null 2>&1
systemctl --user stop ynhd
systemctl --user reset-failed
true`, f.Prefix))
	if err != nil || strings.Contains(out, "left behind") {
		t.Logf("cleanup: %v\n%s", err, out)
	}
	for _, fn := range f.After {
		fn()
	}
}

// ShErr runs a shell script as the test user inside the environment and
// returns its output (standard output and error), trimmed.
func (f *F) ShErr(script string) (string, error) {
	out, err := testenv.Control("exec", "--", "sh", "-c", script)
	return strings.TrimSpace(out), err
}

// Sh is ShErr failing the test on error.
func (f *F) Sh(script string) string {
	f.T.Helper()
	out, err := f.ShErr(script)
	if err != nil {
		f.T.Fatalf("%s\n: %v\n%s", script, err, out)
	}
	return out
}

// AppDecl is a busybox app with a named volume APP-data, into which its
// container writes a marker at first start, and REV in its environment
// (so that each edit changes its unit).
func AppDecl(app, rev string) string {
	return fmt.Sprintf(`version = 1
image = %q
command = ["sh", "-c", "[ -e /data/mark ] || echo %s > /data/mark; exec sleep 100000"]
network = "none"
stop_timeout = "1s"
env = { REV = %q }

[[volumes]]
name = "%s-data"
target = "/data"
`, testenv.BusyboxImage, app, rev, app)
}

// DeclareScript is the shell that declares apps (name -> source) the
// documented way: each written to a dotfile beside its place, then
// renamed.
func DeclareScript(decls map[string]string) string {
	var b strings.Builder
	b.WriteString("set -e\nmkdir -p ~/.config/ynhd\ncd ~/.config/ynhd\n")
	for _, app := range SortedKeys(decls) {
		fmt.Fprintf(&b, "cat > .%[1]s.toml.tmp <<'YNHD_EOF'\n%[2]sYNHD_EOF\nmv .%[1]s.toml.tmp %[1]s.toml\n", app, decls[app])
	}
	return b.String()
}

// Declare writes one app's declaration; rev is the REV its container must
// end up with.
func (f *F) Declare(app, src, rev string) {
	f.T.Helper()
	f.Sh(DeclareScript(map[string]string{app: src}))
	f.Decls[app], f.Revs[app] = src, rev
}

// Set declares busybox apps (AppDecl) with the given REVs, all in one go.
func (f *F) Set(revs map[string]string) {
	f.T.Helper()
	decls := map[string]string{}
	for app, rev := range revs {
		decls[app] = AppDecl(app, rev)
	}
	f.Sh(DeclareScript(decls))
	for app, rev := range revs {
		f.Decls[app], f.Revs[app] = decls[app], rev
	}
}

// Names returns n app names with the test's prefix.
func (f *F) Names(n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s%02d", f.Prefix, i))
	}
	return out
}

// RevsOf maps every app to rev.
func RevsOf(apps []string, rev string) map[string]string {
	m := map[string]string{}
	for _, a := range apps {
		m[a] = rev
	}
	return m
}

// Snapshot is what one look at the environment found.
type Snapshot struct {
	Declared  map[string]bool   // *.toml in the declarations directory
	Marked    map[string]bool   // unit files carrying ynhd's marker
	Active    map[string]string // app -> ActiveState of its unit
	UnitOK    map[string]bool   // app -> unit file equals `ynhd render APP`
	Marks     map[string]string // app -> volume marker "content|mtime"
	Temps     []string          // temporary files left behind
	Ctrs      map[string]Ctr    // containers with the test's prefix
	YnhdState string
}

// Ctr is a container as Look saw it.
type Ctr struct {
	ID, State string
	Env       []string
}

// Has reports whether the container's environment has kv (NAME=VALUE).
func (c Ctr) Has(kv string) bool {
	for _, e := range c.Env {
		if e == kv {
			return true
		}
	}
	return false
}

// Look takes a snapshot of the environment as it concerns apps (and the
// test's prefix), in one call into the environment.
func (f *F) Look(apps []string) (Snapshot, error) {
	q := strings.Join(apps, " ")
	script := fmt.Sprintf(`U=~/.config/systemd/user
cd "$U" || exit 1
%[4]s | sed 's/^/MARKED /'
for x in .ynhd-* "$XDG_RUNTIME_DIR"/ynhd/*.tmp; do [ -e "$x" ] && echo "TEMP $x"; done
for d in ~/.config/ynhd/*.toml; do [ -e "$d" ] && d=${d##*/} && echo "DECL ${d%%.toml}"; done
echo "YNHD $(systemctl --user is-active ynhd)"
for a in %[1]s; do
	echo "ACTIVE $a $(systemctl --user is-active $a.service)"
	if %[2]s render $a 2>/dev/null | cmp -s - "$U/$a.service"; then echo "UNIT $a same"; fi
	m=~/.local/share/containers/storage/volumes/$a-data/_data/mark
	[ -f "$m" ] && echo "MARK $a $(cat "$m")|$(stat -c %%y "$m")"
done
ids=$(podman --cgroup-manager=cgroupfs ps -a -q --filter name=^%[3]s)
[ -z "$ids" ] || podman --cgroup-manager=cgroupfs container inspect --format 'CTR {{.Name}} {{.Id}} {{.State.Status}} {{range .Config.Env}}{{.}} {{end}}' $ids
true`, q, YnhdCmd, f.Prefix, ownedUnits)
	out, err := f.ShErr(script)
	if err != nil {
		return Snapshot{}, fmt.Errorf("%v: %s", err, out)
	}
	s := Snapshot{Declared: map[string]bool{}, Marked: map[string]bool{}, Active: map[string]string{},
		UnitOK: map[string]bool{}, Marks: map[string]string{}, Ctrs: map[string]Ctr{}}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, rest, _ := strings.Cut(sc.Text(), " ")
		switch k {
		case "MARKED":
			s.Marked[rest] = true
		case "TEMP":
			s.Temps = append(s.Temps, rest)
		case "DECL":
			s.Declared[rest] = true
		case "YNHD":
			s.YnhdState = rest
		case "ACTIVE":
			a, st, _ := strings.Cut(rest, " ")
			s.Active[a] = st
		case "UNIT":
			a, _, _ := strings.Cut(rest, " ")
			s.UnitOK[a] = true
		case "MARK":
			a, m, _ := strings.Cut(rest, " ")
			s.Marks[a] = m
		case "CTR":
			fs := strings.Fields(rest)
			if len(fs) >= 3 {
				// podman inspect names containers with or without a
				// leading slash depending on the version.
				s.Ctrs[strings.TrimPrefix(fs[0], "/")] = Ctr{ID: fs[1], State: fs[2], Env: fs[3:]}
			}
		}
	}
	return s, nil
}

// Problems lists why s is not converged for apps (a subset of the declared
// apps; the checks for things extra use every declared app).
func (f *F) Problems(s Snapshot, apps []string) []string {
	var p []string
	for _, a := range apps {
		c, ok := s.Ctrs[a]
		switch {
		case s.Active[a] != "active":
			p = append(p, fmt.Sprintf("%s.service is %s", a, s.Active[a]))
		case !s.UnitOK[a]:
			p = append(p, fmt.Sprintf("%s.service differs from `ynhd render %s`", a, a))
		case !ok || c.State != "running":
			p = append(p, fmt.Sprintf("%s: container not running (%q)", a, c.State))
		case !c.Has("REV=" + f.Revs[a]):
			p = append(p, fmt.Sprintf("%s: container runs %v, want REV=%s", a, c.Env, f.Revs[a]))
		case s.Marks[a] == "":
			p = append(p, fmt.Sprintf("%s: no marker in volume %s-data", a, a))
		case !strings.HasPrefix(s.Marks[a], a+"|"):
			p = append(p, fmt.Sprintf("%s: volume marker is %q", a, s.Marks[a]))
		case f.Marks[a] != "" && f.Marks[a] != s.Marks[a]:
			p = append(p, fmt.Sprintf("%s: volume marker changed from %q to %q: volume data lost", a, f.Marks[a], s.Marks[a]))
		}
	}
	for _, u := range SortedKeys(s.Marked) {
		if !s.Declared[u] {
			p = append(p, fmt.Sprintf("leaked unit %s.service (ynhd's marker, no declaration)", u))
		}
	}
	for _, n := range SortedKeys(s.Ctrs) {
		if _, ok := f.Revs[n]; !ok {
			p = append(p, fmt.Sprintf("leaked container %s (%s)", n, s.Ctrs[n].State))
		}
	}
	for _, x := range s.Temps {
		p = append(p, "temporary file left: "+x)
	}
	return p
}

// Converged waits until every declared app converged (see ConvergedApps)
// and returns how long that took.
func (f *F) Converged(what string, limit time.Duration) time.Duration {
	f.T.Helper()
	return f.ConvergedApps(what, SortedKeys(f.Revs), limit)
}

// ConvergedApps waits up to limit until, for each of apps, the unit is
// active, its file is byte-identical to `ynhd render APP`, its container
// runs with the declared REV and its volume keeps its first marker; and
// until no unit with ynhd's marker exists without a declaration, no
// container with the test's prefix runs that is not declared and no
// temporary file is left. It logs how long that took and returns it; on
// timeout it fails the test with what was still wrong, ynhd's journal and
// the units.
func (f *F) ConvergedApps(what string, apps []string, limit time.Duration) time.Duration {
	f.T.Helper()
	start := time.Now()
	var last []string
	for {
		s, err := f.Look(apps)
		if err == nil {
			last = f.Problems(s, apps)
			if len(last) == 0 {
				for _, a := range apps {
					if f.Marks[a] == "" {
						f.Marks[a] = s.Marks[a]
					}
				}
				d := time.Since(start).Round(100 * time.Millisecond)
				f.T.Logf("%s: converged in %v (%d apps)", what, d, len(apps))
				return d
			}
		} else {
			last = []string{err.Error()}
		}
		if time.Since(start) > limit {
			break
		}
		time.Sleep(time.Second)
	}
	f.T.Fatalf("%s: not converged within %v:\n  %s\n%s", what, limit, strings.Join(last, "\n  "), f.Diagnostics())
	return 0
}

// Diagnostics is what helps to understand a failure: ynhd's journal and
// the state of the test's units.
func (f *F) Diagnostics() string {
	out, _ := f.ShErr(fmt.Sprintf(`echo "--- journalctl --user -u ynhd -n 200 (since the test began)"
journalctl --user -u ynhd -n 200 --no-pager --since @%[2]d
echo "--- systemctl --user status ynhd"
systemctl --user status ynhd --no-pager -n 0
echo "--- systemctl --user list-units '%[1]s*'"
systemctl --user list-units --all --no-pager '%[1]s*'`, f.Prefix, f.Start.Unix()))
	return out
}

// WaitFor polls cond every 500 ms until it holds, failing the test after
// limit with the last detail cond gave.
func (f *F) WaitFor(limit time.Duration, what string, cond func() (bool, string)) time.Duration {
	f.T.Helper()
	start := time.Now()
	for {
		ok, detail := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			f.T.Fatalf("timed out after %v waiting for %s: %s\n%s", limit, what, detail, f.Diagnostics())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// ContainerIDs returns the ID and state of every container with the
// test's prefix.
func (f *F) ContainerIDs() (map[string]string, error) {
	// podman ps prints a running container's state as "Up 5 seconds
	// ago": inspect gives the plain status.
	out, err := f.ShErr(fmt.Sprintf(`ids=$(podman --cgroup-manager=cgroupfs ps -a -q --filter name=^%s)
[ -z "$ids" ] || podman --cgroup-manager=cgroupfs container inspect --format 'CTR {{.Name}} {{.Id}} {{.State.Status}}' $ids`, f.Prefix))
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, out)
	}
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if fs := strings.Fields(l); len(fs) == 4 && fs[0] == "CTR" {
			m[strings.TrimPrefix(fs[1], "/")] = fs[2] + " " + fs[3]
		}
	}
	return m, nil
}

// YnhdProps returns properties of ynhd.service (systemctl show).
func (f *F) YnhdProps(props ...string) map[string]string {
	f.T.Helper()
	out := f.Sh("systemctl --user show ynhd -p " + strings.Join(props, ","))
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// JournalSince returns ynhd's journal since t (messages only).
func (f *F) JournalSince(since time.Time) string {
	out, _ := f.ShErr(fmt.Sprintf(`journalctl --user -u ynhd -o cat --no-pager --since @%d`, since.Unix()-1))
	return out
}

// ManagerPID is the pid of the environment's `systemd --user`, whose mount
// namespace is the environment's.
func ManagerPID(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(StateDir, "manager.pid"))
	if err != nil {
		t.Fatalf("the environment's manager: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// AsRootInside runs a shell script as root in the environment's mount
// namespace.
func AsRootInside(t *testing.T, script string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "nsenter", "-t", ManagerPID(t), "-m", "--", "sh", "-c", script).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// TestUserIDs returns the test user's uid and gid as the environment
// recorded them.
func TestUserIDs(t *testing.T, home string) (uid, gid int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(StateDir, "uid"))
	if err != nil {
		t.Fatal(err)
	}
	uid, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(home)
	if err != nil {
		t.Fatal(err)
	}
	return uid, int(fi.Sys().(*syscall.Stat_t).Gid)
}

// SortedKeys returns the keys of m in order.
func SortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
