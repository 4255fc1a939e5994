package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// iniEntry is one key=value line of a unit file.
type iniEntry struct {
	section, key, value string
	line                int
}

// parseUnit reads systemd unit file syntax: [Section] headers, Key=Value
// lines, # and ; comments, lines continued with a trailing backslash.
func parseUnit(data []byte) ([]iniEntry, error) {
	var out []iniEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	section, n := "", 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		start := n
		for strings.HasSuffix(line, `\`) && sc.Scan() {
			n++
			line = strings.TrimSuffix(line, `\`) + " " + strings.TrimSpace(sc.Text())
		}
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: %q is not a section header", start, line)
			}
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is not Key=Value", start, line)
			}
			out = append(out, iniEntry{section, strings.TrimSpace(k), strings.TrimSpace(v), start})
		}
	}
	return out, sc.Err()
}

// splitWords splits a value the way systemd splits command lines and
// lists: on spaces, with "double" and 'single' quotes and backslash
// escapes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in, quote, esc := false, byte(0), false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case esc:
			cur.WriteByte(c)
			esc = false
		case c == '\\' && quote != '\'':
			esc, in = true, true
		case quote != 0:
			if c == quote {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
		case c == '"' || c == '\'':
			quote, in = c, true
		case c == ' ' || c == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 || esc {
		return nil, errors.New("unterminated quote or escape")
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// quadletFlags maps [Container] keys to the podman run flag each one
// stands for; one value per line.
var quadletFlags = map[string]string{
	"ContainerName": "--name", "HostName": "--hostname", "Network": "--network", "NetworkAlias": "--network-alias",
	"DNS": "--dns", "User": "--user", "UserNS": "--userns", "UIDMap": "--uidmap", "GIDMap": "--gidmap",
	"AddDevice": "--device", "Sysctl": "--sysctl", "Ulimit": "--ulimit", "Label": "--label", "LogDriver": "--log-driver",
	"LogOpt": "--log-opt", "WorkingDir": "--workdir", "Timezone": "--tz", "ShmSize": "--shm-size", "GroupAdd": "--group-add",
	"AddHost": "--add-host", "Pull": "--pull", "StopSignal": "--stop-signal", "StopTimeout": "--stop-timeout",
	"PublishPort": "--publish", "Volume": "--volume", "Mount": "--mount", "Tmpfs": "--tmpfs", "EnvironmentFile": "--env-file",
	"HealthCmd": "--health-cmd", "HealthInterval": "--health-interval", "HealthTimeout": "--health-timeout",
	"HealthRetries": "--health-retries", "HealthStartPeriod": "--health-start-period", "HealthOnFailure": "--health-on-failure",
	"Memory": "--memory", "PidsLimit": "--pids-limit", "SecurityLabelDisable": "", "Entrypoint": "--entrypoint",
}

// Quadlet turns a Quadlet .container file into a declaration. read reads
// a file beside it (the .volume and .network files it names); it may be
// nil.
func Quadlet(file string, data []byte, read func(name string) ([]byte, error)) (*Decl, error) {
	entries, err := parseUnit(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	base := strings.TrimSuffix(filepath.Base(file), ".container")
	argv := []string{"podman", "run", "--name", base}
	var image string
	var command []string
	var later []func(d *Decl)
	volOpts := map[string]map[string]string{}
	note := func(e iniEntry, lost bool, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		later = append(later, func(d *Decl) {
			d.Note(fmt.Sprintf("%s:%d: %s", filepath.Base(file), e.line, e.key), lost, "%s", msg)
		})
	}
	for _, e := range entries {
		switch e.section {
		case "Container":
		case "Unit":
			switch e.key {
			case "Description":
				v := e.value
				later = append(later, func(d *Decl) { d.Set("description", Str(v), "") })
			case "Requires", "Wants", "After", "BindsTo":
				key := map[string]string{"Requires": "requires", "Wants": "wants", "After": "after", "BindsTo": "requires"}[e.key]
				words, _ := splitWords(e.value)
				for _, w := range words {
					if w == "network-online.target" || w == "network.target" {
						continue // ynhd orders every app with a network after it (ynhd-network-online.service)
					}
					app, ok := unitApp(w)
					if !ok {
						note(e, true, "%s is not another Quadlet container here; order against it with a unit of your own", w)
						continue
					}
					later = append(later, func(d *Decl) { d.Append(key, app) })
					if e.key == "BindsTo" {
						note(e, false, "BindsTo=%s became requires (stopping %s does not stop this app)", w, app)
					}
				}
			default:
				note(e, true, "[Unit] %s has no declaration key", e.key)
			}
			continue
		case "Service":
			switch e.key {
			case "Restart":
				argv = append(argv, "--restart="+e.value)
			case "TimeoutStartSec":
				v := e.value
				if d, err := parseSeconds(v); err == nil {
					later = append(later, func(dd *Decl) { dd.Set("start_timeout", Str(d.String()), "") })
				} else {
					note(e, true, "%q is not a duration", v)
				}
			case "TimeoutStopSec":
				note(e, false, "ynhd sets TimeoutStopSec from stop_timeout plus 30 s")
			default:
				note(e, true, "[Service] %s has no declaration key", e.key)
			}
			continue
		case "Install":
			continue // ynhd enables every app into default.target
		default:
			note(e, true, "section [%s] has no declaration form", e.section)
			continue
		}
		switch e.key {
		case "Image":
			image = e.value
			if strings.HasSuffix(image, ".image") || strings.HasSuffix(image, ".build") {
				note(e, true, "%s names a Quadlet %s unit; set image (or [build]) in the declaration", image, filepath.Ext(image))
			}
		case "Exec":
			words, err := splitWords(e.value)
			if err != nil {
				note(e, true, "Exec: %v", err)
				continue
			}
			command = words
		case "Environment":
			words, err := splitWords(e.value)
			if err != nil {
				note(e, true, "Environment: %v", err)
				continue
			}
			for _, w := range words {
				argv = append(argv, "--env="+w)
			}
		case "AddCapability", "DropCapability":
			flag := map[string]string{"AddCapability": "--cap-add=", "DropCapability": "--cap-drop="}[e.key]
			words, _ := splitWords(e.value)
			for _, w := range words {
				argv = append(argv, flag+w)
			}
		case "NoNewPrivileges":
			if e.value == "true" || e.value == "yes" {
				argv = append(argv, "--security-opt=no-new-privileges")
			}
		case "ReadOnly":
			if e.value == "true" || e.value == "yes" {
				argv = append(argv, "--read-only")
			}
		case "RunInit":
			if e.value == "true" || e.value == "yes" {
				argv = append(argv, "--init")
			}
		case "Notify":
			switch e.value {
			case "true", "yes":
				argv = append(argv, "--systemd=always")
				note(e, false, "Notify=true became systemd = true (readiness from the container's own init)")
			case "healthy":
				later = append(later, func(d *Decl) { d.notifyHealthy = true })
				note(e, false, "Notify=healthy: the apps imported with this one that need it wait for its health (requires_healthy); others must list it there")
			}
		case "PodmanArgs":
			words, err := splitWords(e.value)
			if err != nil {
				note(e, true, "PodmanArgs: %v", err)
				continue
			}
			argv = append(argv, words...)
		case "Secret":
			argv = append(argv, "--secret="+e.value)
		case "Pod":
			// Quadlet names a pod after its file (NAME.pod); the group
			// takes that name.
			if g, ok := strings.CutSuffix(e.value, ".pod"); ok && groupName.MatchString(g) {
				later = append(later, func(d *Decl) { d.Set("part_of", Str(g), "") })
				note(e, false, "the pod %s became the group %s: its apps start, stop and restart together, but do not share a pod's namespaces (network, IPC, UTS); on a shared network they reach each other by name", e.value, g)
				continue
			}
			note(e, true, "pods have no declaration form; apps on a shared network reach each other by name")
		default:
			flag, ok := quadletFlags[e.key]
			if !ok || flag == "" {
				note(e, true, "[Container] %s has no declaration key", e.key)
				continue
			}
			v := e.value
			switch e.key {
			case "Volume":
				v = quadletVolume(v, read, volOpts, func(msg string) { note(e, true, "%s", msg) })
			case "Network":
				if base, ok := strings.CutSuffix(v, ".network"); ok {
					// Quadlet names a network after its file, systemd-NAME,
					// unless the file says NetworkName=.
					v = "systemd-" + base
					if read != nil {
						if nd, err := read(base + ".network"); err == nil {
							if name := unitValue(nd, "Network", "NetworkName"); name != "" {
								v = name
							}
						}
					}
				}
			case "StopTimeout":
				if dd, err := parseSeconds(v); err == nil {
					v = fmt.Sprint(int(dd.Seconds()))
				}
			}
			argv = append(argv, flag+"="+v)
		}
	}
	if image == "" {
		return nil, fmt.Errorf("%s: no Image= in [Container]", file)
	}
	argv = append(append(argv, image), command...)
	d, err := Run(argv)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	d.Source = file
	for _, f := range later {
		f(d)
	}
	for name, opts := range volOpts {
		d.volumeOptions(name, opts)
	}
	return d, nil
}

// unitApp returns the app a unit name stands for when it is another
// Quadlet container (NAME.container, or NAME.service that Quadlet
// generates from it).
func unitApp(unit string) (string, bool) {
	for _, suf := range []string{".container", ".service"} {
		if name, ok := strings.CutSuffix(unit, suf); ok && name != "" && !strings.Contains(name, "@") {
			return name, true
		}
	}
	return "", false
}

func parseSeconds(v string) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return d, nil
	}
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err == nil && fmt.Sprint(n) == v {
		return time.Duration(n) * time.Second, nil
	}
	return 0, fmt.Errorf("%q is not a duration", v)
}

// unitValue returns the last value of section.key in a unit file.
func unitValue(data []byte, section, key string) string {
	es, err := parseUnit(data)
	if err != nil {
		return ""
	}
	v := ""
	for _, e := range es {
		if e.section == section && e.key == key {
			v = e.value
		}
	}
	return v
}

// quadletVolume rewrites a Volume= value whose source is a .volume file
// into the volume's name, and records its driver options.
func quadletVolume(v string, read func(string) ([]byte, error), opts map[string]map[string]string, lost func(string)) string {
	src, rest, ok := strings.Cut(v, ":")
	if !ok || !strings.HasSuffix(src, ".volume") {
		return v
	}
	// Quadlet names a volume after its file, systemd-NAME, unless the
	// file says VolumeName=.
	name := "systemd-" + strings.TrimSuffix(src, ".volume")
	if read != nil {
		if data, err := read(src); err == nil {
			if n := unitValue(data, "Volume", "VolumeName"); n != "" {
				name = n
			}
			o := map[string]string{}
			for _, k := range []string{"Type", "Device", "Options"} {
				if val := unitValue(data, "Volume", k); val != "" {
					o[map[string]string{"Type": "type", "Device": "device", "Options": "o"}[k]] = val
				}
			}
			if len(o) > 0 {
				opts[name] = o
			}
		} else {
			lost(fmt.Sprintf("%s could not be read (%v); the volume is declared without its options", src, err))
		}
	}
	return name + ":" + rest
}

// volumeOptions adds driver options to the [[volumes]] table of name.
func (d *Decl) volumeOptions(name string, opts map[string]string) {
	for i := range d.tables {
		t := &d.tables[i]
		if t.name != "volumes" {
			continue
		}
		for _, e := range t.entries {
			if e.key == "name" && e.value == Str(name) {
				t.entries = append(t.entries, entry{key: "options", value: Map(opts)})
				return
			}
		}
	}
}

// LinkHealthy turns Notify=healthy of imported Quadlet containers into
// requires_healthy of the imported apps that require or start after
// them: Quadlet holds the dependents back until the container reports
// healthy, and so does requires_healthy.
func LinkHealthy(ds []*Decl) {
	healthy := map[string]bool{}
	for _, d := range ds {
		if d.notifyHealthy {
			healthy[d.Name] = true
		}
	}
	for _, d := range ds {
		seen := map[string]bool{}
		for _, key := range []string{"requires", "after"} {
			for _, dep := range d.list(key) {
				if healthy[dep] && !seen[dep] {
					seen[dep] = true
					d.Append("requires_healthy", dep)
					d.Note("Notify=healthy", false, "%s reports its health to the manager (Notify=healthy): %s waits for it with requires_healthy", dep, d.Name)
				}
			}
		}
	}
}

// list returns the strings of a top-level array set with Append.
func (d *Decl) list(key string) []string {
	for _, e := range d.top {
		if e.key != key {
			continue
		}
		var out []string
		for _, part := range strings.Split(strings.TrimSuffix(strings.TrimPrefix(e.value, "["), "]"), ", ") {
			if v, err := strconv.Unquote(part); err == nil {
				out = append(out, v)
			}
		}
		return out
	}
	return nil
}
