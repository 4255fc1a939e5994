// Package decl defines ynhd's app declaration format (schema version 1):
// the TOML file a person writes, one per app, and the strict decoding,
// defaulting and validation that turn it into an App the renderer can trust.
//
// The package is pure apart from LoadFiles, DeclarationFiles and HostFacts:
// Decode takes bytes, Validate takes the facts about the host it needs as
// values.
package decl

import "time"

// SchemaVersion is the only declaration schema version this build reads.
const SchemaVersion = 1

// App is one decoded declaration. The app's name is the file's stem; it names
// the container and the systemd unit (NAME.service).
//
// Field comments are the reference; docs/declarations.md repeats them with
// examples.
type App struct {
	// Name is the file's stem. Not a TOML key.
	Name string `toml:"-"`
	// File is the path the declaration was read from. Not a TOML key.
	File string `toml:"-"`

	Version     int    `toml:"version"`     // required, must be 1
	Description string `toml:"description"` // unit Description=
	Enabled     *bool  `toml:"enabled"`     // default true; false: rendered but not started

	Image string `toml:"image"` // image reference; exactly one of image and [build]
	Pull  string `toml:"pull"`  // missing (default), always, never, newer
	Build *Build `toml:"build"`

	Command    []string          `toml:"command"`    // argv, replaces the image's CMD
	Entrypoint []string          `toml:"entrypoint"` // argv, replaces the image's ENTRYPOINT
	Workdir    string            `toml:"workdir"`
	Env        map[string]string `toml:"env"`
	EnvFiles   []string          `toml:"env_files"` // relative to the declaration's directory
	// Secrets are podman secrets given to the container as a file or an
	// environment variable; their values never reach the unit file.
	Secrets []Secret `toml:"secrets"`

	Ports   []Port   `toml:"ports"`
	Volumes []Volume `toml:"volumes"`
	Binds   []Bind   `toml:"binds"`
	Tmpfs   []Tmpfs  `toml:"tmpfs"`

	Hostname string   `toml:"hostname"`
	Network  string   `toml:"network"` // "" (podman's default), none, host, slirp4netns, pasta, bridge, private, or a network name
	DNS      []string `toml:"dns"`
	// AddHost are extra /etc/hosts entries, "HOST:IP" (IPv6 without
	// brackets).
	AddHost []string `toml:"add_host"`
	// NetworkAliases are more names the container has on its podman
	// network (network must name one).
	NetworkAliases []string `toml:"network_aliases"`

	User            string            `toml:"user"`      // user inside the container (name or id)
	Group           string            `toml:"group"`     // group inside the container (name or id)
	GroupAdd        []string          `toml:"group_add"` // supplementary groups (names or ids), or "keep-groups"
	UserNS          string            `toml:"userns"`
	UIDMap          []string          `toml:"uid_map"` // "container:host:size", host relative to the user's range
	GIDMap          []string          `toml:"gid_map"`
	CapAdd          []string          `toml:"cap_add"`
	CapDrop         []string          `toml:"cap_drop"`
	NoNewPrivileges bool              `toml:"no_new_privileges"`
	ReadOnly        bool              `toml:"read_only"` // read-only root filesystem
	Devices         []string          `toml:"devices"`
	Sysctls         map[string]string `toml:"sysctls"`
	Ulimits         map[string]string `toml:"ulimits"` // name -> "soft:hard" or "n"

	// Systemd runs an init system as PID 1 in the container: podman
	// --systemd=always, readiness from the container's own sd_notify,
	// SIGRTMIN+3 as stop signal. The command defaults to /sbin/init.
	Systemd bool `toml:"systemd"`
	// Persistent keeps the container: ynhd creates it once and the unit
	// starts and stops that same container, so what it writes outside
	// volumes survives restarts and reboots. A change that needs a new
	// container is applied from a snapshot of the old one; a change of
	// image waits for `ynhd recreate`.
	Persistent bool `toml:"persistent"`
	// KeepSnapshots is how many snapshots of a persistent app's container
	// ynhd keeps (default 3).
	KeepSnapshots int `toml:"keep_snapshots"`
	// TTY gives the container a terminal (podman --tty); always on in
	// systemd mode, so that the init system's boot messages reach the
	// journal.
	TTY bool `toml:"tty"`
	// Init runs a tiny init (podman --init) as PID 1, which forwards
	// signals and reaps zombies; not with systemd.
	Init bool `toml:"init"`
	// TZ is the container's time zone: an IANA name such as
	// "Europe/Paris", or "local" for the host's.
	TZ string `toml:"tz"`
	// ShmSize is the size of /dev/shm, written like resources.memory.
	ShmSize string `toml:"shm_size"`

	Health    *Health   `toml:"health"`
	Resources Resources `toml:"resources"`
	// Update says whether and when ynhd moves the app to a newer image of
	// its tag, with a health-gated rollback (see docs/updates.md).
	Update *Update `toml:"update"`

	Restart     string            `toml:"restart"`      // always (default), on-failure, on-abnormal, on-abort, on-watchdog, on-success, no
	StopSignal  string            `toml:"stop_signal"`  // default: the image's STOPSIGNAL; SIGRTMIN+3 in systemd mode
	StopTimeout Duration          `toml:"stop_timeout"` // default 10s
	Labels      map[string]string `toml:"labels"`
	LogDriver   string            `toml:"log_driver"`  // journald (default), k8s-file, json-file, passthrough, none
	LogOptions  map[string]string `toml:"log_options"` // the log driver's options (podman --log-opt)
	// StartTimeout is how long systemd waits for the app to start (unit
	// TimeoutStartSec=); nil means DefaultStartTimeout.
	StartTimeout *Duration `toml:"start_timeout"`

	After    []string `toml:"after"`    // apps to start after
	Requires []string `toml:"requires"` // apps this one cannot run without (implies after)
	Wants    []string `toml:"wants"`    // apps started alongside if possible (implies after)
	// RequiresHealthy are apps this one needs running and healthy (their
	// [health] check passing) before it starts; implies requires.
	RequiresHealthy []string `toml:"requires_healthy"`
	// PartOf names the group of apps this one belongs to: ynhd writes a
	// target for each group, ynhd-group-NAME.target, that starts, stops
	// and restarts its apps together. "" for none.
	PartOf string `toml:"part_of"`

	// SystemUser says, in system mode, which user the app's rootless podman
	// runs as: "dynamic" (DynamicUser=yes, a transient user with a single
	// id), "static" (a system user ynhd creates, with a range of
	// subordinate ids), or "" to let ynhd choose (see App.SystemRoute).
	// User mode ignores it.
	SystemUser string `toml:"system_user"`

	// PodmanArgs are extra `podman run` arguments, passed unchecked before
	// the image. Every use is reported as a warning.
	PodmanArgs []string `toml:"podman_args"`
}

