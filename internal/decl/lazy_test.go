package decl

import "testing"

// TestPositionsAreLookedUpWhenRead checks that a declaration whose one
// diagnostic is not read costs no scan for key positions, and that the
// position is there when the diagnostic is printed.
func TestPositionsAreLookedUpWhenRead(t *testing.T) {
	src := "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n\npodman_args = [\"--annotation=a=b\"]\n"
	p, ds := Decode("/d/web.toml", []byte(src), "/home/u")
	if p == nil || len(ds) != 0 {
		t.Fatalf("decode: %v", ds)
	}
	ds = Validate(p, testHost)
	if len(ds) != 1 || ds.HasErrors() {
		t.Fatalf("want one warning, got %v", ds)
	}
	if p.pos.data == nil {
		t.Fatal("positions were scanned before a diagnostic was read")
	}
	const want = "/d/web.toml:4:1: warning: podman_args: podman_args are passed to podman unchecked; ynhd cannot validate them and they may break the unit; prefer a declaration key"
	if got := ds[0].String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if line, col := ds[0].Position(); line != 4 || col != 1 {
		t.Fatalf("Position() = %d:%d, want 4:1", line, col)
	}
}
