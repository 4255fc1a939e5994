package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// composeProject is a three-service project: web needs app, app needs
// the database healthy, and the database reads its password from a
// secret (a file of the project).
const composeProject = `name: ctest
services:
  web:
    image: %[1]s
    command: ["sh", "-c", "echo web up; exec sleep 100000"]
    stop_grace_period: 1s
    depends_on: [app]
  app:
    image: %[1]s
    command: ["sh", "-c", "echo app up; exec sleep 100000"]
    stop_grace_period: 1s
    depends_on:
      db:
        condition: service_healthy
  db:
    image: %[1]s
    command: ["sh", "-c", "test -s /run/secrets/db_password || exit 1; echo db starting; sleep 4; touch /ready; exec sleep 100000"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/ready"]
      interval: 1s
      retries: 30
    secrets:
      - db_password
secrets:
  db_password:
    file: ./db_password.txt
`

// TestImportComposeProject: a compose project imported with `ynhd import
// compose`, checked, and dropped into the declarations directory runs:
// all three services, the app after the database is healthy, the secret
// readable in the database's container and nowhere else (unit files,
// journal, ynhd status). A new value of the secret replaces the
// database's container.
func TestImportComposeProject(t *testing.T) {
	ensureDaemon(t)
	apps := []string{"ctest-web", "ctest-app", "ctest-db"}
	const value = "pw-7f3a9c-never-in-a-log"
	const secret = "ynhd.ctest-db.db_password"
	proj := filepath.Join(home(t), "ctest-project")
	t.Cleanup(func() {
		for _, a := range apps {
			undeclare(t, a)
		}
		testenv.PodmanErr("secret", "rm", secret)
		testenv.PodmanErr("network", "rm", "ctest")
		os.RemoveAll(proj)
	})
	start := time.Now()
	staging := filepath.Join(proj, "out")
	if err := os.MkdirAll(staging, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "compose.yaml"), []byte(fmt.Sprintf(composeProject, testenv.BusyboxImage)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "db_password.txt"), []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ynhdBin(t), "import", "compose", "-o", staging)
	cmd.Dir = proj
	out, err := cmd.CombinedOutput()
	t.Logf("ynhd import compose:\n%s", out)
	if err != nil {
		t.Fatalf("ynhd import compose: %v", err)
	}
	db, err := os.ReadFile(filepath.Join(staging, "ctest-db.toml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ctest-db.toml:\n%s", db)
	if !strings.Contains(string(db), "[[secrets]]") || strings.Contains(string(db), value) {
		t.Errorf("ctest-db.toml has no [[secrets]], or the value itself")
	}
	if out, err := exec.Command(ynhdBin(t), "check", staging).CombinedOutput(); err != nil {
		t.Fatalf("ynhd check: %v\n%s", err, out)
	} else {
		t.Logf("ynhd check:\n%s", out)
	}
	// Dropped in the order they start, so no declaration names an app
	// that is not there yet.
	for _, a := range []string{"ctest-db", "ctest-app", "ctest-web"} {
		if err := os.Rename(filepath.Join(staging, a+".toml"), filepath.Join(declDir(t), a+".toml")); err != nil {
			t.Fatal(err)
		}
	}

	t.Cleanup(func() {
		if t.Failed() {
			for _, u := range append(apps, "ynhd") {
				t.Logf("journal of %s.service:\n%s", u, lastLines(journalSince(t, u+".service", start), 40))
			}
		}
	})
	dbc := waitContainer(t, "ctest-db", "running", anyCtr)
	appc := waitContainer(t, "ctest-app", "running once ctest-db is healthy", anyCtr)
	webc := waitContainer(t, "ctest-web", "running", anyCtr)
	t.Logf("started: db %s, app %s (+%v), web %s (+%v)", dbc.Started.Format(time.RFC3339Nano),
		appc.Started.Format(time.RFC3339Nano), appc.Started.Sub(dbc.Started), webc.Started.Format(time.RFC3339Nano), webc.Started.Sub(dbc.Started))
	if gap := appc.Started.Sub(dbc.Started); gap < 4*time.Second {
		t.Errorf("ctest-app started %v after ctest-db, before ctest-db could be healthy (4 s)", gap)
	}
	if webc.Started.Before(appc.Started) {
		t.Errorf("ctest-web started before ctest-app")
	}
	if got, err := testenv.PodmanErr("exec", "ctest-db", "cat", "/run/secrets/db_password"); err != nil || got != value {
		t.Errorf("the secret in ctest-db: %q, %v", got, err)
	}
	t.Logf("ynhd status:\n%s", ynhdOut(t, "status"))
	t.Logf("podman secret ls:\n%s", testenv.Podman(t, "secret", "ls"))

	// A new value: ynhd makes the secret again and replaces the container.
	if err := os.WriteFile(filepath.Join(proj, "db_password.txt"), []byte(value+"-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	reloadYnhd(t)
	testenv.WaitFor(t, 60*time.Second, 500*time.Millisecond, "ctest-db with the new secret", func() (bool, error) {
		got, _ := testenv.PodmanErr("exec", "ctest-db", "cat", "/run/secrets/db_password")
		return got == value+"-2", nil
	})
	if again := waitContainer(t, "ctest-db", "running", anyCtr); again.ID == dbc.ID {
		t.Errorf("ctest-db kept its container after the secret changed")
	}

	// The value is in none of what ynhd writes or says.
	for _, a := range apps {
		b, err := os.ReadFile(filepath.Join(testenv.UnitDir(), a+".service"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), value) {
			t.Errorf("%s.service holds the secret's value", a)
		}
		if strings.Contains(journalSince(t, a+".service", start), value) {
			t.Errorf("the journal of %s.service holds the secret's value", a)
		}
	}
	j := journalSince(t, "ynhd.service", start)
	if strings.Contains(j, value) {
		t.Errorf("ynhd's journal holds the secret's value")
	}
	if !strings.Contains(j, "ctest-db") {
		t.Errorf("ynhd's journal says nothing of ctest-db:\n%s", lastLines(j, 30))
	}
	if all, err := exec.Command("journalctl", "--user", "-o", "cat", "--no-pager", "--since", fmt.Sprintf("@%d", start.Unix()-1)).Output(); err != nil || strings.Contains(string(all), value) {
		t.Errorf("the user's journal holds the secret's value (or could not be read: %v)", err)
	}
	for _, args := range [][]string{{"status"}, {"status", "--json"}} {
		if strings.Contains(ynhdOut(t, args...), value) {
			t.Errorf("ynhd %s shows the secret's value", strings.Join(args, " "))
		}
	}
	// plan exits 2 when the next pass has something to do, which the
	// restarts after the secret change may leave.
	if out, _ := exec.Command(ynhdBin(t), "plan").CombinedOutput(); strings.Contains(string(out), value) {
		t.Errorf("ynhd plan shows the secret's value")
	}
	t.Logf("ynhd's journal about ctest:\n%s", grepLines(j, "ctest"))
}

// grepLines keeps the lines of s that contain substr.
func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
