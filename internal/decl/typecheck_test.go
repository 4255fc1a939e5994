package decl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
)

// manyErrors has a type error in several tables and an unknown key: the
// decoder alone reports one of them, a different one from run to run.
const manyErrors = `version = 1
image = "docker.io/library/nginx:1.27"
stop_timeout = "10 seconds"
read_only = "yes"
env = { A = 1 }
imagee = "x"
[health]
cmd = ["true"]
interval = "1 hour 30 minutes"
retries = "3"
[resources]
cpus = "2"
[[ports]]
host_port = "8080"
container_port = 80
[[ports]]
host_port = 8081
protocol = 6
`

func TestEveryTypeError(t *testing.T) {
	got := check("web", manyErrors)
	want := []string{
		`/d/web.toml:3:1: stop_timeout: "10 seconds" is not a duration: write a number and a unit (ns, us, ms, s, m, h) with no space, such as "10s", "1m30s" or "500ms"; here "10s"`,
		`/d/web.toml:4:1: read_only: wrong type: TOML value has type string; destination has type boolean: write true or false`,
		`/d/web.toml:5:9: env.A: wrong type: TOML value has type integer; destination has type string: write it in quotes`,
		`/d/web.toml:6:1: imagee: unknown key "imagee"; did you mean "image"?`,
		`/d/web.toml:9:1: health.interval: "1 hour 30 minutes" is not a duration: write a number and a unit (ns, us, ms, s, m, h) with no space, such as "10s", "1m30s" or "500ms"; here "1h30m"`,
		`/d/web.toml:10:1: health.retries: wrong type: TOML value has type string; destination has type integer: write a whole number without quotes`,
		`/d/web.toml:12:1: resources.cpus: wrong type: TOML value has type string; destination has type float: write a number without quotes, e.g. 1.5`,
		`/d/web.toml:14:1: ports[0].host_port: wrong type: TOML value has type string; destination has type integer: write a whole number without quotes`,
		`/d/web.toml:18:1: ports[1].protocol: wrong type: TOML value has type integer; destination has type string: write it in quotes`,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("diagnostics (-got +want):\n%s", diff)
	}
}

// TestCheckIsDeterministic decodes a file with several errors 20 times:
// the list must be the same every time.
func TestCheckIsDeterministic(t *testing.T) {
	first := strings.Join(check("web", manyErrors), "\n")
	for i := 0; i < 20; i++ {
		if got := strings.Join(check("web", manyErrors), "\n"); got != first {
			t.Fatalf("run %d differs:\n%s\nfirst run:\n%s", i, got, first)
		}
	}
}

func TestTypeErrorsEverywhere(t *testing.T) {
	const img = "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n"
	for _, tt := range []struct{ name, src, want string }{
		{"key case", img + "Hostname = \"a\"\n", `/d/web.toml:3:1: Hostname: unknown key "Hostname"; did you mean "hostname"?`},
		{"table for a string", img + "[workdir]\na = 1\n", `/d/web.toml:3:1: workdir: wrong type: TOML value has type table; destination has type string: write it in quotes`},
		{"string for a table", img + "health = \"x\"\n", `/d/web.toml:3:1: health: wrong type: TOML value has type string; destination is a table: write [health] with its keys below`},
		{"string for an array of tables", img + "ports = \"8080\"\n", `/d/web.toml:3:1: ports: wrong type: TOML value has type string; destination is an array of tables: write [[ports]] sections`},
		{"string for an array", img + "command = \"sh -c x\"\n", `/d/web.toml:3:1: command: wrong type: TOML value has type string; destination is an array such as ["a", "b"]`},
		{"integer in an array", img + "dns = [\"1.1.1.1\", 8]\n", `/d/web.toml:3:19: dns[1]: wrong type: TOML value has type integer; destination has type string: write it in quotes`},
		{"integer duration", img + "stop_timeout = 10\n", `/d/web.toml:3:1: stop_timeout: wrong type: TOML value has type integer; write a duration as a string such as "10s" or "1m30s"`},
		{"bare number duration", img + "stop_timeout = \"10\"\n", `/d/web.toml:3:1: stop_timeout: "10" is not a duration: write a number and a unit (ns, us, ms, s, m, h) with no space, such as "10s", "1m30s" or "500ms"; here "10s"`},
		{"days", img + "start_timeout = \"1 day\"\n", `/d/web.toml:3:1: start_timeout: "1 day" is not a duration: write a number and a unit (ns, us, ms, s, m, h) with no space, such as "10s", "1m30s" or "500ms"; here "24h"`},
		{"no hint", img + "stop_timeout = \"soon\"\n", `/d/web.toml:3:1: stop_timeout: "soon" is not a duration: write a number and a unit (ns, us, ms, s, m, h) with no space, such as "10s", "1m30s" or "500ms"`},
		{"datetime", img + "hostname = 1979-05-27\n", `/d/web.toml:3:1: hostname: wrong type: TOML value has type datetime; destination has type string: write it in quotes`},
		{"implicit table", img + "heath.cmd = [\"x\"]\n", `/d/web.toml:3:1: heath: unknown key "heath"; did you mean "health"?`},
		{"implicit table in a header", img + "[t.u.v]\nx = 1\n", `/d/web.toml:3:1: t: unknown key "t"; did you mean "tz"?`},
		{"bad version type and more", "version = \"1\"\nimage = 3\n", `/d/web.toml:1:1: version: wrong type: TOML value has type string; destination has type integer: write a whole number without quotes`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := check("web", tt.src)
			if len(got) == 0 || got[0] != tt.want {
				t.Errorf("got %q\nwant first %q", got, tt.want)
			}
		})
	}
}

