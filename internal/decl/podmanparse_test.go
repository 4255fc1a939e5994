package decl

import "testing"

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
