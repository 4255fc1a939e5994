package export

import (
	"bufio"
	"bytes"
	"path/filepath"
	"strings"
	"testing"
)

// quadletKeys are the keys podman-systemd.unit(5) (podman 5) documents
// for the sections Quadlet reads, limited to the ones an export may write.
// A key outside this table would make Quadlet refuse the file.
var quadletKeys = map[string]map[string]bool{
	"Container": set("AddCapability", "AddDevice", "AddHost", "AutoUpdate", "ContainerName", "DNS", "DropCapability",
		"Entrypoint", "Environment", "EnvironmentFile", "Exec", "GIDMap", "Group", "GroupAdd",
		"HealthCmd", "HealthInterval", "HealthOnFailure", "HealthRetries", "HealthStartPeriod",
		"HealthTimeout", "HostName", "Image", "Label", "LogDriver", "LogOpt", "Memory", "Network",
		"NetworkAlias", "NoNewPrivileges", "Notify", "PidsLimit", "PodmanArgs", "PublishPort", "Pull", "Secret",
		"ReadOnly", "RunInit", "ShmSize", "StopSignal", "StopTimeout", "Sysctl", "Timezone", "Tmpfs",
		"UIDMap", "Ulimit", "User", "UserNS", "Volume", "WorkingDir"),
	"Volume":  set("Device", "Driver", "Options", "PodmanArgs", "Type", "VolumeName"),
	"Network": set("NetworkName"),
	// Sections systemd reads itself.
	"Unit":    set("Description", "Requires", "Wants", "After", "PartOf"),
	"Service": set("Restart", "TimeoutStartSec", "ExecStartPre"),
	"Install": set("WantedBy"),
}

func set(keys ...string) map[string]bool {
	m := map[string]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// TestQuadletGolden exports every example in configs/ and every per-key
// declaration, compares each file and the warnings with
// testdata/golden/quadlet, and checks that every key is one Quadlet
// documents for its section. (podman 4.3, in the test environment, has no
// Quadlet generator to compare the podman arguments it would produce.)
func TestQuadletGolden(t *testing.T) {
	for _, gs := range goldenSets {
		s := loadSet(t, gs.pattern)
		files, ds, err := Quadlet(Input{Apps: s.apps, EnvFiles: s.envFiles}, QuadletOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			golden(t, filepath.Join("testdata", "golden", "quadlet", gs.id+"-"+f.Name), f.Data)
			checkQuadletKeys(t, f)
		}
		for _, a := range s.apps {
			if w := warningText(ds, a); len(w) > 0 {
				golden(t, filepath.Join("testdata", "golden", "quadlet", gs.id+"-"+a.Name+".warnings"), w)
			}
		}
	}
}

func checkQuadletKeys(t *testing.T, f File) {
	t.Helper()
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(f.Data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
			if quadletKeys[section] == nil {
				t.Errorf("%s: section [%s] is not one Quadlet knows", f.Name, section)
			}
		default:
			key, _, _ := strings.Cut(line, "=")
			if !quadletKeys[section][key] {
				t.Errorf("%s: [%s] %s is not a documented Quadlet key", f.Name, section, key)
			}
		}
	}
}

// TestQuadletSystemTarget: --system installs into multi-user.target, and
// a disabled app has no [Install] section.
func TestQuadletSystemTarget(t *testing.T) {
	s := loadSet(t, "testdata/keys/*.toml")
	files, _, err := Quadlet(Input{Apps: s.apps}, QuadletOptions{WantedBy: "multi-user.target"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !strings.HasSuffix(f.Name, ".container") {
			continue
		}
		has := bytes.Contains(f.Data, []byte("\n[Install]\nWantedBy=multi-user.target\n"))
		if want := f.Name != "enabled.container"; has != want {
			t.Errorf("%s: WantedBy=multi-user.target present = %v, want %v", f.Name, has, want)
		}
	}
}