// checkTypeErrorsAgree fails when typeErrors misses a value that does not
// fit App: with no type error, the fill from the known keys must succeed,
// and, with no unknown key either, the decoder must agree. Otherwise
// Decode would fall back to the decoder's one error, which depends on map
// order.
func checkTypeErrorsAgree(t *testing.T, src string) {
	if checkShape("x.toml", []byte(src)) != nil {
		return
	}
	var doc toml.Primitive
	md, err := toml.Decode(src, &doc)
	if err != nil {
		return
	}
	var raw any
	if err := md.PrimitiveDecode(doc, &raw); err != nil {
		return
	}
	top, _ := raw.(map[string]any)
	typeErrs, unknown := typeErrors("x.toml", scanPositions([]byte(src)), top)
	if len(typeErrs) > 0 {
		return
	}
	var fast App
	if !appFromTOML(knownKeys(top, reflect.TypeOf(App{})), &fast) {
		t.Errorf("%q: typeErrors finds nothing, the fill from the known keys fails", src)
	}
	var app App
	if decErr := md.PrimitiveDecode(doc, &app); len(unknown) == 0 && decErr != nil {
		t.Errorf("%q: typeErrors finds nothing, the decoder says %v", src, decErr)
	}
}

func FuzzTypeErrorsAgree(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "units", "testdata", "*.toml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(string(data))
		}
	}
	const img = "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n"
	for _, s := range []string{manyErrors, img + "[resources]\ncpus = 9007199254740993\n", img + "keep_snapshots = 1.0\n",
		img + "ports = [1]\n", "Version={} ", img + "Hostname = 1\n[[Ports]]\nhost_port = 1\n[[ports]]\nhostport = 1\n", img + "[[ports]]\nhost_port = 99999999999999999999\n", img + "env = { A = [\"x\"] }\n", img + "tmpfs = [[1]]\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 1<<16 {
			return
		}
		checkTypeErrorsAgree(t, src)
	})
}

// TestTypeCheckKinds: kinds App does not use yet (maps of tables, narrow
// and unsigned integers, types that read themselves from text) are
// checked as the decoder checks them, for the keys still to come.
func TestTypeCheckKinds(t *testing.T) {
	type probe struct {
		M  map[string]Port `toml:"m"`
		U  uint8           `toml:"u"`
		I8 int8            `toml:"i8"`
		D  *Duration       `toml:"d"`
		A  []int           `toml:"a"`
		X  any             `toml:"x"`
	}
	src := "u = 300\ni8 = 1\nd = \"5 min\"\na = [1, \"2\"]\nx = [1, \"a\"]\n[m.web]\nhost_port = \"80\"\nhostport = 1\n"
	var raw map[string]any
	if _, err := toml.Decode(src, &raw); err != nil {
		t.Fatal(err)
	}
	c := &typeCheck{file: "p.toml", pos: scanPositions([]byte(src)), unknown: map[string]toml.Key{}}
	c.table(raw, reflect.TypeOf(probe{}), "", nil)
	c.ds.Sort()
	var got []string
	for _, d := range c.ds {
		got = append(got, d.String())
	}
	for _, k := range c.unknown {
		got = append(got, "unknown "+strings.Join(k, "."))
	}
	want := []string{
		`p.toml:1:1: u: 300 is out of range for this key`,
		`p.toml:3:1: d: "5 min" is not a duration: write a number and a unit (ns, us, ms, s, m, h) with no space, such as "10s", "1m30s" or "500ms"; here "5m"`,
		`p.toml:4:9: a[1]: wrong type: TOML value has type string; destination has type integer: write a whole number without quotes`,
		`p.toml:7:1: m.web.host_port: wrong type: TOML value has type string; destination has type integer: write a whole number without quotes`,
		`unknown m.web.hostport`,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}
