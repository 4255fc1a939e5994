package cli

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
	"github.com/ynhd/ynhd/internal/podman"
	"github.com/ynhd/ynhd/internal/reconcile"
)

// backupFormat is the version of the archive layout.
const backupFormat = 1

// Archive members. A backup is a gzip-compressed tar of exactly these.
const (
	memberManifest = "manifest.json"
	memberSnapshot = "snapshot.oci.tar"
	memberVolumes  = "volumes/"
	maxManifest    = 1 << 20
)

// manifest describes a backup.
type manifest struct {
	Format   int       `json:"format"`
	App      string    `json:"app"`
	Created  time.Time `json:"created"`
	Version  string    `json:"ynhd_version"`
	Snapshot string    `json:"snapshot,omitempty"` // the image in snapshot.oci.tar
	Base     string    `json:"base,omitempty"`     // the base image its file system started from
	Volumes  []string  `json:"volumes"`
}

// cmdBackup writes one archive with an app's declaration, a snapshot of
// its container (persistent apps) and the content of its named volumes.
// backupFlags are backup's own flags.
type backupFlags struct {
	out  string
	stop bool
}

func cmdBackup(c commonFlags, o backupFlags, app string, e env) int {
	l := c.layout(e)
	if code := requireApp(l, e, "backup", app); code >= 0 {
		return code
	}
	file := filepath.Join(l.declDir, app+".toml")
	loaded := loadSet([]string{file}, e, false)[0]
	if !loaded.OK() {
		fmt.Fprintf(e.stderr, "ynhd backup: %s has errors; fix them first\n", file)
		return exitProblem
	}
	a := loaded.Parsed.App
	now := time.Now()
	if o.out == "" {
		o.out = fmt.Sprintf("%s-%s.ynhd.tar.gz", app, now.UTC().Format("20060102-150405"))
	}
	fail := func(format string, args ...any) int {
		fmt.Fprintf(e.stderr, "ynhd backup %s: %s\n", app, fmt.Sprintf(format, args...))
		return exitProblem
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Hour)
	defer cancel()
	tmp, err := os.MkdirTemp(filepath.Dir(o.out), ".ynhd-backup-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(tmp)
	k := userKeeper()
	m := manifest{Format: backupFormat, App: app, Created: now.UTC(), Version: Version(), Volumes: []string{}}
	members := []string{app + ".toml"}
	if err := copyFile(file, filepath.Join(tmp, app+".toml")); err != nil {
		return fail("%v", err)
	}
	if o.stop {
		if code := unitJob(e, "stop", app); code != exitOK {
			return code
		}
		defer unitJob(e, "start", app)
	}
	if a.Persistent {
		ct, ok, err := k.Inspect(ctx, app)
		switch {
		case err != nil:
			return fail("%v", err)
		case !ok:
			fmt.Fprintf(e.stdout, "%s has no container yet: the archive holds its declaration and volumes\n", app)
		default:
			step := time.Now()
			fmt.Fprintf(e.stdout, "committing %s's container to a snapshot (paused meanwhile)...\n", app)
			snap, err := k.TakeLive(ctx, app, ct.Base, "backup", step)
			if err != nil {
				return fail("%v", err)
			}
			fmt.Fprintf(e.stdout, "snapshot %s taken in %s; saving it...\n", snap.Ref, time.Since(step).Round(time.Millisecond))
			if err := k.Save(ctx, snap.Ref, filepath.Join(tmp, memberSnapshot)); err != nil {
				return fail("%v", err)
			}
			m.Snapshot, m.Base = snap.Ref, ct.Base
			members = append(members, memberSnapshot)
			pruneSnapshots(ctx, e, k, app, a.KeepSnapshots)
		}
	}
	if err := os.Mkdir(filepath.Join(tmp, "volumes"), 0o700); err != nil {
		return fail("%v", err)
	}
	for _, v := range a.Volumes {
		if !k.VolumeExists(ctx, v.Name) {
			fmt.Fprintf(e.stdout, "volume %s does not exist yet; skipped\n", v.Name)
			continue
		}
		fmt.Fprintf(e.stdout, "exporting volume %s...\n", v.Name)
		if err := k.ExportVolume(ctx, v.Name, filepath.Join(tmp, "volumes", v.Name+".tar")); err != nil {
			return fail("%v", err)
		}
		m.Volumes = append(m.Volumes, v.Name)
		members = append(members, memberVolumes+v.Name+".tar")
	}
	if len(a.Binds) > 0 {
		fmt.Fprintf(e.stdout, "binds are directories of this host, not in the archive: back them up with the host\n")
	}
	mb, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, memberManifest), mb, 0o600); err != nil {
		return fail("%v", err)
	}
	members = append([]string{memberManifest}, members...)
	if err := writeArchive(e, o.out, tmp, members); err != nil {
		return fail("%v", err)
	}
	fmt.Fprintf(e.stdout, "wrote %s; `ynhd restore %s` brings %s back here or on another machine\n", o.out, o.out, app)
	return exitOK
}

