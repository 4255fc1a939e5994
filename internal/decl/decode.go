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
	"time"

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
	return DecodeVars(file, data, home, nil)
}

// DecodeVars is Decode with ${NAME} substitution from vars (see
// substitute), done on the decoded values before defaults and validation;
// nil vars leaves every value as written.
func DecodeVars(file string, data []byte, home string, vars *Vars) (*Parsed, Diagnostics) {
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
	usable := true
	if !appFromTOML(top, &app) {
		// Something to report: every type error and unknown key is
		// looked for, and the App filled by the decoder's reflection.
		app = App{}
		ds, usable = decodeStrict(file, data, pos, md, doc, top, &app)
	}
	if v, ok := top["version"]; !ok {
		ds = append(ds, Diagnostic{File: file, Line: 1, Col: 1, Key: "version", Severity: Error,
			Message: fmt.Sprintf("version is required: add `version = %d` at the top of the file", SchemaVersion)})
	} else if n, isInt := v.(int64); isInt && n != SchemaVersion {
		p := pos.lookup("version")
		ds = append(ds, Diagnostic{File: file, Line: p.Line, Col: p.Col, Key: "version", Severity: Error,
			Message: fmt.Sprintf("unsupported schema version %d: this ynhd reads version %d", n, SchemaVersion)})
	}
	if !usable {
		ds.Sort()
		return nil, ds
	}
	app.File = file
	app.Name = AppName(file)
	if vars != nil && needsSubst(data) {
		ds = append(ds, substitute(&app, vars, pos)...)
	}
	applyDefaults(&app, filepath.Dir(file), home)
	ds.Sort()
	return &Parsed{App: &app, pos: pos}, ds
}

// decodeStrict reports every type error and unknown key of the document
// (typeErrors), then, when there is no type error, fills app from its
// known keys. usable is false when app cannot be used at all (a type
// error); unknown keys leave it usable.
func decodeStrict(file string, data []byte, pos *positions, md toml.MetaData, doc toml.Primitive, top map[string]any, app *App) (ds Diagnostics, usable bool) {
	typeErrs, unknown := typeErrors(file, pos, top)
	if len(typeErrs) > 0 {
		return append(typeErrs, unknown...), false
	}
	known := top
	if len(unknown) > 0 {
		known = knownKeys(top, reflect.TypeOf(App{}))
	}
	if appFromTOML(known, app) {
		return unknown, true
	}
	// Not expected: with no type error and no unknown key the fill above
	// succeeds (FuzzTypeErrorsAgree). The decoder then says what is wrong.
	*app = App{}
	if err := md.PrimitiveDecode(doc, app); err != nil {
		return append(Diagnostics{decodeError(file, data, err)}, unknown...), false
	}
	return unknown, true
}

// knownKeys returns a copy of the table raw without the keys that t (a
// struct type) does not have, at every depth; the values it keeps have the
// types of their fields.
func knownKeys(raw map[string]any, t reflect.Type) map[string]any {
	out := make(map[string]any, len(raw))
	for k, v := range raw {
		f, ok := fieldByTag(t, k)
		if !ok {
			continue
		}
		out[k] = knownValue(v, f.Type)
	}
	return out
}

func knownValue(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && t != durationType:
		if m, ok := v.(map[string]any); ok {
			return knownKeys(m, t)
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		switch a := v.(type) {
		case []map[string]any:
			out := make([]map[string]any, len(a))
			for i, m := range a {
				out[i] = knownKeys(m, t.Elem())
			}
			return out
		case []any:
			out := make([]any, len(a))
			for i, e := range a {
				out[i] = knownValue(e, t.Elem())
			}
			return out
		}
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.Struct:
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]any, len(m))
			for k, e := range m {
				out[k] = knownValue(e, t.Elem())
			}
			return out
		}
	}
	return v
}

// At returns where key (a key path such as resources or ports[0].host_port,
// or its nearest written parent) is written; zero when unknown.
func (p *Parsed) At(key string) Pos {
	if p == nil || p.pos == nil {
		return Pos{}
	}
	return p.pos.lookup(key)
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
		// A table written only as part of longer names ([t.x], t.x = 1):
		// where the first of them is.
		if under, ok := pos.firstUnder(path); ok {
			at := pos.at[under]
			return Diagnostics{{File: file, Line: at.Line, Col: at.Col, Key: path, Severity: Error, Message: msg}}
		}
		return Diagnostics{{File: file, Key: path, Severity: Error, Message: msg}}
	}
	var ds Diagnostics
	for _, p := range paths {
		at := pos.at[p]
		ds = append(ds, Diagnostic{File: file, Line: at.Line, Col: at.Col, Key: p, Severity: Error, Message: msg})
	}
	return ds
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
	case map[string]any:
		return "table"
	case time.Time:
		return "datetime"
	}
	return fmt.Sprintf("%T", v)
}
