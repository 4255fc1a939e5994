package decl

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// podmanArgsDiagnostics validates args as podman_args and returns the
// diagnostics about its items, without the general warning.
func podmanArgsDiagnostics(args ...string) []string {
	var items []string
	for _, a := range args {
		items = append(items, fmt.Sprintf("%q", a))
	}
	src := "version = 1\nimage = \"docker.io/x/y\"\npodman_args = [" + strings.Join(items, ", ") + "]\n"
	var out []string
	for _, line := range check("web", src) {
		if !strings.Contains(line, "podman_args are passed to podman unchecked") {
			out = append(out, line[strings.Index(line, "podman_args"):])
		}
	}
	return out
}

// TestPodmanArgsCannotSetGlobalFlags reproduces the report: podman_args
// could override the global flags ynhd sets for system mode, point podman
// at another root, runroot, conmon, runtime or hooks, and a cluster such
// as -dit slipped past the refused flags. Every global flag and every
// flag ynhd sets is refused, in every spelling.
func TestPodmanArgsCannotSetGlobalFlags(t *testing.T) {
	var names []string
	for n := range podmanGlobalFlags {
		names = append(names, n)
	}
	for n := range podmanOwnedFlags {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, spelled := range []string{"--" + n, "--" + n + "=/x"} {
			got := podmanArgsDiagnostics(spelled)
			if len(got) != 1 || !strings.Contains(got[0], "--"+n+" is ") || !strings.Contains(got[0], "remove it") {
				t.Errorf("%s: %q", spelled, got)
			}
		}
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"-dit"}, "podman_args[0]: -d (--detach) is set by ynhd and cannot be overridden; remove it"},
		{[]string{"-itd"}, "podman_args[0]: -d (--detach) is set by ynhd"},
		{[]string{"-d"}, "podman_args[0]: -d (--detach) is set by ynhd"},
		{[]string{"-r"}, "podman_args[0]: -r (--remote) is a global podman option"},
		{[]string{"-ir"}, "podman_args[0]: -r (--remote) is a global podman option"},
		{[]string{"--cgroup-manager", "systemd"}, "podman_args[0]: --cgroup-manager is a global podman option: ynhd sets how podman runs (storage, runtime, cgroup manager, events); remove it"},
		{[]string{"--log-opt=driver=none"}, "podman_args[0]: --log-opt=driver=... sets the log driver, which is the log_driver key; remove it"},
		{[]string{"--log-opt", "Driver=k8s-file"}, "podman_args[0]: --log-opt=driver=... sets the log driver, which is the log_driver key; remove it"},
		{[]string{"--label=io.ynhd.app=other"}, `podman_args[0]: labels starting with "io.ynhd." are set by ynhd`},
		{[]string{"-lio.ynhd.app=other"}, `podman_args[0]: labels starting with "io.ynhd." are set by ynhd`},
	} {
		got := podmanArgsDiagnostics(tt.args...)
		if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
			t.Errorf("%q: %q, want %q", tt.args, got, tt.want)
		}
	}
	// A value that merely contains a refused letter is not a flag.
	for _, ok := range [][]string{{"-edebug=1"}, {"-e", "d"}, {"--annotation=a=b"}, {"-it"}, {"--tty"}, {"--env=X=--root"}} {
		if got := podmanArgsDiagnostics(ok...); len(got) != 0 {
			t.Errorf("%q refused: %q", ok, got)
		}
	}
}

func TestPodmanArgsThatWidenPrivilegesWarn(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--privileged"}, "--privileged gives the container every capability"},
		{[]string{"--pid=host"}, "--pid shares the host's pid namespace"},
		{[]string{"--userns", "host"}, "--userns shares the host's userns namespace"},
		{[]string{"--net=host"}, "--net shares the host's network namespace"},
		{[]string{"--cap-add=ALL"}, "--cap-add grants ALL"},
		{[]string{"--cap-add", "cap_sys_admin"}, "--cap-add grants SYS_ADMIN"},
		{[]string{"--device=/dev/sda"}, "--device gives the container a host device"},
		{[]string{"-v", "/:/host"}, "-v (--volume) mounts the host's / into the container"},
		{[]string{"--volume=/etc/:/x:ro"}, "--volume mounts the host's /etc into the container"},
		{[]string{"--mount=type=bind,src=/etc/shadow,dst=/s"}, "--mount mounts the host's /etc/shadow into the container"},
		{[]string{"--security-opt=seccomp=unconfined"}, "--security-opt turns off a confinement"},
	} {
		got := podmanArgsDiagnostics(tt.args...)
		if len(got) != 1 || !strings.Contains(got[0], "podman_args[0]: "+tt.want) {
			t.Errorf("%q: %q, want %q", tt.args, got, tt.want)
		}
	}
	if got := podmanArgsDiagnostics("--volume=/srv/data:/data", "--cap-add=NET_ADMIN"); len(got) != 0 {
		t.Errorf("ordinary options warn: %q", got)
	}
}
