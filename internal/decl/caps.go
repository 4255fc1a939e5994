package decl

import (
	"fmt"
	"strings"

	"github.com/containers/common/pkg/capabilities"
)

// capabilityNames are the capabilities podman accepts (containers/common
// pkg/capabilities: those the running kernel knows), without the CAP_
// prefix.
var capabilityNames = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range capabilities.AllCapabilities() {
		m[strings.TrimPrefix(c, "CAP_")] = true
	}
	return m
}()

// canonicalCaps maps the upper-case forms of each capability, with and
// without CAP_, to its canonical name, so that the usual spellings are
// looked up without allocating.
var canonicalCaps = func() map[string]string {
	m := map[string]string{capabilities.All: capabilities.All}
	for name := range capabilityNames {
		m[name] = "CAP_" + name
		m["CAP_"+name] = "CAP_" + name
	}
	return m
}()

// NormalizeCap returns the canonical CAP_-prefixed upper-case name of a
// capability given as net_admin, NET_ADMIN or CAP_NET_ADMIN; "ALL" stays
// ALL. It accepts what podman's --cap-add accepts: the names
// containers/common knows for the running kernel.
func NormalizeCap(c string) (string, error) {
	if name, ok := canonicalCaps[c]; ok {
		return name, nil
	}
	u := strings.TrimPrefix(strings.ToUpper(c), "CAP_")
	if name, ok := canonicalCaps[u]; ok {
		return name, nil
	}
	best, bestD := "", 3
	for name := range capabilityNames {
		if len(u) > maxSuggestLen {
			break // no typo of a known name
		}
		if d := editDistance(u, name); d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	if best != "" {
		return "", fmt.Errorf("unknown capability %q; did you mean %q?", c, "CAP_"+best)
	}
	return "", fmt.Errorf("unknown capability %q: use a name from capabilities(7) such as CAP_NET_ADMIN, or ALL", c)
}
