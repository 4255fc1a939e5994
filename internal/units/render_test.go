package units

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ynhd/ynhd/internal/decl"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Fixed locations so golden files do not depend on the machine.
const (
	testHome = "/home/alice"
	testDir  = "/home/alice/.config/ynhd"
)

// decodeValid decodes and validates data as if it were testDir/name.toml.
func decodeValid(t testing.TB, name string, data []byte) *decl.App {
	t.Helper()
	p, ds := decl.Decode(filepath.Join(testDir, name+".toml"), data, testHome)
	if p != nil {
		ds = append(ds, decl.Validate(p, decl.Host{Rootless: true, UnprivilegedPortStart: 1024})...)
	}
	if ds.HasErrors() {
		t.Fatalf("%s: %v", name, ds.Err())
	}
	return p.App
}

// goldenInputs are the test declarations plus the examples shipped in
// configs/, so a change to rendering shows up in review as a diff.
func goldenInputs(t *testing.T) map[string]string {
	in := map[string]string{}
	for _, pattern := range []string{"testdata/*.toml", "../../configs/*.toml", "../../configs/*/*.toml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			name := strings.TrimSuffix(filepath.Base(f), ".toml")
			if strings.HasPrefix(f, "../") {
				in["configs-"+name] = f
			} else {
				in[name] = f
			}
		}
	}
	if len(in) == 0 {
		t.Fatal("no golden inputs")
	}
	return in
}

func TestGolden(t *testing.T) {
	for id, file := range goldenInputs(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		app := decodeValid(t, decl.AppName(file), data)
		for _, mode := range []Mode{User, System} {
			if mode == System && (app.Persistent || len(app.Secrets) > 0) {
				continue // persistent apps and secrets are user mode only (decl refuses them)
			}
			t.Run(id+"/"+mode.String(), func(t *testing.T) {
				u, err := Render(app, Options{Mode: mode})
				if err != nil {
					t.Fatal(err)
				}
				b, err := Seal(u)
				if err != nil {
					t.Fatal(err)
				}
				checkRoundTrip(t, u, b)
				golden := filepath.Join("testdata", "golden", id+"."+mode.String()+".service")
				if *update {
					if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(golden, b, 0o644); err != nil {
						t.Fatal(err)
					}
					return
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./internal/units -update to create it)", err)
				}
				if string(b) != string(want) {
					t.Errorf("%s differs from the rendering (run with -update if the change is intended):\n%s", golden, lineDiff(string(want), string(b)))
				}
			})
		}
	}
}

// lineDiff shows the lines that differ, "-want +got".
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			b.WriteString("-" + wl + "\n+" + gl + "\n")
		}
	}
	return b.String()
}

func TestMarker(t *testing.T) {
	app := decodeValid(t, "web", []byte("version = 1\nimage = \"docker.io/library/nginx:1.27\"\n"))
	b, err := RenderBytes(app, Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, ok := ReadMarker(b)
	if !ok || !m.Intact || m.Source != testDir+"/web.toml" || m.Mode != "user" {
		t.Fatalf("marker = %+v, %v", m, ok)
	}
	edited := []byte(strings.Replace(string(b), "Restart=always", "Restart=no", 1))
	if m, ok := ReadMarker(edited); !ok || m.Intact {
		t.Fatalf("hand-edited unit reads as intact: %+v", m)
	}
	for name, e := range map[string]string{
		"line appended":           string(b) + "# edited\n",
		"section appended":        string(b) + "[Service]\nUser=root\n",
		"trailing newlines added": string(b) + "\n\n",
	} {
		m, ok := ReadMarker([]byte(e))
		if !ok || m.Source != testDir+"/web.toml" {
			t.Errorf("%s: marker lost: %+v", name, m)
		}
		if m.Intact != (name == "trailing newlines added") {
			t.Errorf("%s: intact = %v", name, m.Intact)
		}
	}
	if _, ok := ReadMarker([]byte("[Service]\nExecStart=/bin/true\n")); ok {
		t.Fatal("foreign unit reads as ynhd's")
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	data, err := os.ReadFile("testdata/tricky.toml")
	if err != nil {
		t.Fatal(err)
	}
	app := decodeValid(t, "tricky", data)
	first, _ := RenderBytes(app, Options{})
	for i := 0; i < 20; i++ {
		again, _ := RenderBytes(decodeValid(t, "tricky", data), Options{})
		if string(again) != string(first) {
			t.Fatal("rendering the same declaration twice differs (map order?)")
		}
	}
}

func TestSerializeRejectsInjection(t *testing.T) {
	for _, v := range []string{"a\nExecStart=/bin/evil", "a\r", "a\x00", `ends\`, " padded"} {
		u := &Unit{}
		u.Section("Service").Raw("Description", v)
		if _, err := u.Bytes(); err == nil {
			t.Errorf("value %q serialized", v)
		}
	}
	u := &Unit{}
	u.Section("Service]\n[Unit").Raw("A", "b")
	if _, err := u.Bytes(); err == nil {
		t.Error("section name with a line break serialized")
	}
}

func TestSystemUserName(t *testing.T) {
	if got := SystemUserName("web"); got != "ynhd-web" {
		t.Errorf("got %q", got)
	}
	long := SystemUserName(strings.Repeat("a", 60))
	if len(long) > 31 || long == SystemUserName(strings.Repeat("a", 59)) {
		t.Errorf("long name %q", long)
	}
}
