package importer

import (
	"errors"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// runFlag is how one `podman run` flag is read: whether it takes a value,
// and what it becomes.
type runFlag struct {
	value bool
	apply func(r *runImport, name, v string)
}

// runImport gathers one command line.
type runImport struct {
	d       *Decl
	env     map[string]string
	labels  map[string]string
	sysctls map[string]string
	ulimits map[string]string
	logOpts map[string]string
	extra   []string // flags carried to podman_args
}

// Run turns a `podman run` or `docker run` command line into a
// declaration. args start at the program ("podman", "docker", or a path
// to one) or directly at "run"; "container run" works too.
func Run(args []string) (*Decl, error) {
	if len(args) > 0 && (path.Base(args[0]) == "podman" || path.Base(args[0]) == "docker") {
		args = args[1:]
	}
	if len(args) > 0 && args[0] == "container" {
		args = args[1:]
	}
	if len(args) == 0 || (args[0] != "run" && args[0] != "create") {
		return nil, errors.New(`expected a "podman run" or "docker run" command line`)
	}
	verb := args[0]
	args = args[1:]
	r := &runImport{d: &Decl{Source: "`" + shortLine(verb, args) + "`"}, env: map[string]string{}, labels: map[string]string{},
		sysctls: map[string]string{}, ulimits: map[string]string{}, logOpts: map[string]string{}}
	image := ""
	var command []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			i++
			if i < len(args) {
				image, command = args[i], args[i+1:]
			}
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			image, command = a, args[i+1:]
			break
		}
		names, inline, hasInline := splitFlag(a)
		for j, name := range names {
			f, ok := runFlags[name]
			if !ok {
				r.unknown(name, args, &i, inline, hasInline && j == len(names)-1)
				break
			}
			v := ""
			if f.value {
				switch {
				case hasInline && j == len(names)-1:
					v = inline
				case j == len(names)-1 && i+1 < len(args):
					i++
					v = args[i]
				default:
					return nil, fmt.Errorf("%s needs a value", flagName(name))
				}
			} else if hasInline {
				v = inline // --rm=false, --read-only=true
			}
			if f.apply != nil {
				f.apply(r, name, v)
			}
		}
	}
	if image == "" {
		return nil, errors.New("no image in the command line")
	}
	r.d.Set("image", Str(image), "")
	if !strings.Contains(image, "/") && !strings.HasPrefix(image, "localhost") {
		r.d.Note("image", false, "%q is a short name: ynhd lets podman resolve it through registries.conf; write the full name (e.g. docker.io/library/%s) to pin where it comes from", image, image)
	}
	if len(command) > 0 {
		r.d.Set("command", Strs(command), "")
	}
	if r.d.Name == "" {
		r.d.Name = nameFromImage(image)
		r.d.Note("--name", false, "no --name: the app is called %q after its image; rename the file to change it", r.d.Name)
	}
	r.finish()
	return r.d, nil
}

