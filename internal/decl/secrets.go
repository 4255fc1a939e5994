package decl

import (
	"regexp"
	"sort"
	"strings"
)

// secretWords are the parts of an environment variable name (split at
// '_') that say its value is a secret.
var secretWords = set("PASSWORD", "PASSWD", "PASS", "PASSPHRASE", "PWD", "SECRET", "SECRETS",
	"TOKEN", "TOKENS", "KEY", "APIKEY", "CREDENTIAL", "CREDENTIALS", "PRIVATE", "AUTH", "SALT")

// notSecret are names that contain a secret word but are well known not
// to hold one.
var notSecret = set("PWD", "OLDPWD", "SSH_AUTH_SOCK", "GPG_KEY_ID")

// urlPasswordRE matches a URL with a password in it (scheme://user:pass@).
var urlPasswordRE = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:[^/@\s]+@`)

// LooksSecret reports whether an env variable looks like it holds a
// secret: its name has a word such as PASSWORD, TOKEN, SECRET or KEY, or
// its value is a URL with a password.
func LooksSecret(name, value string) bool {
	// The pattern needs "://" and '@': most values have neither and skip
	// the regular expression.
	if strings.Contains(value, "://") && strings.IndexByte(value, '@') >= 0 && urlPasswordRE.MatchString(value) {
		return true
	}
	u := strings.ToUpper(name)
	if notSecret[u] {
		return false
	}
	for rest, more := u, true; more; {
		var w string
		w, rest, more = strings.Cut(rest, "_")
		if secretWords[w] || strings.HasSuffix(w, "PASSWORD") || strings.HasSuffix(w, "TOKEN") || strings.HasSuffix(w, "SECRET") {
			return true
		}
	}
	return false
}

// secrets warns about env values that look like secrets: ynhd writes env
// into the unit's ExecStart= line, which every local user can read in a
// system unit (and `systemctl show` prints), and podman's command line
// is visible in the process list while it starts the container.
func (v *validator) secrets() {
	var names []string
	for k, val := range v.app.Env {
		if LooksSecret(k, val) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		v.warnf("env."+k, "looks like a secret: env values are written into the unit file (ExecStart=) and shown by systemctl show and in the process list, where other local users may read them; ynhd has no secrets support yet: keep it in an env_file readable only by you (env_files = [\"%s.env\"], chmod 600)", v.app.Name)
	}
}
