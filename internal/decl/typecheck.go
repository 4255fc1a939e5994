package decl

import (
	"encoding"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// The TOML decoder stops at the first value it cannot store, and which
// one that is depends on the order it visits a table's keys in, which is
// random. typeCheck walks the whole document along App's type instead and
// reports every such value, and every unknown key, with its key path; the
// diagnostics are then sorted by position, so the same file always gives
// the same list. It runs only when the fast fill (convert.go) gave up, that
// is, when there is something to report.

var durationType = reflect.TypeOf(Duration{})

type typeCheck struct {
	file    string
	pos     *positions
	ds      Diagnostics
	unknown map[string]toml.Key // bare path -> key, each reported once
}

// typeErrors returns the type errors of the document top, and its unknown
// keys (each outermost unknown key once, at every place it is written).
func typeErrors(file string, pos *positions, top map[string]any) (typeErrs, unknown Diagnostics) {
	c := &typeCheck{file: file, pos: pos, unknown: map[string]toml.Key{}}
	c.table(top, reflect.TypeOf(App{}), "", nil)
	bare := make([]string, 0, len(c.unknown))
	for b := range c.unknown {
		bare = append(bare, b)
	}
	sort.Strings(bare)
	for _, b := range bare {
		unknown = append(unknown, unknownKey(file, pos, c.unknown[b])...)
	}
	return c.ds, unknown
}

func (c *typeCheck) errf(key, format string, args ...any) {
	p := c.pos.lookup(key)
	c.ds = append(c.ds, Diagnostic{File: c.file, Line: p.Line, Col: p.Col, Key: key, Severity: Error,
		Message: fmt.Sprintf(format, args...)})
}

// table checks the keys of one table against the struct type t. path is
// the key path with array indexes (ports[0]), bare the same without them.
func (c *typeCheck) table(raw map[string]any, t reflect.Type, path string, bare toml.Key) {
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		key := join(path, k)
		f, ok := fieldByTag(t, k)
		if !ok {
			kb := append(append(toml.Key{}, bare...), k)
			c.unknown[strings.Join(kb, ".")] = kb
			continue
		}
		c.value(raw[k], f.Type, key, append(append(toml.Key{}, bare...), k))
	}
}

var textUnmarshaler = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()

