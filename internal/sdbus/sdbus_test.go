package sdbus

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseStrings(t *testing.T) {
	for in, want := range map[string][]string{
		`["/etc/systemd/user", "/usr/lib/systemd/user"]`: {"/etc/systemd/user", "/usr/lib/systemd/user"},
		`@as []`:            nil,
		`["a \"b\", c"]`:    {`a "b", c`},
		`['single']`:        nil, // not Go-quoted: an error
		`"/not/an/array"`:   nil,
		`["/x",  "/y"   ]`:  {"/x", "/y"},
		`["/x"]`:            {"/x"},
		`["unterminated]`:   nil,
		`["/a"] trailing`:   nil,
		`["/a" "/b"]`:       {"/a", "/b"},
		`["/a",, "/b"]`:     nil,
		`[ "/a" , "/b" , ]`: {"/a", "/b"},
	} {
		got, err := parseStrings(in)
		if want == nil && err == nil && got != nil {
			t.Errorf("parseStrings(%s) = %q, want an error or nothing", in, got)
			continue
		}
		if want != nil {
			if err != nil {
				t.Errorf("parseStrings(%s): %v", in, err)
			} else if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("parseStrings(%s) (-got +want):\n%s", in, diff)
			}
		}
	}
}
