// Package schema generates the JSON Schema of declarations from decl's Go
// types, for editors (taplo, Even Better TOML) and other tools. The
// structure comes from the types and their toml tags, the descriptions
// from their doc comments, and the rules beyond types (enumerations,
// patterns) from decl.KeyRules, the tables validation itself uses. The
// schema is published at schema/ynhd.schema.json; a test fails when that
// file is not what Generate makes.
package schema

//go:generate go run gen.go

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/ynhd/ynhd/internal/decl"
)

// ID is the schema's $id.
const ID = "https://github.com/ynhd/ynhd/raw/main/schema/ynhd.schema.json"

// Generate returns the schema as indented JSON. declDir is the directory
// of decl's sources, relative to the working directory, for the doc
// comments ("../decl" from this package).
func Generate(declDir string) ([]byte, error) {
	r := &jsonschema.Reflector{
		FieldNameTag:               "toml",
		RequiredFromJSONSchemaTags: true, // nothing is required but version (below)
		AllowAdditionalProperties:  false,
		DoNotReference:             true,
		ExpandedStruct:             true,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == reflect.TypeOf(decl.Duration{}) {
				return &jsonschema.Schema{Type: "string", Pattern: decl.DurationPattern,
					Description: `A duration in Go's syntax: a number and a unit (ns, us, ms, s, m, h) with no space, e.g. "10s", "1m30s", "500ms".`}
			}
			return nil
		},
	}
	if err := r.AddGoComments("github.com/ynhd/ynhd/internal/schema", declDir); err != nil {
		return nil, fmt.Errorf("reading the doc comments of %s: %w", declDir, err)
	}
	s := r.Reflect(&decl.App{})
	s.ID = ID
	s.Title = "ynhd app declaration"
	s.Description = fmt.Sprintf("One app run by ynhd as a rootless podman container supervised by systemd (declaration schema version %d).", decl.SchemaVersion)
	s.Required = []string{"version"}
	if v, ok := s.Properties.Get("version"); ok {
		v.Const = decl.SchemaVersion
	}
	for path, rule := range decl.KeyRules() {
		p := property(s, path)
		if p == nil {
			return nil, fmt.Errorf("decl.KeyRules names %s, which is not a key of the declaration", path)
		}
		if rule.Pattern != "" {
			p.Pattern = rule.Pattern
		}
		for _, e := range rule.Enum {
			p.Enum = append(p.Enum, e)
		}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// property finds the schema of a key path such as health.on_failure or
// ports.protocol (through arrays of tables).
func property(s *jsonschema.Schema, path string) *jsonschema.Schema {
	for _, part := range strings.Split(path, ".") {
		for s.Items != nil {
			s = s.Items
		}
		if s.Properties == nil {
			return nil
		}
		next, ok := s.Properties.Get(part)
		if !ok {
			return nil
		}
		s = next
	}
	return s
}
