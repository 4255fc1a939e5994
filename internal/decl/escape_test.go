package decl

import (
	"strings"
	"testing"
)

func TestEscapeText(t *testing.T) {
	for in, want := range map[string]string{
		"plain /home/alice/web.toml": "plain /home/alice/web.toml",
		"é ü 日本":                     "é ü 日本",
		"a\nb\rc\td":                 `a\nb\rc\td`,
		"\x1b[31mred\x1b[0m":         `\x1b[31mred\x1b[0m`,
		"\x00\x07\x7f":               `\x00\x07\x7f`,
		"c1 \u009b31m":               `c1 \u009b31m`,
		"bidi \u202etxt.exe":         `bidi \u202etxt.exe`,
		"zero\u200bwidth":            `zero\u200bwidth`,
		"bad \xff utf8":              `bad \xff utf8`,
	} {
		if got := EscapeText(in); got != want {
			t.Errorf("EscapeText(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDiagnosticsAreOneLine reproduces the report: values, keys and file
// names holding a newline, carriage return, ESC or C1 character were
// echoed raw and split or recoloured the terminal.
func TestDiagnosticsAreOneLine(t *testing.T) {
	srcs := []string{
		"version = 1\nimage = \"docker.io/x/y\"\nenv = { A = \"x\\ny\\u001b[2J\" }\n",
		"version = 1\nimage = \"docker.io/x/y\"\nenv = { \"\\u001b[31mBAD\\r\" = \"x\" }\n",
		"version = 1\nimage = \"docker.io/x/y\"\n\"\\u001b]0;title\\u0007\" = 1\n",
		"version = 1\nimage = \"\\u009b31mdocker.io/x/y\"\ndevices = [\"\\u001b[1A\"]\n",
		"version = 1\nimage = \"docker.io/x/y\"\nuser = \"\\u001b\"\nhostname = \"\\u001bx\"\n",
	}
	for _, src := range srcs {
		got := check("we\x1bb\n", src)
		if len(got) == 0 {
			t.Errorf("no diagnostic for %q", src)
		}
		for _, line := range got {
			if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 || (r >= 0x7f && r <= 0x9f) }) {
				t.Errorf("control character in %q", line)
			}
		}
	}
}
