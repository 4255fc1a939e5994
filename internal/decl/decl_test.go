package decl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var testHost = Host{Rootless: true, UnprivilegedPortStart: 1024}

// check decodes and validates src as /d/NAME.toml and returns every
// diagnostic as a line.
func check(name, src string) []string {
	p, ds := Decode("/d/"+name+".toml", []byte(src), "/home/u")
	if p != nil {
		ds = append(ds, Validate(p, testHost)...)
	}
	ds.Sort()
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	return out
}

func TestDiagnostics(t *testing.T) {
	const img = "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n"
	tests := []struct {
		name, file, src string
		want            []string
	}{
		{"valid", "web", img, nil},
		{"missing version", "web", "image = \"docker.io/x/y\"\n",
			[]string{"/d/web.toml:1:1: version: version is required: add `version = 1` at the top of the file"}},
		{"future version", "web", "version = 2\nimage = \"docker.io/x/y\"\n",
			[]string{"/d/web.toml:1:1: version: unsupported schema version 2: this ynhd reads version 1"}},
		{"unknown key with suggestion", "web", img + "hostnme = \"a\"\n",
			[]string{`/d/web.toml:3:1: hostnme: unknown key "hostnme"; did you mean "hostname"?`}},
		{"unknown key in array of tables", "web", img + "[[ports]]\nhost_port = 8080\n[[ports]]\nhost_port = 8081\nhostport = 1\n",
			[]string{`/d/web.toml:7:1: ports[1].hostport: unknown key "hostport"; did you mean "host_port"?`}},
		{"type error", "web", img + "[[ports]]\nhost_port = \"8080\"\n",
			[]string{"/d/web.toml:4:1: ports[0].host_port: wrong type: TOML value has type string; destination has type integer: write a whole number without quotes"}},
		{"syntax error", "web", "version = 1\nimage = \"unterminated\n",
			nil}, // checked below: has a line
		{"bad duration", "web", img + "stop_timeout = \"10 parsecs\"\n", nil},
		{"bad app name", "Web_App!", img,
			[]string{`/d/Web_App!.toml: app name "Web_App!" (the file name without .toml) is invalid: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit; rename the file`}},
		{"reserved name", "ynhd", img,
			[]string{`/d/ynhd.toml: app name "ynhd" is reserved (its unit would shadow a unit of the session); rename the file`}},
		{"no image", "web", "version = 1\n",
			[]string{"/d/web.toml: image: an image is required: set `image = \"registry/name:tag\"` or add a [build] table"}},
		{"uppercase image", "web", "version = 1\nimage = \"docker.io/Library/nginx\"\n",
			[]string{`/d/web.toml:2:1: image: invalid image reference "docker.io/Library/nginx": repository names must be lowercase`}},
		{"short image warns", "web", "version = 1\nimage = \"nginx:1.27\"\n",
			[]string{`/d/web.toml:2:1: warning: image: "nginx:1.27" is a short name: podman resolves it through registries.conf, which may differ between hosts or ask interactively; use a fully qualified name such as docker.io/library/nginx:1.27`}},
		{"privileged port", "web", img + "[[ports]]\nhost_port = 80\n",
			[]string{"/d/web.toml:4:1: ports[0].host_port: host port 80 is below net.ipv4.ip_unprivileged_port_start (1024), so rootless podman cannot publish it; use a port >= 1024 (e.g. 8080) or allow it on the host: sysctl -w net.ipv4.ip_unprivileged_port_start=80 (persist it in /etc/sysctl.d/)"}},
		{"port range", "web", img + "[[ports]]\nhost_port = 70000\ncontainer_port = 0\n",
			[]string{"/d/web.toml:4:1: ports[0].host_port: host port 70000 out of range: use 1-65535",
				"/d/web.toml:5:1: ports[0].container_port: container port 70000 out of range: use 1-65535"}},
		{"unknown capability", "web", img + "cap_add = [\"NET_ADMN\"]\n",
			[]string{`/d/web.toml:3:12: cap_add[0]: unknown capability "NET_ADMN"; did you mean "CAP_NET_ADMIN"?`}},
		{"newline in value", "web", img + "env = { A = \"x\\ny\" }\n",
			[]string{"/d/web.toml:3:9: env.A: value contains a newline or NUL character; these are not allowed in declarations"}},
		{"podman_args warns and owned flag errors", "web", img + "podman_args = [\"--rm\", \"--annotation=a=b\"]\n",
			[]string{"/d/web.toml:3:1: warning: podman_args: podman_args are passed to podman unchecked; ynhd cannot validate them and they may break the unit; prefer a declaration key",
				"/d/web.toml:3:16: podman_args[0]: --rm is set by ynhd and cannot be overridden; remove it"}},
		{"userns and maps", "web", img + "userns = \"auto\"\nuid_map = [\"0:1:10\"]\n",
			[]string{"/d/web.toml:3:1: userns: userns and uid_map/gid_map are mutually exclusive: keep one",
				"/d/web.toml:4:1: uid_map: uid_map and gid_map must be given together"}},
		{"self dependency", "web", img + "after = [\"web\"]\n",
			[]string{"/d/web.toml:3:10: after[0]: an app cannot depend on itself"}},
		{"non-table for a map", "web", img + "env = 3\n",
			[]string{`/d/web.toml:3:1: env: wrong type: TOML value has type integer; destination is a table such as { NAME = "value" }`}},
		{"unknown array key reported once", "web", img + "comand = [\"a\", \"b\"]\n[heath]\ncmd = [\"x\"]\n",
			[]string{`/d/web.toml:3:1: comand: unknown key "comand"; did you mean "command"?`,
				`/d/web.toml:4:1: heath: unknown key "heath"; did you mean "health"?`}},
		{"missing host port", "web", img + "[[ports]]\ncontainer_port = 80\n",
			[]string{"/d/web.toml:3:1: ports[0]: host_port is required: the port on the host, e.g. host_port = 8080"}},
		{"run options valid", "web", img + "tz = \"America/Argentina/Buenos_Aires\"\nshm_size = \"256m\"\ngroup_add = [\"video\", \"44\"]\n" +
			"add_host = [\"db.internal:10.0.0.5\", \"v6:fd00::5\"]\nlog_options = { tag = \"web\", max-size = \"10m\" }\nstart_timeout = \"10m\"\ninit = true\n" +
			"network = \"backend\"\nnetwork_aliases = [\"www\"]\n[[volumes]]\nname = \"data\"\ntarget = \"/data\"\nselinux = \"private\"\n", nil},
		{"part_of valid", "web", img + "part_of = \"shop\"\n", nil},
		{"part_of refused", "web", img + "part_of = \"Shop.target\\nWants=evil\"\n",
			[]string{`/d/web.toml:3:1: part_of: "Shop.target\nWants=evil" is not a group name: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit`,
				"/d/web.toml:3:1: part_of: value contains a newline or NUL character; these are not allowed in declarations"}},
		{"tz local and Etc", "web", img + "tz = \"local\"\n", nil},
		{"tz refused", "web", img + "tz = \"../../etc/passwd\"\n",
			[]string{`/d/web.toml:3:1: tz: "../../etc/passwd" is not a time zone: use an IANA name such as "Europe/Paris" or "UTC" (letters, digits, '/', '_', '-', '+', at most 64 characters, not starting with '/'), or "local" for the host's`}},
		{"tz absolute", "web", img + "tz = \"/etc/localtime\"\n",
			[]string{`/d/web.toml:3:1: tz: "/etc/localtime" is not a time zone: use an IANA name such as "Europe/Paris" or "UTC" (letters, digits, '/', '_', '-', '+', at most 64 characters, not starting with '/'), or "local" for the host's`}},
		{"shm_size refused", "web", img + "shm_size = \"1.5 gigs\"\n",
			[]string{`/d/web.toml:3:1: shm_size: "1.5 gigs" is not a size: write a number and an optional unit b, k, m, g or t (powers of 1024; kb, KiB and K alike), e.g. "512m", "1.5g" or "1GiB"`}},
		{"shm_size zero", "web", img + "shm_size = \"0m\"\n",
			[]string{`/d/web.toml:3:1: shm_size: a size of 0 leaves no shared memory; leave shm_size out for podman's default (64m)`}},
		{"group_add refused", "web", img + "group_add = [\"video\", \"-x\", \"keep-groups\"]\n",
			[]string{`/d/web.toml:3:23: group_add[1]: "-x" is not a group name or id`,
				`/d/web.toml:3:29: group_add[2]: keep-groups cannot be combined with other groups (podman refuses it): keep it alone or list the groups`}},
		{"keep-groups alone", "web", img + "group_add = [\"keep-groups\"]\n", nil},
		{"add_host refused", "web", img + "add_host = [\"db\", \"-x:10.0.0.1\", \"a:[fd00::1]\", \"b:host-gateway\", \"c:fe80::1%eth0\"]\n",
			[]string{`/d/web.toml:3:13: add_host[0]: "db" is not HOST:IP (e.g. "db.internal:10.0.0.5")`,
				`/d/web.toml:3:19: add_host[1]: "-x" is not a host name: dot-separated labels of letters, digits and '-', at most 253 characters`,
				`/d/web.toml:3:34: add_host[2]: write the IPv6 address without brackets, as podman reads it: "a:fd00::1"`,
				`/d/web.toml:3:49: add_host[3]: "host-gateway" is not an IP address: use IPv4 (10.0.0.5) or IPv6 without brackets or zone (fd00::5)`,
				`/d/web.toml:3:67: add_host[4]: "fe80::1%eth0" is not an IP address: use IPv4 (10.0.0.5) or IPv6 without brackets or zone (fd00::5)`}},
		{"log_options refused", "web", img + "log_options = { \"a b\" = \"1\", Driver = \"none\", tag = \"\" }\n",
			[]string{`/d/web.toml:3:17: log_options.a b: name "a b" must contain only letters, digits, '-', '_' and '.'`,
				`/d/web.toml:3:30: log_options.Driver: the log driver is set by log_driver, not by an option`,
				`/d/web.toml:3:47: log_options.tag: empty value: podman refuses it; leave the option out`}},
		{"log_options without logs warns", "web", img + "log_driver = \"none\"\nlog_options = { tag = \"x\" }\n",
			[]string{`/d/web.toml:4:1: warning: log_options: log_driver = "none" keeps no logs, so these options do nothing`}},
		{"start_timeout zero", "web", img + "start_timeout = \"0s\"\n",
			[]string{`/d/web.toml:3:1: start_timeout: must be more than 0; leave it out for the default (5m0s)`}},
		{"start_timeout too long", "web", img + "start_timeout = \"25h\"\n",
			[]string{`/d/web.toml:3:1: start_timeout: 25h0m0s is more than the 24h0m0s a start may take`}},
		{"init with systemd", "web", img + "systemd = true\ninit = true\n",
			[]string{`/d/web.toml:4:1: init: init and systemd = true are mutually exclusive: in systemd mode systemd is PID 1 and reaps zombies; remove init`}},
		{"network_aliases without a network", "web", img + "network = \"pasta\"\nnetwork_aliases = [\"www\", \"a.b\"]\n",
			[]string{`/d/web.toml:4:1: network_aliases: aliases are names on a podman network: set network to the name of one (network is "pasta")`,
				`/d/web.toml:4:27: network_aliases[1]: "a.b" is not a valid alias: 1-63 letters, digits and '-', starting and ending with a letter or digit`}},
		{"network_aliases with the default network", "web", img + "network_aliases = [\"www\"]\n",
			[]string{`/d/web.toml:3:1: network_aliases: aliases are names on a podman network: set network to the name of one (network is "")`}},
		{"volume selinux refused", "web", img + "[[volumes]]\nname = \"data\"\ntarget = \"/data\"\nselinux = \"Z\"\n",
			[]string{`/d/web.toml:6:1: volumes[0].selinux: use "private" (a label for this container only, like :Z), "shared" (a label all containers may use, like :z) or leave it out`}},
		{"reserved label", "web", img + "labels = { \"io.ynhd.app\" = \"x\" }\n",
			[]string{`/d/web.toml:3:12: labels.io.ynhd.app: labels starting with "io.ynhd." are set by ynhd; choose another name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(tt.file, tt.src)
			if tt.want == nil && strings.Contains(tt.name, "error") || strings.Contains(tt.name, "duration") {
				if len(got) != 1 || !strings.HasPrefix(got[0], "/d/web.toml:") || strings.HasPrefix(got[0], "/d/web.toml: ") {
					t.Fatalf("want one positioned error, got %q", got)
				}
				return
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("diagnostics (-got +want):\n%s", diff)
			}
		})
	}
}

func TestDefaultsAndPaths(t *testing.T) {
	src := `version = 1
image = "docker.io/library/nginx:1.27"
systemd = true
env_files = ["a.env", "~/b.env", "/abs/c.env"]
[[ports]]
host_port = 8080
[[binds]]
source = "../data"
target = "/data"
`
	p, ds := Decode("/home/u/.config/ynhd/web.toml", []byte(src), "/home/u")
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	a := p.App
	got := []string{a.Name, a.Pull, a.Restart, a.LogDriver, a.StopTimeout.String(), a.StopSignal,
		strings.Join(a.Command, " "), strings.Join(a.EnvFiles, " "), a.Binds[0].Source,
		a.Ports[0].Protocol, strings.TrimSpace(strings.Repeat("x", a.Ports[0].ContainerPort/8080))}
	want := []string{"web", "missing", "always", "journald", "10s", "SIGRTMIN+3", "/sbin/init",
		"/home/u/.config/ynhd/a.env /home/u/b.env /abs/c.env", "/home/u/.config/data", "tcp", "x"}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("defaults (-got +want):\n%s", diff)
	}
	if !a.IsEnabled() || a.UnitName() != "web.service" {
		t.Errorf("enabled=%v unit=%s", a.IsEnabled(), a.UnitName())
	}
}

func TestValidateSet(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const img = "version = 1\nimage = \"docker.io/library/busybox:1\"\n"
	write("a.toml", img+"requires = [\"b\"]\n")
	write("b.toml", img+"after = [\"c\"]\n")
	write("c.toml", img+"wants = [\"a\"]\n")
	write("d.toml", img+"after = [\"ghost\"]\n")
	write("e.toml", "version = 1\nimage = 42\n") // invalid, but declared
	write("f.toml", img+"after = [\"e\"]\n")
	write("g.toml", img+"[[ports]]\nhost_port = 8080\n")
	write("h.toml", img+"[[ports]]\nhost_ip = \"127.0.0.1\"\nhost_port = 8080\n")
	write("i.toml", img+"enabled = false\n[[ports]]\nhost_port = 8080\n")
	write("j.toml", img+"requires_healthy = [\"g\"]\n")
	write(".hidden.toml", "garbage")
	write("notes.txt", "garbage")
	files, err := DeclarationFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range LoadFiles(files, testHost, "/home/u") {
		for _, d := range l.Diagnostics {
			got = append(got, strings.TrimPrefix(d.String(), dir+"/"))
		}
	}
	want := []string{
		`a.toml:3:13: requires[0]: dependency cycle a -> b -> c -> a: remove one of these dependencies`,
		`d.toml:3:10: after[0]: app "ghost" is not declared: add ghost.toml beside this file or remove it from after`,
		`e.toml:2:1: image: wrong type: TOML value has type integer; destination has type string: write it in quotes`,
		`h.toml:5:1: ports[0].host_port: host port 8080/tcp is also published by app "g"; pick another port or disable one of them`,
		`j.toml:3:21: requires_healthy[0]: app "g" has no [health] check, so it never becomes healthy; add one to g.toml or use requires`,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("set diagnostics (-got +want):\n%s", diff)
	}
}

func TestCheckImageRef(t *testing.T) {
	for ref, short := range map[string]bool{
		"nginx": true, "library/nginx:1": true, "docker.io/library/nginx": false,
		"localhost/ynhd-test/busybox:latest": false, "registry:5000/a/b:c": false,
		"quay.io/a/b@sha256:" + strings.Repeat("a", 64): false, "quay.io/a/b:1@sha256:" + strings.Repeat("a", 64): false,
	} {
		got, err := CheckImageRef(ref)
		if err != nil || got != short {
			t.Errorf("%s: short=%v err=%v", ref, got, err)
		}
	}
	for _, bad := range []string{"", "UPPER", "a b", "x:", "x@sha256:12", "-x", "a//b", "docker.io/x:" + strings.Repeat("t", 200),
		"[::1]:5000/x", // podman's parser has no bracketed IPv6 registries
		strings.Repeat("a", 64), "x@md5:" + strings.Repeat("a", 32)} {
		if _, err := CheckImageRef(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestPositions(t *testing.T) {
	src := `version = 1 # comment with "quotes" = x
image = """multi
line = 3"""
env = { A = "1", "B.C" = 'x' }
ports = [
  { host_port = 1 },
  { host_port = 2, container_port = 3 },
]
[resources]
memory = "1g"
[[volumes]]
name = "v"
[volumes.options]
o = "rw"
`
	p := scanPositions([]byte(src))
	want := map[string]Pos{
		"version": {1, 1}, "image": {2, 1}, "env.A": {4, 9}, "env.B.C": {4, 18},
		"ports[1].container_port": {7, 20}, "resources.memory": {10, 1}, "volumes[0].name": {12, 1},
		"volumes[0].options.o": {14, 1},
	}
	for k, w := range want {
		if got := p.lookup(k); got != w {
			t.Errorf("%s at %v, want %v", k, got, w)
		}
	}
	p.ensure()
	if _, ok := p.at["line"]; ok {
		t.Error("text inside a multi-line string read as a key")
	}
}
