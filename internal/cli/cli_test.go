package cli

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ynhd": func() { os.Exit(Main()) },
	})
}

// TestScripts runs the CLI scripts in testdata/script. Each runs in a fresh
// directory with HOME set to it; run with -update to rewrite the expected
// output in the scripts.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *update,
		Setup: func(e *testscript.Env) error {
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("XDG_CONFIG_HOME", "")
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "lowports" { // the host lets unprivileged users bind ports below 1024
				b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
				return err == nil && string(b) != "1024\n", nil
			}
			return false, nil
		},
	})
}
