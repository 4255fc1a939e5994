package podman

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/decl"
)

// TestRunArgsNewKeys checks the flags of the keys added to schema 1 after
// its first release, and that nothing of them appears when they are unset.
func TestRunArgsNewKeys(t *testing.T) {
	a := &decl.App{
		Name: "web", Image: "docker.io/library/nginx:1.27", LogDriver: "journald",
		TZ: "Europe/Paris", ShmSize: "1G", GroupAdd: []string{"keep-groups"},
		AddHost:    []string{"db:10.0.0.5", "v6:fd00::5"},
		LogOptions: map[string]string{"tag": "web", "max-size": "10m"},
		Init:       true, Network: "backend", NetworkAliases: []string{"www"},
		Volumes: []decl.Volume{
			{Name: "a", Target: "/a", SELinux: "private"},
			{Name: "b", Target: "/b", ReadOnly: true, SELinux: "shared"},
			{Name: "c", Target: "/c", ReadOnly: true},
		},
	}
	args := RunArgs(a, RunOptions{})
	for _, want := range []string{
		"--tz=Europe/Paris", "--shm-size=1g", "--group-add=keep-groups", "--add-host=db:10.0.0.5",
		"--add-host=v6:fd00::5", "--init", "--network-alias=www", "--volume=a:/a:Z", "--volume=b:/b:ro,z",
		"--mount=type=volume,source=c,destination=/c,ro=true",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("no %s in %q", want, args)
		}
	}
	i, j := slices.Index(args, "--log-opt=max-size=10m"), slices.Index(args, "--log-opt=tag=web")
	if i < 0 || j != i+1 || args[i-1] != "--log-driver=journald" {
		t.Errorf("log options missing or out of order after the driver: %q", args)
	}

	plain := RunArgs(&decl.App{Name: "web", Image: "x", LogDriver: "journald"}, RunOptions{})
	for _, s := range plain {
		for _, flag := range []string{"--tz", "--shm-size", "--group-add", "--add-host", "--log-opt", "--init", "--network-alias", "--volume"} {
			if s == flag || strings.HasPrefix(s, flag+"=") {
				t.Errorf("%s without its key: %q", s, plain)
			}
		}
	}
}

func TestStartSeconds(t *testing.T) {
	for _, tc := range []struct {
		d    *decl.Duration
		want int
	}{
		{nil, 300},
		{&decl.Duration{Duration: 90 * time.Second}, 90},
		{&decl.Duration{Duration: 90*time.Second + time.Millisecond}, 91},
	} {
		if got := StartSeconds(&decl.App{StartTimeout: tc.d}); got != tc.want {
			t.Errorf("%v: %d, want %d", tc.d, got, tc.want)
		}
	}
}
