package units

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/ynhd/ynhd/internal/decl"
)

// benchKinds are the testdata declarations the benchmarks cycle through.
var benchKinds = []string{"full", "tricky", "systemd", "db"}

var benchHost = decl.Host{Rootless: true, UnprivilegedPortStart: 1024}

// benchInput is one of the 1,000 declarations of a benchmark op.
type benchInput struct {
	file string
	data []byte
}

// benchInputs reads the testdata declarations and names 1,000 files after
// them, cycling through the kinds.
func benchInputs(b *testing.B) []benchInput {
	b.Helper()
	srcs := map[string][]byte{}
	for _, name := range benchKinds {
		data, err := os.ReadFile(filepath.Join("testdata", name+".toml"))
		if err != nil {
			b.Fatal(err)
		}
		srcs[name] = data
	}
	in := make([]benchInput, 1000)
	for i := range in {
		kind := benchKinds[i%len(benchKinds)]
		in[i] = benchInput{filepath.Join(testDir, fmt.Sprintf("app-%s-%d.toml", kind, i)), srcs[kind]}
	}
	return in
}

// benchParsed decodes the benchmark inputs once, for the benchmarks of the
// later stages.
func benchParsed(b *testing.B, in []benchInput) []*decl.Parsed {
	b.Helper()
	ps := make([]*decl.Parsed, len(in))
	for i, d := range in {
		p, ds := decl.Decode(d.file, d.data, testHome)
		if p == nil || ds.HasErrors() {
			b.Fatal(ds.Err())
		}
		if ds := decl.Validate(p, benchHost); ds.HasErrors() {
			b.Fatal(ds.Err())
		}
		ps[i] = p
	}
	return ps
}

// BenchmarkDecodeValidateRender1000 measures the pure path of a pass for
// 1,000 declarations: decode, validate and render each one. One op is the
// whole thousand.
func BenchmarkDecodeValidateRender1000(b *testing.B) {
	in := benchInputs(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range in {
			p, ds := decl.Decode(d.file, d.data, testHome)
			if p == nil || ds.HasErrors() {
				b.Fatal(ds.Err())
			}
			if ds := decl.Validate(p, benchHost); ds.HasErrors() {
				b.Fatal(ds.Err())
			}
			if _, err := RenderBytes(p.App, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkDecode1000 measures decoding alone of the same 1,000
// declarations.
func BenchmarkDecode1000(b *testing.B) {
	in := benchInputs(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range in {
			if p, ds := decl.Decode(d.file, d.data, testHome); p == nil || ds.HasErrors() {
				b.Fatal(ds.Err())
			}
		}
	}
}

// BenchmarkParse1000 measures the TOML parser alone on the same 1,000
// declarations, called as decl.Decode calls it: the floor of decoding,
// which ynhd's own work (the shape check, filling, validating, rendering)
// adds to.
func BenchmarkParse1000(b *testing.B) {
	in := benchInputs(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, d := range in {
			var doc toml.Primitive
			if _, err := toml.NewDecoder(bytes.NewReader(d.data)).Decode(&doc); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkValidate1000 measures validating the same 1,000 declarations,
// decoded beforehand.
func BenchmarkValidate1000(b *testing.B) {
	ps := benchParsed(b, benchInputs(b))
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range ps {
			if ds := decl.Validate(p, benchHost); ds.HasErrors() {
				b.Fatal(ds.Err())
			}
		}
	}
}

// BenchmarkRender1000 measures rendering the same 1,000 declarations,
// decoded and validated beforehand.
func BenchmarkRender1000(b *testing.B) {
	ps := benchParsed(b, benchInputs(b))
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range ps {
			if _, err := RenderBytes(p.App, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
