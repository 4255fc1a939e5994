package importer

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// ComposeOptions say which compose project to read, as `docker compose`'s
// flags do.
type ComposeOptions struct {
	// Files are the compose files, merged in order (-f). Empty: COMPOSE_FILE,
	// else compose.yaml (or one of its other names) in the working
	// directory or the nearest directory above it, with its
	// compose.override.yaml (or docker-compose.override.yml ...) when there
	// is one.
	Files []string
	// Project overrides the project name when not empty.
	Project string
	// Profiles are activated besides those in COMPOSE_PROFILES.
	Profiles []string
	// EnvFiles replace the .env beside the first file for ${VAR}
	// interpolation (--env-file).
	EnvFiles []string
}

// ComposeFiles turns a compose project (its files merged the way `docker
// compose` merges them, the .env beside the first or EnvFiles, the
// environment for ${VAR} interpolation, COMPOSE_PROFILES and Profiles) into
// one declaration per active service, named PROJECT-SERVICE, each part of
// the group PROJECT. It returns the files it read.
func ComposeFiles(ctx context.Context, co ComposeOptions) ([]*Decl, []string, error) {
	opts := []cli.ProjectOptionsFn{cli.WithOsEnv}
	if len(co.Files) > 0 {
		opts = append(opts, cli.WithWorkingDirectory(filepath.Dir(co.Files[0])))
	} else {
		opts = append(opts, cli.WithConfigFileEnv, cli.WithDefaultConfigPath)
	}
	opts = append(opts,
		cli.WithEnvFiles(co.EnvFiles...),
		cli.WithDotEnv,
		withProfiles(co.Profiles),
		cli.WithResolvedPaths(true),
		// env_file stays a file reference (its values are often secrets);
		// a variable without a value stays unresolved and is reported.
		cli.WithoutEnvironmentResolution,
	)
	if co.Project != "" {
		opts = append(opts, cli.WithName(co.Project))
	}
	o, err := cli.NewProjectOptions(co.Files, opts...)
	if err != nil {
		return nil, nil, err
	}
	if len(o.ConfigPaths) == 0 {
		return nil, nil, errors.New("no compose file: no compose.yaml, compose.yml, docker-compose.yml or docker-compose.yaml here or above, and no COMPOSE_FILE; name the file")
	}
	p, err := o.LoadProject(ctx)
	if err != nil {
		return nil, nil, err
	}
	ds, err := composeProject(p)
	return ds, o.ConfigPaths, err
}

// withProfiles activates profiles and those COMPOSE_PROFILES names (from
// the environment or the env files, read by then).
func withProfiles(profiles []string) cli.ProjectOptionsFn {
	return func(o *cli.ProjectOptions) error {
		all := append([]string(nil), profiles...)
		for _, s := range strings.Split(o.Environment["COMPOSE_PROFILES"], ",") {
			if s = strings.TrimSpace(s); s != "" {
				all = append(all, s)
			}
		}
		return cli.WithProfiles(all)(o)
	}
}

// ComposeBytes is ComposeFiles for one compose file held in memory, in
// the directory dir, with env for interpolation.
func ComposeBytes(ctx context.Context, data []byte, dir string, env map[string]string, project string) ([]*Decl, error) {
	if project == "" {
		project = loader.NormalizeProjectName(filepath.Base(dir))
	}
	details := types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "compose.yaml"), Content: data}},
		Environment: env,
	}
	p, err := loader.LoadWithContext(ctx, details, func(o *loader.Options) {
		o.SetProjectName(project, true)
		o.ResolvePaths = true
		o.SkipResolveEnvironment = true
		o.SkipInclude = true // nothing beside an in-memory file
	})
	if err != nil {
		return nil, err
	}
	return composeProject(p)
}

// composeApp is the app name of a service.
func composeApp(project, service string) string {
	return strings.ReplaceAll(strings.ToLower(project+"-"+service), ".", "-")
}

var hostLabel = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

func composeProject(p *types.Project) ([]*Decl, error) {
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	var ds []*Decl
	for _, name := range names {
		d, err := composeService(p, p.Services[name])
		if err != nil {
			return nil, fmt.Errorf("service %s: %v", name, err)
		}
		ds = append(ds, d)
	}
	return ds, nil
}

