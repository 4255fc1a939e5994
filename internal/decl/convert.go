package decl

import "time"

// The TOML decoder fills a struct by reflection, recording every key it
// decodes by its full name as it goes: for a declaration that is most of
// the cost of decoding. The functions here fill an App from the decoder's
// untyped document instead, by hand, but only when there is nothing to
// report: every key is one the schema knows, spelled exactly, and every
// value has exactly the type of its field. On anything else they give up
// (false), and Decode lets the decoder fill the App by reflection as
// before, so that every problem is reported in the decoder's own words.
// When they succeed, the App is the one the decoder would have made (the
// tests compare the two).
//
// A field added to App, or to a type it holds, needs its key here too;
// until then a declaration using it only takes the slower path.

// appFromTOML fills a from the document's top-level table.
func appFromTOML(t map[string]any, a *App) bool {
	for k, v := range t {
		var ok bool
		switch k {
		case "version":
			ok = tomlInt(v, &a.Version)
		case "description":
			ok = tomlString(v, &a.Description)
		case "enabled":
			var b bool
			if ok = tomlBool(v, &b); ok {
				a.Enabled = &b
			}
		case "image":
			ok = tomlString(v, &a.Image)
		case "pull":
			ok = tomlString(v, &a.Pull)
		case "build":
			a.Build = &Build{}
			ok = buildFromTOML(v, a.Build)
		case "command":
			ok = tomlStrings(v, &a.Command)
		case "entrypoint":
			ok = tomlStrings(v, &a.Entrypoint)
		case "workdir":
			ok = tomlString(v, &a.Workdir)
		case "env":
			ok = tomlStringMap(v, &a.Env)
		case "env_files":
			ok = tomlStrings(v, &a.EnvFiles)
		case "secrets":
			ok = tomlTables(v, &a.Secrets, secretFromTOML)
		case "ports":
			ok = tomlTables(v, &a.Ports, portFromTOML)
		case "volumes":
			ok = tomlTables(v, &a.Volumes, volumeFromTOML)
		case "binds":
			ok = tomlTables(v, &a.Binds, bindFromTOML)
		case "tmpfs":
			ok = tomlTables(v, &a.Tmpfs, tmpfsFromTOML)
		case "hostname":
			ok = tomlString(v, &a.Hostname)
		case "network":
			ok = tomlString(v, &a.Network)
		case "dns":
			ok = tomlStrings(v, &a.DNS)
		case "add_host":
			ok = tomlStrings(v, &a.AddHost)
		case "network_aliases":
			ok = tomlStrings(v, &a.NetworkAliases)
		case "user":
			ok = tomlString(v, &a.User)
		case "group":
			ok = tomlString(v, &a.Group)
		case "group_add":
			ok = tomlStrings(v, &a.GroupAdd)
		case "userns":
			ok = tomlString(v, &a.UserNS)
		case "uid_map":
			ok = tomlStrings(v, &a.UIDMap)
		case "gid_map":
			ok = tomlStrings(v, &a.GIDMap)
		case "cap_add":
			ok = tomlStrings(v, &a.CapAdd)
		case "cap_drop":
			ok = tomlStrings(v, &a.CapDrop)
		case "no_new_privileges":
			ok = tomlBool(v, &a.NoNewPrivileges)
		case "read_only":
			ok = tomlBool(v, &a.ReadOnly)
		case "devices":
			ok = tomlStrings(v, &a.Devices)
		case "sysctls":
			ok = tomlStringMap(v, &a.Sysctls)
		case "ulimits":
			ok = tomlStringMap(v, &a.Ulimits)
		case "systemd":
			ok = tomlBool(v, &a.Systemd)
		case "persistent":
			ok = tomlBool(v, &a.Persistent)
		case "keep_snapshots":
			ok = tomlInt(v, &a.KeepSnapshots)
		case "tty":
			ok = tomlBool(v, &a.TTY)
		case "init":
			ok = tomlBool(v, &a.Init)
		case "tz":
			ok = tomlString(v, &a.TZ)
		case "shm_size":
			ok = tomlString(v, &a.ShmSize)
		case "health":
			a.Health = &Health{}
			ok = healthFromTOML(v, a.Health)
		case "resources":
			ok = resourcesFromTOML(v, &a.Resources)
		case "update":
			a.Update = &Update{}
			ok = updateFromTOML(v, a.Update)
		case "restart":
			ok = tomlString(v, &a.Restart)
		case "stop_signal":
			ok = tomlString(v, &a.StopSignal)
		case "stop_timeout":
			ok = tomlDuration(v, &a.StopTimeout)
		case "labels":
			ok = tomlStringMap(v, &a.Labels)
		case "log_driver":
			ok = tomlString(v, &a.LogDriver)
		case "log_options":
			ok = tomlStringMap(v, &a.LogOptions)
		case "start_timeout":
			a.StartTimeout = &Duration{}
			ok = tomlDuration(v, a.StartTimeout)
		case "after":
			ok = tomlStrings(v, &a.After)
		case "requires":
			ok = tomlStrings(v, &a.Requires)
		case "wants":
			ok = tomlStrings(v, &a.Wants)
		case "requires_healthy":
			ok = tomlStrings(v, &a.RequiresHealthy)
		case "part_of":
			ok = tomlString(v, &a.PartOf)
		case "system_user":
			ok = tomlString(v, &a.SystemUser)
		case "podman_args":
			ok = tomlStrings(v, &a.PodmanArgs)
		}
		if !ok {
			return false
		}
	}
	return true
}

