package decl

import (
	"strings"
	"testing"
)

func TestLooksSecret(t *testing.T) {
	for _, tt := range []struct {
		name, value string
		want        bool
	}{
		{"POSTGRES_PASSWORD", "x", true},
		{"ADMIN_PASSWORD", "x", true},
		{"DB_PASS", "x", true},
		{"API_KEY", "x", true},
		{"GITHUB_TOKEN", "x", true},
		{"AWS_SECRET_ACCESS_KEY", "x", true},
		{"client_secret", "x", true},
		{"DBPASSWORD", "x", true},
		{"DATABASE_URL", "postgres://miniflux:change-me@db/miniflux", true},
		{"DATABASE_URL", "postgres://db/miniflux", false},
		{"KEYBOARD", "x", false},
		{"MONKEY", "x", false},
		{"TZ", "Europe/Paris", false},
		{"PWD", "/", false},
		{"RUN_MIGRATIONS", "1", false},
	} {
		if got := LooksSecret(tt.name, tt.value); got != tt.want {
			t.Errorf("LooksSecret(%s, %s) = %v", tt.name, tt.value, got)
		}
	}
}

// TestSecretsInEnvWarn reproduces the report with the miniflux example:
// its database password ends up in ExecStart=, readable by every local
// user in system mode. check says so and where to put it instead.
func TestSecretsInEnvWarn(t *testing.T) {
	got := check("miniflux", "version = 1\nimage = \"docker.io/x/y\"\n[env]\nDATABASE_URL = \"postgres://miniflux:change-me@miniflux-db/miniflux\"\nADMIN_PASSWORD = \"change-me-too\"\nRUN_MIGRATIONS = \"1\"\n")
	if len(got) != 2 {
		t.Fatalf("got %q", got)
	}
	for i, key := range []string{"env.DATABASE_URL", "env.ADMIN_PASSWORD"} {
		if !strings.Contains(got[i], "warning: "+key+": looks like a secret") || !strings.Contains(got[i], "keep it in an env_file readable only by you") {
			t.Errorf("got %q", got[i])
		}
	}
}
