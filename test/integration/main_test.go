// Package integration holds ynhd's integration tests: rendered units run
// in a real systemd user manager over real D-Bus, with real rootless podman
// containers and the real journal (see internal/testenv and
// hack/testenv.sh), and the ynhd daemon installed from packaging/ and
// started with `systemctl --user start ynhd`. Run them with `make test` as
// root; as any other user they skip with the reason.
package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ynhd/ynhd/internal/testenv"
)

// Set for the tests inside the environment: the ynhd binary built from
// this tree, and a copy of packaging/ the test user can read.
const (
	envBin       = "YNHD_IT_BIN"
	envPackaging = "YNHD_IT_PACKAGING"
)

func TestMain(m *testing.M) {
	if !testenv.Inside() && os.Geteuid() == 0 {
		if err := prepare(); err != nil {
			fmt.Fprintf(os.Stderr, "integration: %v\n", err)
			os.Exit(1)
		}
	}
	testenv.Main(m)
}

// buildTags are the Makefile's: the podman bindings need them.
const buildTags = "remote exclude_graphdriver_btrfs btrfs_noversion exclude_graphdriver_devicemapper containers_image_openpgp"

// prepare builds ynhd and copies it and packaging/ where the test user can
// read them; the variables reach the tests inside (hack/testenv.sh exec
// passes YNHD_*).
func prepare() error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	dir := "/var/tmp/ynhd-it"
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "packaging"), 0o755); err != nil {
		return err
	}
	bin := filepath.Join(dir, "ynhd")
	build := exec.Command("go", "build", "-tags", buildTags, "-o", bin, "./cmd/ynhd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building ynhd: %v\n%s", err, out)
	}
	for _, f := range []string{"install.sh", "ynhd.service.in"} {
		b, err := os.ReadFile(filepath.Join(root, "packaging", f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "packaging", f), b, 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	os.Setenv(envBin, bin)
	os.Setenv(envPackaging, filepath.Join(dir, "packaging"))
	return nil
}
