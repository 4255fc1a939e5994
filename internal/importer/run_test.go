package importer

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ynhd/ynhd/internal/decl"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// runCases are command lines people have, each imported into
// testdata/run-NAME.toml (with its notes as comments at the end).
var runCases = map[string][]string{
	"keys": {"podman", "run", "--name", "keys", "--tz", "Europe/Paris", "--shm-size", "256m", "--group-add", "keep-groups", "--add-host", "db.local:192.0.2.10",
		"--init", "--log-driver", "k8s-file", "--log-opt", "max-size=10m", "--network", "backend", "--network-alias", "api", "-v", "data:/data:Z",
		"docker.io/library/alpine:3.20", "sleep", "infinity"},
	"secrets": {"podman", "run", "-d", "--name", "pg", "--secret", "pgpass,target=/run/secrets/pw", "--secret", "api,type=env,target=API_TOKEN",
		"--secret", "cert,uid=999,mode=0400", "docker.io/library/postgres:16"},
	"ynh": {"podman", "run", "-d", "--name", "ynh", "-h", "x250.home", "--cap-add=NET_ADMIN", "--mount", "type=volume,source=tmp_ynh,target=/tmp", "localhost/ynh"},
	"nginx": {"docker", "run", "-d", "--restart", "unless-stopped", "-p", "8080:80", "-p", "127.0.0.1:8443:443/tcp", "-p", "[::1]:5353:53/udp",
		"-e", "A=1", "-e", "NOVALUE", "-v", "/srv/data:/data:ro,Z", "-v", "cache:/cache", "-v", "/anon", "--memory", "512m", "--cpus", "1.5",
		"--health-cmd", "curl -f http://localhost", "--health-interval", "30s", "--health-retries", "3", "--privileged",
		"docker.io/library/nginx:1.25", "nginx", "-g", "daemon off;"},
	"full": {"podman", "run", "--name=full", "-it", "--rm", "--user", "1000:1000", "--userns=keep-id", "--read-only", "--security-opt", "no-new-privileges",
		"--security-opt", "label=disable", "--cap-drop", "ALL", "--cap-add", "chown,setuid", "--device", "/dev/fuse", "--sysctl", "net.ipv4.ip_forward=1",
		"--ulimit", "nofile=1024:4096", "--label", "tier=web", "--log-driver", "journald", "--entrypoint", "/usr/bin/tini", "-w", "/srv",
		"--tmpfs", "/run:size=64m,mode=1777", "--mount", "type=tmpfs,destination=/cache,tmpfs-size=32m", "--stop-signal", "SIGINT", "--stop-timeout", "30",
		"--pull", "newer", "--network", "backend", "--dns", "192.0.2.53", "--env-file", "/etc/full.env", "--pids-limit", "100",
		"--unknown-flag", "value", "-p", "9000-9002:9000-9002", "--restart=on-failure:5", "docker.io/library/debian:bookworm", "/srv/serve", "--port", "9000"},
}

// TestRunGolden: each import decodes and validates as ynhd reads
// declarations, and matches its golden file.
func TestRunGolden(t *testing.T) {
	for name, args := range runCases {
		t.Run(name, func(t *testing.T) {
			d, err := Run(args)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, d, "run-"+name)
		})
	}
}

// TestRunRefuses: what is not a run command line is an error.
func TestRunRefuses(t *testing.T) {
	for _, args := range [][]string{nil, {"podman", "ps"}, {"podman", "run", "-d"}, {"podman", "run", "--name"}} {
		if _, err := Run(args); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}

// FuzzRun: any command line imports without panicking, and what it
// writes is always TOML that ynhd decodes (validation may still refuse
// it, and the import then writes nothing).
func FuzzRun(f *testing.F) {
	for _, args := range runCases {
		f.Add(strings.Join(args, "\x00"))
	}
	f.Fuzz(func(t *testing.T, line string) {
		d, err := Run(strings.Split(line, "\x00"))
		if err != nil {
			return
		}
		checkTOML(t, d.TOML())
	})
}

// TestQuadletGolden: Quadlet files written for the project, with the
// .volume and .network files they name, import into declarations that
// decode and validate, and match their golden files.
func TestQuadletGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "quadlet", "*.container"))
	if len(files) == 0 {
		t.Fatal("no Quadlet test files")
	}
	// Imported together, as `ynhd import quadlet *.container` does.
	var ds []*Decl
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d, err := Quadlet(f, data, func(n string) ([]byte, error) { return os.ReadFile(filepath.Join(filepath.Dir(f), n)) })
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	LinkHealthy(ds)
	for _, d := range ds {
		t.Run(d.Name, func(t *testing.T) { golden(t, d, "quadlet-"+d.Name) })
	}
}

// golden checks an import as ynhd reads it and against its golden file.
func golden(t *testing.T, d *Decl, name string) {
	t.Helper()
	got := d.TOML()
	p, ds := decl.Decode("/home/u/.config/ynhd/"+d.Name+".toml", got, "/home/u")
	if p == nil || ds.HasErrors() {
		t.Fatalf("import does not decode: %v\n%s", ds.Err(), got)
	}
	if ds := decl.Validate(p, decl.Host{Rootless: true, UnprivilegedPortStart: 1024}); ds.HasErrors() {
		t.Fatalf("import does not validate: %v\n%s", ds.Err(), got)
	}
	var notes strings.Builder
	for _, n := range d.Notes {
		notes.WriteString("# note: " + n.String() + "\n")
	}
	got = append(got, "\n"+notes.String()...)
	file := filepath.Join("testdata", name+".toml")
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run with -update after an intended change):\n%s", file, got)
	}
}

// FuzzQuadlet: any file imports without panicking.
func FuzzQuadlet(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "quadlet", "*.container"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Quadlet("x.container", data, nil)
		if err != nil {
			return
		}
		checkTOML(t, d.TOML())
	})
}

// checkTOML fails when an import wrote something that is not TOML.
func checkTOML(t *testing.T, out []byte) {
	t.Helper()
	if p, ds := decl.Decode("/home/u/.config/ynhd/x.toml", out, "/home/u"); p == nil && ds.HasErrors() {
		for _, dg := range ds.Errors() {
			if strings.Contains(dg.Message, "toml") || strings.Contains(dg.Message, "syntax") {
				t.Fatalf("not TOML: %v\n%s", ds.Err(), out)
			}
		}
	}
}
