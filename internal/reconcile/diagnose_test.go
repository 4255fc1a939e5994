package reconcile

import (
	"context"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/ynhd/ynhd/internal/units"
)

// fakeLog serves a fixed journal and counts reads.
type fakeLog struct {
	text  string
	reads int
}

func (l *fakeLog) Tail(context.Context, string, int) (string, error) {
	l.reads++
	return l.text, nil
}

const insufficientIDs = `Error: writing blob: adding layer with blob "sha256:b03c": ApplyLayer stdout:  stderr: potentially insufficient UIDs or GIDs available in user namespace (requested 0:42 for /etc/shadow-): Check /etc/subuid and /etc/subgid`

func TestExplainFailure(t *testing.T) {
	d := Desired{App: "deb", Source: "/etc/ynhd/deb.toml"}
	if got := ExplainFailure("Error: OCI runtime error", d, "system"); got != "" {
		t.Errorf("unknown failure explained: %q", got)
	}
	if got := ExplainFailure(insufficientIDs, d, "system"); !strings.Contains(got, `add system_user = "static" to /etc/ynhd/deb.toml`) {
		t.Errorf("dynamic user: %q", got)
	}
	d.User = "ynhd-deb"
	if got := ExplainFailure(insufficientIDs, d, "system"); !strings.Contains(got, "subordinate ids of ynhd-deb") {
		t.Errorf("static user: %q", got)
	}
	d.User = ""
	if got := ExplainFailure(insufficientIDs, d, "user"); !strings.Contains(got, "subordinate ids of your user") {
		t.Errorf("user mode: %q", got)
	}
	crun := "Error: OCI runtime error: crun: opening file `memory.max` for writing: No such file or directory"
	if got := ExplainFailure(crun, d, "user"); !strings.Contains(got, "memory limit in [resources]") || !strings.Contains(got, "does not delegate the memory controller") {
		t.Errorf("undelegated memory controller: %q", got)
	}
}

// TestDiagnosis: a failed unit's journal is read once per failure; the
// explanation is the app's last error until it runs again.
func TestDiagnosis(t *testing.T) {
	e := newEnv(t)
	e.r = New(Config{DeclDir: e.dir, Home: "/root", Mode: units.System}, e.fake, e.fake, zap.NewNop(), nil)
	jl := &fakeLog{text: insufficientIDs}
	e.r.SetUnitLog(jl)
	e.declare("deb", "image = \"localhost/debian:12\"\nrestart = \"no\"\n")
	e.pass()
	e.fake.unit("deb.service").active = "failed"
	e.fake.unit("deb.service").sub = "failed"
	st := e.pass()
	e.pass()
	if jl.reads != 1 {
		t.Errorf("journal read %d times for one failure, want 1", jl.reads)
	}
	if got := st.Apps[0].LastError; !strings.Contains(got, `add system_user = "static"`) {
		t.Errorf("last error = %q", got)
	}
	e.fake.unit("deb.service").active = "active"
	if st := e.pass(); st.Apps[0].LastError != "" {
		t.Errorf("running again, last error = %q", st.Apps[0].LastError)
	}
}