// unitJob runs `ynhd start|stop APP` in-process.
func unitJob(e env, verb, app string) int {
	return cmdUnit(verb, commonFlags{}, app, e)
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o600)
}

// progress reports how much of an archive was written, every few seconds.
type progress struct {
	n    atomic.Int64
	done chan struct{}
}

func (p *progress) Write(b []byte) (int, error) {
	p.n.Add(int64(len(b)))
	return len(b), nil
}

func (p *progress) report(e env, what string) func() {
	p.done = make(chan struct{})
	start := time.Now()
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				fmt.Fprintf(e.stdout, "%s: %s (%s)\n", what, humanBytes(p.n.Load()), time.Since(start).Round(time.Second))
			}
		}
	}()
	return func() { close(p.done) }
}

// writeArchive writes members of dir into a gzip-compressed tar at out,
// through a temporary file renamed into place.
func writeArchive(e env, out, dir string, members []string) error {
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	var pr progress
	stop := pr.report(e, "writing "+out)
	defer stop()
	zw := gzip.NewWriter(io.MultiWriter(f, &pr))
	tw := tar.NewWriter(zw)
	for _, name := range members {
		src, err := os.Open(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil {
			return err
		}
		fi, err := src.Stat()
		if err != nil {
			src.Close()
			return err
		}
		hdr := &tar.Header{Name: name, Mode: 0o600, Size: fi.Size(), ModTime: fi.ModTime(), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			src.Close()
			return err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), out)
}

// cmdRestore brings an app back from a backup: its volumes, its
// container (from the snapshot) and, last, its declaration, which the
// daemon then starts. It refuses to replace anything that exists.
func cmdRestore(c commonFlags, archive string, e env) int {
	pos := []string{archive}
	l := c.layout(e)
	fail := func(format string, args ...any) int {
		fmt.Fprintf(e.stderr, "ynhd restore %s: %s\n", pos[0], fmt.Sprintf(format, args...))
		return exitProblem
	}
	if err := os.MkdirAll(l.stateDir, 0o700); err != nil {
		return fail("%v", err)
	}
	tmp, err := os.MkdirTemp(l.stateDir, ".restore-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(tmp)
	m, err := readArchive(e, pos[0], tmp)
	if err != nil {
		return fail("%v", err)
	}
	app := m.App
	declFile := filepath.Join(l.declDir, app+".toml")
	if _, err := os.Lstat(declFile); err == nil {
		return fail("%s is declared here already (%s): ynhd restore replaces nothing; remove it first, with its container and volumes if the archive's are to replace them", app, declFile)
	}
	loaded := loadSet([]string{filepath.Join(tmp, app+".toml")}, e, false)[0]
	if !loaded.OK() {
		for _, d := range loaded.Diagnostics.Errors() {
			fmt.Fprintln(e.stderr, d.String())
		}
		return fail("the archive's declaration does not check here")
	}
	a := loaded.Parsed.App
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Hour)
	defer cancel()
	k := userKeeper()
	if _, ok, err := k.Inspect(ctx, app); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("a container named %s exists: ynhd restore replaces nothing; remove it first (podman rm %s)", app, app)
		}
		return fail("%v", err)
	}
	for _, name := range m.Volumes {
		if k.VolumeExists(ctx, name) {
			return fail("volume %s exists: ynhd restore replaces nothing; remove it first (podman volume rm %s) or restore on another machine", name, name)
		}
	}
	for _, v := range a.Volumes {
		if !slices.Contains(m.Volumes, v.Name) {
			continue
		}
		fmt.Fprintf(e.stdout, "restoring volume %s...\n", v.Name)
		if err := k.EnsureVolume(ctx, v); err != nil {
			return fail("%v", err)
		}
		if err := k.ImportVolume(ctx, v.Name, filepath.Join(tmp, "volumes", v.Name+".tar")); err != nil {
			return fail("%v", err)
		}
	}
	if m.Snapshot != "" {
		if !a.Persistent {
			fmt.Fprintf(e.stdout, "the archive has a snapshot, but %s is not persistent here; its container is not restored\n", app)
		} else {
			fmt.Fprintf(e.stdout, "loading snapshot %s...\n", m.Snapshot)
			names, err := k.Load(ctx, filepath.Join(tmp, memberSnapshot))
			if err != nil {
				return fail("%v", err)
			}
			if len(names) > 0 && !slices.Contains(names, m.Snapshot) {
				if err := k.Tag(ctx, names[0], m.Snapshot); err != nil {
					return fail("%v", err)
				}
			}
			fmt.Fprintf(e.stdout, "creating %s's container from it\n", app)
			if err := k.Create(ctx, podman.CreateArgs(a, keepRunOptions(), m.Snapshot, m.Base)); err != nil {
				return fail("%v", err)
			}
			if err := reconcile.StateDir(l.stateDir).SetKept(app, ""); err != nil {
				return fail("%v", err)
			}
		}
	}
	if err := os.MkdirAll(l.declDir, 0o755); err != nil {
		return fail("%v", err)
	}
	b, err := os.ReadFile(filepath.Join(tmp, app+".toml"))
	if err == nil {
		err = reconcile.WriteFileAtomic(declFile, b, 0o644)
	}
	if err != nil {
		return fail("writing %s: %v", declFile, err)
	}
	fmt.Fprintf(e.stdout, "restored %s: %s written; the daemon starts it (ynhd status)\n", app, declFile)
	return exitOK
}