// value checks one value against the field type t.
func (c *typeCheck) value(v any, t reflect.Type, key string, bare toml.Key) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		s, ok := v.(string)
		if !ok {
			c.errf(key, "wrong type: TOML value has type %s; write a duration as a string such as \"10s\" or \"1m30s\"", tomlType(v))
		} else if _, err := ParseDuration(s); err != nil {
			c.errf(key, "%v", err)
		}
		return
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		// A type that reads itself from a string, as the decoder
		// decodes it.
		s, ok := v.(string)
		if !ok {
			c.errf(key, "wrong type: TOML value has type %s; destination has type string: write it in quotes", tomlType(v))
		} else if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			c.errf(key, "%v", err)
		}
		return
	}
	switch t.Kind() {
	case reflect.Interface:
		// Anything goes.
	case reflect.String:
		if _, ok := v.(string); !ok {
			c.errf(key, "wrong type: TOML value has type %s; destination has type string: write it in quotes", tomlType(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			c.errf(key, "wrong type: TOML value has type %s; destination has type boolean: write true or false", tomlType(v))
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(int64)
		if !ok {
			c.errf(key, "wrong type: TOML value has type %s; destination has type integer: write a whole number without quotes", tomlType(v))
		} else if reflect.Zero(t).OverflowInt(n) {
			c.errf(key, "%d is out of range for this key", n)
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(int64)
		if !ok {
			c.errf(key, "wrong type: TOML value has type %s; destination has type integer: write a whole number without quotes", tomlType(v))
		} else if n < 0 || reflect.Zero(t).OverflowUint(uint64(n)) {
			c.errf(key, "%d is out of range for this key", n)
		}
	case reflect.Float32, reflect.Float64:
		var f float64
		if !tomlFloat(v, &f) {
			c.errf(key, "wrong type: TOML value has type %s; destination has type float: write a number without quotes, e.g. 1.5", tomlType(v))
		}
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			c.errf(key, "wrong type: TOML value has type %s; destination is a table such as { NAME = \"value\" }", tomlType(v))
			return
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			// A map's keys are the user's names: below them, a struct's
			// unknown keys are reported under the bare path name.*.
			c.value(m[k], t.Elem(), join(key, k), append(append(toml.Key{}, bare...), k))
		}
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			c.errf(key, "wrong type: TOML value has type %s; destination is a table: write [%s] with its keys below", tomlType(v), key)
			return
		}
		c.table(m, t, key, bare)
	case reflect.Slice, reflect.Array:
		c.array(v, t.Elem(), key, bare)
	}
}

// array checks an array value against the element type elem.
func (c *typeCheck) array(v any, elem reflect.Type, key string, bare toml.Key) {
	var items []any
	switch a := v.(type) {
	case []any:
		items = a
	case []map[string]any:
		for _, m := range a {
			items = append(items, m)
		}
	default:
		if elem.Kind() == reflect.Struct {
			c.errf(key, "wrong type: TOML value has type %s; destination is an array of tables: write [[%s]] sections", tomlType(v), key)
		} else {
			c.errf(key, "wrong type: TOML value has type %s; destination is an array such as [\"a\", \"b\"]", tomlType(v))
		}
		return
	}
	for i, item := range items {
		ik := key + "[" + strconv.Itoa(i) + "]"
		if elem.Kind() == reflect.Struct {
			m, ok := item.(map[string]any)
			if !ok {
				c.errf(ik, "wrong type: TOML value has type %s; destination is a table", tomlType(item))
				continue
			}
			c.table(m, elem, ik, bare)
			continue
		}
		c.value(item, elem, ik, bare)
	}
}

// durationUnits are the words people write for units, and the unit Go
// durations use instead.
var durationUnits = map[string]string{
	"ns": "ns", "nanosecond": "ns", "nanoseconds": "ns",
	"us": "us", "µs": "us", "microsecond": "us", "microseconds": "us",
	"ms": "ms", "millisecond": "ms", "milliseconds": "ms", "msec": "ms",
	"s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
	"m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
	"h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
	"d": "d", "day": "d", "days": "d",
}

// ParseDuration parses a duration as declarations write it: Go's syntax
// ("10s", "1m30s", "500ms"). Its error says what to write instead.
func ParseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err == nil {
		return d, nil
	}
	msg := fmt.Sprintf("%q is not a duration: write a number and a unit (ns, us, ms, s, m, h) with no space, such as \"10s\", \"1m30s\" or \"500ms\"", s)
	if hint := durationHint(s); hint != "" {
		msg += fmt.Sprintf("; here %q", hint)
	}
	return 0, fmt.Errorf("%s", msg)
}

// durationHint rewrites durations such as "10 seconds" or "1 hour 30
// minutes" in Go's syntax, or returns "" when it cannot.
func durationHint(s string) string {
	fields := strings.Fields(strings.ToLower(s))
	if len(fields) > 8 {
		return ""
	}
	var b strings.Builder
	var days float64
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		num := strings.TrimRightFunc(f, func(r rune) bool { return r < '0' || r > '9' })
		unit := f[len(num):]
		if num == "" {
			return ""
		}
		if unit == "" {
			if i+1 >= len(fields) {
				if i == 0 && len(fields) == 1 {
					b.WriteString(num + "s") // a bare number: seconds, as systemd reads it
					continue
				}
				return ""
			}
			i++
			unit = fields[i]
		}
		u, ok := durationUnits[unit]
		if !ok {
			return ""
		}
		if u == "d" {
			n, _ := strconv.ParseFloat(num, 64)
			days += n
			continue
		}
		b.WriteString(num + u)
	}
	out := b.String()
	if days > 0 {
		out = strconv.FormatFloat(days*24, 'f', -1, 64) + "h" + out
	}
	if _, err := time.ParseDuration(out); err != nil || out == s {
		return ""
	}
	return out
}
