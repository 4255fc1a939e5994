package decl

import (
	"math/rand"
	"regexp"
	"testing"
)

// matchers pairs each matcher of match.go with the regular expression it
// stands for.
var matchers = []struct {
	name  string
	re    *regexp.Regexp
	match func(string) bool
}{
	{"app name", regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`), isAppName},
	{"volume name", regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`), isVolumeName},
	{"env key", regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`), isEnvKey},
	{"label key", regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`), isLabelKey},
	{"sysctl key", regexp.MustCompile(`^[a-z0-9_][a-z0-9_./-]*$`), isSysctlKey},
	{"option key", regexp.MustCompile(`^[A-Za-z0-9_.-]+$`), isOptKey},
	{"id", regexp.MustCompile(`^[A-Za-z0-9_.][A-Za-z0-9_.-]*$`), isID},
	{"host label", regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`), isHostLabel},
	{"id map", regexp.MustCompile(`^\d+:\d+:\d+$`), isIDMap},
	{"ulimit value", regexp.MustCompile(`^(-1|\d+)(:(-1|\d+))?$`), isUlimitValue},
	{"ref component", regexp.MustCompile(`^` + refComponent + `$`), isRefComponent},
	{"ref domain", regexp.MustCompile(`^` + refDomain + `$`), isRefDomain},
	{"tag", regexp.MustCompile(`^` + refTag + `$`), isTag},
	{"time zone", regexp.MustCompile(`^[A-Za-z0-9_+-][A-Za-z0-9/_+-]{0,63}$`), isTimeZone},
	{"host name", regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?))*$`), isHostName}, // seeds are shorter than its 253 bytes
	{"digest", regexp.MustCompile(`^` + refDigest + `$`), isDigest},
}

var matchSeeds = []string{
	"", "a", "A", "0", "_", "-", ".", "web", "web-1", "Web", "a_b", "a__b", "a___b", "a.b", "a..b", "a-b", "a--b", "a-", "-a",
	"a.", "ab/c", "x" + string(make([]byte, 62)), "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk",
	"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", "ü", "a\xff", "net.ipv4.ip_forward", "0:1:65536",
	"0:1:", "1:2:3:4", "-1", "-1:-1", "1024:4096", "512", "1:", ":1", "512m", "2g", "1b", "1K", "m", "SIGRTMIN", "SIGRTMAX+3",
	"SIGRTMIN-", "SIGRTMIN+", "SIGRTMID", "docker.io", "localhost:5000", "[::1]:5000", "[::1]", "[]", "[::1]:", "a-.b",
	"registry.example.com:5000", "a:b", "sha256:0123456789abcdef0123456789abcdef", "sha256:0123456789abcdef0123456789abcde",
	"sha256+b64.x_y-z:0123456789abcdef0123456789abcdef0123", "1sha:0123456789abcdef0123456789abcdef", "s-:00000000000000000000000000000000",
	"latest", "1.27", "Europe/Paris", "Etc/GMT+5", "/etc/passwd", "../x", "a.b.c", "a..b.", ".a", "_x", ".x", "x.y-z_", "ab\n", "a\x00",
}

func TestMatchersMatchTheirPatterns(t *testing.T) {
	for _, m := range matchers {
		for _, s := range matchSeeds {
			if got, want := m.match(s), m.re.MatchString(s); got != want {
				t.Errorf("%s: %q: got %v, the pattern says %v", m.name, s, got, want)
			}
		}
	}
}

// TestMatchersOnRandomWords tries short words over the characters that
// matter to the patterns.
func TestMatchersOnRandomWords(t *testing.T) {
	const alphabet = "aZ09-_.:[]+/@SIGRTMNAXfF\xc3"
	rng := rand.New(rand.NewSource(1))
	b := make([]byte, 0, 12)
	for range 40_000 {
		b = b[:0]
		for n := rng.Intn(12); n > 0; n-- {
			b = append(b, alphabet[rng.Intn(len(alphabet))])
		}
		s := string(b)
		for _, m := range matchers {
			if got, want := m.match(s), m.re.MatchString(s); got != want {
				t.Fatalf("%s: %q: got %v, the pattern says %v", m.name, s, got, want)
			}
		}
	}
}

func FuzzMatchersMatchTheirPatterns(f *testing.F) {
	for _, s := range matchSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, m := range matchers {
			if got, want := m.match(s), m.re.MatchString(s); got != want {
				t.Errorf("%s: %q: got %v, the pattern says %v", m.name, s, got, want)
			}
		}
	})
}
