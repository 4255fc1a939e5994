package export

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ynhd/ynhd/internal/decl"
)

var update = flag.Bool("update", false, "rewrite golden files")

// Fixed locations so that golden files do not depend on the machine.
const (
	testHome = "/home/alice"
	testDir  = "/home/alice/.config/ynhd"
)

// testSet is a directory of declarations decoded as if they lived in
// testDir, with the env files beside them.
type testSet struct {
	apps     []*decl.App
	envFiles map[string][]byte
}

// loadSet decodes and validates every *.toml matched by pattern as one
// directory.
func loadSet(t *testing.T, pattern string) testSet {
	t.Helper()
	files, err := filepath.Glob(pattern)
	if err != nil || len(files) == 0 {
		t.Fatalf("no declarations match %s (%v)", pattern, err)
	}
	sort.Strings(files)
	s := testSet{envFiles: map[string][]byte{}}
	var parsed []*decl.Parsed
	known := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, ds := decl.Decode(filepath.Join(testDir, filepath.Base(f)), data, testHome)
		if p != nil {
			ds = append(ds, decl.Validate(p, decl.Host{Rootless: true})...)
		}
		if ds.HasErrors() {
			t.Fatalf("%s: %v", f, ds.Err())
		}
		for _, ef := range p.App.EnvFiles {
			b, err := os.ReadFile(filepath.Join(filepath.Dir(f), filepath.Base(ef)))
			if err != nil {
				t.Fatal(err)
			}
			s.envFiles[ef] = b
		}
		parsed = append(parsed, p)
		known[p.App.Name] = true
		s.apps = append(s.apps, p.App)
	}
	if ds := decl.ValidateSet(parsed, known); ds.HasErrors() {
		t.Fatalf("%s: %v", pattern, ds.Err())
	}
	return s
}

// golden compares got with the golden file, or rewrites it with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if d := cmp.Diff(string(got), string(want)); d != "" {
		t.Errorf("%s differs (-got +want; run with -update after an intended change):\n%s", file, d)
	}
}

// warningText is the warnings of one app as the CLI prints them.
func warningText(ds decl.Diagnostics, app *decl.App) []byte {
	var b strings.Builder
	for _, d := range ds {
		if d.File == app.File {
			b.WriteString(d.String())
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

// goldenSets are the inputs of the golden tests: the examples in configs/
// (each directory one set) and one declaration per mapped key.
var goldenSets = []struct{ id, pattern string }{
	{"configs", "../../configs/*.toml"},
	{"configs", "../../configs/demo/*.toml"},
	{"keys", "testdata/keys/*.toml"},
}