// composeService builds the `podman run` command line a service stands
// for, imports it with Run, and adds what a command line cannot say.
// Every value goes in as one --flag=value word, so none can become
// another flag.
func composeService(p *types.Project, s types.ServiceConfig) (*Decl, error) {
	app := composeApp(p.Name, s.Name)
	argv := []string{"podman", "run", "--name=" + app}
	// keyOf names the compose key a flag came from, for the notes.
	keyOf := map[string]string{}
	flag := func(key, f, v string) {
		argv = append(argv, f+"="+v)
		keyOf[f] = key
	}
	var later []func(d *Decl)
	note := func(key string, lost bool, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		later = append(later, func(d *Decl) { d.Note(key, lost, "%s", msg) })
	}

	// Environment, sorted so the same file gives the same declaration.
	envKeys := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		envKeys = append(envKeys, k)
	}
	sort.Strings(envKeys)
	for _, k := range envKeys {
		if v := s.Environment[k]; v != nil {
			flag("environment", "--env", k+"="+*v)
		} else {
			note("environment", true, "%s has no value: compose takes it from the environment of `docker compose`; give it one in env or an env file", k)
		}
	}
	for _, f := range s.EnvFiles {
		flag("env_file", "--env-file", f.Path)
		if !bool(f.Required) {
			note("env_file", false, "%s is optional in compose; ynhd requires every env file to exist", f.Path)
		}
	}

	// Ports.
	for _, pc := range s.Ports {
		spec := strconv.FormatUint(uint64(pc.Target), 10)
		if pc.Published != "" {
			spec = pc.Published + ":" + spec
			if pc.HostIP != "" {
				ip := pc.HostIP
				if strings.Contains(ip, ":") {
					ip = "[" + ip + "]"
				}
				spec = ip + ":" + spec
			}
		}
		if pc.Protocol != "" {
			spec += "/" + pc.Protocol
		}
		flag("ports", "--publish", spec)
	}

	// Volumes and mounts.
	volOpts := map[string]map[string]string{}
	for _, v := range s.Volumes {
		switch v.Type {
		case types.VolumeTypeVolume:
			if v.Source == "" {
				note("volumes", true, "%s is an anonymous volume, gone with its container; name it to keep its data", v.Target)
				continue
			}
			name := v.Source
			if vc, ok := p.Volumes[v.Source]; ok {
				if vc.Name != "" {
					name = vc.Name // what compose called it: the data already there is kept
				}
				if vc.Driver != "" && vc.Driver != "local" {
					note("volumes", true, "volume %s uses the driver %s; ynhd creates local volumes", v.Source, vc.Driver)
				}
				if len(vc.DriverOpts) > 0 {
					volOpts[name] = map[string]string(vc.DriverOpts)
				}
			}
			m := "type=volume,source=" + name + ",target=" + v.Target
			if v.ReadOnly {
				m += ",ro=true"
			}
			if strings.Contains(name, ",") || strings.Contains(v.Target, ",") {
				note("volumes", true, "%s:%s: a comma in a volume name or target has no form", name, v.Target)
				continue
			}
			flag("volumes", "--mount", m)
			if v.Volume != nil && (v.Volume.NoCopy || v.Volume.Subpath != "") {
				note("volumes", true, "nocopy and subpath of %s have no key", v.Target)
			}
		case types.VolumeTypeBind:
			opts := []string{}
			if v.ReadOnly {
				opts = append(opts, "ro")
			}
			if v.Bind != nil {
				if v.Bind.SELinux == "z" || v.Bind.SELinux == "Z" {
					opts = append(opts, v.Bind.SELinux)
				}
				if v.Bind.Propagation != "" {
					note("volumes", true, "bind propagation %s of %s has no key", v.Bind.Propagation, v.Target)
				}
			}
			if strings.Contains(v.Source, ":") || strings.Contains(v.Target, ":") {
				note("volumes", true, "%s:%s: a colon in a bind path has no form", v.Source, v.Target)
				continue
			}
			spec := v.Source + ":" + v.Target
			if len(opts) > 0 {
				spec += ":" + strings.Join(opts, ",")
			}
			flag("volumes", "--volume", spec)
		case types.VolumeTypeTmpfs:
			var o []string
			if v.Tmpfs != nil && v.Tmpfs.Size > 0 {
				o = append(o, "size="+sizeString(int64(v.Tmpfs.Size)))
			}
			if v.Tmpfs != nil && v.Tmpfs.Mode != 0 {
				o = append(o, fmt.Sprintf("mode=%o", v.Tmpfs.Mode))
			}
			spec := v.Target
			if len(o) > 0 {
				spec += ":" + strings.Join(o, ",")
			}
			flag("volumes", "--tmpfs", spec)
		default:
			note("volumes", true, "a %s mount (%s) has no key", v.Type, v.Target)
		}
	}
	for _, t := range s.Tmpfs {
		flag("tmpfs", "--tmpfs", t)
	}

	// Networks: ynhd joins one named network.
	network, aliases := "", []string(nil)
	switch nm := s.NetworkMode; {
	case nm == "none" || nm == "host":
		flag("network_mode", "--network", nm)
	case nm == "bridge":
		flag("network_mode", "--network", nm)
	case nm == "":
		nets := make([]string, 0, len(s.Networks))
		for n := range s.Networks {
			nets = append(nets, n)
		}
		// compose orders networks by priority, then by name.
		sort.Slice(nets, func(i, j int) bool {
			pi, pj := 0, 0
			if c := s.Networks[nets[i]]; c != nil {
				pi = c.Priority
			}
			if c := s.Networks[nets[j]]; c != nil {
				pj = c.Priority
			}
			if pi != pj {
				return pi > pj
			}
			return nets[i] < nets[j]
		})
		if len(nets) == 0 {
			break
		}
		first := nets[0]
		network = composeNetwork(p, first)
		if len(nets) > 1 {
			note("networks", true, "an app joins one network: %s is on %s, not on %s", app, network, strings.Join(nets[1:], ", "))
		}
		if nc, ok := p.Networks[first]; ok {
			if nc.Driver != "" && nc.Driver != "bridge" || len(nc.DriverOpts) > 0 || len(nc.Ipam.Config) > 0 || nc.Internal {
				note("networks", true, "the driver, options, ipam and internal of network %s have no key: create the network with them yourself", first)
			}
		}
		if c := s.Networks[first]; c != nil {
			aliases = append(aliases, c.Aliases...)
			if c.Ipv4Address != "" || c.Ipv6Address != "" || c.MacAddress != "" {
				note("networks", true, "fixed addresses on %s have no key", first)
			}
		}
		if c := s.Networks[first]; c.ServiceNameAliasEnabled() {
			// ynhd names the container after the app; the service name
			// stays an alias so the other services still reach it by it.
			aliases = append([]string{s.Name}, aliases...)
		}
		if s.ContainerName != "" {
			if hostLabel.MatchString(s.ContainerName) {
				aliases = append(aliases, s.ContainerName)
				note("container_name", false, "the container is named %s after the app; %s is kept as a network alias", app, s.ContainerName)
			} else {
				note("container_name", true, "the container is named %s after the app; %s is not a host name label, so not an alias either", app, s.ContainerName)
			}
		}
		flag("networks", "--network", network)
	default:
		note("network_mode", true, "%s has no declaration form (an app joins one network, or host, or none)", nm)
	}
	if network == "" && s.ContainerName != "" {
		note("container_name", true, "the container is named %s after the app", app)
	}
	seenAlias := map[string]bool{app: true}
	for _, a := range aliases {
		switch {
		case seenAlias[a]:
		case !hostLabel.MatchString(a):
			note("networks", true, "alias %q is not a host name label", a)
		default:
			flag("networks", "--network-alias", a)
		}
		seenAlias[a] = true
	}

	// Process.
	if s.User != "" {
		flag("user", "--user", s.User)
	}
	if s.Hostname != "" {
		flag("hostname", "--hostname", s.Hostname)
	}
	if s.WorkingDir != "" {
		flag("working_dir", "--workdir", s.WorkingDir)
	}
	if s.Init != nil {
		flag("init", "--init", strconv.FormatBool(*s.Init))
	}
	if s.Tty {
		flag("tty", "--tty", "true")
	}
	if s.ReadOnly {
		flag("read_only", "--read-only", "true")
	}
	if s.ShmSize > 0 {
		flag("shm_size", "--shm-size", sizeString(int64(s.ShmSize)))
	}
	if s.UserNSMode != "" {
		flag("userns_mode", "--userns", s.UserNSMode)
	}
	for _, g := range s.GroupAdd {
		flag("group_add", "--group-add", g)
	}
	for _, h := range s.ExtraHosts.AsList(":") {
		flag("extra_hosts", "--add-host", h)
	}
	for _, dns := range s.DNS {
		flag("dns", "--dns", dns)
	}
	for _, c := range s.CapAdd {
		flag("cap_add", "--cap-add", c)
	}
	for _, c := range s.CapDrop {
		flag("cap_drop", "--cap-drop", c)
	}
	for _, dv := range s.Devices {
		spec := dv.Source
		if dv.Target != "" {
			spec += ":" + dv.Target
		}
		if dv.Permissions != "" {
			spec += ":" + dv.Permissions
		}
		flag("devices", "--device", spec)
	}
	for _, so := range s.SecurityOpt {
		flag("security_opt", "--security-opt", so)
	}
	for _, k := range sortedKeys(s.Sysctls) {
		flag("sysctls", "--sysctl", k+"="+s.Sysctls[k])
	}
	ulimits := make([]string, 0, len(s.Ulimits))
	for k := range s.Ulimits {
		ulimits = append(ulimits, k)
	}
	sort.Strings(ulimits)
	for _, k := range ulimits {
		u := s.Ulimits[k]
		if u.Single != 0 {
			flag("ulimits", "--ulimit", fmt.Sprintf("%s=%d", k, u.Single))
		} else {
			flag("ulimits", "--ulimit", fmt.Sprintf("%s=%d:%d", k, u.Soft, u.Hard))
		}
	}
	for _, k := range sortedKeys(s.Labels) {
		flag("labels", "--label", k+"="+s.Labels[k])
	}
	logDriver, logOpts := s.LogDriver, s.LogOpt
	if s.Logging != nil {
		logDriver, logOpts = s.Logging.Driver, s.Logging.Options
	}
	if logDriver != "" {
		flag("logging", "--log-driver", logDriver)
	}
	for _, k := range sortedKeys(logOpts) {
		flag("logging", "--log-opt", k+"="+logOpts[k])
	}
	if s.StopSignal != "" {
		flag("stop_signal", "--stop-signal", s.StopSignal)
	}
	if s.StopGracePeriod != nil {
		secs := int(math.Ceil(time.Duration(*s.StopGracePeriod).Seconds()))
		flag("stop_grace_period", "--stop-timeout", strconv.Itoa(secs))
	}
	switch s.PullPolicy {
	case "":
	case "always", "missing", "never":
		flag("pull_policy", "--pull", s.PullPolicy)
	case "if_not_present":
		flag("pull_policy", "--pull", "missing")
	default:
		note("pull_policy", true, "%s has no form (always, missing or never)", s.PullPolicy)
	}

	// Restart: restart, else deploy.restart_policy.
	restart := s.Restart
	if restart == "" && s.Deploy != nil && s.Deploy.RestartPolicy != nil {
		restart = map[string]string{"none": "no", "on-failure": "on-failure", "any": "always"}[s.Deploy.RestartPolicy.Condition]
	}
	if restart != "" {
		flag("restart", "--restart", restart)
	}

	// Resources: deploy.resources.limits, else the service's own keys.
	memory, cpus, pids := int64(s.MemLimit), float64(s.CPUS), s.PidsLimit
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil {
			if l.MemoryBytes > 0 {
				memory = int64(l.MemoryBytes)
			}
			if l.NanoCPUs > 0 {
				cpus = float64(l.NanoCPUs)
			}
			if l.Pids > 0 {
				pids = l.Pids
			}
		}
		if s.Deploy.Resources.Reservations != nil {
			note("deploy.resources.reservations", true, "reservations have no key (only limits)")
		}
		if s.Deploy.Replicas != nil && *s.Deploy.Replicas != 1 {
			note("deploy.replicas", true, "an app is one container")
		}
	}
	if memory > 0 {
		flag("deploy.resources.limits.memory", "--memory", sizeString(memory))
	}
	if cpus > 0 {
		flag("deploy.resources.limits.cpus", "--cpus", strconv.FormatFloat(float64(float32(cpus)), 'f', -1, 32))
	}
	if pids > 0 {
		flag("deploy.resources.limits.pids", "--pids-limit", strconv.FormatInt(pids, 10))
	}

	// Refused and not carried.
	if s.Privileged {
		note("privileged", true, "refused: ynhd never runs a container privileged (every capability, every device, no confinement); add the capabilities (cap_add) and devices (devices) the app needs")
	}
	for _, c := range s.Configs {
		note("configs", true, "%s: configs have no key; bind the file with binds", c.Source)
	}
	if s.Scale != nil && *s.Scale != 1 {
		note("scale", true, "an app is one container")
	}
	unsupported := map[string]bool{
		"ipc": s.Ipc != "", "pid": s.Pid != "", "cgroup": s.Cgroup != "", "cgroup_parent": s.CgroupParent != "",
		"cpuset": s.CPUSet != "", "cpu_shares": s.CPUShares != 0, "mem_reservation": s.MemReservation != 0,
		"memswap_limit": s.MemSwapLimit != 0, "oom_score_adj": s.OomScoreAdj != 0, "runtime": s.Runtime != "",
		"volumes_from": len(s.VolumesFrom) > 0, "links": len(s.Links) > 0, "external_links": len(s.ExternalLinks) > 0,
		"platform": s.Platform != "", "domainname": s.DomainName != "", "dns_opt": len(s.DNSOpts) > 0,
		"dns_search": len(s.DNSSearch) > 0, "mac_address": s.MacAddress != "", "gpus": len(s.Gpus) > 0,
		"device_cgroup_rules": len(s.DeviceCgroupRules) > 0, "storage_opt": len(s.StorageOpt) > 0,
		"post_start": len(s.PostStart) > 0, "pre_stop": len(s.PreStop) > 0, "blkio_config": s.BlkioConfig != nil,
		"annotations": len(s.Annotations) > 0, "stdin_open": s.StdinOpen,
	}
	for _, k := range sortedKeys(unsupported) {
		if unsupported[k] {
			note(k, true, "no declaration key")
		}
	}

	// Image or build; the image goes after "--" so it is never a flag.
	image := s.Image
	if s.Build != nil {
		image = "localhost/ynhd/" + app
	}
	if image == "" {
		return nil, errors.New("neither image nor build")
	}
	argv = append(argv, "--", image)
	argv = append(argv, s.Command...)

	d, err := Run(argv)
	if err != nil {
		return nil, err
	}
	d.Source = "service " + s.Name + " of the compose project " + p.Name
	for i := range d.Notes {
		if k, ok := keyOf[d.Notes[i].Key]; ok {
			d.Notes[i].Key = k
		}
	}
	if s.Entrypoint != nil {
		d.Set("entrypoint", Strs(s.Entrypoint), "")
	}
	if s.Build != nil {
		d.unset("image")
		d.Notes = dropNotes(d.Notes, "image")
		composeBuild(d, s)
	}
	if hc := s.HealthCheck; hc != nil && !hc.Disable {
		composeHealth(d, hc)
	}
	composeDepends(d, p, s)
	composeGroup(d, p)
	composeSecrets(d, p, s)
	for name, opts := range volOpts {
		d.volumeOptions(name, opts)
	}
	for _, f := range later {
		f(d)
	}
	return d, nil
}

