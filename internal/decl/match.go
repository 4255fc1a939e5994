package decl

// Matchers for the names and values that validation checks on every
// declaration. Each is a loop over bytes for an anchored pattern (written
// above it) that a regular expression used to check; the tests hold each to
// its pattern. Every pattern is ASCII only, so a byte of a multi-byte
// UTF-8 sequence, or of invalid UTF-8, never matches.

// asciiSet is a set of bytes.
type asciiSet [256]bool

// newSet makes a set of the bytes in spec, where a-z stands for a range.
func newSet(spec string) *asciiSet {
	var s asciiSet
	for i := 0; i < len(spec); i++ {
		if i+2 < len(spec) && spec[i+1] == '-' {
			for c := spec[i]; c <= spec[i+2]; c++ {
				s[c] = true
			}
			i += 2
			continue
		}
		s[spec[i]] = true
	}
	return &s
}

// all reports whether every byte of s is in set.
func (set *asciiSet) all(s string) bool {
	for i := 0; i < len(s); i++ {
		if !set[s[i]] {
			return false
		}
	}
	return true
}

// word reports whether s is one byte of first followed by bytes of rest,
// at most maxRest of them (any number when maxRest < 0).
func word(s string, first, rest *asciiSet, maxRest int) bool {
	if s == "" || !first[s[0]] || (maxRest >= 0 && len(s)-1 > maxRest) {
		return false
	}
	return rest.all(s[1:])
}

var (
	lowerDigit   = newSet("a-z0-9")
	alnum        = newSet("a-zA-Z0-9")
	digits       = newSet("0-9")
	hexDigits    = newSet("0-9a-fA-F")
	hexLower     = newSet("0-9a-f")
	letters      = newSet("a-zA-Z")
	wordChars    = newSet("a-zA-Z0-9_")
	appNameRest  = newSet("a-z0-9_-")
	volumeRest   = newSet("a-zA-Z0-9_.-")
	envKeyFirst  = newSet("A-Za-z_")
	labelKeyRest = newSet("A-Za-z0-9._/-")
	sysctlFirst  = newSet("a-z0-9_")
	sysctlRest   = newSet("a-z0-9_./-")
	idFirst      = newSet("A-Za-z0-9_.")
	hostChars    = newSet("A-Za-z0-9-")
	tagRest      = newSet("a-zA-Z0-9_.-")
	bracketHost  = newSet("0-9a-fA-F:")
	tzFirst      = newSet("A-Za-z0-9_+-")
	tzRest       = newSet("A-Za-z0-9/_+-")
)

// isAppName: ^[a-z0-9][a-z0-9_-]{0,62}$
func isAppName(s string) bool { return word(s, lowerDigit, appNameRest, 62) }

// isVolumeName: ^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$
func isVolumeName(s string) bool { return word(s, alnum, volumeRest, 127) }

// isEnvKey: ^[A-Za-z_][A-Za-z0-9_]*$
func isEnvKey(s string) bool { return word(s, envKeyFirst, wordChars, -1) }

// isLabelKey: ^[A-Za-z0-9][A-Za-z0-9._/-]*$
func isLabelKey(s string) bool { return word(s, alnum, labelKeyRest, -1) }

// isSysctlKey: ^[a-z0-9_][a-z0-9_./-]*$
func isSysctlKey(s string) bool { return word(s, sysctlFirst, sysctlRest, -1) }

// isOptKey: ^[A-Za-z0-9_.-]+$
func isOptKey(s string) bool { return word(s, volumeRest, volumeRest, -1) }

// isID: ^[A-Za-z0-9_.][A-Za-z0-9_.-]*$
func isID(s string) bool { return word(s, idFirst, volumeRest, -1) }

// isHostLabel: ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$
func isHostLabel(s string) bool {
	return len(s) <= 63 && word(s, alnum, hostChars, -1) && alnum[s[len(s)-1]]
}

// isTimeZone: ^[A-Za-z0-9_+-][A-Za-z0-9/_+-]{0,63}$ (an IANA zone name
// such as Europe/Paris or Etc/GMT+5, or "local"; without '.', no ".."
// can climb out of the zone directory).
func isTimeZone(s string) bool { return word(s, tzFirst, tzRest, 63) }

// isHostName: dot-separated host labels, at most 253 characters.
func isHostName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for {
		label, rest, more := cut(s, '.')
		if !isHostLabel(label) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// isTag: ^[\w][\w.-]{0,127}$
func isTag(s string) bool { return word(s, wordChars, tagRest, 127) }

// digitRun returns the length of the run of digits at the start of s.
func digitRun(s string) int {
	i := 0
	for i < len(s) && digits[s[i]] {
		i++
	}
	return i
}

// isIDMap: ^\d+:\d+:\d+$
func isIDMap(s string) bool {
	for part := 0; part < 3; part++ {
		n := digitRun(s)
		if n == 0 {
			return false
		}
		s = s[n:]
		if part < 2 {
			if s == "" || s[0] != ':' {
				return false
			}
			s = s[1:]
		}
	}
	return s == ""
}

// isUlimitValue: ^(-1|\d+)(:(-1|\d+))?$
func isUlimitValue(s string) bool {
	limit := func(s string) bool { return s == "-1" || (s != "" && digits.all(s)) }
	soft, hard, two := cut(s, ':')
	return limit(soft) && (!two || limit(hard))
}

// cut is strings.Cut for a byte.
func cut(s string, sep byte) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// isRefComponent: ^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$
func isRefComponent(s string) bool {
	i := 0
	for {
		// A run of lowercase letters and digits.
		start := i
		for i < len(s) && lowerDigit[s[i]] {
			i++
		}
		if i == start {
			return false
		}
		if i == len(s) {
			return true
		}
		// A separator: '.', '_', "__" or one or more '-'.
		switch s[i] {
		case '.':
			i++
		case '_':
			i++
			if i < len(s) && s[i] == '_' {
				i++
			}
		case '-':
			for i < len(s) && s[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// isRefDomain: ^(?:LABEL(?:\.LABEL)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$ where
// LABEL is [a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?
func isRefDomain(s string) bool {
	port := func(p string) bool { return p != "" && digits.all(p) }
	if s != "" && s[0] == '[' {
		inner, rest, ok := cut(s[1:], ']')
		if !ok || inner == "" || !bracketHost.all(inner) {
			return false
		}
		return rest == "" || (rest[0] == ':' && port(rest[1:]))
	}
	host, rest, hasPort := cut(s, ':')
	for {
		label, more, dot := cut(host, '.')
		if !word(label, alnum, hostChars, -1) || !alnum[label[len(label)-1]] {
			return false
		}
		if !dot {
			break
		}
		host = more
	}
	return !hasPort || port(rest)
}

// isDigest: ^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$
func isDigest(s string) bool {
	i := 0
	for {
		// A component: a letter, then letters and digits.
		if i >= len(s) || !letters[s[i]] {
			return false
		}
		for i++; i < len(s) && alnum[s[i]]; i++ {
		}
		if i < len(s) && (s[i] == '-' || s[i] == '_' || s[i] == '+' || s[i] == '.') {
			i++
			continue
		}
		break
	}
	if i >= len(s) || s[i] != ':' {
		return false
	}
	hex := s[i+1:]
	return len(hex) >= 32 && hexDigits.all(hex)
}

// ValidAppName reports whether s is a valid app name (a declaration's
// file name without .toml).
func ValidAppName(s string) bool { return isAppName(s) }

// ValidVolumeName reports whether s is a valid named volume.
func ValidVolumeName(s string) bool { return isVolumeName(s) }
