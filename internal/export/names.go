package export

import (
	"strings"
)

// dnsLabel turns s into an RFC 1123 label, the form Kubernetes wants for
// object, container, volume and port names: lower-case letters, digits
// and '-', starting and ending with a letter or digit, at most 63
// characters. Other characters become '-'.
func dnsLabel(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	if out == "" {
		out = "x"
	}
	return out
}

// serviceName is an RFC 1035 label (a dnsLabel that starts with a
// letter): the form a Service name must have.
func serviceName(s string) string {
	l := dnsLabel(s)
	if l[0] >= '0' && l[0] <= '9' {
		l = dnsLabel("app-" + l)
	}
	return l
}
