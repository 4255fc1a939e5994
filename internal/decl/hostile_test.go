package decl

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// hostileInputs are declarations made to cost as much as the bounds allow,
// or to exceed them: each must be refused or decoded within decodeBudget.
func hostileInputs() map[string]string {
	key := strings.Repeat("k", MaxKeyPath/2-10)
	var dotted []string
	for range MaxDepth - 1 {
		dotted = append(dotted, key[:MaxKeyPath/2/MaxDepth])
	}
	var b strings.Builder
	m := map[string]string{
		// The file of the report: 200,000 nested arrays (390 KB).
		"brackets": "x = " + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000) + "\n",
		"braces":   "x = " + strings.Repeat("{a=", 100_000) + "1" + strings.Repeat("}", 100_000) + "\n",
		"comments": strings.Repeat("# "+strings.Repeat("c", 1000)+"\n", MaxFileSize/1003),
		"dotted":   strings.Repeat("a.", 100_000) + "b = 1\n",
		"elements": "x = [" + strings.Repeat("1,", 200_000) + "]\n",
		"string":   "version = 1\ndescription = \"" + strings.Repeat("d", 2<<20-100) + "\"\n",
	}
	// Bounds reached but not exceeded: the deepest header with the
	// longest keys, then as many keys under it as fit in a file.
	b.WriteString("[" + strings.Join(dotted, ".") + "]\n")
	for i := 0; b.Len() < MaxFileSize-300 && i < MaxItems-10; i++ {
		fmt.Fprintf(&b, "%s%d = 1\n", key[:100], i)
	}
	m["deep header, many keys"] = b.String()
	b.Reset()
	// Unknown long keys, each reported with its position.
	for i := 0; b.Len() < MaxFileSize-300 && i < MaxItems-10; i++ {
		fmt.Fprintf(&b, "%s%d = 1\n", key[:100], i)
	}
	m["many unknown keys"] = b.String()
	// Arrays nested to the bound holding every element allowed.
	m["deep array"] = "command = " + strings.Repeat("[", MaxDepth) + strings.Repeat("1,", MaxItems-10) + strings.Repeat("]", MaxDepth) + "\n"
	// Strings up to the total bound.
	b.Reset()
	b.WriteString("version = 1\nimage = \"docker.io/x/y\"\n[env]\n")
	for i := range MaxValuesTotal / MaxValueLen {
		fmt.Fprintf(&b, "K%d = \"%s\"\n", i, strings.Repeat("v", MaxValueLen-100))
	}
	m["long values"] = b.String()
	return m
}

// decodeBudget is the documented bound (docs/security.md) on what decoding
// and validating one declaration allocates in total, whatever its content.
const decodeBudget = 64 << 20

