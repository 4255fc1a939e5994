package units

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ynhd/ynhd/internal/decl"
)

// BenchmarkDecodeValidateRender1000 measures the pure path of a pass for
// 1,000 declarations: decode, validate and render each one. One op is the
// whole thousand.
func BenchmarkDecodeValidateRender1000(b *testing.B) {
	srcs := map[string][]byte{}
	for _, name := range []string{"full", "tricky", "systemd", "db"} {
		data, err := os.ReadFile(filepath.Join("testdata", name+".toml"))
		if err != nil {
			b.Fatal(err)
		}
		srcs[name] = data
	}
	kinds := []string{"full", "tricky", "systemd", "db"}
	host := decl.Host{Rootless: true, UnprivilegedPortStart: 1024}
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < 1000; i++ {
			kind := kinds[i%len(kinds)]
			p, ds := decl.Decode(filepath.Join(testDir, fmt.Sprintf("app-%s-%d.toml", kind, i)), srcs[kind], testHome)
			if p == nil || ds.HasErrors() {
				b.Fatal(ds.Err())
			}
			if ds := decl.Validate(p, host); ds.HasErrors() {
				b.Fatal(ds.Err())
			}
			if _, err := RenderBytes(p.App, Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
