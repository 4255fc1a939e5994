package decl

import (
	"path"
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
		// NAME_FILE = "/run/secrets/..." is the usual way to point an
		// image at a secret's file: the value is a path, not the secret.
		if strings.HasSuffix(strings.ToUpper(k), "_FILE") && path.IsAbs(val) {
			continue
		}
		if LooksSecret(k, val) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		v.warnf("env."+k, "looks like a secret: env values are written into the unit file (ExecStart=) and shown by systemctl show and in the process list, where other local users may read them; move it into a [[secrets]] entry (type = \"env\") whose value comes from a file readable only by you, or into an env_file (env_files = [\"%s.env\"], chmod 600)", v.app.Name)
	}
}

// secretTypes are the values of secrets.type.
var secretTypes = set(SecretMount, SecretEnv)

// declaredSecrets checks [[secrets]]: every value ends up in a podman
// --secret option (comma-separated key=value pairs) or a podman secret
// name, so commas, '=' and odd names are refused rather than escaped.
func (v *validator) declaredSecrets(host Host) {
	a := v.app
	if len(a.Secrets) > 0 && host.System {
		v.errf("secrets", "secrets are not supported in system mode: each app's podman runs as its own system user, whose secret store ynhd does not manage; put the value in an env_files entry owned by root with mode 0600")
		return
	}
	names := map[string]bool{}
	for i, s := range a.Secrets {
		key := indexed("secrets", i)
		nameOK := false
		switch {
		case s.Name == "":
			v.errf(key+".name", "name is required: the secret's name (letters, digits, '_', '.', '-')")
		case !isVolumeName(s.Name):
			v.errf(key+".name", "secret name %q is invalid: use 1-128 letters, digits, '_', '.', '-', starting with a letter or digit", s.Name)
		case names[s.Name]:
			v.errf(key+".name", "secret %q is declared twice; keep one", s.Name)
		default:
			nameOK = true
		}
		names[s.Name] = true
		if s.File != "" && s.Env != "" {
			v.errf(key, "file and env are mutually exclusive: the value comes from one of them")
		}
		if s.Env != "" && !isEnvKey(s.Env) {
			v.errf(key+".env", "variable name %q is invalid: it must start with a letter or _ and contain only letters, digits and _", s.Env)
		}
		if !nameOK {
			continue // the default target comes from the name
		}
		switch s.Type {
		case SecretMount:
			switch {
			case !path.IsAbs(s.Target):
				v.errf(key+".target", "target %q must be an absolute path inside the container (default /run/secrets/NAME)", s.Target)
			case strings.ContainsAny(s.Target, ",:="):
				v.errf(key+".target", "paths containing ',', ':' or '=' cannot be given to podman --secret; choose another path")
			case path.Clean(s.Target) == "/":
				v.errf(key+".target", "a secret cannot be mounted at /")
			}
		case SecretEnv:
			if !isEnvKey(s.Target) {
				v.errf(key+".target", "variable name %q is invalid: with type = \"env\", target is the variable the container sees; it must start with a letter or _ and contain only letters, digits and _", s.Target)
			} else if _, dup := a.Env[s.Target]; dup {
				v.errf(key+".target", "env.%s is set too; keep one", s.Target)
			}
		default:
			v.errf(key+".type", "type %q is unknown: use \"mount\" (a file, the default) or \"env\" (a variable)", s.Type)
		}
	}
	if len(a.Secrets) > 0 && a.Persistent {
		v.warnf("secrets", "a persistent container is not replaced when a secret's value changes: `ynhd recreate %s` applies a new value", a.Name)
	}
}
