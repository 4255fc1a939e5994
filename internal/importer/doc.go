// Package importer turns services described for other tools into ynhd
// declarations: `podman run` and `docker run` command lines today. An
// import never guesses silently: every value that was approximated gets a
// comment beside it in the declaration, and every part of the input that
// has no form in a declaration is reported as a Note.
package importer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Note is something the import could not carry as it was.
type Note struct {
	Key string // the input's flag or key
	Msg string
	// Lost is set when the value was dropped; otherwise it was carried
	// approximately (and has a comment in the declaration).
	Lost bool
}

func (n Note) String() string {
	what := "approximated"
	if n.Lost {
		what = "not carried"
	}
	return fmt.Sprintf("%s: %s: %s", n.Key, what, n.Msg)
}

// Decl is a declaration being built: keys in the order they were set,
// then tables.
type Decl struct {
	Name   string
	Source string // what it was imported from, for the header comment
	top    []entry
	tables []table
	Notes  []Note
	// notifyHealthy is set for a Quadlet container with Notify=healthy.
	notifyHealthy bool
}

type entry struct {
	key     string
	value   string // TOML
	comment string
}

type table struct {
	name    string // "volumes" for [[volumes]], "health" for [health]
	array   bool
	entries []entry
}

// Set sets a top-level key (replacing an earlier value).
func (d *Decl) Set(key, value, comment string) {
	for i := range d.top {
		if d.top[i].key == key {
			d.top[i] = entry{key, value, comment}
			return
		}
	}
	d.top = append(d.top, entry{key, value, comment})
}

// Has reports whether a top-level key is set.
func (d *Decl) Has(key string) bool {
	for _, e := range d.top {
		if e.key == key {
			return true
		}
	}
	return false
}

// unset removes a top-level key.
func (d *Decl) unset(key string) {
	for i := range d.top {
		if d.top[i].key == key {
			d.top = append(d.top[:i], d.top[i+1:]...)
			return
		}
	}
}

// Append adds a string to a top-level array of strings.
func (d *Decl) Append(key string, values ...string) {
	for i := range d.top {
		if d.top[i].key == key {
			inner := strings.TrimSuffix(strings.TrimPrefix(d.top[i].value, "["), "]")
			for _, v := range values {
				if inner != "" {
					inner += ", "
				}
				inner += Str(v)
			}
			d.top[i].value = "[" + inner + "]"
			return
		}
	}
	d.top = append(d.top, entry{key: key, value: Strs(values)})
}

// SetIn sets key in the table name (created if missing).
func (d *Decl) SetIn(name, key, value, comment string) {
	for i := range d.tables {
		if d.tables[i].name == name && !d.tables[i].array {
			d.tables[i].entries = append(d.tables[i].entries, entry{key, value, comment})
			return
		}
	}
	d.tables = append(d.tables, table{name: name, entries: []entry{{key, value, comment}}})
}

// Add adds one [[name]] table with the given entries.
func (d *Decl) Add(name string, entries ...[3]string) {
	t := table{name: name, array: true}
	for _, e := range entries {
		t.entries = append(t.entries, entry{e[0], e[1], e[2]})
	}
	d.tables = append(d.tables, t)
}

// Note records something carried approximately (lost false) or dropped.
func (d *Decl) Note(key string, lost bool, format string, args ...any) {
	d.Notes = append(d.Notes, Note{Key: key, Msg: fmt.Sprintf(format, args...), Lost: lost})
}

// TOML writes the declaration.
func (d *Decl) TOML() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: imported by ynhd from %s.\n", d.Name, oneLine(d.Source))
	for _, n := range d.Notes {
		if n.Lost {
			fmt.Fprintf(&b, "# Not carried: %s: %s\n", oneLine(n.Key), oneLine(n.Msg))
		}
	}
	b.WriteString("\nversion = 1\n")
	writeEntries(&b, d.top)
	// Plain tables first, then arrays of tables, each group in a fixed
	// order, so the same input always gives the same file.
	order := map[string]int{"build": 0, "health": 1, "resources": 2, "ports": 3, "volumes": 4, "binds": 5, "tmpfs": 6}
	ts := append([]table(nil), d.tables...)
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].array != ts[j].array {
			return !ts[i].array
		}
		return order[ts[i].name] < order[ts[j].name]
	})
	for _, t := range ts {
		if t.array {
			fmt.Fprintf(&b, "\n[[%s]]\n", t.name)
		} else {
			fmt.Fprintf(&b, "\n[%s]\n", t.name)
		}
		writeEntries(&b, t.entries)
	}
	return []byte(b.String())
}

func writeEntries(b *strings.Builder, es []entry) {
	for _, e := range es {
		b.WriteString(e.key)
		b.WriteString(" = ")
		b.WriteString(e.value)
		if e.comment != "" {
			b.WriteString(" # ")
			b.WriteString(oneLine(e.comment))
		}
		b.WriteByte('\n')
	}
}

// oneLine keeps a comment on its line: control characters become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Str is s as a TOML basic string.
func Str(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Strs is an array of TOML strings.
func Strs(ss []string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = Str(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Int is n in TOML.
func Int(n int) string { return strconv.Itoa(n) }

// Bool is v in TOML.
func Bool(v bool) string { return strconv.FormatBool(v) }

// Map is an inline table of strings, keys sorted.
func Map(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = Str(k) + " = " + Str(m[k])
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}
