package podman

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
)

func TestContextHash(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Containerfile", "FROM x\nCOPY a /a\n")
	write("a", "one")
	b := &decl.Build{Context: dir, File: "Containerfile", Args: map[string]string{"V": "1"}}
	h1, err := ContextHash(b)
	if err != nil {
		t.Fatal(err)
	}
	// Touching a file changes nothing.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "a"), later, later)
	if h, _ := ContextHash(b); h != h1 {
		t.Error("mtime changed the hash")
	}
	// Content, args and new files do.
	write("a", "two")
	h2, _ := ContextHash(b)
	b.Args["V"] = "2"
	h3, _ := ContextHash(b)
	write("b", "new")
	h4, _ := ContextHash(b)
	seen := map[string]bool{h1: true}
	for _, h := range []string{h2, h3, h4} {
		if seen[h] {
			t.Errorf("hash did not change: %s", h)
		}
		seen[h] = true
	}
}

// TestContextHashIgnoreFile: paths the ignore file excludes, chosen and
// matched as podman's build client does, change nothing; the rest does.
func TestContextHashIgnoreFile(t *testing.T) {
	for _, tt := range []struct {
		name, ignoreFile, file string
	}{
		{".containerignore", ".containerignore", ""},
		{".dockerignore", ".dockerignore", ""},
		{"Containerfile.web.containerignore", "Containerfile.web.containerignore", "Containerfile.web"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, content string) {
				t.Helper()
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cf := tt.file
			if cf == "" {
				cf = "Containerfile"
			}
			write(cf, "FROM x\nCOPY . /app\n")
			write("app.py", "print(1)")
			write("logs/today.log", "a")
			write("node_modules/m/index.js", "a")
			write("node_modules/keep/index.js", "a")
			write("notes.tmp", "a")
			write(tt.ignoreFile, "# build noise\nlogs\nnode_modules\n!node_modules/keep\n*.tmp\n"+cf+"\n")
			b := &decl.Build{Context: dir, File: tt.file}
			h1, err := ContextHash(b)
			if err != nil {
				t.Fatal(err)
			}
			for _, ignored := range []string{"logs/today.log", "logs/new.log", "node_modules/m/index.js", "notes.tmp", "other.tmp"} {
				write(ignored, "changed")
				if h, _ := ContextHash(b); h != h1 {
					t.Errorf("changing ignored %s changed the hash", ignored)
				}
			}
			// The Containerfile is always sent, even if a pattern names it;
			// a "!" exception is sent too.
			for _, sent := range []string{cf, "node_modules/keep/index.js", "app.py", tt.ignoreFile} {
				write(sent, "changed "+sent)
				h, _ := ContextHash(b)
				if h == h1 {
					t.Errorf("changing %s did not change the hash", sent)
				}
				h1 = h
			}
		})
	}
}
