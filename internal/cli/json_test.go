package cli

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ynhd/ynhd/internal/reconcile"
)

// TestPlanJSON pins plan --json's key names: scripts read them.
func TestPlanJSON(t *testing.T) {
	for _, tc := range []struct {
		name string
		plan reconcile.Plan
		want string
	}{
		{"empty", reconcile.Plan{}, `{
  "schema_version": 1,
  "changes": false,
  "actions": [],
  "problems": []
}
`},
		{"changes", reconcile.Plan{
			Actions: []reconcile.Action{
				{Op: reconcile.OpPull, App: "web", Image: "docker.io/library/nginx:1", Reason: "image missing"},
				{Op: reconcile.OpWrite, App: "web", Unit: "web.service", Reason: "new", Content: []byte("[Unit]\n")},
				{Op: reconcile.OpStart, App: "web", Unit: "web.service"},
			},
			Problems: []reconcile.Problem{{App: "db", Message: "waits for <web> to be healthy", Held: true}},
		}, `{
  "schema_version": 1,
  "changes": true,
  "actions": [
    {
      "op": "pull",
      "app": "web",
      "reason": "image missing",
      "image": "docker.io/library/nginx:1"
    },
    {
      "op": "write",
      "app": "web",
      "unit": "web.service",
      "reason": "new"
    },
    {
      "op": "start",
      "app": "web",
      "unit": "web.service"
    }
  ],
  "problems": [
    {
      "app": "db",
      "message": "waits for <web> to be healthy",
      "held": true,
      "waiting": false
    }
  ]
}
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			writeJSON(&b, newPlanJSON(&tc.plan))
			if d := cmp.Diff(b.String(), tc.want); d != "" {
				t.Errorf("plan --json (-got +want):\n%s", d)
			}
		})
	}
}
