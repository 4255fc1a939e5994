package decl

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/containers/image/v5/docker/reference"
)

// Sizes, signals and capabilities are read by podman's own parsers: what
// podman accepts, a declaration accepts.
func TestParseSizeLikePodman(t *testing.T) {
	for in, want := range map[string]int64{
		"1048576": 1 << 20, "512m": 512 << 20, "512M": 512 << 20, "1.5g": 3 << 29,
		"512MB": 512 << 20, "1GiB": 1 << 30, "512 m": 512 << 20, "64k": 64 << 10, "2t": 2 << 40, "10b": 10,
	} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "m", "-1m", "1.5 gigs", "1x", "99999999999p", "1e400"} {
		if n, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, n)
		}
	}
	if got := SizeArg("1.5 GiB"); got != "1.5gib" {
		t.Errorf("SizeArg = %q", got)
	}
}

func TestNormalizeSignalLikePodman(t *testing.T) {
	for in, want := range map[string]string{
		"TERM": "SIGTERM", "sigterm": "SIGTERM", "SIGRTMIN+3": "SIGRTMIN+3", "rtmax-2": "SIGRTMAX-2",
		"9": "9", "SIGWINCH": "SIGWINCH", "pwr": "SIGPWR",
	} {
		got, err := NormalizeSignal(in)
		if err != nil || got != want {
			t.Errorf("NormalizeSignal(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "65", "SIGFOO", "-TERM", "RTMIN+99", "SIG"} {
		if got, err := NormalizeSignal(in); err == nil {
			t.Errorf("NormalizeSignal(%q) = %q, want an error", in, got)
		}
	}
}

func TestNormalizeCapLikePodman(t *testing.T) {
	for in, want := range map[string]string{
		"net_admin": "CAP_NET_ADMIN", "CAP_SYS_ADMIN": "CAP_SYS_ADMIN", "all": "ALL", "chown": "CAP_CHOWN",
	} {
		got, err := NormalizeCap(in)
		if err != nil || got != want {
			t.Errorf("NormalizeCap(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "CAP_", "NET_ADMN", "CAP_FLY"} {
		if got, err := NormalizeCap(in); err == nil {
			t.Errorf("NormalizeCap(%q) = %q, want an error", in, got)
		}
	}
}

// refSeeds are references near the edges of the grammar.
var refSeeds = []string{
	"nginx", "library/nginx:1", "docker.io/library/nginx", "localhost/a:b", "registry:5000/a/b:c",
	"quay.io/a/b@sha256:" + strings.Repeat("a", 64), "quay.io/a/b:1@sha256:" + strings.Repeat("0", 64),
	"[::1]:5000/x", "UPPER", "Docker.io/x", "a b", "x:", "x@sha256:12", "-x", "a//b", "a__b", "a___b", "a--b", "a.-b",
	"a:" + strings.Repeat("t", 129), strings.Repeat("a", 64), strings.Repeat("a", 63), "localhost", "localhost:5000",
	"x@sha256:" + strings.Repeat("A", 64), "x@sha512:" + strings.Repeat("a", 128), strings.Repeat("a/", 130) + "a",
	"a.b.c:1/d", "a-.b/c", "a:/b", "1.2.3.4:99999/x", "x/y:latest", "x/y:.latest", "x/y:_t",
}

// checkPlainRef fails when plainlyRef accepts a reference the parser
// refuses.
func checkPlainRef(t *testing.T, s string) {
	if plainlyRef(s) {
		if _, err := reference.ParseNormalizedNamed(s); err != nil {
			t.Errorf("plainlyRef accepts %q, the parser says %v", s, err)
		}
	}
}

func TestPlainRefsParse(t *testing.T) {
	for _, s := range append(refSeeds, matchSeeds...) {
		checkPlainRef(t, s)
	}
	const alphabet = "aZ09._-:/@[]sha256"
	rng := rand.New(rand.NewSource(1))
	b := make([]byte, 0, 24)
	for range 40_000 {
		b = b[:0]
		for n := rng.Intn(24); n > 0; n-- {
			b = append(b, alphabet[rng.Intn(len(alphabet))])
		}
		checkPlainRef(t, string(b))
	}
	for _, s := range []string{"docker.io/library/nginx:1.27", "localhost/ynhd/web:latest", "quay.io/a/b@sha256:" + strings.Repeat("a", 64)} {
		if !plainlyRef(s) {
			t.Errorf("plainlyRef(%q) = false: the usual references should not need the parser", s)
		}
	}
}

func FuzzPlainRefsParse(f *testing.F) {
	for _, s := range refSeeds {
		f.Add(s)
	}
	f.Fuzz(checkPlainRef)
}

// The patterns KeyRules gives tools accept what the parsers accept.
func TestRulePatterns(t *testing.T) {
	dur := regexp.MustCompile(DurationPattern)
	for _, s := range []string{"10s", "1m30s", "0", "1.5h", ".5s", "1.s", "-3m", "+2h", "300ms", "10 seconds", "10", "s", "", "1d", "1h 30m", "1e3s"} {
		_, err := time.ParseDuration(s)
		if got := dur.MatchString(s); got != (err == nil) {
			t.Errorf("duration %q: pattern says %v, time.ParseDuration says %v", s, got, err)
		}
	}
	size := regexp.MustCompile(SizePattern)
	for _, s := range []string{"512m", "1.5g", "512MB", "1GiB", "512 m", "10b", "1e3", "64K", "1kib", "", "m", "1x", "1 gigs", "-1m", "1mb ", "1gb", "1ib"} {
		_, err := ParseSize(s)
		if got := size.MatchString(s); got != (err == nil) {
			t.Errorf("size %q: pattern says %v, ParseSize says %v", s, got, err)
		}
	}
}

// The canonical names found at start are podman's, and go through without
// allocating.
func TestCanonicalNamesFast(t *testing.T) {
	for _, s := range []string{"SIGTERM", "SIGKILL", "SIGRTMIN+3", "SIGRTMAX-1", "SIGWINCH", "SIGPWR"} {
		if !canonicalSignals[s] {
			t.Errorf("%s is not among the canonical signals", s)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		NormalizeSignal("SIGRTMIN+3")
		NormalizeCap("CAP_NET_ADMIN")
		NormalizeCap("NET_ADMIN")
	}); n != 0 {
		t.Errorf("%v allocations for canonical names", n)
	}
}