// Build describes an image built from a context directory instead of pulled.
type Build struct {
	Context string            `toml:"context"` // relative to the declaration's directory; default "."
	File    string            `toml:"file"`    // Containerfile/Dockerfile, relative to the context
	Args    map[string]string `toml:"args"`
	Target  string            `toml:"target"`
	Tag     string            `toml:"tag"` // default localhost/ynhd/NAME:latest
}

// Port publishes a container port on the host.
type Port struct {
	HostIP        string `toml:"host_ip"`        // default all addresses
	HostPort      int    `toml:"host_port"`      // required, 1-65535
	ContainerPort int    `toml:"container_port"` // default host_port
	Protocol      string `toml:"protocol"`       // tcp (default), udp, sctp
}

// Volume mounts a named podman volume. Options are the volume driver's
// options (podman volume create --opt), e.g. type=tmpfs, device=tmpfs,
// o=rw,exec. A volume and its data outlive the app.
type Volume struct {
	Name     string            `toml:"name"`
	Target   string            `toml:"target"`
	ReadOnly bool              `toml:"read_only"`
	Driver   string            `toml:"driver"` // default local
	Options  map[string]string `toml:"options"`
	SELinux  string            `toml:"selinux"` // "", "shared" (z) or "private" (Z) relabel
}

// Bind mounts a host path. Source may be relative to the declaration's
// directory or start with ~/.
type Bind struct {
	Source   string `toml:"source"`
	Target   string `toml:"target"`
	ReadOnly bool   `toml:"read_only"`
	SELinux  string `toml:"selinux"` // "", "z" (shared) or "Z" (private) relabel
}

