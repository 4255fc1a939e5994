package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

func repoDocs(t *testing.T) ManDocs {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("..", "..", "docs", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return ManDocs{Declarations: read("declarations.md"), SystemMode: read("system-mode.md")}
}

// TestManPages checks that every command has its page, that ynhd(1)
// carries the exit codes, that the section 5 and 8 pages come from the
// documents, and that the pages are the same bytes each time.
func TestManPages(t *testing.T) {
	docs := repoDocs(t)
	dir1, dir2 := t.TempDir(), t.TempDir()
	names, err := WriteManPages(dir1, docs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteManPages(dir2, docs); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		a, _ := os.ReadFile(filepath.Join(dir1, n))
		b, _ := os.ReadFile(filepath.Join(dir2, n))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", n)
		}
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || !c.IsAvailableCommand() && c.HasParent() {
			return
		}
		want := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		if !have[want] {
			t.Errorf("no man page %s for %q", want, c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot(&env{}))

	page := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir1, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	root := page("ynhd.1")
	for _, want := range []string{`.TH "YNHD" "1" "Nov 2026" "ynhd" "ynhd manual"`, ".SH EXIT STATUS", "\\fB64\\fP", ".SH JSON OUTPUT", "ynhd-check(1)"} {
		if !strings.Contains(root, want) {
			t.Errorf("ynhd.1 lacks %q", want)
		}
	}
	toml := page("ynhd.toml.5")
	for _, want := range []string{`.TH "YNHD.TOML" "5"`, ".SH NAME", "shm_size", ".SH SEE ALSO"} {
		if !strings.Contains(toml, want) {
			t.Errorf("ynhd.toml.5 lacks %q", want)
		}
	}
	if strings.Contains(toml, "](") || strings.Contains(toml, "Contents:") {
		t.Errorf("ynhd.toml.5 keeps markdown links or the table of contents")
	}
	if sys := page("ynhd-system.8"); !strings.Contains(sys, `.TH "YNHD-SYSTEM" "8"`) || !strings.Contains(sys, "DynamicUser") {
		t.Errorf("ynhd-system.8 is not the system-mode page:\n%.400s", sys)
	}
}

// TestExitTableDocumented keeps docs/cli.md's table of exit codes the same
// as the one the help and ynhd(1) print.
func TestExitTableDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "cli.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| code") {
			rows = append(rows, l)
		}
	}
	var want []string
	for _, x := range exitTable {
		want = append(want, fmt.Sprintf("| %d | %s |", x.code, x.meaning))
	}
	if d := cmp.Diff(rows, want); d != "" {
		t.Errorf("docs/cli.md's exit codes differ from exitTable (-doc +code):\n%s", d)
	}
}