func shortLine(verb string, args []string) string {
	s := "podman " + verb + " " + strings.Join(args, " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// splitFlag splits "-abc" into its short flags and "--name=value" into
// its name and value.
func splitFlag(a string) (names []string, inline string, has bool) {
	if strings.HasPrefix(a, "--") {
		n, v, ok := strings.Cut(a[2:], "=")
		return []string{"--" + n}, v, ok
	}
	body := a[1:]
	// -p=80:80 and -v/src:dst are values glued to a short flag.
	for k := 0; k < len(body); k++ {
		name := "-" + body[k:k+1]
		names = append(names, name)
		if f, ok := runFlags[name]; ok && f.value && k+1 < len(body) {
			return names, strings.TrimPrefix(body[k+1:], "="), true
		}
	}
	return names, "", false
}

func flagName(n string) string { return n }

// unknown carries a flag ynhd has no key for into podman_args, with its
// value when it has one ("--flag=value" or a following word that is not a
// flag and not the last: the image), and notes it.
func (r *runImport) unknown(name string, args []string, i *int, inline string, hasInline bool) {
	if !strings.HasPrefix(name, "--") {
		r.d.Note(name, true, "an unknown short flag; write the long form into podman_args if the app needs it")
		return
	}
	word := name
	switch {
	case hasInline:
		word += "=" + inline
	case *i+2 < len(args) && !strings.HasPrefix(args[*i+1], "-") && looksLikeValue(args[*i+1]):
		*i++
		word += "=" + args[*i]
	}
	r.extra = append(r.extra, word)
	r.d.Note(name, false, "no declaration key: carried in podman_args (ynhd check says whether it is allowed)")
}

// looksLikeValue guesses whether the word after an unknown flag is its
// value rather than the image: images have a slash, a colon or a dot
// more often than values, so only plain words are taken.
func looksLikeValue(w string) bool {
	return !strings.ContainsAny(w, "/:.") || strings.HasPrefix(w, "/")
}

func (r *runImport) finish() {
	d := r.d
	if len(r.env) > 0 {
		d.Set("env", Map(r.env), "")
	}
	if len(r.labels) > 0 {
		d.Set("labels", Map(r.labels), "")
	}
	if len(r.sysctls) > 0 {
		d.Set("sysctls", Map(r.sysctls), "")
	}
	if len(r.ulimits) > 0 {
		d.Set("ulimits", Map(r.ulimits), "")
	}
	if len(r.logOpts) > 0 {
		d.Set("log_options", Map(r.logOpts), "")
	}
	if len(r.extra) > 0 {
		d.Set("podman_args", Strs(r.extra), "flags without a declaration key")
	}
}

func nameFromImage(image string) string {
	base := path.Base(image)
	if i := strings.IndexAny(base, ":@"); i >= 0 {
		base = base[:i]
	}
	var b strings.Builder
	for _, c := range strings.ToLower(base) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' {
			b.WriteRune(c)
		} else {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-_")
	if name == "" {
		name = "app"
	}
	return name
}

func set(key string) func(r *runImport, _, v string) {
	return func(r *runImport, _, v string) { r.d.Set(key, Str(v), "") }
}

func appendTo(key string) func(r *runImport, _, v string) {
	return func(r *runImport, _, v string) { r.d.Append(key, v) }
}

func ignore(why string) func(r *runImport, name, v string) {
	return func(r *runImport, name, v string) {
		if why != "" {
			r.d.Note(name, true, "%s", why)
		}
	}
}

func boolFlag(v string) bool { return v == "" || v == "true" }

var runFlags map[string]runFlag

func init() {
	runFlags = map[string]runFlag{
		"--name": {true, func(r *runImport, _, v string) { r.d.Name = v }},
		"-d":     {false, nil}, "--detach": {false, nil},
		"-i": {false, nil}, "--interactive": {false, nil},
		"--rm": {false, nil}, "--replace": {false, nil},
		"-t": {false, func(r *runImport, _, v string) {
			if boolFlag(v) {
				r.d.Set("tty", "true", "")
			}
		}},
		"--tty": {false, func(r *runImport, _, v string) {
			if boolFlag(v) {
				r.d.Set("tty", "true", "")
			}
		}},
		"-e": {true, envFlag}, "--env": {true, envFlag},
		"--env-file": {true, appendTo("env_files")},
		"-p":         {true, publish}, "--publish": {true, publish},
		"-P": {false, ignore("publish-all picks random host ports; declare each port with ports")}, "--publish-all": {false, ignore("publish-all picks random host ports; declare each port with ports")},
		"-v": {true, volumeFlag}, "--volume": {true, volumeFlag},
		"--mount": {true, mountFlag},
		"--tmpfs": {true, tmpfsFlag},
		"-h":      {true, set("hostname")}, "--hostname": {true, set("hostname")},
		"--network": {true, set("network")}, "--net": {true, set("network")},
		"--network-alias": {true, appendTo("network_aliases")},
		"--dns":           {true, appendTo("dns")},
		"-u":              {true, userFlag}, "--user": {true, userFlag},
		"--userns":    {true, set("userns")},
		"--uidmap":    {true, appendTo("uid_map")},
		"--gidmap":    {true, appendTo("gid_map")},
		"--cap-add":   {true, capFlag("cap_add")},
		"--cap-drop":  {true, capFlag("cap_drop")},
		"--read-only": {false, func(r *runImport, _, v string) { r.d.Set("read_only", Bool(boolFlag(v)), "") }},
		"--security-opt": {true, func(r *runImport, name, v string) {
			if v == "no-new-privileges" || v == "no-new-privileges:true" || v == "no-new-privileges=true" {
				r.d.Set("no_new_privileges", "true", "")
				return
			}
			r.extra = append(r.extra, "--security-opt="+v)
			r.d.Note(name, false, "%s: carried in podman_args", v)
		}},
		"--device": {true, appendTo("devices")},
		"--sysctl": {true, kvFlag(func(r *runImport) map[string]string { return r.sysctls })},
		"--ulimit": {true, func(r *runImport, name, v string) {
			k, val, ok := strings.Cut(v, "=")
			if !ok {
				r.d.Note(name, true, "%q is not NAME=LIMIT", v)
				return
			}
			r.ulimits[k] = val
		}},
		"--label": {true, kvFlag(func(r *runImport) map[string]string { return r.labels })}, "-l": {true, kvFlag(func(r *runImport) map[string]string { return r.labels })},
		"--log-driver": {true, set("log_driver")},
		"--log-opt":    {true, kvFlag(func(r *runImport) map[string]string { return r.logOpts })},
		"--entrypoint": {true, func(r *runImport, _, v string) {
			if strings.HasPrefix(v, "[") {
				r.d.Set("entrypoint", v, "a JSON array, kept as written")
				return
			}
			r.d.Set("entrypoint", Strs([]string{v}), "")
		}},
		"-w": {true, set("workdir")}, "--workdir": {true, set("workdir")},
		"--systemd": {true, func(r *runImport, name, v string) {
			switch v {
			case "always", "true":
				r.d.Set("systemd", "true", "")
			case "false":
			default:
				r.d.Note(name, false, "--systemd=%s: ynhd runs systemd mode only when asked (systemd = true)", v)
			}
		}},
		"--tz":        {true, set("tz")},
		"--shm-size":  {true, set("shm_size")},
		"--group-add": {true, appendTo("group_add")},
		"--add-host":  {true, appendTo("add_host")},
		"--init":      {false, func(r *runImport, _, v string) { r.d.Set("init", Bool(boolFlag(v)), "") }},
		"--pull": {true, func(r *runImport, name, v string) {
			switch v {
			case "always", "missing", "never", "newer":
				r.d.Set("pull", Str(v), "")
			default:
				r.d.Note(name, true, "--pull=%s: use always, missing, never or newer", v)
			}
		}},
		"--restart":     {true, restartFlag},
		"--stop-signal": {true, set("stop_signal")},
		"--stop-timeout": {true, func(r *runImport, name, v string) {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				r.d.Set("stop_timeout", Str((time.Duration(n) * time.Second).String()), "")
				return
			}
			r.d.Note(name, true, "%q is not a number of seconds", v)
		}},
		"-m": {true, resource("memory", false)}, "--memory": {true, resource("memory", false)},
		"--cpus":       {true, resource("cpus", true)},
		"--pids-limit": {true, resource("pids", true)},
		"--health-cmd": {true, func(r *runImport, _, v string) {
			if strings.HasPrefix(v, "[") {
				r.d.SetIn("health", "cmd", v, "a JSON array, kept as written")
				return
			}
			r.d.SetIn("health", "cmd", Strs([]string{"/bin/sh", "-c", v}), "podman runs a string check with /bin/sh -c")
		}},
		"--health-interval":     {true, healthDur("interval")},
		"--health-timeout":      {true, healthDur("timeout")},
		"--health-start-period": {true, healthDur("start_period")},
		"--health-retries": {true, func(r *runImport, name, v string) {
			if n, err := strconv.Atoi(v); err == nil {
				r.d.SetIn("health", "retries", Int(n), "")
				return
			}
			r.d.Note(name, true, "%q is not a number", v)
		}},
		"--health-on-failure": {true, func(r *runImport, _, v string) { r.d.SetIn("health", "on_failure", Str(v), "") }},
		"--privileged": {false, func(r *runImport, name, v string) {
			if boolFlag(v) {
				r.d.Note(name, true, "refused: ynhd never runs a container privileged (every capability, every device, no confinement); add the capabilities (cap_add) and devices (devices) the app needs")
			}
		}},
		"--description": {true, set("description")},
		"--secret":      {true, secretFlag},
	}
}

func envFlag(r *runImport, name, v string) {
	k, val, ok := strings.Cut(v, "=")
	if !ok {
		r.d.Note(name, true, "%s has no value: it would come from the environment of the podman command; give it one in env", k)
		return
	}
	r.env[k] = val
}

func kvFlag(m func(r *runImport) map[string]string) func(r *runImport, name, v string) {
	return func(r *runImport, name, v string) {
		k, val, _ := strings.Cut(v, "=")
		m(r)[k] = val
	}
}

func capFlag(key string) func(r *runImport, name, v string) {
	return func(r *runImport, name, v string) {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" {
				r.d.Append(key, strings.ToUpper(c))
			}
		}
	}
}

