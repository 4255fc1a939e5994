package decl

import (
	"path/filepath"
	"strings"
	"time"
)

// Defaults that the reference documents.
const (
	DefaultPull        = "missing"
	DefaultRestart     = "always"
	DefaultLogDriver   = "journald"
	DefaultStopTimeout = 10 * time.Second
	// DefaultStartTimeout covers a first image pull and an init system's
	// boot.
	DefaultStartTimeout = 300 * time.Second
	// DefaultKeepSnapshots is how many snapshots of a persistent app are kept.
	DefaultKeepSnapshots = 3
	DefaultProtocol      = "tcp"
	// Update defaults: checked daily at a random time in the first hour,
	// five minutes for the new image to come up healthy, two earlier
	// images kept for rollback.
	DefaultUpdateSchedule    = "daily"
	DefaultUpdateRandomDelay = time.Hour
	DefaultHealthWindow      = 5 * time.Minute
	DefaultKeepImages        = 2
	DefaultInit              = "/sbin/init"
	SystemdStopSignal        = "SIGRTMIN+3"
	// The kinds of [[secrets]].
	SecretMount = "mount"
	SecretEnv   = "env"
)

// applyDefaults fills in what the declaration left out and makes relative
// paths absolute against dir (the declaration's directory).
func applyDefaults(a *App, dir, home string) {
	if a.Pull == "" {
		a.Pull = DefaultPull
	}
	if a.Restart == "" {
		a.Restart = DefaultRestart
	}
	if a.LogDriver == "" {
		a.LogDriver = DefaultLogDriver
	}
	if a.StopTimeout.Duration == 0 {
		a.StopTimeout.Duration = DefaultStopTimeout
	}
	if a.Persistent && a.KeepSnapshots == 0 {
		a.KeepSnapshots = DefaultKeepSnapshots
	}
	if a.Systemd {
		a.TTY = true
		if len(a.Command) == 0 && len(a.Entrypoint) == 0 {
			a.Command = []string{DefaultInit}
		}
		if a.StopSignal == "" {
			a.StopSignal = SystemdStopSignal
		}
	}
	if a.Build != nil {
		if a.Build.Context == "" {
			a.Build.Context = "."
		}
		a.Build.Context = resolvePath(a.Build.Context, dir, home)
		if a.Build.Tag == "" {
			a.Build.Tag = "localhost/ynhd/" + a.Name + ":latest"
		}
	}
	for i := range a.Ports {
		p := &a.Ports[i]
		if p.ContainerPort == 0 {
			p.ContainerPort = p.HostPort
		}
		if p.Protocol == "" {
			p.Protocol = DefaultProtocol
		}
	}
	for i := range a.Binds {
		a.Binds[i].Source = resolvePath(a.Binds[i].Source, dir, home)
	}
	for i := range a.Secrets {
		x := &a.Secrets[i]
		x.File = resolvePath(x.File, dir, home)
		if x.Type == "" {
			x.Type = SecretMount
		}
		if x.Target == "" && x.Type == SecretMount && x.Name != "" {
			x.Target = "/run/secrets/" + x.Name
		}
		if x.Target == "" && x.Type == SecretEnv {
			x.Target = x.Name
		}
	}
	for i := range a.EnvFiles {
		a.EnvFiles[i] = resolvePath(a.EnvFiles[i], dir, home)
	}
	if u := a.Update; u != nil {
		if u.Policy == "" {
			u.Policy = "off"
		}
		if u.Schedule == "" {
			u.Schedule = DefaultUpdateSchedule
		}
		if u.RandomDelay == nil {
			u.RandomDelay = &Duration{DefaultUpdateRandomDelay}
		}
		if u.HealthWindow.Duration == 0 {
			u.HealthWindow.Duration = DefaultHealthWindow
		}
		if u.KeepImages == 0 {
			u.KeepImages = DefaultKeepImages
		}
	}
	if a.Health != nil && a.Health.OnFailure == "" {
		// Killed, the container ends its unit's main process and systemd
		// restarts the unit (Restart=), which is what a supervisor should
		// do; podman's in-place "restart" would hide that from systemd.
		a.Health.OnFailure = "kill"
	}
}

// resolvePath expands a leading ~/ to home and makes a relative path
// absolute against dir. An empty path stays empty (validation reports it).
func resolvePath(p, dir, home string) string {
	switch {
	case p == "":
		return ""
	case p == "~":
		return home
	case strings.HasPrefix(p, "~/"):
		return filepath.Join(home, p[2:])
	case filepath.IsAbs(p):
		return filepath.Clean(p)
	}
	joined := filepath.Join(dir, p)
	if filepath.IsAbs(joined) {
		return joined // Join cleans it already: what Abs would return
	}
	abs, err := filepath.Abs(joined)
	if err != nil {
		return joined
	}
	return abs
}
