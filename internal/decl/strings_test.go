package decl

import (
	"reflect"
	"strings"
	"testing"
)

// scanStringsByReflection is scanStrings as first written, by reflection
// over every field: the reference that scanStrings must agree with.
func scanStringsByReflection(rv reflect.Value) (total int, suspect bool) {
	check := func(s string) {
		total += len(s)
		if len(s) > MaxValueLen {
			suspect = true
			return
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f || c == 0xc2 {
				suspect = true
				return
			}
		}
	}
	var walk func(rv reflect.Value)
	walk = func(rv reflect.Value) {
		switch rv.Kind() {
		case reflect.String:
			check(rv.String())
		case reflect.Pointer:
			if !rv.IsNil() {
				walk(rv.Elem())
			}
		case reflect.Slice:
			for i := 0; i < rv.Len(); i++ {
				walk(rv.Index(i))
			}
		case reflect.Map:
			it := rv.MapRange()
			for it.Next() {
				check(it.Key().String())
				walk(it.Value())
			}
		case reflect.Struct:
			for i := 0; i < rv.NumField(); i++ {
				walk(rv.Field(i))
			}
		}
	}
	walk(rv)
	return total, suspect
}

// TestScanStringsSeesEveryString fills every field of an App and checks
// that scanStrings counts as many bytes as a walk over all its fields by
// reflection, and finds a control character wherever it is.
func TestScanStringsSeesEveryString(t *testing.T) {
	var a App
	fill(t, reflect.ValueOf(&a).Elem())
	a.Name, a.File = "name", "file"
	total, suspect := scanStrings(&a)
	wantTotal, wantSuspect := scanStringsByReflection(reflect.ValueOf(&a).Elem())
	if total != wantTotal || suspect != wantSuspect {
		t.Fatalf("scanStrings = %d, %v; every field by reflection: %d, %v", total, suspect, wantTotal, wantSuspect)
	}
	// Each string in turn gets a newline.
	n := 0
	var each func(v reflect.Value)
	each = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.String:
			old := v.String()
			v.SetString(old + "\n")
			if _, suspect := scanStrings(&a); !suspect {
				t.Errorf("a newline in %q is not seen", old)
			}
			v.SetString(old)
			n++
		case reflect.Pointer:
			each(v.Elem())
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				each(v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				val := v.MapIndex(k).String()
				v.SetMapIndex(k, reflect.ValueOf(val+"\x01"))
				if _, suspect := scanStrings(&a); !suspect {
					t.Errorf("a control character in map value %q is not seen", val)
				}
				v.SetMapIndex(k, reflect.ValueOf(val))
				v.SetMapIndex(k, reflect.Value{})
				v.SetMapIndex(reflect.ValueOf(k.String()+"\r"), reflect.ValueOf(val))
				if _, suspect := scanStrings(&a); !suspect {
					t.Errorf("a carriage return in map key %q is not seen", k)
				}
				v.SetMapIndex(reflect.ValueOf(k.String()+"\r"), reflect.Value{})
				v.SetMapIndex(k, reflect.ValueOf(val))
				n++
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				each(v.Field(i))
			}
		}
	}
	each(reflect.ValueOf(&a).Elem())
	if n < 40 {
		t.Fatalf("only %d strings tried", n)
	}
	if _, suspect := scanStrings(&App{Description: strings.Repeat("x", MaxValueLen+1)}); !suspect {
		t.Error("an overlong string is not seen")
	}
}