// readArchive unpacks a backup into dir, accepting only its members:
// regular files with the names a backup has, the declaration within the
// size ynhd reads.
func readArchive(e env, file, dir string) (manifest, error) {
	var m manifest
	f, err := os.Open(file)
	if err != nil {
		return m, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return m, fmt.Errorf("not a ynhd backup (gzip): %v", err)
	}
	var pr progress
	stop := pr.report(e, "reading "+file)
	defer stop()
	tr := tar.NewReader(io.TeeReader(zr, &pr))
	seen := map[string]bool{}
	app := ""
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return m, fmt.Errorf("reading the archive: %v", err)
		}
		name := hdr.Name
		if hdr.Typeflag != tar.TypeReg || seen[name] || !backupMember(name, app) {
			return m, fmt.Errorf("not a ynhd backup: unexpected member %q", name)
		}
		seen[name] = true
		if name == memberManifest {
			b, err := io.ReadAll(io.LimitReader(tr, maxManifest+1))
			if err != nil || len(b) > maxManifest {
				return m, fmt.Errorf("reading the manifest: %v", err)
			}
			if err := json.Unmarshal(b, &m); err != nil || m.Format != backupFormat || !decl.ValidAppName(m.App) {
				return m, fmt.Errorf("not a ynhd backup of format %d (manifest: %v)", backupFormat, err)
			}
			app = m.App
			continue
		}
		if app == "" {
			return m, errors.New("not a ynhd backup: the manifest is not first")
		}
		limit := hdr.Size
		if name == app+".toml" && limit > decl.MaxFileSize {
			return m, fmt.Errorf("the declaration in the archive is larger than %d bytes", decl.MaxFileSize)
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return m, err
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return m, err
		}
		_, err = io.Copy(out, io.LimitReader(tr, limit))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return m, err
		}
	}
	if app == "" || !seen[app+".toml"] {
		return m, errors.New("not a ynhd backup: no manifest or declaration")
	}
	for _, v := range m.Volumes {
		if !seen[memberVolumes+v+".tar"] {
			return m, fmt.Errorf("the archive lacks volume %s", v)
		}
	}
	if m.Snapshot != "" && !seen[memberSnapshot] {
		return m, errors.New("the archive lacks its snapshot")
	}
	return m, nil
}

// backupMember reports whether name may be in a backup of app ("" before
// the manifest, which comes first).
func backupMember(name, app string) bool {
	switch {
	case name == memberManifest:
		return app == ""
	case app == "":
		return false
	case name == app+".toml", name == memberSnapshot:
		return true
	case strings.HasPrefix(name, memberVolumes) && strings.HasSuffix(name, ".tar"):
		v := strings.TrimSuffix(strings.TrimPrefix(name, memberVolumes), ".tar")
		return decl.ValidVolumeName(v)
	}
	return false
}
