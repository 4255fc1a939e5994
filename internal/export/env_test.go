package export

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLooksSecret(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		want        bool
	}{
		{"POSTGRES_PASSWORD", "x", true},
		{"ADMIN_PASSWD", "x", true},
		{"db_pass", "x", true},
		{"SMTP_PASS_FILE", "x", true},
		{"GITHUB_TOKEN", "x", true},
		{"API_KEY", "x", true},
		{"APIKEY", "x", true},
		{"AWS_SECRET_ACCESS_KEY", "x", true},
		{"ENCRYPTION_KEY", "x", true},
		{"KEY", "x", true},
		{"BASIC_AUTH", "x", true},
		{"PASSWORD_SALT", "x", true},
		{"TLS_PRIVATE", "x", true},
		{"DATABASE_URL", "postgres://app:s3cret@db/app", true},
		{"REDIS", "redis://:pw@cache:6379", true},
		{"DATABASE_URL", "postgres://app@db/app", false},
		{"PUBLIC_URL", "https://example.org/a:b@c", false},
		{"KEYBOARD_LAYOUT", "us", false},
		{"PASSENGER_COUNT", "3", false},
		{"AUTHOR", "alice", false},
		{"GREETING", "hello", false},
		{"LANG", "C.UTF-8", false},
	} {
		if got := LooksSecret(tc.name, tc.value); got != tc.want {
			t.Errorf("LooksSecret(%q, %q) = %v, want %v", tc.name, tc.value, got, tc.want)
		}
	}
}

func TestParseEnvFile(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		vars     [][2]string
		hostOnly []string
		err      bool
	}{
		{name: "empty"},
		{name: "comments and blanks", in: "# c\n\n   \n  # indented comment\nA=1\n", vars: [][2]string{{"A", "1"}}},
		{name: "value taken literally", in: "A=\"quoted\" # not a comment\nB= spaced \nC=x=y\n",
			vars: [][2]string{{"A", `"quoted" # not a comment`}, {"B", " spaced "}, {"C", "x=y"}}},
		{name: "leading blanks dropped", in: "\t  A=1\n", vars: [][2]string{{"A", "1"}}},
		{name: "empty value", in: "A=\n", vars: [][2]string{{"A", ""}}},
		{name: "from the host", in: "HOME\nA=1\n", vars: [][2]string{{"A", "1"}}, hostOnly: []string{"HOME"}},
		{name: "no name", in: "=1\n", err: true},
		{name: "space in name", in: "A B=1\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vars, hostOnly, err := ParseEnvFile([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if d := cmp.Diff(vars, tc.vars); d != "" {
				t.Errorf("vars (-got +want):\n%s", d)
			}
			if d := cmp.Diff(hostOnly, tc.hostOnly); d != "" {
				t.Errorf("hostOnly (-got +want):\n%s", d)
			}
		})
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct{ in, label, service string }{
		{"web", "web", "web"},
		{"my_app", "my-app", "my-app"},
		{"Shared.Config_1", "shared-config-1", "shared-config-1"},
		{"1password", "1password", "app-1password"},
		{"_x_", "x", "x"},
		{"a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-on-and-on", "a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-o", "a-very-long-name-that-goes-on-and-on-and-on-and-on-and-on-and-o"},
	} {
		if got := dnsLabel(tc.in); got != tc.label {
			t.Errorf("dnsLabel(%q) = %q, want %q", tc.in, got, tc.label)
		}
		if got := serviceName(tc.in); got != tc.service {
			t.Errorf("serviceName(%q) = %q, want %q", tc.in, got, tc.service)
		}
	}
}
