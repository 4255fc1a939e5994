package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckOutputIsStable runs ynhd check 20 times on a file with several
// errors in different tables: the output must be the same every time.
func TestCheckOutputIsStable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "web.toml")
	src := `version = 1
image = "docker.io/library/nginx:1"
stop_timeout = "10 seconds"
ports = [{ host_port = "8080" }, { host_port = 8081, protocol = 6 }]
read_only = "yes"
labels = { a = 1, b = 2 }
[resources]
memory = 512
cpus = "2"
[health]
cmd = ["true"]
interval = "30 sec"
retries = "3"
`
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	var first, firstJSON string
	for i := 0; i < 20; i++ {
		var js bytes.Buffer
		run([]string{"check", "--json", file}, env{stdout: &js, stderr: &bytes.Buffer{}, home: dir})
		if i == 0 {
			firstJSON = js.String()
		} else if js.String() != firstJSON {
			t.Fatalf("check --json run %d differs:\n%s\nfirst run:\n%s", i, js.String(), firstJSON)
		}
		var out, errOut bytes.Buffer
		if code := run([]string{"check", file}, env{stdout: &out, stderr: &errOut, home: dir}); code != exitProblem {
			t.Fatalf("exit %d, want %d; stderr: %s", code, exitProblem, errOut.String())
		}
		if i == 0 {
			first = out.String()
			if n := bytes.Count(out.Bytes(), []byte("\n")); n != 10 {
				t.Fatalf("want 10 errors, got %d:\n%s", n, first)
			}
			continue
		}
		if out.String() != first {
			t.Fatalf("run %d differs:\n%s\nfirst run:\n%s", i, out.String(), first)
		}
	}
}
