// Package integration holds ynhd's integration tests: rendered units run
// in a real systemd user manager over real D-Bus, with real rootless podman
// containers and the real journal (see internal/testenv and
// hack/testenv.sh), and the ynhd daemon installed from packaging/ and
// started with `systemctl --user start ynhd`. Run them with `make test` as
// root; as any other user they skip with the reason.
package integration

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ynhd/ynhd/internal/testenv"
)

// Set for the tests inside the environment: the ynhd binary built from
// this tree, and a copy of packaging/ the test user can read.
const (
	envBin       = "YNHD_IT_BIN"
	envYunohost  = "YNHD_IT_YUNOHOST"
	envPackaging = "YNHD_IT_PACKAGING"
)

func TestMain(m *testing.M) {
	testenv.Prepare = prepare
	testenv.Main(m)
}

// prepare builds ynhd where the test user can run it; the variables reach
// the tests inside (hack/testenv.sh exec passes YNHD_*).
func prepare() error {
	bin, pkg, err := testenv.BuildYnhd("/var/tmp/ynhd-it")
	if err != nil {
		return err
	}
	os.Setenv(envBin, bin)
	os.Setenv(envPackaging, pkg)
	// The shipped system-container example, where the test user reads it.
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(root, "configs", "yunohost.toml"))
	if err != nil {
		return err
	}
	shipped := filepath.Join(filepath.Dir(pkg), "yunohost.toml")
	if err := os.WriteFile(shipped, b, 0o644); err != nil {
		return err
	}
	os.Setenv(envYunohost, shipped)
	return nil
}
