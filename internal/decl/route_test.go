package decl

import (
	"strings"
	"testing"
)

func TestSystemRoute(t *testing.T) {
	const img = "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n"
	for _, tc := range []struct {
		src, route, why string
	}{
		{img, RouteDynamic, "one id is enough"},
		{img + "systemd = true\n", RouteStatic, "systemd = true"},
		{img + "userns = \"auto\"\n", RouteStatic, `userns = "auto"`},
		{img + "uid_map = [\"0:1:100\"]\ngid_map = [\"0:1:100\"]\n", RouteStatic, "uid_map/gid_map"},
		{img + "user = \"101\"\n", RouteStatic, `user = "101"`},
		{img + "user = \"root\"\n", RouteDynamic, "one id is enough"},
		{img + "group_add = [\"root\", \"video\"]\n", RouteStatic, `group_add = ["video"]`},
		{img + "group_add = [\"keep-groups\"]\n", RouteDynamic, "one id is enough"},
		{img + "systemd = true\nsystem_user = \"static\"\n", RouteStatic, `system_user = "static"`},
		{img + "system_user = \"static\"\n", RouteStatic, `system_user = "static"`},
	} {
		p, ds := Decode("/etc/ynhd/web.toml", []byte(tc.src), "/root")
		if ds.HasErrors() {
			t.Fatalf("%q: %v", tc.src, ds.Err())
		}
		route, why := p.App.SystemRoute()
		if route != tc.route || !strings.Contains(why, tc.why) {
			t.Errorf("%q: route %s (%s), want %s (%s)", tc.src, route, why, tc.route, tc.why)
		}
	}
}

func TestSystemUserValidation(t *testing.T) {
	const img = "version = 1\nimage = \"docker.io/library/nginx:1.27\"\n"
	system := Host{Rootless: true, UnprivilegedPortStart: 1024, System: true}
	for _, tc := range []struct {
		src  string
		host Host
		want string
	}{
		{img + "system_user = \"root\"\n", testHost, `/etc/ynhd/web.toml:3:1: system_user: unknown value "root": use "dynamic", "static", or leave it out to let ynhd choose`},
		{img + "systemd = true\nsystem_user = \"dynamic\"\n", system, `/etc/ynhd/web.toml:4:1: system_user: a DynamicUser gets a single id, but systemd = true (an init system's files and services belong to many users) needs more: remove system_user (ynhd then picks "static") or set it to "static"`},
		{img + "systemd = true\nsystem_user = \"dynamic\"\n", testHost, ""},
		{"version = 1\n[build]\ncontext = \".\"\n", system, "/etc/ynhd/web.toml:2:1: build: in system mode each app runs its own podman, as its own user, and ynhd has none to build with: build the image elsewhere, push it to a registry and set image, or run this app in user mode"},
	} {
		p, ds := Decode("/etc/ynhd/web.toml", []byte(tc.src), "/root")
		ds = append(ds, Validate(p, tc.host)...)
		got := ""
		if len(ds) > 0 {
			got = ds[0].String()
		}
		if got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.src, got, tc.want)
		}
	}
}
