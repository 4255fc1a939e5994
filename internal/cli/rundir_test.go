package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoStateInSharedTmp reproduces the report: with XDG_RUNTIME_DIR
// unset, ynhd run wrote its status under /tmp/ynhd-UID/ and followed a
// symlink another local user had planted there, overwriting a file of the
// victim's choosing. The directory is now used only when it is this
// user's own and closed to others; otherwise there is no status file.
func TestNoStateInSharedTmp(t *testing.T) {
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("ynhd-%d", os.Getuid())
	tests := []struct {
		name  string
		plant func(t *testing.T, dir string) // dir is TMPDIR/ynhd-UID
		use   bool
	}{
		{"nothing planted", func(*testing.T, string) {}, true},
		{"own private directory", func(t *testing.T, dir string) { mkdir(t, dir, 0o700) }, true},
		{"open directory with a planted symlink", func(t *testing.T, dir string) {
			mkdir(t, dir, 0o777)
			mkdir(t, filepath.Join(dir, "ynhd"), 0o777)
			symlink(t, victim, filepath.Join(dir, "ynhd", "status.json.tmp"))
			symlink(t, victim, filepath.Join(dir, "ynhd", "status.json"))
			if os.Geteuid() == 0 { // as it would be: another user's
				for _, p := range []string{dir, filepath.Join(dir, "ynhd")} {
					if err := os.Lchown(p, 65534, 65534); err != nil {
						t.Fatal(err)
					}
				}
			}
		}, false},
		{"symlink to another directory", func(t *testing.T, dir string) {
			other := filepath.Join(t.TempDir(), "other")
			mkdir(t, other, 0o700)
			symlink(t, other, dir)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			t.Setenv("XDG_RUNTIME_DIR", "")
			tt.plant(t, filepath.Join(tmp, name))
			l := (&commonFlags{}).layout(env{home: t.TempDir()})
			want := ""
			if tt.use {
				want = filepath.Join(tmp, name, "ynhd", "status.json")
			}
			if l.statusFile != want {
				t.Fatalf("status file %q, want %q", l.statusFile, want)
			}
			if tt.use {
				st, err := os.Lstat(filepath.Join(tmp, name))
				if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
					t.Errorf("runtime directory: %v %v", st.Mode(), err)
				}
			}
			if l.statusFile != "" { // what the daemon does with it
				_ = os.MkdirAll(filepath.Dir(l.statusFile), 0o755)
				_ = os.WriteFile(l.statusFile+".tmp", []byte("{}"), 0o600)
			}
			if b, _ := os.ReadFile(victim); string(b) != "precious" {
				t.Errorf("victim overwritten: %q", b)
			}
		})
	}
	t.Run("XDG_RUNTIME_DIR set", func(t *testing.T) {
		t.Setenv("XDG_RUNTIME_DIR", "/run/user/1000")
		if l := (&commonFlags{}).layout(env{home: "/home/u"}); !strings.HasPrefix(l.statusFile, "/run/user/1000/ynhd/") {
			t.Errorf("status file %q", l.statusFile)
		}
	})
}

func mkdir(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
