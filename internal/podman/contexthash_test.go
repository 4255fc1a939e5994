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
