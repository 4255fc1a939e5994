#!/usr/bin/env bash
# bootenv.sh - a whole Debian booted with systemd as PID 1, for the tests of
# system mode (DynamicUser apps, static users) and of a real login setup
# (logind, lingering, user@UID.service).
#
# Usage: hack/bootenv.sh COMMAND [ARGS...]        (as root)
#
#   up          Build (or take from the cache) a Debian root file system with
#               systemd, podman and a local registry, unpack a fresh copy,
#               boot it and wait until `systemctl is-system-running` answers
#               running. The test images are then pushed to the registry at
#               localhost:5815 inside, so apps pull them like any image.
#   exec [--] CMD [ARGS...]
#               Run CMD as root inside the booted system (all its
#               namespaces), with a clean environment (TERM, NO_COLOR and
#               SYSTEMD_COLORS are passed in). Exit code and output are
#               passed through.
#   root        Print the booted system's root directory as seen from here:
#               files written below it appear inside.
#   pid         Print the host pid of the booted system's PID 1.
#   status      Exit 0 and say so if it is up, else 1.
#   down        Stop it (SIGKILL to its PID 1 ends every process in its PID
#               namespace) and remove the unpacked copy. The cache stays.
#
# How it boots
#   systemd-nspawn does not work on these hosts (it wants the host's system
#   bus), and PID 1 of the host is not systemd. So, by hand: a new PID,
#   mount, UTS, IPC and cgroup namespace (unshare), rooted at the cgroup
#   ynhd-bootenv of the host's cgroup2 hierarchy; in it the root is
#   bind-mounted onto itself, proc, sysfs, cgroup2, /dev, tmpfs /run and
#   /tmp are mounted, pivot_root enters it and /lib/systemd/systemd is
#   exec'd as PID 1 with container=ynhd-bootenv. The cgroup namespace makes
#   the system see a pure cgroup v2 tree of its own, which podman's
#   --cgroups=split for user-mode apps needs. The network namespace is the
#   host's.
#   The host's Go toolchain, module cache and build cache are bind-mounted at
#   the same paths inside (read-only, except the build cache), and the module
#   cache also at /var/cache/ynhd-bootenv-gomod for other users, so `make
#   install` works in the booted system without a download.
#
# Test-machine facts the root file system is configured for (not needed on a
# normal host): the cgroup2 hierarchy has no controllers, so podman is told
# pids_limit = 0; and there is no registry on the network, so a local one
# (Debian's docker-registry) serves the test images.

set -euo pipefail

readonly STATE_DIR=/run/ynhd-bootenv
readonly ROOT=/var/lib/ynhd-bootenv/root
readonly CACHE_DIR=/var/cache/ynhd-testenv
readonly SUITE=bookworm
readonly CGROUP_NAME=ynhd-bootenv
readonly REGISTRY=localhost:5815
readonly PATH_INSIDE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Installed into the root file system on top of debootstrap's minbase.
readonly PACKAGES=(
	podman crun runc conmon catatonit uidmap slirp4netns containernetworking-plugins
	dbus-user-session make procps passwd iproute2 ca-certificates docker-registry
)

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
readonly SELF
HERE="$(dirname "$SELF")"
readonly HERE

log() { printf 'bootenv: %s\n' "$*" >&2; }

die() {
	printf 'bootenv: error: %s\n' "$*" >&2
	local f
	for f in "$STATE_DIR"/boot.log "$STATE_DIR"/build.log; do
		if [[ -s "$f" ]]; then
			printf -- '--- last lines of %s:\n' "$f" >&2
			tail -n 30 "$f" >&2
		fi
	done
	exit 1
}

need_root() { [[ "$(id -u)" -eq 0 ]] || die "must run as root"; }

