package decl

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containers/image/v5/docker/reference"
)

// The grammar of image references (registry/path:tag@digest) is podman's
// own parser's (containers/image docker/reference, the distribution
// grammar). That parser is a set of regular expressions, a few
// microseconds per reference, which is most of the cost of validating a
// declaration; so a reference that plainlyRef accepts, a strict subset of
// that grammar checked byte by byte, is not parsed again. Every other
// reference gets the parser's verdict. The tests hold plainlyRef to the
// parser (TestPlainRefsParse, FuzzPlainRefsParse).
//
// The patterns the byte matchers follow (match.go):
var (
	refComponent = `[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*`
	refDomain    = `(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?`
	refTag       = `[\w][\w.-]{0,127}`
	refDigest    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
)

// CheckImageRef validates an image reference as podman reads it
// ([REGISTRY/]PATH[:TAG][@DIGEST]). short reports a name without a registry
// (nginx, library/nginx), which podman resolves through registries.conf.
func CheckImageRef(ref string) (short bool, err error) {
	if ref == "" {
		return false, errors.New("empty image reference")
	}
	if !plainlyRef(ref) {
		if _, err := reference.ParseNormalizedNamed(ref); err != nil {
			return false, imageRefError(ref, err)
		}
	}
	// A first component names a registry when it has a dot or a port, or
	// is localhost (the rule the parser itself applies).
	i := strings.IndexByte(ref, '/')
	short = i < 0 || (!strings.ContainsAny(ref[:i], ".:") && ref[:i] != "localhost")
	return short, nil
}

// plainlyRef reports whether ref is a reference podman's parser surely
// accepts: at most 200 bytes (the parser's limit of 255 applies to the
// name once docker.io/library/ is put in front of a short one), lowercase path components, an optional
// registry of host labels and a port (no IPv6 brackets), an optional tag
// and an optional sha256 digest. false means only "ask the parser".
func plainlyRef(ref string) bool {
	if len(ref) > 200 {
		return false
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	if hasDigest && !isSHA256Digest(digest) {
		return false
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		if !isTag(name[i+1:]) {
			return false
		}
		name = name[:i]
	}
	first, rest, hasSlash := strings.Cut(name, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		if strings.IndexByte(first, '[') >= 0 || !isRefDomain(first) {
			return false
		}
		name = rest
	} else if len(name) == 64 && hexLower.all(name) {
		return false // the parser refuses image IDs as names
	}
	for {
		part, more, found := strings.Cut(name, "/")
		if !isRefComponent(part) {
			return false
		}
		if !found {
			return true
		}
		name = more
	}
}

// isSHA256Digest: ^sha256:[0-9a-f]{64}$
func isSHA256Digest(s string) bool {
	return len(s) == len("sha256:")+64 && strings.HasPrefix(s, "sha256:") && hexLower.all(s[len("sha256:"):])
}

// imageRefError says what is wrong with ref in terms of what to write.
func imageRefError(ref string, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "must be lowercase"):
		return fmt.Errorf("invalid image reference %q: repository names must be lowercase", ref)
	case errors.Is(err, reference.ErrTagInvalidFormat):
		return fmt.Errorf("invalid tag in image reference %q: letters, digits, '_', '.', '-', at most 128", ref)
	case errors.Is(err, reference.ErrDigestInvalidFormat) || strings.Contains(msg, "digest"):
		return fmt.Errorf("invalid digest in image reference %q: use ALGORITHM:HEX, e.g. sha256:<64 hex digits>", ref)
	case errors.Is(err, reference.ErrNameTooLong):
		return fmt.Errorf("image reference %q too long: the repository name may have at most %d characters", ref, reference.NameTotalLengthMax)
	case strings.Contains(msg, "64-byte hexadecimal"):
		return fmt.Errorf("%q is an image ID, not a reference: use the image's name, e.g. docker.io/library/nginx:1.27", ref)
	}
	return fmt.Errorf("invalid image reference %q: use [REGISTRY/]PATH[:TAG][@DIGEST], e.g. docker.io/library/nginx:1.27", ref)
}
