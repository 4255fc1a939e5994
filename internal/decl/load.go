package decl

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// set. A file that cannot be read or decoded is reported (an Error
// diagnostic on that file, whose app callers keep as it is) and the others
// still load. Files are read with ReadFile; in system mode (host.System)
// each file, its directory and its existing env files must also pass
// CheckTrusted.
func LoadFiles(files []string, host Host, home string) []*Loaded {
	return LoadFilesCached(files, host, home, nil)
}

// FileCache keeps what LoadFilesCached made of each file's content, so
// that a set in which one file changed decodes and validates only that
// file (the checks across files still run over the whole set). Use one
// cache with one host and home.
type FileCache struct{ m map[string]cachedFile }

type cachedFile struct {
	data []byte
	vars string // the Vars' sum it was decoded with
	p    *Parsed
	ds   Diagnostics
}

func (c *FileCache) get(f string) (cachedFile, bool) {
	if c == nil {
		return cachedFile{}, false
	}
	e, ok := c.m[f]
	return e, ok
}

// LoadFilesCached is LoadFiles, reusing c's results for files whose
// content did not change. c may be nil.
func LoadFilesCached(files []string, host Host, home string, c *FileCache) []*Loaded {
	var next map[string]cachedFile
	if c != nil {
		next = make(map[string]cachedFile, len(files))
		defer func() { c.m = next }()
	}
	var out []*Loaded
	known := map[string]bool{}
	var parsed []*Parsed
	dirs := map[string]error{}
	type varsRead struct {
		v  *Vars
		ds Diagnostics
	}
	varsOf := map[string]varsRead{}
	var jobs []decodeJob
	for _, f := range files {
		l := &Loaded{File: f, Name: AppName(f)}
		out = append(out, l)
		known[l.Name] = true
		if err := trustedDir(dirs, f, host.System); err != nil {
			l.Diagnostics = Diagnostics{{File: f, Severity: Error, Message: fmt.Sprintf("declarations directory: %v", err)}}
			continue
		}
		data, err := ReadFile(f, host.System)
		if err != nil {
			l.Diagnostics = Diagnostics{{File: f, Severity: Error, Message: fmt.Sprintf("cannot read: %v", unwrapPath(err))}}
			continue
		}
		// The variables file is read once per directory, and matters only
		// to a declaration with a $ in it: a broken one stops those only.
		dir, vars, varsSum := filepath.Dir(f), NoVars, ""
		if needsSubst(data) {
			vr, ok := varsOf[dir]
			if !ok {
				vr.v, vr.ds = ReadVars(dir, host.System)
				varsOf[dir] = vr
			}
			if vr.ds.HasErrors() {
				l.Diagnostics = append(Diagnostics(nil), vr.ds...)
				continue
			}
			vars, varsSum = vr.v, vr.v.sum
		}
		if e, ok := c.get(f); ok && bytes.Equal(e.data, data) && e.vars == varsSum {
			next[f] = e
			l.Parsed, l.Diagnostics = e.p, append(Diagnostics(nil), e.ds...)
			continue
		}
		jobs = append(jobs, decodeJob{l: l, data: data, vars: vars, varsSum: varsSum})
	}
	decodeAll(jobs, host, home)
	if c != nil {
		for _, j := range jobs {
			next[j.l.File] = cachedFile{data: j.data, vars: j.varsSum, p: j.l.Parsed, ds: append(Diagnostics(nil), j.l.Diagnostics...)}
		}
	}
	for _, l := range out {
		if l.Parsed != nil {
			parsed = append(parsed, l.Parsed)
		}
	}
	setDs := ValidateSet(parsed, known)
	if host.System {
		setDs = append(setDs, systemUserClashes(parsed)...)
	}
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

// decodeJob is one file LoadFilesCached decodes and validates: its
// content was read and is not in the cache.
type decodeJob struct {
	l       *Loaded
	data    []byte
	vars    *Vars
	varsSum string
}

// parallelFrom is the number of files from which decodeAll spreads the
// work over the processors: below it, starting goroutines costs more than
// it saves.
const parallelFrom = 16

// decodeAll decodes and validates each job's file into its Loaded. Files
// are independent (the checks across files run afterwards, in order), so
// a daemon starting with many declarations, or a check of a whole
// directory, uses every processor; the result is the same as one by one.
func decodeAll(jobs []decodeJob, host Host, home string) {
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	if len(jobs) < parallelFrom || workers < 2 {
		for i := range jobs {
			jobs[i].run(host, home)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				jobs[i].run(host, home)
			}
		}()
	}
	wg.Wait()
}

func (j *decodeJob) run(host Host, home string) {
	l := j.l
	p, ds := DecodeVars(l.File, j.data, home, j.vars)
	l.Diagnostics = ds
	if p == nil {
		return
	}
	l.Parsed = p
	// Unknown keys and a bad version do not stop validation: a person
	// fixing a file wants every problem at once.
	l.Diagnostics = append(l.Diagnostics, Validate(p, host)...)
	if host.System {
		l.Diagnostics = append(l.Diagnostics, trustedEnvFiles(p)...)
	}
}

// trustedDir checks, once per directory, that f's directory passes
// CheckTrusted in system mode.
func trustedDir(seen map[string]error, f string, system bool) error {
	if !system {
		return nil
	}
	dir := filepath.Dir(f)
	if err, ok := seen[dir]; ok {
		return err
	}
	err := checkTrustedPath(dir)
	seen[dir] = err
	return err
}

// trustedEnvFiles reports env files that exist but that someone other
// than root could write: podman reads them into the app's environment.
// A missing one is left to podman, which fails to start the app.
func trustedEnvFiles(p *Parsed) Diagnostics {
	v := &validator{app: p.App, pos: p.pos}
	for i, f := range p.App.EnvFiles {
		st, err := os.Stat(f)
		if err != nil {
			continue
		}
		if err := CheckTrusted(f, st); err != nil {
			v.errf(fmt.Sprintf("env_files[%d]", i), "%v", err)
		}
	}
	return v.ds
}

// unwrapPath drops the "open PATH:" of an os error: the diagnostic names
// the file already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
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
