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

// NormalizeCap returns the canonical CAP_-prefixed upper-case name of a
// capability given as net_admin, NET_ADMIN or CAP_NET_ADMIN; "ALL" stays
// ALL. It accepts what podman's --cap-add accepts: the names
// containers/common knows for the running kernel.
func NormalizeCap(c string) (string, error) {
	u := strings.TrimPrefix(strings.ToUpper(c), "CAP_")
	if u == capabilities.All {
		return capabilities.All, nil
	}
	if capabilityNames[u] {
		return "CAP_" + u, nil
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
