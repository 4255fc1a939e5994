package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/doctor"
)

// TestLimitsNeedDelegation: [resources] on a host whose user manager lacks
// the memory controller is a warning that says the app fails and how to
// delegate; without limits, or with every controller, there is none.
func TestLimitsNeedDelegation(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte("version = 1\nimage = \"docker.io/library/alpine:3\"\n"+src), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	limited := write("limited.toml", "[resources]\nmemory = \"256m\"\n")
	plain := write("plain.toml", "")
	host := func(controllers string) doctor.Host {
		return doctor.Host{UID: 1000, FS: fstest.MapFS{
			"sys/fs/cgroup/cgroup.controllers":                                              {Data: []byte("cpu io memory pids")},
			"sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers": {Data: []byte(controllers)},
		}}
	}
	warnings := func(h doctor.Host) map[string]string {
		loaded := decl.LoadFiles([]string{limited, plain}, decl.Host{Rootless: true, UnprivilegedPortStart: 1024}, dir)
		limitsNeedDelegation(h, loaded)
		out := map[string]string{}
		for _, l := range loaded {
			for _, d := range l.Diagnostics {
				if d.Key == "resources" {
					out[l.Name] = d.String()
				}
			}
		}
		return out
	}
	got := warnings(host("cpu pids"))
	if w := warnings(host("pids"))["limited"]; !strings.Contains(w, "the memory and cpu controllers") {
		t.Errorf("two missing: %q", w)
	}
	if w := got["limited"]; !strings.Contains(w, "warning") || !strings.Contains(w, "the memory controller") || !strings.Contains(w, "fails to start") || !strings.Contains(w, "Delegate=") {
		t.Errorf("limited without memory delegated: %q", w)
	}
	if w, ok := got["plain"]; ok {
		t.Errorf("an app without limits was warned: %q", w)
	}
	if got := warnings(host("cpu io memory pids")); len(got) != 0 {
		t.Errorf("warned with every controller delegated: %v", got)
	}
}
