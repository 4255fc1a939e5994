package decl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
)

// VarsFile is the file, in the declarations directory, that says which
// variables ${NAME} may name in a declaration and what they hold.
const VarsFile = "ynhd.env"

// Vars are the variables ${NAME} substitution sees: those VarsFile sets,
// and those of ynhd's own environment it names without a value. Nothing
// else of ynhd's environment is visible, so a declaration cannot read
// what ynhd runs with unless the person who wrote VarsFile allowed it.
type Vars struct {
	// File is the VarsFile read ("" when there is none).
	File string
	m    map[string]string
	sum  string // what the cache compares: a hash of the names and values
}

// NoVars is the set with no variable: every ${NAME} without a default is
// an error.
var NoVars = &Vars{m: map[string]string{}}

// Lookup returns a variable's value.
func (v *Vars) Lookup(name string) (string, bool) {
	if v == nil {
		return "", false
	}
	s, ok := v.m[name]
	return s, ok
}

// ParseVars reads the lines of a VarsFile: NAME=VALUE sets NAME (VALUE
// taken as written, or between matching single or double quotes, which
// are dropped); NAME alone passes NAME through from the environment
// getenv reads (os.LookupEnv when nil), if it is set there; blank lines
// and lines starting with # are skipped. Errors name file and line.
func ParseVars(file string, data []byte, getenv func(string) (string, bool)) (*Vars, Diagnostics) {
	if getenv == nil {
		getenv = os.LookupEnv
	}
	v := &Vars{File: file, m: map[string]string{}}
	var ds Diagnostics
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.TrimSuffix(line, "\r"))
		if line == "" || line[0] == '#' {
			continue
		}
		name, value, set := strings.Cut(line, "=")
		name = strings.TrimSpace(strings.TrimPrefix(name, "export "))
		if !isEnvKey(name) {
			ds = append(ds, Diagnostic{File: file, Line: i + 1, Col: 1, Severity: Error,
				Message: fmt.Sprintf("%q is not NAME=VALUE or NAME: a name starts with a letter or _ and holds only letters, digits and _", EscapeText(line))})
			continue
		}
		if !set {
			if s, ok := getenv(name); ok {
				v.m[name] = s
			}
			continue
		}
		if n := len(value); n >= 2 && (value[0] == '"' || value[0] == '\'') && value[n-1] == value[0] {
			value = value[1 : n-1]
		}
		v.m[name] = value
	}
	names := make([]string, 0, len(v.m))
	for k := range v.m {
		names = append(names, k)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, k := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", k, v.m[k])
	}
	v.sum = hex.EncodeToString(h.Sum(nil))
	return v, ds
}

// ReadVars reads dir's VarsFile (no file: no variables). In system mode
// (strict) the file must pass CheckTrusted.
func ReadVars(dir string, strict bool) (*Vars, Diagnostics) {
	file := filepath.Join(dir, VarsFile)
	data, err := ReadFile(file, strict)
	if errors.Is(err, fs.ErrNotExist) {
		return NoVars, nil
	}
	if err != nil {
		return NoVars, Diagnostics{{File: file, Severity: Error, Message: fmt.Sprintf("cannot read: %v", unwrapPath(err))}}
	}
	return ParseVars(file, data, nil)
}

// noSubst are the keys whose strings are left as written: argv for the
// container, where a $ belongs to the container's shell.
var noSubst = map[string]bool{"command": true, "entrypoint": true, "podman_args": true, "health.cmd": true}

// substitute replaces ${NAME}, ${NAME:-default} and ${NAME:?message} in
// every string value of a (map keys and the keys of noSubst aside) and
// $$ by $. It works on decoded values, so a value can never add a key or
// a line to the declaration (a newline that a variable brings is refused
// by validation like any other).
func substitute(a *App, vars *Vars, pos *positions) Diagnostics {
	var ds Diagnostics
	substWalk(reflect.ValueOf(a).Elem(), "", func(key, s string) string {
		out, err := expand(s, vars)
		if err != nil {
			ds = append(ds, Diagnostic{File: a.File, Key: key, at: pos, Severity: Error, Message: err.Error()})
			return s
		}
		return out
	})
	return ds
}

// substWalk calls fn on every string under rv (key is its key path, as
// validation writes it) and stores what fn returns.
func substWalk(rv reflect.Value, key string, fn func(key, s string) string) {
	if noSubst[key] {
		return
	}
	switch rv.Kind() {
	case reflect.String:
		if s := rv.String(); strings.IndexByte(s, '$') >= 0 {
			rv.SetString(fn(key, s))
		}
	case reflect.Pointer:
		if !rv.IsNil() {
			substWalk(rv.Elem(), key, fn)
		}
	case reflect.Slice:
		for i := 0; i < rv.Len(); i++ {
			substWalk(rv.Index(i), indexed(key, i), fn)
		}
	case reflect.Map:
		if rv.Type().Elem().Kind() != reflect.String {
			return
		}
		for _, k := range rv.MapKeys() {
			if s := rv.MapIndex(k).String(); strings.IndexByte(s, '$') >= 0 {
				rv.SetMapIndex(k, reflect.ValueOf(fn(join(key, k.String()), s)))
			}
		}
	case reflect.Struct:
		t := rv.Type()
		for i := 0; i < t.NumField(); i++ {
			if tag := tagName(t.Field(i)); tag != "" {
				substWalk(rv.Field(i), join(key, tag), fn)
			}
		}
	}
}

// expand substitutes one value. The errors say which variable and what
// to do; they never hold a variable's value.
func expand(s string, vars *Vars) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
			continue
		case '{':
		default:
			b.WriteByte('$') // a lone $ stays
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%q has no closing }: write ${NAME}, or $$ for a literal $", EscapeText(s[i:]))
		}
		expr := s[i+2 : i+end]
		s = s[i+end+1:]
		name, op, arg := expr, "", ""
		if j := strings.IndexAny(expr, ":-?"); j >= 0 {
			name, op, arg = expr[:j], expr[j:], ""
			switch {
			case strings.HasPrefix(op, ":-"), strings.HasPrefix(op, ":?"):
				op, arg = op[:2], op[2:]
			default:
				return "", fmt.Errorf("${%s}: use ${NAME}, ${NAME:-default} or ${NAME:?message}", EscapeText(expr))
			}
		}
		if strings.Contains(arg, "${") {
			return "", fmt.Errorf("${%s}: a default or message cannot hold another ${...}", EscapeText(expr))
		}
		if !isEnvKey(name) {
			return "", fmt.Errorf("${%s}: %q is not a variable name (letters, digits and _, not starting with a digit)", EscapeText(expr), EscapeText(name))
		}
		v, ok := vars.Lookup(name)
		switch {
		case ok && (v != "" || op == ""):
			b.WriteString(v)
		case op == ":-":
			b.WriteString(arg)
		case op == ":?":
			return "", fmt.Errorf("${%s}: %s", name, EscapeText(arg))
		default:
			where := VarsFile + " in the declarations directory"
			if vars != nil && vars.File != "" {
				where = vars.File
			}
			return "", fmt.Errorf("${%s} is not defined: set %s=VALUE in %s (or name it alone there to take it from ynhd's environment), or write ${%s:-default}", name, name, where, name)
		}
	}
}

// needsSubst reports whether data may hold something substitute changes.
func needsSubst(data []byte) bool { return bytes.IndexByte(data, '$') >= 0 }
