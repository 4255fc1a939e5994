package units

import (
	"fmt"
	"strings"
	"testing"
)

// quoteExecByRunes is QuoteExec as first written, rune by rune: the
// reference its faster form must match byte for byte.
func quoteExecByRunes(argv []Word) string {
	parts := make([]string, len(argv))
	for i, w := range argv {
		s := w.S
		if !w.Specifier {
			s = EscapeSpecifiers(s)
		}
		s = strings.ReplaceAll(s, "$", "$$")
		safe := s != ""
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,/:=+@%$[]{}^~", r)) {
				safe = false
				break
			}
		}
		if safe {
			parts[i] = s
			continue
		}
		var b strings.Builder
		b.WriteByte('"')
		for _, r := range s {
			switch r {
			case '"':
				b.WriteString(`\"`)
			case '\\':
				b.WriteString(`\\`)
			case '\n':
				b.WriteString(`\n`)
			case '\t':
				b.WriteString(`\t`)
			case '\r':
				b.WriteString(`\r`)
			default:
				if r < 0x20 || r == 0x7f {
					fmt.Fprintf(&b, `\x%02x`, r)
				} else {
					b.WriteRune(r)
				}
			}
		}
		b.WriteByte('"')
		parts[i] = b.String()
	}
	return strings.Join(parts, " ")
}

func FuzzQuoteExecMatchesReference(f *testing.F) {
	for _, s := range []string{"", "plain", "two words", `"q"`, `b\s`, "100%", "$HOME", "\x01\x7f", "ünï", "\xff\xfe", "\u0085", "%t"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, spec bool) {
		argv := []Word{{S: s, Specifier: spec}, Lit(s), Spec(s + "%")}
		if got, want := QuoteExec(argv), quoteExecByRunes(argv); got != want {
			t.Fatalf("QuoteExec(%v) = %q, want %q", argv, got, want)
		}
	})
}
