package units

import (
	"fmt"
	"strings"
)

// Word is one argument of an Exec line. Literal words are escaped so that
// systemd passes them through unchanged; Specifier words are ynhd's own and
// may contain unit specifiers (%t, %n, %N, %S) that systemd expands.
type Word struct {
	S         string
	Specifier bool
}

// Lit is a literal Exec word.
func Lit(s string) Word { return Word{S: s} }

// Spec is an Exec word in which systemd expands unit specifiers.
func Spec(s string) Word { return Word{S: s, Specifier: true} }

// Lits turns literal strings into words.
func Lits(ss ...string) []Word {
	ws := make([]Word, len(ss))
	for i, s := range ss {
		ws[i] = Lit(s)
	}
	return ws
}

// EscapeSpecifiers doubles every % so systemd does not expand it.
func EscapeSpecifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// QuoteExec joins words into the value of an Exec*= line such that systemd
// splits it back into exactly these words: % and $ are doubled (specifier
// and environment expansion), and any word that is empty or holds a
// character outside a safe set is double-quoted with C escapes.
func QuoteExec(argv []Word) string {
	parts := make([]string, len(argv))
	for i, w := range argv {
		s := w.S
		if !w.Specifier {
			s = EscapeSpecifiers(s)
		}
		parts[i] = quoteWord(strings.ReplaceAll(s, "$", "$$"))
	}
	return strings.Join(parts, " ")
}

func isSafe(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune("-_.,/:=+@%$[]{}^~", r)
}

func quoteWord(s string) string {
	safe := s != ""
	for _, r := range s {
		if !isSafe(r) {
			safe = false
			break
		}
	}
	if safe {
		return s
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
	return b.String()
}
