package units

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/unit"
)

// splitExec splits an Exec*= value the way systemd does (extract_first_word
// with EXTRACT_UNQUOTE|EXTRACT_CUNESCAPE, then %% and $$ unescaping), after
// removing the executable prefixes. Specifiers other than %% are kept as
// written. It fails on anything systemd would reject or read differently,
// such as an unquoted ';' word.
func splitExec(v string) ([]string, error) {
	v = strings.TrimLeft(v, "-@:+!")
	var words []string
	i := 0
	for {
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i >= len(v) {
			return words, nil
		}
		if v[i] == ';' && (i+1 == len(v) || v[i+1] == ' ' || v[i+1] == '\t') {
			return nil, fmt.Errorf("unquoted ';' at %d would separate commands", i)
		}
		var b strings.Builder
		var quote byte
		for ; i < len(v); i++ {
			c := v[i]
			if quote == 0 && (c == ' ' || c == '\t') {
				break
			}
			switch {
			case c == '\\':
				r, n, err := cunescape(v[i+1:])
				if err != nil {
					return nil, err
				}
				b.WriteString(r)
				i += n
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				quote = 0
			default:
				b.WriteByte(c)
			}
		}
		if quote != 0 {
			return nil, fmt.Errorf("unterminated quote in %q", v)
		}
		w, err := unescapeExpansions(b.String())
		if err != nil {
			return nil, err
		}
		words = append(words, w)
	}
}

// unescapeExpansions undoes %% and $$; a lone $ would be expanded by
// systemd from the environment, which ynhd never intends.
func unescapeExpansions(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c == '%' || c == '$') && i+1 < len(s) && s[i+1] == c {
			b.WriteByte(c)
			i++
			continue
		}
		if c == '$' {
			return "", fmt.Errorf("word %q would be environment-expanded", s)
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func cunescape(s string) (string, int, error) {
	if s == "" {
		return "", 0, fmt.Errorf("trailing backslash")
	}
	switch s[0] {
	case 'n':
		return "\n", 1, nil
	case 't':
		return "\t", 1, nil
	case 'r':
		return "\r", 1, nil
	case '\\', '"', '\'', ' ':
		return s[:1], 1, nil
	case 'x':
		if len(s) < 3 {
			return "", 0, fmt.Errorf("short \\x escape")
		}
		n, err := strconv.ParseUint(s[1:3], 16, 8)
		if err != nil {
			return "", 0, err
		}
		return string([]byte{byte(n)}), 3, nil
	}
	return "", 0, fmt.Errorf("unknown escape \\%c", s[0])
}

// checkRoundTrip asserts that b, the serialization of u, parses back with
// go-systemd's deserializer to exactly u's options, and that every Exec
// line splits back into the words it was built from.
func checkRoundTrip(t testing.TB, u *Unit, b []byte) {
	t.Helper()
	opts, err := unit.DeserializeOptions(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("rendered unit does not parse: %v\n%s", err, b)
	}
	var want []string
	for _, s := range u.Sections {
		for _, o := range s.Options {
			want = append(want, s.Name+"|"+o.Key+"|"+o.Value)
		}
	}
	var got []string
	for _, o := range opts {
		if o.Section == MarkerSection && o.Name == markerHashKey {
			continue
		}
		got = append(got, o.Section+"|"+o.Name+"|"+o.Value)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("unit parses back to different options:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range u.Sections {
		for _, o := range s.Options {
			if o.Argv == nil {
				continue
			}
			words, err := splitExec(o.Value)
			if err != nil {
				t.Fatalf("%s=%s: %v", o.Key, o.Value, err)
			}
			if len(words) != len(o.Argv) {
				t.Fatalf("%s splits into %d words, built from %d:\n%q\n%v", o.Key, len(words), len(o.Argv), words, o.Argv)
			}
			for i, w := range o.Argv {
				if words[i] != w.S {
					t.Fatalf("%s word %d: systemd reads %q, meant %q", o.Key, i, words[i], w.S)
				}
			}
		}
	}
	if _, ok := ReadMarker(b); !ok {
		t.Fatalf("rendered unit has no marker")
	}
}

func TestQuoteExec(t *testing.T) {
	for _, s := range []string{"", "plain", "two words", `"quoted"`, `back\slash`, "100%", "%t", "$HOME", "${X}", ";",
		"tab\there", "new\nline", "semi;colon", "'single'", "trailing\\", "\x01ctrl", "ünïcode", "a=b c"} {
		words := []Word{Lit("/usr/bin/podman"), Lit(s), Lit("end")}
		v := QuoteExec(words)
		got, err := splitExec(v)
		if err != nil {
			t.Errorf("%q -> %s: %v", s, v, err)
			continue
		}
		if len(got) != 3 || got[1] != s {
			t.Errorf("%q -> %s -> %q", s, v, got)
		}
	}
	if v := QuoteExec([]Word{Spec("%t/%N.cid")}); v != "%t/%N.cid" {
		t.Errorf("specifier word escaped: %s", v)
	}
}
