package podman

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/ynhd/ynhd/internal/decl"
)

// ContextHash hashes what a build depends on: every file's path, mode and
// content under the context directory (not modification times, so touching
// a file does not rebuild), symlink targets, and the Containerfile name,
// build args and target. .git is skipped.
func ContextHash(b *decl.Build) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "file=%s\ntarget=%s\n", b.File, b.Target)
	keys := make([]string, 0, len(b.Args))
	for k := range b.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "arg=%s=%s\n", k, b.Args[k])
	}
	err := filepath.WalkDir(b.Context, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.Context, path)
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", rel, info.Mode())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(h, "%s\x00", target)
		case info.Mode().IsRegular():
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("reading build context %s: %w", b.Context, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