func userFlag(r *runImport, _, v string) {
	u, g, ok := strings.Cut(v, ":")
	r.d.Set("user", Str(u), "")
	if ok {
		r.d.Set("group", Str(g), "")
	}
}

func restartFlag(r *runImport, name, v string) {
	policy, _, _ := strings.Cut(v, ":")
	switch policy {
	case "no", "always", "on-failure":
		r.d.Set("restart", Str(policy), "")
	case "unless-stopped":
		r.d.Set("restart", Str("always"), "unless-stopped: ynhd keeps an app stopped with `ynhd stop` stopped")
		r.d.Note(name, false, "unless-stopped became always: `ynhd stop APP` keeps an app stopped until `ynhd start`")
	default:
		r.d.Note(name, true, "unknown restart policy %q", v)
	}
	if strings.Contains(v, ":") {
		r.d.Note(name, true, "a retry count (%s) has no form: systemd restarts at most 3 times in 60 s, then ynhd with backoff", v)
	}
}

func resource(key string, number bool) func(r *runImport, name, v string) {
	return func(r *runImport, name, v string) {
		if !number {
			r.d.SetIn("resources", key, Str(strings.ToLower(v)), "")
			return
		}
		if key == "cpus" {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				r.d.SetIn("resources", key, strconv.FormatFloat(f, 'f', -1, 64), "")
				return
			}
		} else if n, err := strconv.Atoi(v); err == nil {
			r.d.SetIn("resources", key, Int(n), "")
			return
		}
		r.d.Note(name, true, "%q is not a number", v)
	}
}

