// Package export turns ynhd declarations into the formats people take them
// to when they outgrow one host: Kubernetes manifests (Kube) and Quadlet
// unit files (Quadlet).
//
// The package is pure: it takes decoded, validated declarations (and the
// contents of the env files they name) and returns bytes plus warnings. It
// never reads files or runs anything; the CLI does that.
//
// A warning is a decl.Diagnostic of severity Warning that names the
// declaration file and the key that did not carry over (or carried over
// only partly), with the reason. No value is dropped without one.
package export

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
)

// Input is what an export reads.
type Input struct {
	// Apps are the apps to export. Each must have passed decl.Validate
	// without errors.
	Apps []*decl.App
	// All is every valid app of the declarations directory, Apps
	// included; exports look at it for relations between apps (which
	// apps wait for another to be healthy). Nil means Apps.
	All []*decl.App
	// EnvFiles holds the content of every env file the apps name, by the
	// path in decl.App.EnvFiles. A missing entry is an error.
	EnvFiles map[string][]byte
}

// File is one output file: its name (no directory) and content.
type File struct {
	Name string
	Data []byte
}

func (in Input) all() []*decl.App {
	if in.All != nil {
		return in.All
	}
	return in.Apps
}

// warner collects the warnings about one app.
type warner struct {
	app *decl.App
	ds  *decl.Diagnostics
}

func (w warner) warn(key, format string, args ...any) {
	*w.ds = append(*w.ds, decl.Diagnostic{
		File: w.app.File, Key: key, Severity: decl.Warning,
		Message: fmt.Sprintf(format, args...),
	})
}

// sourceName is how a generated file names its declaration: the base
// name, so that output does not depend on where the directory lives.
func sourceName(a *decl.App) string {
	if a.File == "" {
		return a.Name + ".toml"
	}
	return filepath.Base(a.File)
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int32 {
	return int32((d + time.Second - 1) / time.Second)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
