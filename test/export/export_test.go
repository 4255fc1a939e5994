// Package export tests `ynhd export kube` for real: the manifests it
// writes for busybox apps are run with `podman kube play` in the test
// environment (rootless podman 4.3), and the test checks inside the
// running containers that the environment, the published port, the data
// of a named volume and the command are those of the declaration, and that
// one exported app reaches another over a shared network. It runs as root
// and takes the environment exclusively (podman kube play creates pods,
// volumes and networks of the test user); as any other user it skips.
package export

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ynhd/ynhd/internal/testenv"
)

// workDir is where the test puts the ynhd binary and the declarations,
// readable by the test user.
const workDir = "/var/tmp/ynhd-export"

// inside runs a shell script as the test user inside the environment.
func inside(t *testing.T, script string) string {
	t.Helper()
	out, err := testenv.Control("exec", "--", "sh", "-c", script)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	return strings.TrimSpace(out)
}

// waitInside runs script until it succeeds or the deadline passes, and
// returns its output.
func waitInside(t *testing.T, what, script string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := testenv.Control("exec", "--", "sh", "-c", script)
		if err == nil {
			return strings.TrimSpace(out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v\n%s", what, err, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// setup builds ynhd and writes the declarations into a directory the test
// user can read; it returns the binary and the directory.
func setup(t *testing.T, decls map[string]string) (bin, dir string) {
	t.Helper()
	testenv.Exclusive(t, "running podman kube play in the test environment")
	bin, _, err := testenv.BuildYnhd(workDir)
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(workDir, "decl")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range decls {
		if err := os.WriteFile(filepath.Join(dir, name+".toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return bin, dir
}

// container is the name of the app container kube play made for the
// Deployment of app (found by the label every export sets).
func container(t *testing.T, app string) string {
	t.Helper()
	pod := inside(t, fmt.Sprintf(`podman pod ps --filter label=app.kubernetes.io/name=%s --format '{{.Name}}'`, app))
	if pod == "" || strings.Contains(pod, "\n") {
		t.Fatalf("want one pod labelled %s, have %q", app, pod)
	}
	names := inside(t, fmt.Sprintf(`podman pod inspect %s --format '{{range .Containers}}{{.Name}} {{end}}'`, pod))
	for _, n := range strings.Fields(names) {
		if !strings.HasSuffix(n, "-infra") {
			return n
		}
	}
	t.Fatalf("pod %s has no app container: %s", pod, names)
	return ""
}

// play exports apps (with the export flags exportFlags) and runs the
// manifests with podman kube play (with playFlags), as a person would:
// ynhd export kube APP | podman kube play --replace -.
func play(t *testing.T, bin, dir, exportFlags, playFlags string, apps ...string) string {
	t.Helper()
	return inside(t, fmt.Sprintf(`%s export kube --dir %s %s %s | podman kube play --replace %s -`,
		bin, dir, exportFlags, strings.Join(apps, " "), playFlags))
}

func cleanup(t *testing.T, apps []string, volumes, networks []string) {
	t.Cleanup(func() {
		var s strings.Builder
		for _, a := range apps {
			fmt.Fprintf(&s, "podman pod ps -q --filter label=app.kubernetes.io/name=%s | xargs -r podman pod rm -f -t 0 >/dev/null\n", a)
		}
		for _, v := range volumes {
			fmt.Fprintf(&s, "podman volume rm -f %s >/dev/null\n", v)
		}
		for _, n := range networks {
			fmt.Fprintf(&s, "podman network rm -f %s >/dev/null\n", n)
		}
		if out, err := testenv.Control("exec", "--", "sh", "-c", s.String()); err != nil {
			t.Logf("cleanup: %v\n%s", err, out)
		}
	})
}

// TestKubePlayRunsTheApp: env, a published port, a named volume and the
// command, as declared. The manifests are played twice: first as
// exported, claim included, with no volume yet (podman creates it from
// the claim); then, with data in the volume, again with --no-claims, since
// podman 4.3 refuses a claim whose volume exists: the new pod finds the
// data. (Commands are absolute: podman 4.3 kube play gives no default PATH
// to an image whose configuration has none, as the test image's has not.)
func TestKubePlayRunsTheApp(t *testing.T) {
	bin, dir := setup(t, map[string]string{"kx-web": fmt.Sprintf(`version = 1
image = %q
pull = "never"
command = ["/bin/sh", "-c", "echo \"$GREETING\" > /tmp/greeting && exec httpd -f -p 8080 -h /data"]
env = { GREETING = "hello from kube" }

[[ports]]
host_ip = "127.0.0.1"
host_port = 18481
container_port = 8080

[[volumes]]
name = "kx-web-data"
target = "/data"
`, testenv.BusyboxImage)})
	cleanup(t, []string{"kx-web"}, []string{"kx-web-data"}, nil)
	inside(t, `podman pod ps -q --filter label=app.kubernetes.io/name=kx-web | xargs -r podman pod rm -f -t 0 >/dev/null; podman volume rm -f kx-web-data >/dev/null`)

	t.Log(play(t, bin, dir, "", "", "kx-web"))
	c := container(t, "kx-web")
	if got := waitInside(t, "GREETING in the container", fmt.Sprintf(`podman exec %s /bin/busybox sh -c 'echo "$GREETING"'`, c)); got != "hello from kube" {
		t.Errorf("GREETING = %q, want %q", got, "hello from kube")
	}
	if got := inside(t, fmt.Sprintf(`podman exec %s /bin/busybox cat /tmp/greeting`, c)); got != "hello from kube" {
		t.Errorf("the command wrote %q, want the greeting", got)
	}
	if got := inside(t, fmt.Sprintf(`podman exec %s /bin/busybox cat /proc/1/cmdline | tr '\0' ' '`, c)); strings.TrimSpace(got) != "httpd -f -p 8080 -h /data" {
		t.Errorf("PID 1 is %q, want the declared command's httpd", got)
	}
	if got := inside(t, `podman volume ls --format '{{.Name}}' --filter name=kx-web-data`); got != "kx-web-data" {
		t.Errorf("volumes named kx-web-data: %q; want the claim's volume", got)
	}
	inside(t, fmt.Sprintf(`podman exec %s /bin/busybox sh -c 'echo kept in the volume > /data/index.html'`, c))

	t.Log(play(t, bin, dir, "--no-claims", "", "kx-web"))
	if got := inside(t, fmt.Sprintf(`podman inspect --format '{{.State.StartedAt}}' %s`, container(t, "kx-web"))); got == "" {
		t.Errorf("kx-web did not start again")
	}
	page := waitInside(t, "the published port", `bash -c 'exec 3<>/dev/tcp/127.0.0.1/18481 && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3'`)
	if !strings.Contains(page, "kept in the volume") {
		t.Errorf("GET http://127.0.0.1:18481/ = %q, want the page kept in the volume", page)
	}
}

// TestKubePlayAppsReachEachOther: two exported apps on one network; the
// client reaches the server by name. podman 4.3 kube play does not act on
// Service objects, so the Service name kx-api does not resolve there (nor
// does the container's name); the pod's name, kx-api-pod-0, does. The
// test requires the pod name to work and logs what the others do
// (docs/more-than-one-machine.md says so).
func TestKubePlayAppsReachEachOther(t *testing.T) {
	bin, dir := setup(t, map[string]string{
		"kx-api": fmt.Sprintf(`version = 1
image = %q
pull = "never"
network = "kx-net"
command = ["/bin/sh", "-c", "mkdir -p /www && echo api answers > /www/index.html && exec httpd -f -p 8080 -h /www"]

[[ports]]
host_ip = "127.0.0.1"
host_port = 18482
container_port = 8080
`, testenv.BusyboxImage),
		"kx-client": fmt.Sprintf(`version = 1
image = %q
pull = "never"
network = "kx-net"
command = ["/bin/sleep", "100000"]
`, testenv.BusyboxImage),
	})
	cleanup(t, []string{"kx-api", "kx-client"}, nil, []string{"kx-net"})
	inside(t, `podman network exists kx-net || podman network create kx-net >/dev/null`)
	t.Log(play(t, bin, dir, "", "--network kx-net", "kx-api", "kx-client"))
	client := container(t, "kx-client")
	apiPod := inside(t, `podman pod ps --filter label=app.kubernetes.io/name=kx-api --format '{{.Name}}'`)
	apiContainer := container(t, "kx-api")

	// The static busybox's wget crashes on name and service lookups
	// (glibc's NSS modules are missing from a static binary); its
	// nslookup has a resolver of its own: resolve with nslookup, then
	// speak HTTP with nc to the address.
	get := func(host string) (string, error) {
		script := fmt.Sprintf(`ip=$(/bin/busybox nslookup %s 2>/dev/null | /bin/busybox awk '/^Name:/{f=1;next} f&&/^Address/{sub(/^Address[^:]*: */,""); split($0,a," "); print a[1]; exit}'); [ -n "$ip" ] || { echo "%s does not resolve"; exit 1; }; echo "$ip"; printf 'GET / HTTP/1.0\r\n\r\n' | /bin/busybox nc -w 2 "$ip" 8080`, host, host)
		out, err := testenv.Control("exec", "--", "podman", "exec", client, "/bin/busybox", "sh", "-c", script)
		return strings.TrimSpace(out), err
	}
	// Wait until the server answers on its published port, then ask it
	// by each name from inside the client.
	waitInside(t, "kx-api serving", `bash -c 'exec 3<>/dev/tcp/127.0.0.1/18482 && printf "GET / HTTP/1.0\r\n\r\n" >&3 && cat <&3' | grep -q 'api answers'`)
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := get(apiPod)
		if err == nil && strings.Contains(out, "api answers") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the client did not reach kx-api by its pod name %s: %v\n%s", apiPod, err, out)
		}
		time.Sleep(time.Second)
	}
	for _, host := range []string{"kx-api", apiContainer} {
		out, err := get(host)
		t.Logf("from the client by %s: err=%v %s", host, err, out)
	}
}
