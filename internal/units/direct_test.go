package units

import (
	"os"
	"testing"

	"github.com/ynhd/ynhd/internal/decl"
)

// TestRenderBytesMatchesModel checks that the unit text RenderBytes writes
// directly is the sealed serialization of the Unit model, byte for byte,
// and that it fails as the model does.
func TestRenderBytesMatchesModel(t *testing.T) {
	apps := map[string]*decl.App{}
	for id, file := range goldenInputs(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		apps[id] = decodeValid(t, id, data)
	}
	// Values the direct writer leaves to the model: non-ASCII at the end
	// of a line.
	apps["unicode ends"] = decodeValid(t, "uni", []byte("version = 1\nimage = \"docker.io/x/y\"\ndescription = \"café\"\ncommand = [\"ünï\"]\n"))
	for id, a := range apps {
		for _, mode := range []Mode{User, System} {
			u, err := Render(a, Options{Mode: mode})
			if err != nil {
				t.Fatalf("%s: %v", id, err)
			}
			want, err := Seal(u)
			if err != nil {
				t.Fatal(err)
			}
			got, err := RenderBytes(a, Options{Mode: mode})
			if err != nil || string(got) != string(want) {
				t.Errorf("%s, %s mode: RenderBytes (%v):\n%s\nthe model:\n%s", id, mode, err, got, want)
			}
		}
	}
	// An App that never passed validation: both ways refuse it alike.
	bad := *apps["db"]
	bad.Restart = "always\nExecStartPre=/bin/evil"
	_, modelErr := Render(&bad, Options{})
	got, err := RenderBytes(&bad, Options{})
	if modelErr == nil || err == nil || err.Error() != modelErr.Error() || got != nil {
		t.Fatalf("RenderBytes = %q, %v; the model: %v", got, err, modelErr)
	}
}