func healthDur(key string) func(r *runImport, name, v string) {
	return func(r *runImport, name, v string) {
		if _, err := time.ParseDuration(v); err != nil {
			if n, err := strconv.Atoi(v); err == nil {
				v = (time.Duration(n) * time.Second).String()
			} else {
				r.d.Note(name, true, "%q is not a duration", v)
				return
			}
		}
		r.d.SetIn("health", key, Str(v), "")
	}
}

// publish reads [[IP:]HOST:]CONTAINER[/PROTO]; a range becomes one port
// per number (up to 32).
func publish(r *runImport, name, v string) {
	spec, proto, _ := strings.Cut(v, "/")
	parts := splitHostPort(spec)
	var ip, host, ctr string
	switch len(parts) {
	case 1:
		r.d.Note(name, true, "%s publishes container port %s on a random host port; declare the host port (host_port)", v, parts[0])
		return
	case 2:
		host, ctr = parts[0], parts[1]
	case 3:
		ip, host, ctr = parts[0], parts[1], parts[2]
	default:
		r.d.Note(name, true, "%q is not [IP:]HOST:CONTAINER[/PROTO]", v)
		return
	}
	hs, he, err1 := portRange(host)
	cs, ce, err2 := portRange(ctr)
	if err1 != nil || err2 != nil || he-hs != ce-cs || he-hs > 31 {
		r.d.Note(name, true, "%q: ports must be numbers, ranges of the same length, at most 32", v)
		return
	}
	for k := 0; k <= he-hs; k++ {
		es := [][3]string{{"host_port", Int(hs + k), ""}, {"container_port", Int(cs + k), ""}}
		if ip != "" {
			es = append([][3]string{{"host_ip", Str(strings.Trim(ip, "[]")), ""}}, es...)
		}
		if proto != "" && proto != "tcp" {
			es = append(es, [3]string{"protocol", Str(proto), ""})
		}
		r.d.Add("ports", es...)
	}
}