pid1() {
	local pid
	pid="$(cat "$STATE_DIR/pid" 2>/dev/null || true)"
	[[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

host_cgroup2() { findmnt -n -r -t cgroup2 -o TARGET | head -n 1; }

# term_env: the caller's TERM, and NO_COLOR and SYSTEMD_COLORS when set,
# as NUL-separated NAME=VALUE words: commands inside (systemctl, journalctl)
# colour their output only where the caller's would.
term_env() {
	local v
	printf 'TERM=%s\0' "${TERM:-dumb}"
	for v in NO_COLOR SYSTEMD_COLORS; do
		if [[ -n "${!v:-}" ]]; then printf '%s=%s\0' "$v" "${!v}"; fi
	done
}

inside() {
	local pid term
	pid="$(pid1)" || die "not up"
	mapfile -d '' term < <(term_env)
	nsenter -t "$pid" -a env -i PATH="$PATH_INSIDE" HOME=/root LANG=C.UTF-8 "${term[@]}" "$@"
}

# ---------------------------------------------------------------- rootfs

# apt_mirror: the host's Debian mirror (as the test images use).
apt_mirror() {
	local m
	m="$(grep -rhoE '^(URIs:|deb)[[:space:]]+(\[[^]]*\][[:space:]]+)?https?://[^[:space:]]+/debian/?([[:space:]]|$)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -oE 'https?://[^[:space:]]+' | head -n 1 || true)"
	echo "${m:-http://deb.debian.org/debian}"
}

# recipe DIR MIRROR: the booted system's root file system.
recipe() {
	local dir="$1" mirror="$2" u
	debootstrap --variant=minbase \
		--include=systemd,systemd-sysv,dbus,libpam-systemd,libnss-systemd \
		"$SUITE" "$dir" "$mirror"
	DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get -q -o DPkg::Lock::Timeout=600 update
	DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get -q -y --no-install-recommends install "${PACKAGES[@]}"
	chroot "$dir" apt-get clean
	rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/log/*.log
	: >"$dir/etc/machine-id"
	rm -f "$dir/var/lib/dbus/machine-id"
	echo ynhd-bootenv >"$dir/etc/hostname"
	# Units with nothing to do here, or that wait for devices.
	for u in getty@tty1.service console-getty.service systemd-udevd.service \
		systemd-udev-trigger.service systemd-modules-load.service \
		sys-kernel-config.mount sys-kernel-debug.mount sys-kernel-tracing.mount \
		apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
		e2scrub_reap.service; do
		ln -sf /dev/null "$dir/etc/systemd/system/$u"
	done
	# The test machine's cgroup2 tree has no controllers.
	mkdir -p "$dir/etc/containers/containers.conf.d"
	printf '[containers]\npids_limit = 0\n' >"$dir/etc/containers/containers.conf.d/50-bootenv.conf"
	# The local registry, plain HTTP on loopback only.
	mkdir -p "$dir/etc/containers/registries.conf.d"
	printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$REGISTRY" \
		>"$dir/etc/containers/registries.conf.d/50-bootenv.conf"
	printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /var/lib/docker-registry\nhttp:\n  addr: 127.0.0.1:%s\n' \
		"${REGISTRY##*:}" >"$dir/etc/docker/registry/config.yml"
}

# ensure_rootfs: the cached tarball of the current recipe; builds it when
# missing.
ensure_rootfs() {
	local mirror key tarball work
	mirror="$(apt_mirror)"
	key="$({
		declare -f recipe
		echo "${PACKAGES[*]} $SUITE $mirror $REGISTRY"
	} | sha256sum | cut -c1-16)"
	tarball="$CACHE_DIR/bootenv-$key.tar"
	if [[ ! -s "$tarball" ]]; then
		log "building the booted system's root file system (about a minute)"
		install -d -m 0755 "$CACHE_DIR"
		work="$CACHE_DIR/work-bootenv-$key"
		rm -rf "$work"
		if ! recipe "$work" "$mirror" >>"$STATE_DIR/build.log" 2>&1; then
			rm -rf "$work"
			die "building the root file system failed (see $STATE_DIR/build.log)"
		fi
		tar --numeric-owner -C "$work" --exclude='./dev/*' --exclude='./proc/*' \
			--exclude='./sys/*' -cf "$tarball.tmp" .
		mv "$tarball.tmp" "$tarball"
		rm -rf "$work"
		local old
		for old in "$CACHE_DIR"/bootenv-*.tar; do
			[[ "$old" == "$tarball" ]] || rm -f "$old"
		done
	fi
	echo "$tarball"
}

# ---------------------------------------------------------------- boot

# GO_MODCACHE is where the host's module cache also appears inside, for
# users who cannot reach root's home.
readonly GO_MODCACHE=/var/cache/ynhd-bootenv-gomod

# go_binds: "SOURCE TARGET ro|rw" lines: the host's Go toolchain and caches,
# bound at the same paths inside, and the module cache once more at
# GO_MODCACHE.
go_binds() {
	local goroot modcache gocache
	command -v go >/dev/null || return 0
	goroot="$(go env GOROOT)" modcache="$(go env GOMODCACHE)" gocache="$(go env GOCACHE)"
	[[ -d "$goroot" ]] && echo "$goroot $goroot ro"
	[[ -d "$modcache" ]] && echo "$modcache $modcache ro" && echo "$modcache $GO_MODCACHE ro"
	mkdir -p "$gocache" && echo "$gocache $gocache rw"
}

# inner_boot ROOT BINDS...: PID 1 of the new namespaces (see the header).
inner_boot() {
	local root="$1" b src dst mode
	shift
	mount --make-rprivate /
	mount --bind "$root" "$root"
	for b in "$@"; do
		read -r src dst mode <<<"$b"
		mkdir -p "$root$dst"
		mount --bind "$src" "$root$dst"
		[[ "$mode" == ro ]] && mount -o remount,bind,ro "$root$dst"
	done
	mount -t proc proc "$root/proc"
	mount -t sysfs sysfs "$root/sys"
	mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o mode=0755 tmpfs "$root/run"
	mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
	cd "$root"
	mkdir -p .oldroot
	pivot_root . .oldroot
	umount -l /.oldroot
	rmdir /.oldroot 2>/dev/null || true
	export container=ynhd-bootenv
	exec /lib/systemd/systemd
}

cmd_up() {
	need_root
	install -d -m 0755 "$STATE_DIR"
	if pid1 >/dev/null; then
		log "already up"
		return 0
	fi
	local tarball images cg binds=()
	images="$(bash "$HERE/testenv.sh" tarballs)" || die "building the test images failed"
	tarball="$(ensure_rootfs)"
	if findmnt -R "$ROOT" >/dev/null 2>&1; then
		die "$ROOT has mounts on the host; not touching it"
	fi
	rm -rf "$ROOT"
	mkdir -p "$ROOT"
	tar --numeric-owner -C "$ROOT" -xf "$tarball"
	mkdir -p "$ROOT/var/tmp/images"
	local name path
	while read -r name path; do
		cp "$path" "$ROOT/var/tmp/images/$name.tar"
	done <<<"$images"
	mapfile -t binds < <(go_binds)
	# /dev/net/tun is 0600 on these hosts; rootless networking needs 0666.
	[[ -c /dev/net/tun ]] && chmod 666 /dev/net/tun

	cg="$(host_cgroup2)/$CGROUP_NAME"
	[[ -n "$(host_cgroup2)" ]] || die "no cgroup2 hierarchy on this host"
	mkdir -p "$cg"
	(
		echo "$BASHPID" >"$cg/cgroup.procs"
		exec setsid unshare --pid --fork --mount --uts --ipc --cgroup \
			bash "$SELF" __boot "$ROOT" "${binds[@]}" </dev/null >"$STATE_DIR/boot.log" 2>&1
	) &
	# The subshell became unshare (setsid does not fork: a background job
	# of a script is no process group leader); its child is PID 1 inside.
	local unshare_pid=$! i pid=""
	for ((i = 0; i < 100; i++)); do
		pid="$(pgrep -P "$unshare_pid" | head -n 1 || true)"
		[[ -n "$pid" && "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */systemd ]] && break
		pid=""
		sleep 0.1
	done
	[[ -n "$pid" ]] || die "systemd did not start"
	echo "$pid" >"$STATE_DIR/pid"
	local state=""
	for ((i = 0; i < 120; i++)); do
		state="$(inside systemctl is-system-running 2>/dev/null || true)"
		[[ "$state" == running || "$state" == degraded ]] && break
		sleep 0.5
	done
	if [[ "$state" != running ]]; then
		inside systemctl --failed --no-legend >&2 || true
		die "the booted system is $state, not running"
	fi
	log "booted (pid $pid); pushing the test images to $REGISTRY"
	inside systemctl is-active --quiet docker-registry || inside systemctl restart docker-registry
	inside sh -c "
		podman import -q --change 'CMD [\"/bin/sh\"]' /var/tmp/images/busybox.tar $REGISTRY/ynhd-test/busybox:latest &&
		podman import -q --change 'CMD [\"/sbin/init\"]' --change 'STOPSIGNAL SIGRTMIN+3' \
			/var/tmp/images/debian-systemd.tar $REGISTRY/ynhd-test/debian-systemd:latest &&
		podman push -q $REGISTRY/ynhd-test/busybox:latest &&
		podman push -q $REGISTRY/ynhd-test/debian-systemd:latest &&
		podman rmi -a -f && rm -rf /var/tmp/images" >>"$STATE_DIR/build.log" 2>&1 ||
		die "pushing the test images failed (see $STATE_DIR/build.log)"
	log "up"
}

cmd_down() {
	need_root
	local pid cg i
	if pid="$(pid1)"; then
		kill -9 "$pid"
		for ((i = 0; i < 100; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
	fi
	rm -f "$STATE_DIR/pid"
	cg="$(host_cgroup2)/$CGROUP_NAME"
	if [[ -d "$cg" ]]; then
		# Every process there was in the PID namespace and is gone; the
		# cgroups are empty and can go, deepest first.
		for ((i = 0; i < 50; i++)); do
			find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
			[[ -d "$cg" ]] || break
			sleep 0.1
		done
	fi
	if findmnt -R "$ROOT" >/dev/null 2>&1; then
		die "$ROOT still has mounts; not removing it"
	fi
	rm -rf "$ROOT"
	log "down"
}

usage() {
	sed -n '2,/^# How it boots/{/^# How it boots/d;s/^# \{0,1\}//;p}' "$SELF" >&2
	exit "${1:-2}"
}

main() {
	local cmd="${1:-}"
	(($#)) && shift
	case "$cmd" in
	up) cmd_up ;;
	down) cmd_down ;;
	exec)
		need_root
		[[ "${1:-}" == -- ]] && shift
		(($#)) || usage
		local pid term
		pid="$(pid1)" || die "not up"
		mapfile -d '' term < <(term_env)
		exec nsenter -t "$pid" -a env -i PATH="$PATH_INSIDE" HOME=/root LANG=C.UTF-8 "${term[@]}" "$@"
		;;
	root) echo "$ROOT" ;;
	pid) pid1 || die "not up" ;;
	status)
		if pid1 >/dev/null; then
			echo up
		else
			echo down
			exit 1
		fi
		;;
	__boot) inner_boot "$@" ;;
	-h | --help | help) usage 0 ;;
	*) usage 2 ;;
	esac
}

main "$@"
