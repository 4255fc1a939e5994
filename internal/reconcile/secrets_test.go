package reconcile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/ynhd/ynhd/internal/podman"
)

// TestSecrets: ynhd makes the podman secret from its file before the app
// starts, replaces it and restarts the app when the file changes, and the
// value shows in no plan, unit, log or problem.
func TestSecrets(t *testing.T) {
	e := newEnv(t)
	core, logs := observer.New(zap.DebugLevel)
	e.r.log = zap.New(core)
	pod := newFakePodman()
	e.r.SetPodman(pod)
	const img = "docker.io/library/postgres:16"
	pod.images[img] = podman.Image{ID: "img-pg"}
	const value = "s3cr3t-value-do-not-print"
	src := filepath.Join(e.dir, "db_password.txt")
	if err := os.WriteFile(src, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	e.declare("db", "image = \""+img+"\"\n[[secrets]]\nname = \"db_password\"\nfile = \"db_password.txt\"\n")

	want := "secret db.service (ynhd.db.db_password missing)\nwrite db.service (new)\nenable db.service\nstart db.service (new)\n"
	if diff := cmp.Diff(e.plan(), want); diff != "" {
		t.Fatalf("first plan (-got +want):\n%s", diff)
	}
	e.pass()
	if got := pod.secrets["ynhd.db.db_password"]; got != podman.SecretHash([]byte(value)) {
		t.Fatalf("secret hash %q", got)
	}
	pod.run("db", img)
	if p := e.plan(); p != "" {
		t.Fatalf("plan once made:\n%s", p)
	}

	// A new value: the secret is made again and the app restarted.
	if err := os.WriteFile(src, []byte(value+"-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	want = "secret db.service (ynhd.db.db_password changed)\nrestart db.service (secret changed)\n"
	if diff := cmp.Diff(e.plan(), want); diff != "" {
		t.Fatalf("plan after a change (-got +want):\n%s", diff)
	}
	e.pass()
	if got := pod.secrets["ynhd.db.db_password"]; got != podman.SecretHash([]byte(value+"-2")) {
		t.Fatalf("secret hash after the change %q", got)
	}

	// A missing source is a problem of the app, which keeps running.
	os.Remove(src)
	p := e.plan()
	if !strings.Contains(p, "problem db: secret db_password: cannot read "+src+": no such file or directory") {
		t.Errorf("plan without the file:\n%s", p)
	}

	// A podman secret of the user's that does not exist holds the start.
	e.declare("web", "image = \""+img+"\"\n[[secrets]]\nname = \"theirs\"\n")
	if p := e.plan(); !strings.Contains(p, "problem web: podman secret theirs does not exist: create it (podman secret create theirs FILE)") || strings.Contains(p, "start web") {
		t.Errorf("plan with a missing podman secret:\n%s", p)
	}

	for _, entry := range logs.All() {
		if strings.Contains(entry.Message, value) || strings.Contains(strings.Join(fieldStrings(entry.ContextMap()), " "), value) {
			t.Errorf("the value is in the log: %v %v", entry.Message, entry.ContextMap())
		}
	}
	for unit, b := range e.fake.files {
		if strings.Contains(string(b), value) {
			t.Errorf("the value is in %s", unit)
		}
	}
}

func fieldStrings(m map[string]any) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%v", k, v))
	}
	return out
}

// TestVarsFileChange: a declaration that names a variable of ynhd.env is
// rendered again when the file changes, without an edit of its own.
func TestVarsFileChange(t *testing.T) {
	e := newEnv(t)
	vars := filepath.Join(e.dir, "ynhd.env")
	if err := os.WriteFile(vars, []byte("GREETING=hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.declare("web", busybox+"env = { GREETING = \"${GREETING}\" }\n")
	e.pass()
	if p := e.plan(); p != "" {
		t.Fatalf("plan after the first pass:\n%s", p)
	}
	if err := os.WriteFile(vars, []byte("GREETING=bonjour\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e.plan(), "write web.service (changed)\nreload\nrestart web.service (unit changed)\n"); diff != "" {
		t.Errorf("plan after ynhd.env changed (-got +want):\n%s", diff)
	}
	if !strings.Contains(string(e.fake.files["web.service"]), "GREETING=hello") {
		t.Errorf("the unit before the pass:\n%s", e.fake.files["web.service"])
	}
}
