package decl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// decodeBoth decodes src with appFromTOML and with the decoder's own
// reflection, as Decode's two paths do.
func decodeBoth(t testing.TB, src string) (fast, strict App, fastOK, strictOK bool) {
	t.Helper()
	if checkShape("x.toml", []byte(src)) != nil {
		return App{}, App{}, false, false // refused before decoding
	}
	var doc toml.Primitive
	md, err := toml.Decode(src, &doc)
	if err != nil {
		return App{}, App{}, false, false
	}
	var raw any
	if err := md.PrimitiveDecode(doc, &raw); err != nil {
		t.Fatalf("decoding the untyped document: %v", err)
	}
	top, _ := raw.(map[string]any)
	fastOK = appFromTOML(top, &fast)
	typeErrs, unknown := typeErrors("x.toml", scanPositions([]byte(src)), top)
	strictOK = md.PrimitiveDecode(doc, &strict) == nil && len(typeErrs) == 0 && len(unknown) == 0
	return fast, strict, fastOK, strictOK
}

// checkSamePaths fails when appFromTOML accepts src but makes another App
// than the decoder does, or accepts what the decoder reports.
func checkSamePaths(t testing.TB, name, src string) (fastOK bool) {
	t.Helper()
	fast, strict, fastOK, strictOK := decodeBoth(t, src)
	if !fastOK {
		return false
	}
	if !strictOK {
		t.Errorf("%s: appFromTOML accepts what the decoder reports", name)
	} else if !reflect.DeepEqual(fast, strict) {
		t.Errorf("%s: appFromTOML made\n%#v\nthe decoder\n%#v", name, fast, strict)
	}
	return true
}

// TestFromTOMLMatchesDecoder compares the two ways Decode fills an App on
// every declaration of the tests.
func TestFromTOMLMatchesDecoder(t *testing.T) {
	srcs := map[string]string{}
	files, _ := filepath.Glob(filepath.Join("..", "units", "testdata", "*.toml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		srcs[f] = string(data)
	}
	if len(srcs) == 0 {
		t.Fatal("no testdata declarations")
	}
	for name, src := range hostileInputs() {
		srcs["hostile "+name] = src
	}
	const img = "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n"
	for name, src := range map[string]string{
		"empty":                "",
		"empty arrays":         img + "command = []\nenv = {}\n[build]\nargs = {}\n",
		"case of a key":        img + "Hostname = \"a\"\n",
		"both cases":           img + "hostname = \"a\"\nHostname = \"b\"\n",
		"integer cpus":         img + "[resources]\ncpus = 2\n",
		"huge integer cpus":    img + "[resources]\ncpus = 9007199254740993\n",
		"integer duration":     img + "stop_timeout = 10\n",
		"zero duration":        img + "stop_timeout = \"0\"\n",
		"float port":           img + "[[ports]]\nhost_port = 80.0\n",
		"inline ports":         img + "ports = [{ host_port = 8080 }, { host_port = 8081, protocol = \"udp\" }]\n",
		"port not a table":     img + "ports = [8080]\n",
		"mixed array":          img + "command = [\"a\", 1]\n",
		"health array":         img + "[[health]]\ncmd = [\"x\"]\n",
		"build string":         img + "build = \"x\"\n",
		"resources string":     img + "resources = \"x\"\n",
		"env not a table":      img + "env = 3\n",
		"env value not string": img + "env = { A = 1 }\n",
		"unknown nested":       img + "[health]\ncmd = [\"x\"]\nfoo = 1\n",
		"unknown port key":     img + "[[ports]]\nhost_port = 1\nfoo = 2\n",
		"datetime":             img + "description = 1979-05-27T07:32:00Z\n",
		"enabled false":        img + "enabled = false\n",
		"name key":             img + "name = \"x\"\n",
		"bad duration":         img + "stop_timeout = \"10 parsecs\"\n",
	} {
		srcs[name] = src
	}
	accepted := 0
	for name, src := range srcs {
		if checkSamePaths(t, name, src) {
			accepted++
		}
	}
	if accepted < len(files) {
		t.Errorf("appFromTOML accepted %d declarations, fewer than the %d valid testdata files", accepted, len(files))
	}
}

// TestFromTOMLKnowsEveryKey fills every field of App and of the types it
// holds, encodes the App as TOML and checks that appFromTOML reads it all
// back: a field added to App without its key in convert.go fails here.
func TestFromTOMLKnowsEveryKey(t *testing.T) {
	var a App
	fill(t, reflect.ValueOf(&a).Elem())
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(a); err != nil {
		t.Fatal(err)
	}
	fast, strict, fastOK, strictOK := decodeBoth(t, b.String())
	if !strictOK {
		t.Fatalf("the decoder does not read back\n%s", b.String())
	}
	if !fastOK {
		t.Fatalf("appFromTOML does not read every key of\n%s", b.String())
	}
	if !reflect.DeepEqual(fast, strict) {
		t.Fatalf("appFromTOML made\n%#v\nthe decoder\n%#v", fast, strict)
	}
}

// fill sets every exported TOML field under v to a value that is not the
// zero value.
func fill(t *testing.T, v reflect.Value) {
	if v.Type() == reflect.TypeOf(Duration{}) {
		v.Set(reflect.ValueOf(Duration{90 * time.Second}))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("s")
	case reflect.Int:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fill(t, v.Index(i))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		v.SetMapIndex(reflect.ValueOf("K"), reflect.ValueOf("v"))
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if tagName(v.Type().Field(i)) != "" {
				fill(t, v.Field(i))
			}
		}
	default:
		t.Fatalf("fill: no value for %s", v.Type())
	}
}

// FuzzFromTOML checks appFromTOML against the decoder on any input.
func FuzzFromTOML(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "units", "testdata", "*.toml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(string(data))
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		if len(src) > 1<<16 {
			return
		}
		checkSamePaths(t, "input", src)
	})
}
