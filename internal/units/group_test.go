package units

import (
	"os"
	"path/filepath"
	"testing"
)

func TestGoldenGroup(t *testing.T) {
	g := Group{Name: "shop", Dir: testDir, Wants: []string{"shop-db", "shop-web"}}
	for _, mode := range []Mode{User, System} {
		t.Run(mode.String(), func(t *testing.T) {
			b, err := RenderGroup(g, Options{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			m, ok := ReadMarker(b)
			if !ok || !m.Intact || m.Group != "shop" || m.Source != testDir || m.Mode != mode.String() {
				t.Fatalf("marker = %+v, %v", m, ok)
			}
			golden := filepath.Join("testdata", "golden", "group-shop."+mode.String()+".target")
			if *update {
				if err := os.WriteFile(golden, b, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/units -update to create it)", err)
			}
			if string(b) != string(want) {
				t.Errorf("%s differs from the rendering (run with -update if the change is intended):\n%s", golden, lineDiff(string(want), string(b)))
			}
		})
	}
}

func TestGroupName(t *testing.T) {
	for unit, want := range map[string]string{
		"ynhd-group-shop.target":  "shop",
		"ynhd-group-.target":      "",
		"ynhd-group-shop.service": "",
		"shop.target":             "",
	} {
		got, ok := GroupName(unit)
		if got != want || ok != (want != "") {
			t.Errorf("GroupName(%q) = %q, %v; want %q", unit, got, ok, want)
		}
	}
	if GroupUnit("shop") != "ynhd-group-shop.target" {
		t.Errorf("GroupUnit = %q", GroupUnit("shop"))
	}
}
