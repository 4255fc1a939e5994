// Package units renders declarations into systemd unit files. Rendering is
// pure: an App goes in, unit bytes come out, with no filesystem, D-Bus or
// podman access. Units are built as a structured model (sections of
// key/value options, Exec lines as argument vectors) and serialized with
// systemd's quoting rules, so no declared value can add a line, a section or
// a command to the unit.
package units

import (
	"fmt"
	"slices"
	"strings"
)

// Unit is a systemd unit file: header comments and ordered sections.
type Unit struct {
	Comments []string
	Sections []*Section
}

// Section is one [Name] block of options, kept in insertion order.
type Section struct {
	Name    string
	Options []Option
}

// Option is one Key=Value line. Value is the text exactly as written to the
// file: constructors (Text, Exec) escape what they are given.
type Option struct {
	Key   string
	Value string
	// Argv is the argument vector an Exec option was built from, kept so
	// tests can check that systemd splits Value back into exactly these
	// words. Serialization ignores it.
	Argv []Word
}

// Section returns the section called name, adding it at the end if needed.
func (u *Unit) Section(name string) *Section {
	for _, s := range u.Sections {
		if s.Name == name {
			return s
		}
	}
	s := &Section{Name: name}
	u.Sections = append(u.Sections, s)
	return s
}

// Lookup returns the values of key in section, in order.
func (u *Unit) Lookup(section, key string) []string {
	var out []string
	for _, s := range u.Sections {
		if s.Name != section {
			continue
		}
		for _, o := range s.Options {
			if o.Key == key {
				out = append(out, o.Value)
			}
		}
	}
	return out
}

// Raw adds key with a value written verbatim: for ynhd's own values, which
// may use unit specifiers such as %t or %n.
func (s *Section) Raw(key, value string) {
	s.Options = append(s.Options, Option{Key: key, Value: value})
}

// Text adds key with a literal value: % is escaped so systemd does not
// expand specifiers in it.
func (s *Section) Text(key, value string) { s.Raw(key, EscapeSpecifiers(value)) }

// Exec adds an Exec*= line. prefix holds systemd's executable prefixes
// ("-" to ignore failure, "" for none); every word is quoted for systemd.
func (s *Section) Exec(key, prefix string, argv ...Word) {
	s.Options = append(s.Options, Option{Key: key, Value: prefix + QuoteExec(argv), Argv: argv})
}

// MaxLineLen is the longest line Bytes writes: below systemd's
// LONG_LINE_MAX (1 MiB), past which systemd refuses to load the unit ("No
// buffer space available"). The bounds on declarations (decl.MaxValueLen,
// decl.MaxValuesTotal, decl.MaxDescriptionLen) keep the longest line of a
// rendered unit, ExecStart=, under about 640 KiB.
const MaxLineLen = 1<<20 - 1

// Bytes serializes the unit. It fails, rather than write a unit that would
// parse differently or not at all, on a malformed section or key name, a
// value with a line break, NUL, or a trailing backslash (systemd's line
// continuation), or a line longer than MaxLineLen.
func (u *Unit) Bytes() ([]byte, error) { return u.appendTo(nil, 0) }

// appendTo serializes the unit onto b, which it grows once to hold the
// unit and extra more bytes.
func (u *Unit) appendTo(b []byte, extra int) ([]byte, error) {
	n := extra
	for _, c := range u.Comments {
		if strings.ContainsAny(c, "\n\r\x00") {
			return nil, fmt.Errorf("comment %q contains a line break", c)
		}
		n += len("# \n") + len(c)
	}
	for _, s := range u.Sections {
		if !isSectionName(s.Name) {
			return nil, fmt.Errorf("invalid section name %q", s.Name)
		}
		n += len("\n[]\n") + len(s.Name)
		for _, o := range s.Options {
			if err := checkOption(o); err != nil {
				return nil, fmt.Errorf("[%s] %w", s.Name, err)
			}
			n += len("=\n") + len(o.Key) + len(o.Value)
		}
	}
	b = slices.Grow(b, n)
	for _, c := range u.Comments {
		b = append(b, "# "...)
		b = append(b, c...)
		b = append(b, '\n')
	}
	for i, s := range u.Sections {
		if i > 0 || len(u.Comments) > 0 {
			b = append(b, '\n')
		}
		b = append(b, '[')
		b = append(b, s.Name...)
		b = append(b, "]\n"...)
		for _, o := range s.Options {
			b = append(b, o.Key...)
			b = append(b, '=')
			b = append(b, o.Value...)
			b = append(b, '\n')
		}
	}
	return b, nil
}

// isSectionName reports whether name is a section name Bytes writes:
// [A-Za-z0-9][A-Za-z0-9 _-]*.
func isSectionName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == ' ' || c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// isKey reports whether k is a key systemd reads:
// [A-Za-z0-9][A-Za-z0-9_-]* (a loop: this runs for every line of every
// unit).
func isKey(k string) bool {
	if k == "" || !keyBytes[k[0]] || k[0] == '_' || k[0] == '-' {
		return false
	}
	for i := 1; i < len(k); i++ {
		if !keyBytes[k[i]] {
			return false
		}
	}
	return true
}

// keyBytes are the bytes of a key: letters, digits, '_' and '-', the last
// two not first.
var keyBytes = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
	}
	return t
}()

func checkOption(o Option) error {
	switch {
	case !isKey(o.Key):
		return fmt.Errorf("invalid key %q", o.Key)
	case strings.ContainsAny(o.Value, "\n\r\x00"):
		return fmt.Errorf("%s: value contains a line break or NUL", o.Key)
	case strings.HasSuffix(o.Value, `\`):
		return fmt.Errorf("%s: value ends with a backslash, which systemd reads as a line continuation", o.Key)
	case strings.TrimSpace(o.Value) != o.Value:
		return fmt.Errorf("%s: value has leading or trailing white space, which systemd drops", o.Key)
	case len(o.Key)+1+len(o.Value) > MaxLineLen:
		return fmt.Errorf("%s: line of %d bytes, longer than systemd reads (%d)", o.Key, len(o.Key)+1+len(o.Value), MaxLineLen)
	}
	return nil
}