func buildFromTOML(v any, b *Build) bool {
	t, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range t {
		switch k {
		case "context":
			ok = tomlString(v, &b.Context)
		case "file":
			ok = tomlString(v, &b.File)
		case "args":
			ok = tomlStringMap(v, &b.Args)
		case "target":
			ok = tomlString(v, &b.Target)
		case "tag":
			ok = tomlString(v, &b.Tag)
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return true
}

func portFromTOML(t map[string]any, p *Port) bool {
	for k, v := range t {
		var ok bool
		switch k {
		case "host_ip":
			ok = tomlString(v, &p.HostIP)
		case "host_port":
			ok = tomlInt(v, &p.HostPort)
		case "container_port":
			ok = tomlInt(v, &p.ContainerPort)
		case "protocol":
			ok = tomlString(v, &p.Protocol)
		}
		if !ok {
			return false
		}
	}
	return true
}

func volumeFromTOML(t map[string]any, m *Volume) bool {
	for k, v := range t {
		var ok bool
		switch k {
		case "name":
			ok = tomlString(v, &m.Name)
		case "target":
			ok = tomlString(v, &m.Target)
		case "read_only":
			ok = tomlBool(v, &m.ReadOnly)
		case "driver":
			ok = tomlString(v, &m.Driver)
		case "options":
			ok = tomlStringMap(v, &m.Options)
		case "selinux":
			ok = tomlString(v, &m.SELinux)
		}
		if !ok {
			return false
		}
	}
	return true
}

func bindFromTOML(t map[string]any, b *Bind) bool {
	for k, v := range t {
		var ok bool
		switch k {
		case "source":
			ok = tomlString(v, &b.Source)
		case "target":
			ok = tomlString(v, &b.Target)
		case "read_only":
			ok = tomlBool(v, &b.ReadOnly)
		case "selinux":
			ok = tomlString(v, &b.SELinux)
		}
		if !ok {
			return false
		}
	}
	return true
}

func secretFromTOML(t map[string]any, s *Secret) bool {
	for k, v := range t {
		var ok bool
		switch k {
		case "name":
			ok = tomlString(v, &s.Name)
		case "file":
			ok = tomlString(v, &s.File)
		case "env":
			ok = tomlString(v, &s.Env)
		case "type":
			ok = tomlString(v, &s.Type)
		case "target":
			ok = tomlString(v, &s.Target)
		}
		if !ok {
			return false
		}
	}
	return true
}

func tmpfsFromTOML(t map[string]any, m *Tmpfs) bool {
	for k, v := range t {
		var ok bool
		switch k {
		case "target":
			ok = tomlString(v, &m.Target)
		case "options":
			ok = tomlStrings(v, &m.Options)
		}
		if !ok {
			return false
		}
	}
	return true
}

func healthFromTOML(v any, h *Health) bool {
	t, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range t {
		switch k {
		case "cmd":
			ok = tomlStrings(v, &h.Cmd)
		case "interval":
			ok = tomlDuration(v, &h.Interval)
		case "timeout":
			ok = tomlDuration(v, &h.Timeout)
		case "retries":
			ok = tomlInt(v, &h.Retries)
		case "start_period":
			ok = tomlDuration(v, &h.StartPeriod)
		case "on_failure":
			ok = tomlString(v, &h.OnFailure)
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return true
}

func updateFromTOML(v any, u *Update) bool {
	t, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range t {
		switch k {
		case "policy":
			ok = tomlString(v, &u.Policy)
		case "schedule":
			ok = tomlString(v, &u.Schedule)
		case "random_delay":
			u.RandomDelay = &Duration{}
			ok = tomlDuration(v, u.RandomDelay)
		case "health_window":
			ok = tomlDuration(v, &u.HealthWindow)
		case "keep_images":
			ok = tomlInt(v, &u.KeepImages)
		case "tls_verify":
			var b bool
			if ok = tomlBool(v, &b); ok {
				u.TLSVerify = &b
			}
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return true
}

func resourcesFromTOML(v any, r *Resources) bool {
	t, ok := v.(map[string]any)
	if !ok {
		return false
	}
	for k, v := range t {
		switch k {
		case "memory":
			ok = tomlString(v, &r.Memory)
		case "cpus":
			ok = tomlFloat(v, &r.CPUs)
		case "pids":
			ok = tomlInt(v, &r.Pids)
		default:
			ok = false
		}
		if !ok {
			return false
		}
	}
	return true
}

func tomlString(v any, dst *string) bool {
	s, ok := v.(string)
	*dst = s
	return ok
}

func tomlInt(v any, dst *int) bool {
	n, ok := v.(int64)
	*dst = int(n)
	return ok
}

func tomlBool(v any, dst *bool) bool {
	b, ok := v.(bool)
	*dst = b
	return ok
}

// maxExactFloatInt is the largest integer the decoder converts to a float
// (2^53-1, the last one a float64 holds exactly).
const maxExactFloatInt = 1<<53 - 1

func tomlFloat(v any, dst *float64) bool {
	switch n := v.(type) {
	case float64:
		*dst = n
	case int64:
		if n < -maxExactFloatInt || n > maxExactFloatInt {
			return false
		}
		*dst = float64(n)
	default:
		return false
	}
	return true
}

func tomlDuration(v any, dst *Duration) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return false
	}
	dst.Duration = d
	return true
}

// tomlStrings fills an array of strings. Like the decoder, it makes a
// slice even for an empty array.
func tomlStrings(v any, dst *[]string) bool {
	arr, ok := v.([]any)
	if !ok {
		return false
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		if out[i], ok = e.(string); !ok {
			return false
		}
	}
	*dst = out
	return true
}

// tomlStringMap fills a table of strings. Like the decoder, it makes a
// map even for an empty table.
func tomlStringMap(v any, dst *map[string]string) bool {
	t, ok := v.(map[string]any)
	if !ok {
		return false
	}
	out := make(map[string]string, len(t))
	for k, e := range t {
		s, ok := e.(string)
		if !ok {
			return false
		}
		out[k] = s
	}
	*dst = out
	return true
}

// tomlTables fills an array of tables, written as [[key]] sections or as
// an array of inline tables.
func tomlTables[T any](v any, dst *[]T, fill func(map[string]any, *T) bool) bool {
	switch arr := v.(type) {
	case []map[string]any:
		out := make([]T, len(arr))
		for i, t := range arr {
			if !fill(t, &out[i]) {
				return false
			}
		}
		*dst = out
	case []any:
		out := make([]T, len(arr))
		for i, e := range arr {
			t, ok := e.(map[string]any)
			if !ok || !fill(t, &out[i]) {
				return false
			}
		}
		*dst = out
	default:
		return false
	}
	return true
}
