// Package integration holds ynhd's integration tests: rendered units run
// in a real systemd user manager over real D-Bus, with real rootless podman
// containers and the real journal (see internal/testenv and
// hack/testenv.sh). Run them with `make test` as root; as any other user
// they skip with the reason.
package integration

import (
	"testing"

	"github.com/ynhd/ynhd/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
