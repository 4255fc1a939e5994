package decl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	vars, ds := ParseVars("/d/ynhd.env", []byte("# comment\nHOST=db.example\nEMPTY=\nQUOTED=\"a b\"\nexport PORT=5432\nFROM_ENV\nNOT_SET\n"),
		func(k string) (string, bool) {
			if k == "FROM_ENV" {
				return "daemon", true
			}
			return "", false
		})
	if len(ds) != 0 {
		t.Fatalf("ParseVars: %v", ds)
	}
	for _, tt := range []struct{ in, want, err string }{
		{"postgres://${HOST}:${PORT}/x", "postgres://db.example:5432/x", ""},
		{"${QUOTED}", "a b", ""},
		{"${FROM_ENV}", "daemon", ""},
		{"${EMPTY}", "", ""},
		{"${EMPTY:-fallback}", "fallback", ""},
		{"${NOT_SET:-fallback}", "fallback", ""},
		{"pa$word $5 $$HOME $", "pa$word $5 $HOME $", ""},
		{"$${HOST}", "${HOST}", ""},
		{"${NOT_SET}", "", "${NOT_SET} is not defined: set NOT_SET=VALUE in /d/ynhd.env (or name it alone there to take it from ynhd's environment), or write ${NOT_SET:-default}"},
		{"${NOT_SET:?set the database host}", "", "${NOT_SET}: set the database host"},
		{"${HOST", "", `"${HOST" has no closing }: write ${NAME}, or $$ for a literal $`},
		{"${HOST-x}", "", "${HOST-x}: use ${NAME}, ${NAME:-default} or ${NAME:?message}"},
		{"${1X}", "", `${1X}: "1X" is not a variable name (letters, digits and _, not starting with a digit)`},
		{"${A:-${B}}", "", "${A:-${B}: a default or message cannot hold another ${...}"},
	} {
		got, err := expand(tt.in, vars)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("expand(%q): error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("expand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, ds := ParseVars("/d/ynhd.env", []byte("OK=1\nnot a line\n"), nil); len(ds) != 1 || ds[0].String() != `/d/ynhd.env:2:1: "not a line" is not NAME=VALUE or NAME: a name starts with a letter or _ and holds only letters, digits and _` {
		t.Errorf("bad line: %v", ds)
	}
}

// TestSubstitution: ${NAME} is replaced in decoded string values (not in
// command), before paths are
// resolved; an undefined variable is an error at its key's line; a value
// cannot add a line.
func TestSubstitution(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		t.Helper()
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	write(VarsFile, "TAG=1.27\nDATA=/srv/web\nNL=\"a\\nb\"\n")
	web := write("web.toml", `version = 1
image = "docker.io/library/nginx:${TAG}"
command = ["sh", "-c", "echo ${HOME}"]
env = { WHERE = "${DATA}" }
[[binds]]
source = "${DATA}/html"
target = "/usr/share/nginx/html"
`)
	bad := write("bad.toml", "version = 1\nimage = \"docker.io/x/y\"\n\n[env]\nA = \"${MISSING}\"\n")
	ls := LoadFiles([]string{bad, web}, Host{Rootless: true, UnprivilegedPortStart: 1024}, "/home/u")
	if got := ls[1]; !got.OK() {
		t.Fatalf("web: %v", got.Diagnostics)
	}
	a := ls[1].Parsed.App
	if a.Image != "docker.io/library/nginx:1.27" || a.Env["WHERE"] != "/srv/web" || a.Binds[0].Source != "/srv/web/html" ||
		a.Command[2] != "echo ${HOME}" {
		t.Errorf("web: image %q env %v bind %q command %q", a.Image, a.Env, a.Binds[0].Source, a.Command)
	}
	if ds := ls[0].Diagnostics; len(ds) != 1 || !strings.HasPrefix(ds[0].String(), bad+":5:1: env.A: ${MISSING} is not defined: set MISSING=VALUE in "+filepath.Join(dir, VarsFile)) {
		t.Errorf("bad: %v", ds)
	}

	// ParseVars keeps a value as written: the \n above is two characters.
	// A newline from the environment is refused by validation.
	vars, _ := ParseVars("/d/ynhd.env", []byte("NL\n"), func(string) (string, bool) { return "a\nb", true })
	p, ds := DecodeVars("/d/app.toml", []byte("version = 1\nimage = \"docker.io/x/y\"\nhostname = \"${NL}\"\n"), "/home/u", vars)
	ds = append(ds, Validate(p, testHost)...)
	if ds.Err() == nil || !strings.Contains(ds.Err().Error(), "hostname: value contains a newline") {
		t.Errorf("a newline through a variable: %v", ds)
	}
}
