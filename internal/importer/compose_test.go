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
		ds, _, err := ComposeFiles(context.Background(), ComposeOptions{Files: []string{filepath.Join(dir, "compose.yaml")}})
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

// clearComposeEnv unsets what docker compose reads from the environment.
func clearComposeEnv(t *testing.T) {
	for _, v := range []string{"MODE", "NGINX_TAG", "COMPOSE_PROFILES", "COMPOSE_PROJECT_NAME", "COMPOSE_FILE"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
}

// TestComposeMerged: without -f, compose.yaml and the compose.override.yaml
// beside it are merged as docker compose merges them, and --profile
// activates a service besides COMPOSE_PROFILES; each app is in the group
// named after the project.
func TestComposeMerged(t *testing.T) {
	clearComposeEnv(t)
	dir, err := filepath.Abs(filepath.Join("testdata", "compose", "merged"))
	if err != nil {
		t.Fatal(err)
	}
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	ds, read, err := ComposeFiles(context.Background(), ComposeOptions{Profiles: []string{"debug"}})
	if err != nil {
		t.Fatal(err)
	}
	without, _, errWithout := ComposeFiles(context.Background(), ComposeOptions{})
	t.Setenv("COMPOSE_PROFILES", "debug")
	with, _, errWith := ComposeFiles(context.Background(), ComposeOptions{})
	if err := os.Chdir(here); err != nil { // the golden files
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "compose.override.yaml")}; strings.Join(read, " ") != strings.Join(want, " ") {
		t.Errorf("read %v, want %v", read, want)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.Name)
		relocate(d, dir, "/srv/merged")
		t.Run(d.Name, func(t *testing.T) { golden(t, d, "compose-"+d.Name) })
	}
	if got := strings.Join(names, " "); got != "merged-api merged-debug merged-web" {
		t.Errorf("apps %s", got)
	}

	// Without the profile, the debug service is left out; COMPOSE_PROFILES
	// activates it too.
	if errWithout != nil || len(without) != 2 {
		t.Errorf("without the profile: %d apps, %v", len(without), errWithout)
	}
	if errWith != nil || len(with) != 3 {
		t.Errorf("with COMPOSE_PROFILES: %d apps, %v", len(with), errWith)
	}
}

// TestComposeFilesNamed: files named with -f are merged in order, and the
// override file is then not picked up; --env-file gives the variables.
func TestComposeFilesNamed(t *testing.T) {
	clearComposeEnv(t)
	dir, err := filepath.Abs(filepath.Join("testdata", "compose", "merged"))
	if err != nil {
		t.Fatal(err)
	}
	ds, _, err := ComposeFiles(context.Background(), ComposeOptions{Project: "prod", EnvFiles: []string{filepath.Join(dir, "prod.env")},
		Files: []string{filepath.Join(dir, "compose.yaml"), filepath.Join(dir, "compose.prod.yaml")}})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]string{}
	for _, d := range ds {
		byName[d.Name] = string(d.TOML())
	}
	api, web := byName["prod-api"], byName["prod-web"]
	for _, want := range []string{`image = "docker.io/library/python:3.13"`, `"WORKERS" = "2"`, `part_of = "prod"`} {
		if !strings.Contains(api, want) {
			t.Errorf("prod-api lacks %s:\n%s", want, api)
		}
	}
	if !strings.Contains(web, `image = "docker.io/library/nginx:1.28"`) {
		t.Errorf("prod-web does not take its tag from the env file:\n%s", web)
	}
	if strings.Contains(web, "8443") || strings.Contains(api, "api-cache") {
		t.Errorf("the override file was merged although files were named:\n%s\n%s", web, api)
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