// splitHostPort splits on colons outside brackets ([::1]:80:80).
func splitHostPort(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '[':
			depth++
		case ']':
			depth--
		case ':':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func portRange(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "-")
	x, err := strconv.Atoi(a)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return x, x, nil
	}
	y, err := strconv.Atoi(b)
	if err != nil || y < x {
		return 0, 0, fmt.Errorf("bad range %q", s)
	}
	return x, y, nil
}

// volumeFlag reads SOURCE:TARGET[:OPTIONS]: a source with a slash is a
// bind, otherwise a named volume; a lone TARGET is an anonymous volume.
func volumeFlag(r *runImport, name, v string) {
	parts := strings.Split(v, ":")
	if len(parts) == 1 {
		r.d.Note(name, true, "%q is an anonymous volume, gone with its container; name it (NAME:%s) to keep its data", v, v)
		return
	}
	src, dst := parts[0], parts[1]
	ro, selinux := false, ""
	if len(parts) > 2 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				ro = true
			case "rw", "":
			case "Z":
				selinux = "private"
			case "z":
				selinux = "shared"
			default:
				r.d.Note(name, true, "volume option %q of %s has no key", o, v)
			}
		}
	}
	r.mount(src, dst, ro, selinux)
}

func (r *runImport) mount(src, dst string, ro bool, selinux string) {
	if strings.HasPrefix(src, "/") || strings.HasPrefix(src, ".") || strings.HasPrefix(src, "~") {
		es := [][3]string{{"source", Str(src), ""}, {"target", Str(dst), ""}}
		if ro {
			es = append(es, [3]string{"read_only", "true", ""})
		}
		if selinux != "" {
			es = append(es, [3]string{"selinux", Str(map[string]string{"private": "Z", "shared": "z"}[selinux]), ""})
		}
		r.d.Add("binds", es...)
		return
	}
	es := [][3]string{{"name", Str(src), ""}, {"target", Str(dst), ""}}
	if ro {
		es = append(es, [3]string{"read_only", "true", ""})
	}
	if selinux != "" {
		es = append(es, [3]string{"selinux", Str(selinux), ""})
	}
	r.d.Add("volumes", es...)
}

// mountFlag reads --mount type=...,source=...,target=...[,ro].
func mountFlag(r *runImport, name, v string) {
	opts := map[string]string{}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			val = "true"
		}
		opts[k] = val
	}
	src := first(opts, "source", "src")
	dst := first(opts, "target", "destination", "dst")
	ro := opts["ro"] == "true" || opts["readonly"] == "true" || opts["ro"] == "1"
	switch opts["type"] {
	case "volume", "":
		if src == "" {
			r.d.Note(name, true, "%q is an anonymous volume, gone with its container; name it to keep its data", v)
			return
		}
		r.mount(src, dst, ro, map[string]string{"private": "private", "shared": "shared"}[opts["relabel"]])
	case "bind":
		if !strings.HasPrefix(src, "/") {
			src = "./" + src
		}
		r.mount(src, dst, ro, "")
	case "tmpfs":
		es := [][3]string{{"target", Str(dst), ""}}
		var o []string
		if size := opts["tmpfs-size"]; size != "" {
			o = append(o, "size="+strings.ToLower(size))
		}
		if mode := opts["tmpfs-mode"]; mode != "" {
			o = append(o, "mode="+mode)
		}
		if len(o) > 0 {
			es = append(es, [3]string{"options", Strs(o), ""})
		}
		r.d.Add("tmpfs", es...)
	default:
		r.d.Note(name, true, "mount type %q has no key", opts["type"])
	}
}

func first(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// tmpfsFlag reads PATH[:OPTIONS].
func tmpfsFlag(r *runImport, name, v string) {
	p, opts, _ := strings.Cut(v, ":")
	es := [][3]string{{"target", Str(p), ""}}
	var o []string
	for _, x := range strings.Split(opts, ",") {
		if x != "" {
			o = append(o, x)
		}
	}
	if len(o) > 0 {
		es = append(es, [3]string{"options", Strs(o), ""})
	}
	r.d.Add("tmpfs", es...)
}
