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
			[]string{"/d/web.toml:4:1: ports[0].host_port: wrong type: TOML value has type string; destination has type integer"}},
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
		`e.toml:2:1: image: wrong type: TOML value has type int64; destination has type string`,
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
		"quay.io/a/b@sha256:" + strings.Repeat("a", 64): false, "[::1]:5000/x": false,
	} {
		got, err := CheckImageRef(ref)
		if err != nil || got != short {
			t.Errorf("%s: short=%v err=%v", ref, got, err)
		}
	}
	for _, bad := range []string{"", "UPPER", "a b", "x:", "x@sha256:12", "-x", "a//b", "docker.io/x:" + strings.Repeat("t", 200)} {
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
