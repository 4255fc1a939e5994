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
		if !strings.Contains(got[i], "warning: "+key+": looks like a secret") || !strings.Contains(got[i], "move it into a [[secrets]] entry") {
			t.Errorf("got %q", got[i])
		}
	}
}

// TestSecretFileVariableNotWarned: POSTGRES_PASSWORD_FILE holds the path
// of a secret's file, not a secret.
func TestSecretFileVariableNotWarned(t *testing.T) {
	if got := check("db", "version = 1\nimage = \"docker.io/x/y\"\nenv = { POSTGRES_PASSWORD_FILE = \"/run/secrets/db_password\", DB_PASSWORD_FILE = \"pw\" }\n"); len(got) != 1 || !strings.Contains(got[0], "env.DB_PASSWORD_FILE: looks like a secret") {
		t.Errorf("got %q", got)
	}
}

func TestDeclaredSecrets(t *testing.T) {
	const img = "version = 1\nimage = \"docker.io/x/y\"\n"
	for _, tt := range []struct {
		name, src string
		want      []string
	}{
		{"file, defaults", img + "[[secrets]]\nname = \"db\"\nfile = \"db.txt\"\n", nil},
		{"env type", img + "[[secrets]]\nname = \"tok\"\nenv = \"TOK\"\ntype = \"env\"\ntarget = \"API_TOKEN\"\n", nil},
		{"existing podman secret", img + "[[secrets]]\nname = \"mine\"\n", nil},
		{"no name", img + "[[secrets]]\nfile = \"x\"\n",
			[]string{"/d/app.toml:3:1: secrets[0].name: name is required: the secret's name (letters, digits, '_', '.', '-')"}},
		{"comma in name", img + "[[secrets]]\nname = \"a,type=env\"\n",
			[]string{"/d/app.toml:4:1: secrets[0].name: secret name \"a,type=env\" is invalid: use 1-128 letters, digits, '_', '.', '-', starting with a letter or digit"}},
		{"comma in target", img + "[[secrets]]\nname = \"a\"\ntarget = \"/run/a,type=env\"\n",
			[]string{"/d/app.toml:5:1: secrets[0].target: paths containing ',', ':' or '=' cannot be given to podman --secret; choose another path"}},
		{"relative target", img + "[[secrets]]\nname = \"a\"\ntarget = \"run/a\"\n",
			[]string{"/d/app.toml:5:1: secrets[0].target: target \"run/a\" must be an absolute path inside the container (default /run/secrets/NAME)"}},
		{"both sources", img + "[[secrets]]\nname = \"a\"\nfile = \"f\"\nenv = \"E\"\n",
			[]string{"/d/app.toml:3:1: secrets[0]: file and env are mutually exclusive: the value comes from one of them"}},
		{"bad type", img + "[[secrets]]\nname = \"a\"\ntype = \"file\"\n",
			[]string{"/d/app.toml:5:1: secrets[0].type: type \"file\" is unknown: use \"mount\" (a file, the default) or \"env\" (a variable)"}},
		{"env target not a variable", img + "[[secrets]]\nname = \"a.b\"\ntype = \"env\"\n",
			[]string{"/d/app.toml:3:1: secrets[0].target: variable name \"a.b\" is invalid: with type = \"env\", target is the variable the container sees; it must start with a letter or _ and contain only letters, digits and _"}},
		{"twice", img + "[[secrets]]\nname = \"a\"\n[[secrets]]\nname = \"a\"\n",
			[]string{"/d/app.toml:6:1: secrets[1].name: secret \"a\" is declared twice; keep one"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := check("app", tt.src)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDeclaredSecretsSystemMode(t *testing.T) {
	p, _ := Decode("/etc/ynhd/app.toml", []byte("version = 1\nimage = \"docker.io/x/y\"\n[[secrets]]\nname = \"a\"\nfile = \"a.txt\"\n"), "/root")
	ds := Validate(p, Host{System: true})
	if len(ds) != 1 || !strings.Contains(ds[0].String(), "secrets: secrets are not supported in system mode") {
		t.Errorf("got %v", ds)
	}
}
