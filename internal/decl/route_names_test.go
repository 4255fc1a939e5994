package decl

import (
	"strings"
	"testing"
)

// TestSystemUserNamesAreInjective reproduces the report: a short app name
// spelled out the shortened user name of a long one, so two apps shared
// one uid and one subordinate range. The short name is now refused in
// system mode.
func TestSystemUserNamesAreInjective(t *testing.T) {
	long, short := "abcdefghijklmnopqrstuvwxyz0", "abcdefghijklmnopq-a11dcad3"
	if a, b := SystemUserName(long), SystemUserName(short); a != b || a != "ynhd-abcdefghijklmnopq-a11dcad3" {
		t.Fatalf("the reported collision does not reproduce: %s, %s", a, b)
	}
	system := Host{Rootless: true, UnprivilegedPortStart: 1024, System: true}
	for _, tt := range []struct {
		name    string
		refused bool
	}{
		{short, true},
		{long, false},
		{"abcdefghijklmnopq-a11dcad", false},   // too short for the form
		{"abcdefghijklmnopq-a11dcad3x", false}, // long: hashed itself
		{"abcdefghijklmnopq_a11dcad3", false},
		{"abcdefghijklmnopq-g11dcad3", false}, // not hex
	} {
		p, _ := Decode("/etc/ynhd/"+tt.name+".toml", []byte("version = 1\nimage = \"docker.io/x/y\"\n"), "/root")
		ds := Validate(p, system)
		if got := ds.HasErrors(); got != tt.refused {
			t.Errorf("%s: refused = %v, want %v (%v)", tt.name, got, tt.refused, ds.Err())
		}
		if ds := Validate(p, testHost); ds.HasErrors() {
			t.Errorf("%s refused in user mode: %v", tt.name, ds.Err())
		}
	}
	if got := check(short, "version = 1\nimage = \"docker.io/x/y\"\n"); len(got) != 0 {
		t.Errorf("user mode: %q", got)
	}

	// Every accepted name of the critical length maps to a user no
	// shortened name can be.
	for _, n := range []string{strings.Repeat("a", 26), "abcdefghijklmnopq-deadbee", strings.Repeat("b", 27)} {
		u := SystemUserName(n)
		if len(u) > 31 || (!LooksHashed(n) && len(n) <= 26 && u != "ynhd-"+n) {
			t.Errorf("%s -> %s", n, u)
		}
	}
}
