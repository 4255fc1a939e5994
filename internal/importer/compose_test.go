package importer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestComposeGolden: compose projects written for the project (with their
// .env files) import into one declaration per active service, each of
// which decodes, validates and matches its golden file.
func TestComposeGolden(t *testing.T) {
	for _, project := range []string{"shop", "edge"} {
		dir, err := filepath.Abs(filepath.Join("testdata", "compose", project))
		if err != nil {
			t.Fatal(err)
		}
		// Only what the .env files say.
		for _, v := range []string{"REGISTRY", "PROXY_TAG", "MODE", "FROM_SHELL", "APP_VERSION", "LOG_LEVEL", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME", "COMPOSE_FILE"} {
			t.Setenv(v, "")
			os.Unsetenv(v)
		}
		ds, err := ComposeFiles(context.Background(), []string{filepath.Join(dir, "compose.yaml")}, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) == 0 {
			t.Fatalf("%s: no declarations", project)
		}
		for _, d := range ds {
			// The golden files do not depend on where the tests run.
			relocate(d, dir, "/srv/"+project)
			t.Run(d.Name, func(t *testing.T) { golden(t, d, "compose-"+d.Name) })
		}
	}
}

func relocate(d *Decl, from, to string) {
	d.Source = strings.ReplaceAll(d.Source, from, to)
	for i := range d.top {
		d.top[i].value = strings.ReplaceAll(d.top[i].value, from, to)
	}
	for i := range d.tables {
		for j := range d.tables[i].entries {
			d.tables[i].entries[j].value = strings.ReplaceAll(d.tables[i].entries[j].value, from, to)
		}
	}
	for i := range d.Notes {
		d.Notes[i].Msg = strings.ReplaceAll(d.Notes[i].Msg, from, to)
	}
}

// TestComposeProjectName: --project names the apps and the default
// network; service names become app names.
func TestComposeProjectName(t *testing.T) {
	ds, err := ComposeBytes(context.Background(), []byte("services:\n  Web.Front:\n    image: docker.io/library/nginx\n"), "/srv/My Site", nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Name != "mysite-web-front" {
		t.Fatalf("got %v", ds)
	}
	ds, err = ComposeBytes(context.Background(), []byte("services:\n  web:\n    image: docker.io/library/nginx\n"), "/srv/x", nil, "blog")
	if err != nil {
		t.Fatal(err)
	}
	if ds[0].Name != "blog-web" || !strings.Contains(string(ds[0].TOML()), `network = "blog"`) {
		t.Fatalf("got %s", ds[0].TOML())
	}
	if n := Networks(ds); len(n) != 1 || n[0] != "blog" {
		t.Fatalf("networks %v", n)
	}
}

// TestComposeRefuses: what is not a compose project is an error.
func TestComposeRefuses(t *testing.T) {
	for _, y := range []string{"", "services: 3", "services:\n  a:\n    command: x\n", "services:\n  a:\n    image: x\n    depends_on: [b]\n"} {
		if _, err := ComposeBytes(context.Background(), []byte(y), "/srv/x", nil, ""); err == nil {
			t.Errorf("%q: no error", y)
		}
	}
}

// FuzzCompose: any compose file imports without panicking, and what it
// writes is TOML that ynhd decodes (or the import fails cleanly).
func FuzzCompose(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "compose", "*", "compose.yaml"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ds, err := ComposeBytes(context.Background(), data, "/srv/fuzz", map[string]string{"REGISTRY": "r.example"}, "")
		if err != nil {
			return
		}
		for _, d := range ds {
			checkTOML(t, d.TOML())
		}
	})
}
