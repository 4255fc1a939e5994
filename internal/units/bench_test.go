package units

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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

// BenchmarkLoadRender1000 measures what the daemon does with 1,000
// declaration files when it starts (or ynhd check of the directory): read
// them, decode and validate them as one set (decl.LoadFiles, which spreads
// the files over the processors), then render each. It also reports the
// CPU time of an op, which the processors share.
func BenchmarkLoadRender1000(b *testing.B) {
	dir := b.TempDir()
	var files []string
	for i, d := range benchInputs(b) {
		// The declarations name apps db and cache in their dependencies:
		// two of the thousand take those names, as a real set would.
		name := filepath.Base(d.file)
		switch i {
		case 3:
			name = "db.toml"
		case 5:
			name = "cache.toml"
		}
		f := filepath.Join(dir, name)
		// Each app publishes its own host ports, as a real set must.
		data := d.data
		for k, port := range []string{"8080", "8443", "5353"} {
			data = bytes.ReplaceAll(data, []byte("host_port = "+port), fmt.Appendf(nil, "host_port = %d", 10000+3*i+k))
		}
		if err := os.WriteFile(f, data, 0o600); err != nil {
			b.Fatal(err)
		}
		files = append(files, f)
	}
	// tricky.toml's ${PATH} is a variable for the loader.
	if err := os.WriteFile(filepath.Join(dir, "ynhd.env"), []byte("PATH=/usr/bin:/bin\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		for _, l := range decl.LoadFiles(files, benchHost, testHome) {
			if !l.OK() {
				b.Fatal(l.Diagnostics.Err())
			}
			if _, err := RenderBytes(l.Parsed.App, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
