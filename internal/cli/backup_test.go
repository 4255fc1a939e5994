package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type member struct {
	name string
	typ  byte
	body string
}

func archive(t *testing.T, ms ...member) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range ms {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: m.name, Typeflag: typ, Mode: 0o600, Size: int64(len(m.body))}
		if typ != tar.TypeReg {
			hdr.Size, hdr.Linkname = 0, "/etc/passwd"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, m.body)
	}
	tw.Close()
	zw.Close()
	f := filepath.Join(t.TempDir(), "b.ynhd.tar.gz")
	if err := os.WriteFile(f, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestReadArchive: a backup is read only as what ynhd writes; anything
// else (paths out of the directory, links, members before the manifest,
// a volume the manifest names but the archive lacks) is refused.
func TestReadArchive(t *testing.T) {
	man := `{"format":1,"app":"web","volumes":["web-data"]}`
	good := []member{{name: memberManifest, body: man}, {name: "web.toml", body: "version = 1\n"}, {name: "volumes/web-data.tar", body: "x"}}
	e := env{stdout: io.Discard, stderr: io.Discard}
	dir := t.TempDir()
	m, err := readArchive(e, archive(t, good...), dir)
	if err != nil || m.App != "web" {
		t.Fatalf("a good archive: %v %+v", err, m)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "volumes", "web-data.tar")); string(b) != "x" {
		t.Errorf("volume member: %q", b)
	}
	for name, ms := range map[string][]member{
		"escape":          {{name: memberManifest, body: man}, {name: "../web.toml", body: "x"}},
		"link":            {{name: memberManifest, body: man}, {name: "web.toml", typ: tar.TypeSymlink}},
		"not first":       {{name: "web.toml", body: "x"}, {name: memberManifest, body: man}},
		"other app":       {{name: memberManifest, body: man}, {name: "db.toml", body: "x"}},
		"bad volume name": {{name: memberManifest, body: man}, {name: "web.toml", body: "x"}, {name: "volumes/../../x.tar", body: "x"}},
		"missing volume":  {{name: memberManifest, body: man}, {name: "web.toml", body: "x"}},
		"twice":           {{name: memberManifest, body: man}, {name: "web.toml", body: "x"}, {name: "web.toml", body: "y"}},
		"bad app":         {{name: memberManifest, body: `{"format":1,"app":"../x"}`}},
	} {
		if _, err := readArchive(e, archive(t, ms...), t.TempDir()); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), "backup") && !strings.Contains(err.Error(), "lacks") {
			t.Logf("%s: %v", name, err)
		}
	}
}
