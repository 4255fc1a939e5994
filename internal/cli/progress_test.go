package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ynhd/ynhd/internal/reconcile"
)

func TestJobProgressPlain(t *testing.T) {
	var buf bytes.Buffer
	p := newJobProgress(&buf) // a buffer is no terminal
	since := time.Now().Add(-time.Minute)
	pull := reconcile.Preparation{Kind: "pulling", Image: "busybox", Since: since}
	build := reconcile.Preparation{Kind: "building", Image: "localhost/web", Since: since}
	p.show(map[string]reconcile.Preparation{"web": build, "db": pull})
	p.show(map[string]reconcile.Preparation{"web": build, "db": pull}) // nothing new
	pull.Step = "layer 1: sha256:ab12"
	build.Step = "STEP 2/5: RUN make"
	p.show(map[string]reconcile.Preparation{"web": build, "db": pull})
	p.done()
	want := `db: pulling busybox
web: building localhost/web
db: pulling busybox: layer 1: sha256:ab12
web: building localhost/web: STEP 2/5: RUN make
`
	if diff := cmp.Diff(buf.String(), want); diff != "" {
		t.Errorf("plain progress (-got +want):\n%s", diff)
	}
}

func TestJobProgressTerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newJobProgress(&buf)
	p.width = 40
	now := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	p.now = func() time.Time { return now }
	job := reconcile.Preparation{Kind: "pulling", Image: "busybox", Since: now.Add(-3 * time.Second), Step: "layer 2: sha256:ab12"}
	p.show(map[string]reconcile.Preparation{"db": job})
	p.show(map[string]reconcile.Preparation{"db": {Kind: "building", Image: "x", Since: now}})
	p.done()
	out := buf.String()
	if strings.ContainsRune(out, 0x1b) || strings.Contains(out, "\n") {
		t.Errorf("terminal progress has escapes or newlines: %q", out)
	}
	// 40 columns: 38 runes and an ellipsis, then the shorter line padded
	// over the longer one.
	long := "db: pulling busybox (3s) layer 2: sha2…"
	short := "db: building x (0s)"
	want := "\r" + long + "\r" + long +
		"\r" + short + strings.Repeat(" ", 20) + "\r" + short +
		"\r" + strings.Repeat(" ", 19) + "\r"
	if diff := cmp.Diff(out, want); diff != "" {
		t.Errorf("terminal progress (-got +want):\n%s", diff)
	}
}
