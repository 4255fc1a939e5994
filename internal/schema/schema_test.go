package schema

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ynhd/ynhd/internal/decl"
)

var update = flag.Bool("update", false, "rewrite schema/ynhd.schema.json")

const published = "../../schema/ynhd.schema.json"

// TestSchemaUpToDate fails when the published schema is not what the Go
// types make: run `make schema` after changing them.
func TestSchemaUpToDate(t *testing.T) {
	got, err := Generate("../decl")
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(published, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(published)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(got), string(want)); diff != "" {
		t.Errorf("schema/ynhd.schema.json is out of date; run `make schema` (-generated +published):\n%s", diff)
	}
}

// compile loads the published schema into an independent validator.
func compile(t *testing.T) *jsonschema.Schema {
	t.Helper()
	data, err := os.ReadFile(published)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(ID, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(ID)
	if err != nil {
		t.Fatalf("compiling the schema: %v", err)
	}
	return s
}

// validate checks TOML source against the schema as an editor does: the
// document decoded as plain data, then validated.
func validate(s *jsonschema.Schema, src string) error {
	var doc map[string]any
	if _, err := toml.Decode(src, &doc); err != nil {
		return err
	}
	// Through JSON, so that values have the types a JSON validator knows.
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return s.Validate(v)
}

// declErrors returns ynhd's own errors about src (decode and validate).
func declErrors(file, src string) decl.Diagnostics {
	p, ds := decl.Decode(file, []byte(src), "/home/u")
	if p != nil {
		ds = append(ds, decl.Validate(p, decl.Host{})...)
	}
	return ds.Errors()
}

// declarations are the shipped examples and the inputs and outputs of the
// golden tests.
func declarations(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, pattern := range []string{"../../configs/*.toml", "../../configs/*/*.toml", "../units/testdata/*.toml", "../importer/testdata/*.toml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			out[f] = string(b)
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d declarations found", len(out))
	}
	return out
}

// TestDeclarationsValidate: every shipped and golden declaration passes
// both ynhd and the schema.
func TestDeclarationsValidate(t *testing.T) {
	s := compile(t)
	for f, src := range declarations(t) {
		if errs := declErrors(f, src); len(errs) > 0 {
			t.Errorf("%s: ynhd refuses it: %v", f, errs.Err())
		}
		if err := validate(s, src); err != nil {
			t.Errorf("%s: the schema refuses it: %v", f, err)
		}
	}
}

// TestInvalidDeclarations: what ynhd refuses for its keys, types and
// value forms, the schema refuses too.
func TestInvalidDeclarations(t *testing.T) {
	s := compile(t)
	const img = "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n"
	for name, src := range map[string]string{
		"missing version":       "image = \"docker.io/library/nginx:1.27\"\n",
		"future version":        "version = 2\nimage = \"docker.io/library/nginx:1.27\"\n",
		"unknown key":           img + "hostnme = \"a\"\n",
		"key case":              img + "Hostname = \"a\"\n",
		"unknown key in ports":  img + "[[ports]]\nhost_port = 8080\nhostport = 1\n",
		"string port":           img + "[[ports]]\nhost_port = \"8080\"\n",
		"duration in words":     img + "stop_timeout = \"10 seconds\"\n",
		"integer duration":      img + "stop_timeout = 10\n",
		"health duration":       img + "[health]\ncmd = [\"true\"]\ninterval = \"30 sec\"\n",
		"non-table env":         img + "env = 3\n",
		"integer env value":     img + "env = { A = 1 }\n",
		"string for an array":   img + "command = \"sh -c x\"\n",
		"bad size":              img + "shm_size = \"1.5 gigs\"\n",
		"bad memory":            img + "[resources]\nmemory = \"lots\"\n",
		"string cpus":           img + "[resources]\ncpus = \"2\"\n",
		"unknown restart":       img + "restart = \"sometimes\"\n",
		"unknown pull":          img + "pull = \"maybe\"\n",
		"unknown protocol":      img + "[[ports]]\nhost_port = 8080\nprotocol = \"http\"\n",
		"unknown on_failure":    img + "[health]\ncmd = [\"true\"]\non_failure = \"panic\"\n",
		"unknown system_user":   img + "system_user = \"root\"\n",
		"volume selinux letter": img + "[[volumes]]\nname = \"d\"\ntarget = \"/d\"\nselinux = \"Z\"\n",
	} {
		t.Run(name, func(t *testing.T) {
			if len(declErrors("/d/web.toml", src)) == 0 {
				t.Fatalf("ynhd accepts it; the case is wrong")
			}
			if err := validate(s, src); err == nil {
				t.Errorf("the schema accepts what ynhd refuses:\n%s", src)
			}
		})
	}
}

// TestDecodeAndSchemaAgree: on variations of the shipped declarations,
// the schema refuses exactly what ynhd's decoder refuses (types, keys,
// durations), in both directions.
func TestDecodeAndSchemaAgree(t *testing.T) {
	s := compile(t)
	const img = "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n"
	for _, extra := range []string{
		"", "enabled = false\n", "stop_timeout = \"1m30s\"\n", "stop_timeout = \"0\"\n", "start_timeout = \".5h\"\n",
		"[resources]\ncpus = 2\n", "[resources]\ncpus = 1.5\n", "env = {}\n", "command = []\n",
		"ports = [{ host_port = 8080 }]\n", "[[ports]]\nhost_port = 8080\n", "labels = { \"a.b\" = \"c\" }\n",
		"stop_timeout = \"1d\"\n", "stop_timeout = true\n", "enabled = \"yes\"\n", "[build]\ncontext = 3\n",
		"tmpfs = [{ target = \"/t\", options = [\"rw\", 1] }]\n", "[health]\nretries = 1.5\n", "imagee = 1\n",
		"[[binds]]\nsource = \"a\"\ntarget = \"/a\"\nread_only = 1\n", "log_options = { tag = \"x\" }\n", "version2 = 1\n",
	} {
		src := img + extra
		p, ds := decl.Decode("/d/web.toml", []byte(src), "/home/u")
		decodeOK := p != nil && !ds.HasErrors()
		err := validate(s, src)
		if decodeOK != (err == nil) {
			t.Errorf("%q: ynhd's decoder accepts it: %v; the schema: %v (%v)", strings.TrimSpace(extra), decodeOK, err == nil, err)
		}
	}
}
