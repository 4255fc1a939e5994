package decl

import (
	"errors"
	"fmt"
	"strings"
)

// The grammar of image references (registry/path:tag@digest), as podman and
// the distribution spec read them: isRefComponent, isRefDomain, isTag and
// isDigest check each part.
var (
	refComponent = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	refDomain    = `(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?`
	refTag       = `[\w][\w.-]{0,127}`
	refDigest    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
)

// CheckImageRef validates an image reference. short reports a name without
// a registry (nginx, library/nginx), which podman resolves through
// registries.conf.
func CheckImageRef(ref string) (short bool, err error) {
	if ref == "" {
		return false, errors.New("empty image reference")
	}
	if len(ref) > 255+128+80 {
		return false, errors.New("image reference too long")
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest && !isDigest(digest) {
		return false, fmt.Errorf("invalid digest %q in image reference: use ALGORITHM:HEX, e.g. sha256:<64 hex digits>", digest)
	}
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		if tag := name[i+1:]; !isTag(tag) {
			return false, fmt.Errorf("invalid tag %q in image reference %q: letters, digits, '_', '.', '-', at most 128", tag, ref)
		}
		name = name[:i]
	}
	parts := strings.Split(name, "/")
	first := parts[0]
	hasDomain := len(parts) > 1 && (strings.ContainsAny(first, ".:[") || first == "localhost")
	if hasDomain {
		if !isRefDomain(first) {
			return false, fmt.Errorf("invalid registry %q in image reference %q", first, ref)
		}
		parts = parts[1:]
	}
	for _, p := range parts {
		if !isRefComponent(p) {
			if strings.ToLower(p) != p {
				return false, fmt.Errorf("invalid image reference %q: repository names must be lowercase", ref)
			}
			return false, fmt.Errorf("invalid image reference %q: use [REGISTRY/]PATH[:TAG][@DIGEST], e.g. docker.io/library/nginx:1.27", ref)
		}
	}
	return !hasDomain, nil
}