// composeGroup puts the app in the group named after the project, which
// starts, stops and restarts the project's apps together, as `docker
// compose up|down|restart` does.
func composeGroup(d *Decl, p *types.Project) {
	if !groupName.MatchString(p.Name) {
		d.Note("name", true, "the project name %q is not a group name (1-63 lowercase letters, digits, '-' or '_'): the app is in no group; set part_of by hand", p.Name)
		return
	}
	d.Set("part_of", Str(p.Name), "")
}

// groupName is what decl accepts as part_of.
var groupName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// composeNetwork is the podman network a compose network stands for:
// compose's default network becomes one named after the project.
func composeNetwork(p *types.Project, name string) string {
	if name == "default" {
		if nc, ok := p.Networks[name]; !ok || !bool(nc.External) {
			return p.Name
		}
	}
	if nc, ok := p.Networks[name]; ok && nc.Name != "" {
		return nc.Name
	}
	return name
}

// Networks lists the podman networks the imported apps join, for the
// caller to say which to create.
func Networks(ds []*Decl) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range ds {
		for _, e := range d.top {
			if e.key != "network" {
				continue
			}
			n, err := strconv.Unquote(e.value)
			if err != nil || n == "none" || n == "host" || seen[n] {
				continue
			}
			seen[n] = true
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

func composeBuild(d *Decl, s types.ServiceConfig) {
	b := s.Build
	if strings.Contains(b.Context, "://") || strings.HasPrefix(b.Context, "git@") {
		d.Note("build.context", true, "a remote context (%s) has no form: clone it and build from the directory", b.Context)
	} else if b.Context != "" {
		d.SetIn("build", "context", Str(b.Context), "")
	}
	if b.Dockerfile != "" {
		d.SetIn("build", "file", Str(b.Dockerfile), "")
	}
	args := map[string]string{}
	for k, v := range b.Args {
		if v == nil {
			d.Note("build.args", true, "%s has no value: compose takes it from the environment; give it one", k)
			continue
		}
		args[k] = *v
	}
	if len(args) > 0 {
		d.SetIn("build", "args", Map(args), "")
	}
	if b.Target != "" {
		d.SetIn("build", "target", Str(b.Target), "")
	}
	if s.Image != "" {
		d.Note("image", false, "compose tags the build %s; ynhd tags it localhost/ynhd/%s (set [build] tag to change it)", s.Image, d.Name)
	}
	if b.DockerfileInline != "" || len(b.Secrets) > 0 || len(b.SSH) > 0 || len(b.AdditionalContexts) > 0 || len(b.Platforms) > 0 {
		d.Note("build", true, "dockerfile_inline, secrets, ssh, additional_contexts and platforms have no [build] key")
	}
}

func composeHealth(d *Decl, hc *types.HealthCheckConfig) {
	t := hc.Test
	switch {
	case len(t) == 0:
		// compose keeps the image's check, and so does podman.
		return
	case t[0] == "NONE":
		return
	case t[0] == "CMD" && len(t) > 1:
		d.SetIn("health", "cmd", Strs(t[1:]), "")
	case t[0] == "CMD-SHELL" && len(t) == 2:
		d.SetIn("health", "cmd", Strs([]string{"/bin/sh", "-c", t[1]}), "")
	default:
		d.Note("healthcheck.test", true, "%q is not [\"CMD\", ...], [\"CMD-SHELL\", COMMAND] or [\"NONE\"]", []string(t))
		return
	}
	dur := func(key string, v *types.Duration) {
		if v != nil && *v > 0 {
			d.SetIn("health", key, Str(time.Duration(*v).String()), "")
		}
	}
	dur("interval", hc.Interval)
	dur("timeout", hc.Timeout)
	dur("start_period", hc.StartPeriod)
	if hc.Retries != nil && *hc.Retries <= math.MaxInt32 {
		d.SetIn("health", "retries", Int(int(*hc.Retries)), "")
	}
	if hc.StartInterval != nil {
		d.Note("healthcheck.start_interval", true, "no key")
	}
}

// composeDepends turns depends_on into requires, requires_healthy,
// after and wants on the imported apps.
func composeDepends(d *Decl, p *types.Project, s types.ServiceConfig) {
	deps := make([]string, 0, len(s.DependsOn))
	for n := range s.DependsOn {
		deps = append(deps, n)
	}
	sort.Strings(deps)
	for _, n := range deps {
		dep := s.DependsOn[n]
		if _, ok := p.Services[n]; !ok {
			d.Note("depends_on", true, "%s is not a service imported here (its profile is not active?)", n)
			continue
		}
		other := composeApp(p.Name, n)
		switch {
		case !dep.Required:
			d.Append("wants", other)
		case dep.Condition == types.ServiceConditionHealthy:
			d.Append("requires_healthy", other)
		case dep.Condition == types.ServiceConditionCompletedSuccessfully:
			d.Append("after", other)
			d.Note("depends_on", false, "%s: service_completed_successfully became after (ynhd starts %s after %s has started, not after it exited)", n, d.Name, other)
		default:
			d.Append("requires", other)
		}
		if dep.Restart {
			d.Note("depends_on", true, "%s: restart has no key", n)
		}
	}
}

// sizeString writes bytes with the largest unit that divides them.
func sizeString(n int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"g", 1 << 30}, {"m", 1 << 20}, {"k", 1 << 10}} {
		if n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dropNotes(ns []Note, key string) []Note {
	out := ns[:0]
	for _, n := range ns {
		if n.Key != key {
			out = append(out, n)
		}
	}
	return out
}
