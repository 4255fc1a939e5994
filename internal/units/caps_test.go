package units

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ynhd/ynhd/internal/decl"
)

// maxRenderedLine is what the declaration bounds promise: no line of a
// rendered unit is longer, far below systemd's 1 MiB (MaxLineLen).
const maxRenderedLine = 640 << 10

// worstDeclarations are valid declarations at the bounds of decl, filled
// with the characters quoting expands most.
func worstDeclarations() map[string]string {
	const head = "version = 1\nimage = \"docker.io/x/y\"\n"
	q := func(c string, n int) string { return strings.Repeat(c, n) }
	half := decl.MaxValuesTotal/2 - 200
	m := map[string]string{
		// A quote in a health command is JSON-escaped, then quoted for
		// systemd: four bytes each.
		"health quotes":          head + "[health]\ncmd = ['" + q(`"`, half) + "', '" + q(`"`, half) + "']\n",
		"entrypoint backslashes": head + "entrypoint = ['" + q(`\`, half) + "', '" + q(`\`, half) + "']\n",
		"env percent and dollar": head + "[env]\nA = '" + q("%", half) + "'\nB = '" + q("$", half) + "'\n",
		"description":            "description = '" + q("%", decl.MaxDescriptionLen) + "'\n" + head,
	}
	var b strings.Builder
	b.WriteString(head + "devices = [")
	for range decl.MaxItems - 20 {
		b.WriteString("'/dev/a',")
	}
	b.WriteString("]\n")
	m["many items"] = b.String()
	return m
}

func TestRenderAtTheBounds(t *testing.T) {
	for name, src := range worstDeclarations() {
		t.Run(name, func(t *testing.T) {
			p, ds := decl.Decode(filepath.Join(testDir, "x.toml"), []byte(src), testHome)
			if p != nil {
				ds = append(ds, decl.Validate(p, decl.Host{Rootless: true, UnprivilegedPortStart: 1024})...)
			}
			if ds.HasErrors() {
				t.Fatalf("not valid: %.300v", ds.Err())
			}
			for _, mode := range []Mode{User, System} {
				b, err := RenderBytes(p.App, Options{Mode: mode})
				if err != nil {
					t.Fatal(err)
				}
				checkLines(t, b)
				t.Logf("%s mode: longest line %d bytes, unit %d bytes", mode, longest(b), len(b))
				u, _ := Render(p.App, Options{Mode: mode})
				for _, o := range u.Lookup("Service", "ExecStart") {
					if _, err := splitExec(o); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// checkLines fails when a line of the unit is longer than the bounds
// promise.
func checkLines(t testing.TB, b []byte) {
	t.Helper()
	for i, line := range bytes.Split(b, []byte("\n")) {
		if len(line) > maxRenderedLine {
			t.Fatalf("line %d is %d bytes, more than %d: %.80s...", i+1, len(line), maxRenderedLine, line)
		}
	}
}

// TestLongDescriptionRefused reproduces the report: a 2 MB description
// used to pass check and give a unit systemd would not load.
func TestLongDescriptionRefused(t *testing.T) {
	for _, n := range []int{decl.MaxDescriptionLen + 1, 2 << 20} {
		src := fmt.Sprintf("version = 1\nimage = \"docker.io/x/y\"\ndescription = '%s'\n", strings.Repeat("d", n))
		p, ds := decl.Decode(filepath.Join(testDir, "x.toml"), []byte(src), testHome)
		if p != nil {
			ds = append(ds, decl.Validate(p, decl.Host{})...)
		}
		if !ds.HasErrors() {
			t.Errorf("a %d-byte description is accepted", n)
		}
	}
	u := &Unit{}
	u.Section("Unit").Text("Description", strings.Repeat("d", MaxLineLen))
	if _, err := u.Bytes(); err == nil || !strings.Contains(err.Error(), "longer than systemd reads") {
		t.Errorf("Bytes of an over-long line: %v", err)
	}
}

func longest(b []byte) int {
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		n = max(n, len(line))
	}
	return n
}
