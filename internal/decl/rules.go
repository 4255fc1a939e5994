package decl

import "sort"

// KeyRule is what validation accepts for one string key beyond its type,
// for tools that describe declarations (the JSON Schema): one of Enum, or
// a match of Pattern (an ECMA-262 regular expression, anchored).
type KeyRule struct {
	Enum    []string
	Pattern string
}

// Patterns of the string forms Decode and Validate accept.
const (
	// DurationPattern is Go's duration syntax (time.ParseDuration).
	DurationPattern = `^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`
	// SecretNamePattern is a [[secrets]] name (isVolumeName).
	SecretNamePattern = `^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$`
	// SizePattern is what docker/go-units RAMInBytes reads (ParseSize).
	SizePattern = `^([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)? ?([kKmMgGtTpP]([iI]?[bB])?|[bB])?$`
)

// KeyRules returns the rules of keys by key path, array elements without
// an index (ports.protocol). The enumerations are the very sets Validate
// checks, so the two cannot drift; "" stands for a key left to its
// default.
func KeyRules() map[string]KeyRule {
	enum := func(s map[string]bool) KeyRule {
		vs := make([]string, 0, len(s)+1)
		empty := false
		for v := range s {
			if v == "" {
				empty = true
				continue
			}
			vs = append(vs, v)
		}
		sort.Strings(vs)
		if empty {
			vs = append([]string{""}, vs...)
		}
		return KeyRule{Enum: vs}
	}
	withDefault := func(s map[string]bool) map[string]bool {
		m := map[string]bool{"": true}
		for k := range s {
			m[k] = true
		}
		return m
	}
	return map[string]KeyRule{
		"pull":              enum(withDefault(pullPolicies)),
		"restart":           enum(withDefault(restartValues)),
		"log_driver":        enum(withDefault(logDrivers)),
		"health.on_failure": enum(withDefault(healthActions)),
		"ports.protocol":    enum(withDefault(protocols)),
		"binds.selinux":     enum(selinuxLabels),
		"volumes.selinux":   enum(volumeRelabels),
		"system_user":       enum(systemUsers),
		"resources.memory":  {Pattern: SizePattern},
		"shm_size":          {Pattern: SizePattern},
		"secrets.type":      enum(withDefault(secretTypes)),
		"secrets.name":      {Pattern: SecretNamePattern},
	}
}