// Secret is a podman secret the container gets. With File or Env, ynhd
// creates the podman secret from that source (and replaces it when its
// content changes); with neither, Name is a podman secret the user
// created (podman secret create) and ynhd only uses it.
type Secret struct {
	Name string `toml:"name"`
	// File is a host file holding the value: relative to the
	// declaration's directory or starting with ~/.
	File string `toml:"file"`
	// Env is a variable of ynhd's own environment holding the value.
	Env string `toml:"env"`
	// Type is "mount" (default: a file at Target) or "env" (a variable
	// named Target).
	Type string `toml:"type"`
	// Target is the file's absolute path (default /run/secrets/NAME) or
	// the variable's name (default NAME).
	Target string `toml:"target"`
}

// PodmanName is the name of the podman secret behind s in app: the
// declared name for a secret the user made, "ynhd.APP.NAME" for one ynhd
// makes (app names have no dot, so two apps never share one).
func (s Secret) PodmanName(app string) string {
	if s.Managed() {
		return "ynhd." + app + "." + s.Name
	}
	return s.Name
}

// Managed reports whether ynhd creates the podman secret (it has a file or
// env source).
func (s Secret) Managed() bool { return s.File != "" || s.Env != "" }

// Tmpfs mounts a fresh tmpfs.
type Tmpfs struct {
	Target  string   `toml:"target"`
	Options []string `toml:"options"` // e.g. ["rw", "exec", "size=64m", "mode=1777"]
}

// Health is the container's health check.
type Health struct {
	Cmd         []string `toml:"cmd"` // argv run inside the container; exit 0 is healthy
	Interval    Duration `toml:"interval"`
	Timeout     Duration `toml:"timeout"`
	Retries     int      `toml:"retries"`
	StartPeriod Duration `toml:"start_period"`
	OnFailure   string   `toml:"on_failure"` // kill (default: the unit restarts it), restart, stop, none
}

// Update is the app's image update policy. Defaults are filled in by
// applyDefaults when the table is present.
type Update struct {
	// Policy is off (the default), registry (follow the digest the
	// registry serves for the image's tag) or local (follow the image the
	// tag names in local storage, for images built or tagged on the host).
	Policy string `toml:"policy"`
	// Schedule is when the daemon checks, a subset of systemd calendar
	// expressions (see ParseSchedule); default daily.
	Schedule string `toml:"schedule"`
	// RandomDelay spreads checks over this much time after the scheduled
	// one; nil means DefaultUpdateRandomDelay.
	RandomDelay *Duration `toml:"random_delay"`
	// HealthWindow is how long the new image has to be running (and
	// healthy, with a [health] check) before it is rolled back; default
	// DefaultHealthWindow.
	HealthWindow Duration `toml:"health_window"`
	// KeepImages is how many earlier images are kept for rollback
	// (default DefaultKeepImages).
	KeepImages int `toml:"keep_images"`
	// TLSVerify false lets checks and pulls use a registry over plain
	// HTTP or with a certificate that does not verify; default true.
	TLSVerify *bool `toml:"tls_verify"`
}

// UpdatePolicy is the app's update policy: "off" without an [update] table.
func (a *App) UpdatePolicy() string {
	if a.Update == nil || a.Update.Policy == "" {
		return "off"
	}
	return a.Update.Policy
}

// Resources are limits on the container.
type Resources struct {
	Memory string  `toml:"memory"` // e.g. "512m", "2g"
	CPUs   float64 `toml:"cpus"`   // e.g. 1.5
	Pids   int     `toml:"pids"`   // maximum number of processes
}

// Duration is a time.Duration written in TOML as a string such as "10s" or
// "1m30s".
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// IsEnabled reports whether the app should be running.
func (a *App) IsEnabled() bool { return a.Enabled == nil || *a.Enabled }

// UnitName is the systemd unit that runs the app.
func (a *App) UnitName() string { return a.Name + ".service" }

// ImageRef is the image the container runs: the declared image, or the tag a
// build produces.
func (a *App) ImageRef() string {
	if a.Build != nil {
		return a.Build.Tag
	}
	return a.Image
}
