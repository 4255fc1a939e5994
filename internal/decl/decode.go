package decl

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Parsed is the result of decoding one declaration: the app (nil when the
// file could not be decoded at all) and the positions of its keys, which
// validation uses to point at the right line.
type Parsed struct {
	App *App
	pos *positions
}

// Decode strictly decodes one declaration. file is used in diagnostics and
// to name the app (its stem); home expands a leading ~/ in paths. Unknown
// keys, type errors and a missing or unsupported version are errors. Decode
// applies defaults and resolves relative paths against file's directory;
// it does not validate values (see Validate). Input beyond the bounds of
// shape.go (MaxFileSize, MaxDepth, MaxItems, MaxKeyPath, MaxValueLen,
// MaxValuesTotal) is refused before it is parsed.
func Decode(file string, data []byte, home string) (*Parsed, Diagnostics) {
	if d := checkShape(file, data); d != nil {
		return nil, Diagnostics{*d}
	}
	// The document is parsed once, into the decoder's untyped form; the
	// App is filled from that.
	var doc toml.Primitive
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&doc) // reads data without a copy of ours
	if err != nil {
		return nil, Diagnostics{decodeError(file, data, err)}
	}
	var raw any
	if err := md.PrimitiveDecode(doc, &raw); err != nil {
		return nil, Diagnostics{decodeError(file, data, err)}
	}
	top, _ := raw.(map[string]any)
	pos := scanPositions(data) // scanned only if a diagnostic needs a position
	var app App
	var ds Diagnostics
	if !appFromTOML(top, &app) {
		// Something to report: the decoder fills the App by reflection
		// and says what is wrong.
		app = App{}
		var usable bool
		if ds, usable = decodeStrict(file, data, pos, md, doc, top, &app); !usable {
			return nil, ds
		}
	}
	if _, ok := top["version"]; !ok {
		ds = append(ds, Diagnostic{File: file, Line: 1, Col: 1, Key: "version", Severity: Error,
			Message: fmt.Sprintf("version is required: add `version = %d` at the top of the file", SchemaVersion)})
	} else if app.Version != SchemaVersion {
		p := pos.lookup("version")
		ds = append(ds, Diagnostic{File: file, Line: p.Line, Col: p.Col, Key: "version", Severity: Error,
			Message: fmt.Sprintf("unsupported schema version %d: this ynhd reads version %d", app.Version, SchemaVersion)})
	}
	app.File = file
	app.Name = AppName(file)
	applyDefaults(&app, filepath.Dir(file), home)
	ds.Sort()
	return &Parsed{App: &app, pos: pos}, ds
}

// decodeStrict fills app by the decoder's reflection and reports type
// errors, values that should be tables and unknown keys. usable is false
// when app cannot be used at all (a type error); unknown keys leave it
// usable.
func decodeStrict(file string, data []byte, pos *positions, md toml.MetaData, doc toml.Primitive, top map[string]any, app *App) (ds Diagnostics, usable bool) {
	if err := md.PrimitiveDecode(doc, app); err != nil {
		return Diagnostics{decodeError(file, data, err)}, false
	}
	// The decoder lets a non-table value for a map field pass silently.
	// The decoder's metadata tells whether any did; only then is the
	// document walked to say exactly where.
	if nonTableMaps(md) {
		ds = append(ds, mapTypeErrors(file, pos, top, reflect.TypeOf(App{}), "")...)
	}
	if ds.HasErrors() {
		return ds, false
	}
	undecoded := md.Undecoded()
	unknown := make(map[string]bool, len(undecoded))
	for _, k := range undecoded {
		unknown[strings.Join(k, "\x00")] = true
	}
	for _, k := range undecoded {
		if !underUnknown(k, unknown) {
			ds = append(ds, unknownKey(file, pos, k)...)
		}
	}
	return ds, true
}

// AppName is the app name a declaration file gives: its base name without
// the .toml extension.
func AppName(file string) string {
	return strings.TrimSuffix(filepath.Base(file), ".toml")
}

var lastKeyRE = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// decodeError turns a decoder error into a diagnostic with the best position
// the decoder gives.
func decodeError(file string, data []byte, err error) Diagnostic {
	d := Diagnostic{File: file, Severity: Error}
	var pe toml.ParseError
	if errors.As(err, &pe) {
		d.Line, d.Col, d.Key = pe.Position.Line, pe.Position.Col, pe.LastKey
		d.Message = pe.Message
		if pe.Usage != "" && d.Key == "" {
			d.Message += " (see the TOML syntax of this key)"
		}
		if d.Key != "" && isTypeProblem(pe.Message) {
			d.Message = "invalid value: " + pe.Message
		}
		return d
	}
	msg := err.Error()
	if m := lastKeyRE.FindStringSubmatch(msg); m != nil {
		d.Line, _ = strconv.Atoi(m[1])
		d.Key = m[2]
		d.Message = m[3]
		pos := scanPositions(data)
		if k, p, ok := pos.atLine(d.Line, lastPart(d.Key)); ok {
			d.Col = p.Col
			d.Key = k
		}
		d.Message = strings.Replace(d.Message, "incompatible types: ", "wrong type: ", 1)
		return d
	}
	d.Message = strings.TrimPrefix(msg, "toml: ")
	return d
}

