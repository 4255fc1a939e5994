package podman

import (
	"strings"
	"testing"

	"github.com/ynhd/ynhd/internal/decl"
)

func TestVolumeDrift(t *testing.T) {
	v := decl.Volume{Name: "scratch", Options: map[string]string{"type": "tmpfs", "o": "rw,noexec"}}
	if d := VolumeDrift(v, "local", map[string]string{"type": "tmpfs", "o": "rw,noexec", "device": "tmpfs"}); d != "" {
		t.Errorf("same options: %q", d)
	}
	d := VolumeDrift(v, "local", map[string]string{"type": "tmpfs", "o": "rw,exec"})
	for _, want := range []string{"volume scratch exists with", `o="rw,exec" (declared "rw,noexec")`, "podman volume rm scratch"} {
		if !strings.Contains(d, want) {
			t.Errorf("drift %q lacks %q", d, want)
		}
	}
	v.Driver = "local"
	if d := VolumeDrift(v, "other", v.Options); !strings.Contains(d, `driver "other" (declared "local")`) {
		t.Errorf("driver drift: %q", d)
	}
}
