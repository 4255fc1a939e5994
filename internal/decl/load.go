package decl

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Loaded is one declaration file read from disk: its parse (nil App when it
// could not be decoded) and every diagnostic about it.
type Loaded struct {
	File        string
	Name        string
	Parsed      *Parsed
	Diagnostics Diagnostics
}

// OK reports whether the declaration can be used.
func (l *Loaded) OK() bool { return l.Parsed != nil && !l.Diagnostics.HasErrors() }

// IsDeclarationFile reports whether a directory entry named name is a
// declaration: *.toml, not hidden (a dotfile is how editors and atomic
// writers stage a file before renaming it into place).
func IsDeclarationFile(name string) bool {
	return strings.HasSuffix(name, ".toml") && !strings.HasPrefix(name, ".") && len(name) > len(".toml")
}

// LoadFiles reads, decodes and validates the given declaration files as one
// set. A file that cannot be read or decoded is reported and the others
// still load.
func LoadFiles(files []string, host Host, home string) []*Loaded {
	var out []*Loaded
	known := map[string]bool{}
	var parsed []*Parsed
	for _, f := range files {
		l := &Loaded{File: f, Name: AppName(f)}
		out = append(out, l)
		known[l.Name] = true
		data, err := os.ReadFile(f)
		if err != nil {
			l.Diagnostics = Diagnostics{{File: f, Severity: Error, Message: fmt.Sprintf("cannot read: %v", err)}}
			continue
		}
		p, ds := Decode(f, data, home)
		l.Diagnostics = ds
		if p == nil {
			continue
		}
		l.Parsed = p
		// Unknown keys and a bad version do not stop validation: a person
		// fixing a file wants every problem at once.
		l.Diagnostics = append(l.Diagnostics, Validate(p, host)...)
		parsed = append(parsed, p)
	}
	setDs := ValidateSet(parsed, known)
	for _, l := range out {
		for _, d := range setDs {
			if d.File == l.File {
				l.Diagnostics = append(l.Diagnostics, d)
			}
		}
		l.Diagnostics.Sort()
	}
	return out
}

// DeclarationFiles lists the declarations in dir, sorted.
func DeclarationFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && IsDeclarationFile(e.Name()) {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	return files, nil
}

// HostFacts reads the host facts validation needs from /proc. rootless says
// whether apps will run as an unprivileged user.
func HostFacts(rootless bool) Host {
	h := Host{Rootless: rootless, UnprivilegedPortStart: 1024}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			h.UnprivilegedPortStart = n
		}
	}
	return h
}
