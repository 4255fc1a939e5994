package reconcile

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
)

// TestStepWriter feeds podman's output of a pull and of a build, in
// pieces, and records every step the status shows.
func TestStepWriter(t *testing.T) {
	tests := []struct {
		op     Op
		output string
		want   []string
	}{
		{OpPull, "Trying to pull localhost:5815/busybox:latest...\nGetting image source signatures\n" +
			"Copying blob sha256:aa\nCopying blob sha256:bb\nCopying config sha256:cc\nWriting manifest to image destination\n",
			[]string{"Trying to pull localhost:5815/busybox:latest...", "layer 1: sha256:aa", "layer 2: sha256:bb",
				"Copying config sha256:cc", "Writing manifest to image destination"}},
		{OpBuild, "STEP 1/2: FROM busybox\nSTEP 2/2: RUN true\n--> 1234\nCOMMIT web\n",
			[]string{"STEP 1/2: FROM busybox", "STEP 2/2: RUN true"}},
	}
	for _, tt := range tests {
		prep := &Preparation{Op: tt.op}
		w := &stepWriter{b: &background{}, prep: prep, log: zap.NewNop(), app: "web"}
		var got []string
		// Written three bytes at a time, as a stream may split lines.
		for i := 0; i < len(tt.output); i += 3 {
			before := prep.Step
			w.Write([]byte(tt.output[i:min(i+3, len(tt.output))]))
			if prep.Step != before {
				got = append(got, prep.Step)
			}
		}
		if diff := cmp.Diff(got, tt.want); diff != "" {
			t.Errorf("%s steps (-got +want):\n%s", fmt.Sprint(tt.op), diff)
		}
	}
}
