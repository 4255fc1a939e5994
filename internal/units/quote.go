package units

import (
	"strings"
	"unicode/utf8"
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

// appendEscapedSpecifiers appends s with every % doubled, as
// EscapeSpecifiers returns it.
func appendEscapedSpecifiers[S ~string | ~[]byte](b []byte, s S) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			b = append(b, '%')
		}
		b = append(b, s[i])
	}
	return b
}

// QuoteExec joins words into the value of an Exec*= line such that systemd
// splits it back into exactly these words: % and $ are doubled (specifier
// and environment expansion), and any word that is empty or holds a
// character outside a safe set is double-quoted with C escapes.
func QuoteExec(argv []Word) string {
	n := 0
	for _, w := range argv {
		n += len(w.S) + 3 // a space and two quotes, common enough
	}
	b := make([]byte, 0, n)
	for i, w := range argv {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendWord(b, w)
	}
	return string(b)
}

// safeBytes are the ASCII characters a word may hold unquoted.
var safeBytes = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("-_.,/:=+@%$[]{}^~") {
		t[c] = true
	}
	return t
}()

// plainBytes are the safe bytes that are written as they are: all but
// % and $.
var plainBytes = func() [256]bool {
	t := safeBytes
	t['%'], t['$'] = false, false
	return t
}()

// appendWord appends one word: % (unless the word is a Specifier one) and
// $ doubled, then quoted if it is empty or holds a character outside
// safeBytes.
func appendWord(b []byte, w Word) []byte { return appendWordOf(b, w.S, w.Specifier) }

// appendWordOf is appendWord for the text s of a word, a string or bytes.
// Doubling adds only safe characters, so it does not change whether the
// word is quoted.
func appendWordOf[S ~string | ~[]byte](b []byte, s S, specifier bool) []byte {
	i := 0
	for i < len(s) && plainBytes[s[i]] {
		i++
	}
	if i == len(s) && len(s) > 0 {
		return append(b, s...) // nothing to double or quote
	}
	safe := len(s) > 0
	for ; i < len(s) && safe; i++ {
		safe = safeBytes[s[i]]
	}
	if !safe {
		b = append(b, '"')
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			// Written as the rune it decodes to: invalid UTF-8
			// becomes U+FFFD.
			var enc [utf8.UTFMax]byte
			r, size := utf8.DecodeRune(enc[:copy(enc[:], s[i:])])
			b = utf8.AppendRune(b, r)
			i += size
			continue
		}
		i++
		switch {
		case c == '%' && !specifier:
			b = append(b, "%%"...)
		case c == '$':
			b = append(b, "$$"...)
		case safe:
			b = append(b, c)
		case c == '"':
			b = append(b, `\"`...)
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c < 0x20 || c == 0x7f:
			const hex = "0123456789abcdef"
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	if !safe {
		b = append(b, '"')
	}
	return b
}
