package podman

import (
	"encoding/json"
	"testing"
)

func checkJSONArray(t *testing.T, argv []string) {
	t.Helper()
	want, err := json.Marshal(argv)
	if err != nil {
		t.Fatal(err)
	}
	if got := jsonArray(argv); got != string(want) {
		t.Fatalf("jsonArray(%q) = %s, encoding/json says %s", argv, got, want)
	}
}

func TestJSONArrayMatchesEncodingJSON(t *testing.T) {
	checkJSONArray(t, nil)
	checkJSONArray(t, []string{})
	checkJSONArray(t, []string{"", "plain", `"q"`, `b\s`, "<a>&", "\b\f\n\r\t\x00\x1f\x7f", "ünï", "\u2028\u2029", "\xff", "a\xc3", "\u0085", "☃"})
}

func FuzzJSONArrayMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{"", "a", "<&>", "\x00\x1f", "\u2028", "\xff\xfe", "é"} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		checkJSONArray(t, []string{a, b})
	})
}
