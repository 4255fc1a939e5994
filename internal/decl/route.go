package decl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
)

// System-mode routes: who an app's rootless podman runs as under the system
// manager.
const (
	// RouteDynamic runs podman as a DynamicUser=yes user. The kernel then
	// maps exactly one id into the container (container root), because a
	// dynamic user has no subordinate ids: DynamicUser implies
	// NoNewPrivileges, so the setuid newuidmap cannot install a range.
	// Images whose files all belong to root work.
	RouteDynamic = "dynamic"
	// RouteStatic runs podman as a static system user that ynhd creates,
	// with a range of 65536 subordinate uids and gids: container root is
	// that user and every other container id maps into the range, so
	// images with files owned by many users (a Debian base, an init
	// system) unpack and run, still without any root on the host.
	RouteStatic = "static"
)

var systemUsers = set("", RouteDynamic, RouteStatic)

// SystemRoute says which route the app takes in system mode, and why, in
// words for `ynhd check --system`.
func (a *App) SystemRoute() (route, why string) {
	if a.SystemUser != "" {
		return a.SystemUser, fmt.Sprintf("system_user = %q", a.SystemUser)
	}
	if need := a.needsManyIDs(); need != "" {
		return RouteStatic, need + " needs more than one id"
	}
	return RouteDynamic, "one id is enough (no systemd, userns, id maps, non-root user or supplementary group)"
}

// needsManyIDs names the setting that makes an app need a user namespace
// with more than one id, or returns "".
func (a *App) needsManyIDs() string {
	mode, _, _ := strings.Cut(a.UserNS, ":")
	switch {
	case a.Systemd:
		return "systemd = true (an init system's files and services belong to many users)"
	case mode == "auto" || mode == "keep-id" || mode == "nomap":
		return fmt.Sprintf("userns = %q", a.UserNS)
	case len(a.UIDMap) > 0 || len(a.GIDMap) > 0:
		return "uid_map/gid_map"
	case a.User != "" && a.User != "0" && a.User != "root":
		return fmt.Sprintf("user = %q", a.User)
	}
	for _, g := range a.GroupAdd {
		// keep-groups keeps the groups of the user running podman,
		// which need no mapping.
		if g != "0" && g != "root" && g != "keep-groups" {
			return fmt.Sprintf("group_add = [%q]", g)
		}
	}
	return ""
}

// SystemUserName is the user a system-mode app runs as, dynamic or static:
// "ynhd-" and the app name, so that a user who happens to share the app's
// name is never picked up. A name longer than useradd's 31 characters is
// shortened to 17 characters of the app name, '-' and the first 8 hex
// digits of the SHA-256 of the full app name. That shortened form is 31
// characters long with '-' and 8 hex digits at the end, and an app name
// that would spell it out unshortened is refused in system mode
// (LooksHashed), so two valid apps never share a user short of a hash
// collision, which LoadFiles also reports.
func SystemUserName(app string) string {
	n := "ynhd-" + app
	if len(n) <= maxUserName {
		return n
	}
	sum := sha256.Sum256([]byte(app))
	return n[:maxUserName-9] + "-" + hex.EncodeToString(sum[:])[:8]
}

// maxUserName is the longest user name useradd accepts.
const maxUserName = 31

var hashedRE = regexp.MustCompile(`^.{17}-[0-9a-f]{8}$`)

// LooksHashed reports whether app's unshortened user name has the form of
// a shortened one, so it could be another app's user.
func LooksHashed(app string) bool { return hashedRE.MatchString(app) }

// systemUserClashes reports apps whose system users are the same: two long
// names whose hashes collide.
func systemUserClashes(apps []*Parsed) Diagnostics {
	var ds Diagnostics
	seen := map[string]string{}
	for _, p := range apps {
		u := SystemUserName(p.App.Name)
		if other, ok := seen[u]; ok {
			ds = append(ds, Diagnostic{File: p.App.File, Severity: Error,
				Message: fmt.Sprintf("app %q would run as system user %s, as app %q does: rename one of the files", p.App.Name, u, other)})
		}
		seen[u] = p.App.Name
	}
	return ds
}

func (v *validator) systemUser(host Host) {
	a := v.app
	if !systemUsers[a.SystemUser] {
		v.errf("system_user", "unknown value %q: use \"dynamic\", \"static\", or leave it out to let ynhd choose", a.SystemUser)
		return
	}
	if !host.System {
		return
	}
	if LooksHashed(a.Name) {
		v.errf("", "app name %q has the form of a shortened system user name (17 characters, '-', 8 hex digits), so its user %s could be another app's: rename the file (add or remove a character)", a.Name, SystemUserName(a.Name))
	}
	if a.SystemUser == RouteDynamic {
		if need := a.needsManyIDs(); need != "" {
			v.errf("system_user", "a DynamicUser gets a single id, but %s needs more: remove system_user (ynhd then picks \"static\") or set it to \"static\"", need)
		}
	}
	// Each system app has a podman (storage, networks, containers) of its
	// own: nothing of another app's is visible to it.
	if a.Build != nil {
		v.errf("build", "in system mode each app runs its own podman, as its own user, and ynhd has none to build with: build the image elsewhere, push it to a registry and set image, or run this app in user mode")
	}
	if len(a.RequiresHealthy) > 0 {
		v.errf("requires_healthy", "in system mode each app runs its own podman, which cannot check another app's container; use requires (and a retrying client), or run these apps in user mode")
	}
	if !builtinNets[a.Network] {
		v.warnf("network", "in system mode each app runs its own podman, so network %q is private to this app; other apps reach it through published ports (host_ip = \"127.0.0.1\")", a.Network)
	}
}
