package export

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/ynhd/ynhd/internal/decl"
)

// envVar is one variable of an app's effective environment.
type envVar struct {
	Name, Value string
	// FromFile is the env file the value comes from; empty for the env
	// table.
	FromFile string
	// Key is the declaration key that sets it, for warnings.
	Key string
	// Secret says the variable looks like a credential (see LooksSecret).
	Secret bool
}

// effectiveEnv merges the app's env files (in order, later files win) and
// its env table (which wins over the files), as podman does with
// --env-file and --env. Variables an env file takes from the host's
// environment (a name without "=") have no value to export and are
// warned about.
func effectiveEnv(a *decl.App, files map[string][]byte, w warner) ([]envVar, error) {
	byName := map[string]envVar{}
	for i, f := range a.EnvFiles {
		data, ok := files[f]
		if !ok {
			return nil, fmt.Errorf("%s: env_files[%d]: %s was not read", a.File, i, f)
		}
		key := fmt.Sprintf("env_files[%d]", i)
		vars, hostOnly, err := ParseEnvFile(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %s: %w", a.File, key, f, err)
		}
		for _, n := range hostOnly {
			w.warn(key, "%s takes %s from the host's environment when the container starts; an export has no value for it: set it in env", f, n)
		}
		for _, kv := range vars {
			byName[kv[0]] = envVar{Name: kv[0], Value: kv[1], FromFile: f, Key: key}
		}
	}
	for _, k := range sortedKeys(a.Env) {
		byName[k] = envVar{Name: k, Value: a.Env[k], Key: "env." + k}
	}
	out := make([]envVar, 0, len(byName))
	for _, k := range sortedKeys(byName) {
		v := byName[k]
		v.Secret = LooksSecret(v.Name, v.Value)
		out = append(out, v)
	}
	return out, nil
}

// ParseEnvFile reads an env file the way podman's --env-file does: one
// NAME=value per line, the value taken literally to the end of the line
// (no quotes are removed), leading blanks ignored, blank lines and lines
// starting with # skipped. A line with a name and no "=" takes the value
// from the host's environment; such names are returned in hostOnly.
func ParseEnvFile(data []byte) (vars [][2]string, hostOnly []string, err error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, hasValue := strings.Cut(line, "=")
		if name == "" || strings.ContainsAny(name, " \t") {
			return nil, nil, fmt.Errorf("line %d: %q is not NAME=value", n, line)
		}
		if !hasValue {
			hostOnly = append(hostOnly, name)
			continue
		}
		vars = append(vars, [2]string{name, value})
	}
	return vars, hostOnly, sc.Err()
}

// secretName matches variable names that usually hold credentials.
var secretName = regexp.MustCompile(`(?i)(PASSWORD|PASSWD|PASSPHRASE|(^|_)PASS($|_)|PWD$|SECRET|TOKEN|CREDENTIAL|PRIVATE|(^|_)(API|ACCESS|AUTH|ENCRYPTION|SIGNING|MASTER)_?KEY|(^|_)KEY$|(^|_)AUTH($|_)|SALT)`)

// secretValue matches values that carry a password themselves: a URL with
// user:password@ in it.
var secretValue = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s:]*:[^/@\s]+@`)

// LooksSecret reports whether an environment variable should be treated
// as a secret: its name says so (PASSWORD, SECRET, TOKEN, API_KEY, ...)
// or its value is a URL with a password in it. It errs on the side of
// secrecy: a false positive only moves a value into a Secret.
func LooksSecret(name, value string) bool {
	return secretName.MatchString(name) || secretValue.MatchString(value)
}
