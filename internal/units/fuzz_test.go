package units

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ynhd/ynhd/internal/decl"
)

// FuzzDecodeRender feeds arbitrary declarations through decode, validate
// and render. Whatever passes validation must render, the unit must parse
// back to exactly the options and Exec words that were meant (no input can
// add a line, a section or a command), and no line may be longer than the
// declaration bounds promise (maxRenderedLine, far below systemd's 1 MiB).
func FuzzDecodeRender(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.toml")
	more, _ := filepath.Glob("../../configs/*.toml")
	for _, s := range append(seeds, more...) {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("version = 1\nimage = \"docker.io/x/y\"\ncommand = [\"a\\nb\", \"%t\", \"$X\", \";\"]\n"))
	for _, src := range worstDeclarations() {
		f.Add([]byte(src))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, ds := decl.Decode(filepath.Join(testDir, "fuzz.toml"), data, testHome)
		if p == nil || ds.HasErrors() {
			return
		}
		if ds := decl.Validate(p, decl.Host{Rootless: true, UnprivilegedPortStart: 1024}); ds.HasErrors() {
			return
		}
		for _, mode := range []Mode{User, System} {
			u, err := Render(p.App, Options{Mode: mode})
			if err != nil {
				t.Fatalf("valid declaration does not render: %v\n%s", err, data)
			}
			b, err := Seal(u)
			if err != nil {
				t.Fatal(err)
			}
			if direct, err := RenderBytes(p.App, Options{Mode: mode}); err != nil || string(direct) != string(b) {
				t.Fatalf("RenderBytes differs from the sealed model (%v):\n%s\n---\n%s", err, direct, b)
			}
			checkLines(t, b)
			if longest(b) < 2048 { // go-systemd's reader stops there
				checkRoundTrip(t, u, b)
			}
		}
	})
}