func isTypeProblem(msg string) bool {
	return strings.Contains(msg, "time: invalid duration") || strings.Contains(msg, "unknown unit")
}

func lastPart(key string) string {
	if i := strings.LastIndex(key, "."); i >= 0 {
		return key[i+1:]
	}
	return key
}

// unknownKey reports an undecoded key at every place it is written, with a
// suggestion when a known key is close.
func unknownKey(file string, pos *positions, k toml.Key) Diagnostics {
	path := strings.Join(k, ".")
	msg := fmt.Sprintf("unknown key %q", k[len(k)-1])
	if s := suggest(k); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	} else {
		msg += "; see the declaration reference for the keys of this table"
	}
	paths := pos.matching(path)
	if len(paths) == 0 {
		return Diagnostics{{File: file, Key: path, Severity: Error, Message: msg}}
	}
	var ds Diagnostics
	for _, p := range paths {
		at := pos.at[p]
		ds = append(ds, Diagnostic{File: file, Line: at.Line, Col: at.Col, Key: p, Severity: Error, Message: msg})
	}
	return ds
}

// underUnknown reports whether a parent of k is itself unknown: only the
// outermost unknown key is reported.
// Keys in unknown are their parts joined by NUL, which no key contains
// after the shape check; the prefixes of one key are then substrings of
// one string, so the check is linear in the key's length.
func underUnknown(k toml.Key, unknown map[string]bool) bool {
	full := strings.Join(k, "\x00")
	for i := strings.IndexByte(full, 0); i >= 0; {
		if unknown[full[:i]] {
			return true
		}
		j := strings.IndexByte(full[i+1:], 0)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return false
}

// maxSuggestLen bounds the names suggest and NormalizeCap compare: longer
// ones are no typo of a known name, and the edit distance is quadratic.
const maxSuggestLen = 64

// suggest finds the known key closest to the unknown one, following the
// struct types down the key path.
func suggest(k toml.Key) string {
	t := reflect.TypeOf(App{})
	for _, part := range k[:len(k)-1] {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return ""
		}
		f, ok := fieldByTag(t, part)
		if !ok {
			return ""
		}
		t = f.Type
	}
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return ""
	}
	want := strings.ToLower(k[len(k)-1])
	if len(want) > maxSuggestLen {
		return ""
	}
	best, bestD := "", 3
	for i := 0; i < t.NumField(); i++ {
		tag := tagName(t.Field(i))
		if tag == "" {
			continue
		}
		if d := editDistance(want, tag); d < bestD || (strings.ReplaceAll(want, "-", "_") == tag) {
			best, bestD = tag, d
		}
	}
	return best
}

func fieldByTag(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		if tagName(t.Field(i)) == name {
			return t.Field(i), true
		}
	}
	return reflect.StructField{}, false
}

func tagName(f reflect.StructField) string {
	tag, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if tag == "-" {
		return ""
	}
	return tag
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// mapTypeErrors reports values that should be tables (map fields such as
// env or labels) but are not, walking the raw document along t.
func mapTypeErrors(file string, pos *positions, raw map[string]any, t reflect.Type, prefix string) Diagnostics {
	var ds Diagnostics
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := tagName(f)
		v, ok := raw[tag]
		if tag == "" || !ok {
			continue
		}
		key := join(prefix, tag)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Map:
			if _, isTable := v.(map[string]any); !isTable {
				p := pos.lookup(key)
				ds = append(ds, Diagnostic{File: file, Line: p.Line, Col: p.Col, Key: key, Severity: Error,
					Message: fmt.Sprintf("wrong type: TOML value has type %s; destination is a table such as { NAME = \"value\" }", tomlType(v))})
			}
		case reflect.Struct:
			if sub, isTable := v.(map[string]any); isTable && ft != reflect.TypeOf(Duration{}) {
				ds = append(ds, mapTypeErrors(file, pos, sub, ft, key)...)
			}
		case reflect.Slice:
			if ft.Elem().Kind() != reflect.Struct {
				continue
			}
			if items, isArray := v.([]map[string]any); isArray {
				for j, item := range items {
					ds = append(ds, mapTypeErrors(file, pos, item, ft.Elem(), fmt.Sprintf("%s[%d]", key, j))...)
				}
			}
		}
	}
	return ds
}

// mapPaths are the key paths (without array indexes) of App's map
// fields, found once by reflection.
var mapPaths = func() map[string]bool {
	out := map[string]bool{}
	var walk func(t reflect.Type, prefix string, depth int)
	walk = func(t reflect.Type, prefix string, depth int) {
		if depth > 4 {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := tagName(f)
			if tag == "" {
				continue
			}
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			key := join(prefix, tag)
			switch {
			case ft.Kind() == reflect.Map:
				out[key] = true
			case ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}):
				walk(ft, key, depth+1)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				walk(ft.Elem(), key, depth+1)
			}
		}
	}
	walk(reflect.TypeOf(App{}), "", 0)
	return out
}()

// nonTableMaps reports whether a map field of App was given something
// other than a table.
func nonTableMaps(md toml.MetaData) bool {
	for _, k := range md.Keys() {
		if mapPaths[strings.Join(k, ".")] && md.Type(k...) != "Hash" {
			return true
		}
	}
	return false
}

func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case int64:
		return "integer"
	case float64:
		return "float"
	case bool:
		return "boolean"
	case []any, []map[string]any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}