func TestDecodeStaysWithinMemoryBudget(t *testing.T) {
	for name, src := range hostileInputs() {
		t.Run(name, func(t *testing.T) {
			if len(src) > MaxFileSize && name != "string" {
				t.Fatalf("input is %d bytes; make it fit in MaxFileSize", len(src))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			start := time.Now()
			p, ds := Decode("/d/x.toml", []byte(src), "/home/u")
			if p != nil {
				ds = append(ds, Validate(p, testHost)...)
			}
			_ = ds.Err()
			took := time.Since(start)
			runtime.ReadMemStats(&after)
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("%d bytes in: %d diagnostics, %.1f MiB allocated, %v", len(src), len(ds), float64(alloc)/(1<<20), took)
			if len(ds) > 0 {
				t.Logf("first: %.200s", ds[0].String())
			}
			if alloc > decodeBudget {
				t.Errorf("allocated %d MiB, more than the %d MiB budget", alloc>>20, decodeBudget>>20)
			}
			if took > 5*time.Second {
				t.Errorf("took %v", took)
			}
		})
	}
}

func TestShapeBounds(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name, src, want string
	}{
		{"nested arrays", "x = " + strings.Repeat("[", 200_000) + strings.Repeat("]", 200_000), "1:13: arrays and inline tables nested more than 8 deep"},
		{"nested tables", "x = " + strings.Repeat("{a=", 20) + "1" + strings.Repeat("}", 20), "1:29: arrays and inline tables nested more than 8 deep"},
		{"dotted key", strings.Repeat("a.", 20) + "b = 1", "1:16: dotted key or table name with more than 8 parts"},
		{"dotted header", "[" + strings.Repeat("a.", 20) + "b]", "1:17: dotted key or table name with more than 8 parts"},
		{"items", "x = [" + strings.Repeat("1,", MaxItems) + "]", "1:8197: more than 4096 keys"},
		{"bare key", long(MaxKeyPath+1) + " = 1", "1:257: key path (table, inline tables and key) longer than 256 characters"},
		{"quoted key", "env = { \"" + long(MaxKeyPath-2) + "\" = \"x\" }", "1:9: key path (table, inline tables and key) longer than 256"},
		{"header and key", "[" + long(200) + "]\n" + long(57) + " = 1", "2:57: key path"},
		{"inline tables", "a = {" + strings.Repeat(long(40)+" = {", 7), "1:285: key path"},
		{"value", "x = '" + long(MaxValueLen+1) + "'", "1:5: string of 65537 bytes, more than the 65536 (64 KiB)"},
		{"multi-line value", "x = \"\"\"\n" + long(MaxValueLen+1) + "\"\"\"", "1:5: string of 65538 bytes"},
		{"total", strings.Repeat("x = '"+long(MaxValueLen-10)+"'\n", 3), "3:5: strings add up to more than 131072 bytes"},
		{"file", "# " + long(MaxFileSize), "more than the 1048576 bytes (1 MiB)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := checkShape("/d/x.toml", []byte(tt.src))
			if d == nil || !strings.Contains(d.String(), tt.want) {
				t.Errorf("got %v, want %q", d, tt.want)
			}
		})
	}
	// Everything a real declaration does passes, strings that look like
	// structure included.
	ok := []string{
		"version = 1\nimage = \"docker.io/x/y\"\nenv = { A = \"[[[[{{{{\", 'B.C.D' = '}]' }\n",
		"a = \"\"\"x\"\"\"\"\"\n[[ports]]\nhost_port = 1\n[ports.x]\n",
		"cmd = [\n  [1, 2], # [[[[[[[[[[[[[[[[[[\n  'a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q',\n]\n",
		strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth),
	}
	seeds, _ := filepath.Glob("../../configs/*.toml")
	more, _ := filepath.Glob("../units/testdata/*.toml")
	for _, f := range append(seeds, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ok = append(ok, string(b))
	}
	for _, src := range ok {
		if d := checkShape("/d/x.toml", []byte(src)); d != nil {
			t.Errorf("%v\nfor\n%s", d, src)
		}
	}
}

func TestReadFileRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	if err := syscall.Mkfifo(at("fifo.toml"), 0o644); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"zero.toml": "/dev/zero", "fifolink.toml": at("fifo.toml"), "good.toml": at("real"), "dir.toml": dir} {
		if err := os.Symlink(target, at(link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(at("real"), []byte("version = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// 100 MB, sparse: refused by its size, never read.
	f, err := os.Create(at("huge.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	tests := []struct{ file, want string }{
		{"fifo.toml", "a FIFO (named pipe), not a regular file"},
		{"fifolink.toml", "a FIFO (named pipe), not a regular file"},
		{"zero.toml", "a character device, not a regular file"},
		{"dir.toml", "a directory, not a regular file"},
		{"huge.toml", "104857600 bytes, more than the 1048576 bytes (1 MiB)"},
		{"good.toml", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			done := make(chan error, 1)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			go func() { _, err := ReadFile(at(tt.file), false); done <- err }()
			select {
			case err := <-done:
				runtime.ReadMemStats(&after)
				if got := fmt.Sprint(err); tt.want == "" && err != nil || !strings.Contains(got, tt.want) {
					t.Errorf("ReadFile: %v, want %q", err, tt.want)
				}
				if a := after.TotalAlloc - before.TotalAlloc; a > 2*MaxFileSize+1<<20 {
					t.Errorf("allocated %d bytes", a)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ReadFile blocks")
			}
		})
	}
}

// TestLoadFilesReportsUnreadableFiles checks that a FIFO among the
// declarations is one diagnostic on that file: the others load, and
// nothing blocks.
func TestLoadFilesReportsUnreadableFiles(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "x.toml"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "y.toml"), []byte("version = 1\nimage = \"docker.io/x/y\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	files, err := DeclarationFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []*Loaded, 1)
	go func() { done <- LoadFiles(files, testHost, "/home/u") }()
	select {
	case ls := <-done:
		if len(ls) != 2 || ls[0].OK() || !ls[1].OK() {
			t.Fatalf("loaded %d, x ok %v", len(ls), ls[0].OK())
		}
		if got := ls[0].Diagnostics.Err().Error(); !strings.HasSuffix(got, "x.toml: cannot read: a FIFO (named pipe), not a regular file: ynhd reads declarations only from regular files (a symlink must point to one); remove it or replace it with a file") {
			t.Errorf("got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("LoadFiles blocks on a FIFO")
	}
}

// TestSystemModeTrustsOnlyRoot reproduces a world-writable declarations
// directory and files anyone could have written: system mode refuses each
// with the command that fixes it; user mode reads them.
func TestSystemModeTrustsOnlyRoot(t *testing.T) {
	const app = "version = 1\nimage = \"docker.io/x/y\"\n"
	tests := []struct {
		name    string
		dirMode os.FileMode
		setup   func(t *testing.T, dir string) // writes x.toml
		want    string
	}{
		{"trusted", 0o755, func(t *testing.T, dir string) { write(t, dir, "x.toml", app, 0o644) }, ""},
		{"world-writable directory", 0o777, func(t *testing.T, dir string) { write(t, dir, "x.toml", app, 0o644) },
			"x.toml: declarations directory: DIR is writable by group or others (mode 0777): in system mode only root may write what ynhd reads; fix: sudo chmod go-w DIR"},
		{"group-writable file", 0o755, func(t *testing.T, dir string) { write(t, dir, "x.toml", app, 0o664) },
			"x.toml: cannot read: DIR/x.toml is writable by group or others (mode 0664): in system mode only root may write what ynhd reads; fix: sudo chmod go-w DIR/x.toml"},
		{"symlink to a world-writable file", 0o755, func(t *testing.T, dir string) {
			write(t, dir, "target", app, 0o666)
			if err := os.Symlink(filepath.Join(dir, "target"), filepath.Join(dir, "x.toml")); err != nil {
				t.Fatal(err)
			}
		}, "x.toml: cannot read: DIR/x.toml (a symlink to DIR/target) is writable by group or others (mode 0666): in system mode only root may write what ynhd reads; fix: sudo chmod go-w DIR/target"},
		{"world-writable env file", 0o755, func(t *testing.T, dir string) {
			write(t, dir, "x.toml", app+"env_files = [\"x.env\"]\n", 0o644)
			write(t, dir, "x.env", "A=1\n", 0o666)
		}, "x.toml:3:14: env_files[0]: DIR/x.env is writable by group or others (mode 0666): in system mode only root may write what ynhd reads; fix: sudo chmod go-w DIR/x.env"},
		{"file owned by nobody", 0o755, func(t *testing.T, dir string) {
			if os.Geteuid() != 0 {
				t.Skip("needs root to give a file away")
			}
			write(t, dir, "x.toml", app, 0o644)
			if err := os.Chown(filepath.Join(dir, "x.toml"), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, "x.toml: cannot read: DIR/x.toml is owned by uid 65534, not root: in system mode only root may write what ynhd reads; fix: sudo chown root:root DIR/x.toml"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ynhd")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			tt.setup(t, dir)
			if err := os.Chmod(dir, tt.dirMode); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(dir, "x.toml")
			system := testHost
			system.System = true
			got := LoadFiles([]string{file}, system, "/root")[0].Diagnostics.Errors()
			want := strings.ReplaceAll(tt.want, "DIR", dir)
			switch {
			case want == "" && len(got) > 0:
				t.Errorf("refused: %v", got.Err())
			case want != "" && (len(got) != 1 || !strings.HasSuffix(got[0].String(), want)):
				t.Errorf("got %v\nwant ...%s", got.Err(), want)
			}
			if ds := LoadFiles([]string{file}, testHost, "/root")[0].Diagnostics; ds.HasErrors() {
				t.Errorf("user mode refuses: %v", ds.Err())
			}
		})
	}
}

func write(t *testing.T, dir, name, content string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}
