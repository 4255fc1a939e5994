package importer

import (
	"context"
	"strings"
	"testing"
)

// TestComposeSecretKinds: a file secret, an external one, one from the
// environment, and one with a target each become what the reference
// says.
func TestComposeSecretKinds(t *testing.T) {
	const project = `services:
  app:
    image: docker.io/library/alpine:3.20
    secrets:
      - pw
      - source: ext
        target: /etc/app/ext.key
      - source: tok
        target: token
secrets:
  pw:
    file: ./pw.txt
  ext:
    external: true
    name: shared-key
  tok:
    environment: API_TOKEN
`
	ds, err := ComposeBytes(context.Background(), []byte(project), "/srv/p", nil, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("%d declarations", len(ds))
	}
	got := string(ds[0].TOML())
	for _, want := range []string{
		"name = \"shared-key\" # external: a podman secret of yours",
		"target = \"/etc/app/ext.key\"",
		"name = \"pw\"\nfile = \"/srv/p/pw.txt\"",
		"name = \"tok\"\nenv = \"API_TOKEN\"",
		"target = \"/run/secrets/token\"",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}
