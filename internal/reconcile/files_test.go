package reconcile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTaken: masks, aliases, links, drop-ins and units elsewhere on the
// search path hold a name; a regular file of ynhd's in the directory
// does not.
func TestTaken(t *testing.T) {
	root := t.TempDir()
	own, vendor := filepath.Join(root, "user"), filepath.Join(root, "vendor")
	for _, d := range []string{own, vendor} {
		os.MkdirAll(d, 0o755)
	}
	u := UnitDir{Path: own, SearchPath: []string{own, vendor}}
	os.Symlink("/dev/null", filepath.Join(own, "masked.service"))
	os.Symlink("real.service", filepath.Join(own, "alias.service"))
	os.Symlink("/srv/units/linked.service", filepath.Join(own, "linked.service"))
	os.WriteFile(filepath.Join(vendor, "vendor.service"), []byte("[Service]\n"), 0o644)
	os.MkdirAll(filepath.Join(vendor, "dropin.service.d"), 0o755)
	os.WriteFile(filepath.Join(own, "foreign.service"), []byte("[Service]\nExecStart=/bin/true\n"), 0o644)
	for name, want := range map[string]string{
		"masked.service":  "masks it",
		"alias.service":   "symlink to real.service",
		"linked.service":  "symlink to /srv/units/linked.service",
		"vendor.service":  "vendor/vendor.service exists",
		"dropin.service":  "dropin.service.d exists",
		"foreign.service": "not written by ynhd",
		"free.service":    "",
	} {
		got := u.NameTaken(name)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("NameTaken(%s) = %q, want %q", name, got, want)
		}
	}
	// Write and Remove refuse what is not ynhd's, even when asked.
	for _, name := range []string{"masked.service", "foreign.service"} {
		if err := u.Write(name, []byte("x")); err == nil {
			t.Errorf("Write over %s succeeded", name)
		}
		if err := u.Remove(name); err == nil {
			t.Errorf("Remove of %s succeeded", name)
		}
	}
	if dest, _ := os.Readlink(filepath.Join(own, "masked.service")); dest != "/dev/null" {
		t.Error("the mask was touched")
	}
}
