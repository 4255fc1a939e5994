package decl

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// EscapeText makes s safe to print on a terminal: control characters (C0,
// DEL, C1) and characters that reorder or hide text (bidirectional
// overrides, zero-width marks) are written as escapes such as \n, \x1b or
// \u202e; everything else, and valid UTF-8 in particular, is kept. Invalid
// UTF-8 bytes are written as \xNN. Every piece of input ynhd echoes in a
// diagnostic goes through it, so a declaration cannot split, recolour or
// rewrite the output of ynhd check.
func EscapeText(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case hidden(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r < 0x20 || r == 0x7f || hidden(r) {
			return true
		}
		i += size
	}
	return false
}

// hidden reports C1 controls and format characters (bidirectional
// controls, zero-width characters, ...) that a terminal acts on or shows
// as nothing.
func hidden(r rune) bool {
	return (r >= 0x80 && r <= 0x9f) || unicode.Is(unicode.Cf, r)
}
