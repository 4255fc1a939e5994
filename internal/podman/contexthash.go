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

	"github.com/containers/podman/v4/pkg/util"
	"github.com/containers/storage/pkg/fileutils"

	"github.com/ynhd/ynhd/internal/decl"
)

// ContextHash hashes what a build depends on: every file's path, mode and
// content under the context directory (not modification times, so touching
// a file does not rebuild), symlink targets, and the Containerfile name,
// build args and target. .git is skipped, and so is every path the
// build's ignore file excludes, chosen and matched as podman's build
// client does (buildIgnore): a change there cannot change the image.
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
	ignored, err := buildIgnore(b)
	if err != nil {
		return "", fmt.Errorf("reading the ignore file of build context %s: %w", b.Context, err)
	}
	err = filepath.WalkDir(b.Context, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(b.Context, path)
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if rel != "." && ignored != nil {
			// Like podman's client, an excluded directory is still
			// walked: a "!" exception may take back a path inside it.
			if skip, err := ignored.Matches(filepath.ToSlash(rel)); err != nil { //nolint:staticcheck // the call podman's build client makes
				return err
			} else if skip {
				return nil
			}
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

// buildIgnore returns the matcher of the paths podman's build client
// leaves out of the context it sends (bindings/images.Build): the patterns
// of .containerignore, else .dockerignore, else CONTAINERFILE.containerignore
// or CONTAINERFILE.dockerignore (podman's util.ParseDockerignore chooses),
// with the Containerfile and the ignore files themselves always sent. nil
// when there are no patterns.
func buildIgnore(b *decl.Build) (*fileutils.PatternMatcher, error) {
	var files []string
	keep := []string{"!Dockerfile", "!Containerfile", "!.dockerignore", "!.containerignore"}
	if b.File != "" {
		rel := filepath.ToSlash(filepath.Clean(b.File))
		files = append(files, rel)
		keep = append(keep, "!"+rel, "!"+rel+".dockerignore", "!"+rel+".containerignore")
	}
	excludes, _, err := util.ParseDockerignore(files, b.Context)
	if err != nil {
		return nil, err
	}
	if len(excludes) == 0 {
		return nil, nil
	}
	return fileutils.NewPatternMatcher(append(excludes, keep...))
}
