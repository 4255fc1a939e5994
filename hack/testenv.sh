#!/usr/bin/env bash
# testenv.sh - the ynhd integration-test environment.
#
# Usage: hack/testenv.sh COMMAND [ARGS...]        (as root)
#
#   up [--transient]    Install what is missing, create the test user, start
#                       journald and a real `systemd --user` manager for it,
#                       write its podman configuration and import the test
#                       images. Idempotent; a second `up` is fast (cached).
#                       --transient (used by test runs): if this call starts
#                       the environment, `down --if-unused` may stop it again;
#                       a plain `up` makes it stay up until `down`.
#   exec [--scope] [--] CMD [ARGS...]
#                       Run CMD as the test user inside the environment.
#                       stdin/stdout/stderr and the exit code are passed
#                       through. --scope additionally wraps CMD in
#                       `systemd-run --user --scope` (a transient scope unit
#                       of the user manager, as a desktop terminal has).
#   shell               Interactive shell as the test user inside.
#   status              Exit 0 and say so if the environment is up, else 1.
#   down                Stop the manager, journald and every process of the
#                       test user; unmount everything. Keeps the user, its
#                       podman storage (images) and the image cache.
#   down --if-unused    Like down, but only for an environment started by
#                       `up --transient`, and not while a test run holds the
#                       lease lock (see below).
#   purge               down, then remove the test user, its home and the cache.
#   tarballs            Build the test images' root file system tarballs if
#                       they are not cached and print "NAME PATH" for each
#                       (for hack/bootenv.sh).
#
# Environment:
#   YNHD_TESTENV_USER   name of the test user (default ynhd-test)
#
# What `up` builds
#   PID 1 of the machines this runs on is not systemd and cgroups may be in
#   hybrid (v1 + v2) mode, so there is no logind and no user@.service. We make
#   the equivalent by hand:
#     * a private mount namespace ("the environment") with a tmpfs on
#       /run/systemd (containing the empty directory /run/systemd/system that
#       `systemd --user` insists on), cgroup2 mounted on /sys/fs/cgroup, / made
#       rshared (podman warns otherwise), a tmpfs /run/user/UID (what logind
#       would create) and a tmpfs /var/log/journal;
#     * systemd-journald started as root in that namespace, with the
#       /run/systemd/journal/flushed marker so it writes the persistent,
#       per-user journal files that `journalctl --user` can read;
#     * the cgroup user.slice/user-UID.slice/user@UID.service, delegated
#       (chowned) to the user, and a cgroup namespace rooted there, in which
#       `systemd --user` runs as the test user. Inside the cgroup namespace the
#       machine looks like a pure cgroup-v2 host, which podman needs for
#       --cgroups=split and for conmon to be a unit's main process.
#   State (pids, uid, logs) lives in /run/ynhd-testenv.
#
# How `exec` runs a command
#   Before entering, the calling process is moved into the delegated cgroup
#   user@UID.service/ynhd-testenv-exec (owned by the user), then it enters
#   the mount and cgroup namespaces of the manager (nsenter -m -C) and drops
#   to the user (setpriv). It gets a clean environment: HOME, USER, LOGNAME,
#   PATH, XDG_RUNTIME_DIR, DBUS_SESSION_BUS_ADDRESS, YNHD_TESTENV=1, and every
#   variable of the caller whose name starts with YNHD_ or is GOFLAGS,
#   GOCOVERDIR, TERM, NO_COLOR or SYSTEMD_COLORS (so systemctl and
#   journalctl colour only where the caller's would). The working directory
#   is the caller's if the user can read it, else the user's home.
#   Because the process sits in a cgroup the user owns below its manager,
#   everything works from it directly: `systemctl --user`, `journalctl
#   --user`, go-systemd's dbus.NewUserConnectionContext, and plain `podman
#   run/inspect/exec/volume` (including --cgroups=split), without wrapping
#   in `systemd-run --user`. (Entering only the namespaces would leave the
#   process in a cgroup outside the user's tree; there every `podman run`
#   fails: the user manager cannot move the container into its scope, and
#   --cgroups=split finds no cgroup of its own. Each podman command would
#   then need `systemd-run --user --pipe --wait --collect`.) `exec --scope`
#   is there for commands that want to be in a unit of their own.
#
# Test runs and `down`
#   Several test processes may use the environment at once (`go test ./...`
#   runs packages in parallel). A user of the environment holds a shared
#   flock(2) on /run/ynhd-testenv.lease while it runs; `down --if-unused`
#   only proceeds if it can take that lock exclusively. `up` and `down` are
#   serialised by /run/ynhd-testenv.lock.

set -euo pipefail

readonly TEST_USER="${YNHD_TESTENV_USER:-ynhd-test}"
readonly STATE_DIR=/run/ynhd-testenv
readonly CACHE_DIR=/var/cache/ynhd-testenv
readonly LOCK_FILE=/run/ynhd-testenv.lock
readonly LEASE_FILE=/run/ynhd-testenv.lease
readonly BUSYBOX_IMAGE=localhost/ynhd-test/busybox:latest
readonly SYSTEMD_IMAGE=localhost/ynhd-test/debian-systemd:latest
readonly SUITE=bookworm
readonly USER_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly RECIPE_LABEL=io.ynhd.testenv.recipe
# Name of the cgroup (below user@UID.service) that `exec` puts commands in.
readonly EXEC_CGROUP=ynhd-testenv-exec
# Debian packages the environment needs.
readonly PACKAGES=(
	podman crun runc conmon catatonit uidmap slirp4netns fuse-overlayfs
	dbus dbus-user-session systemd debootstrap busybox-static
	golang-github-containernetworking-plugin-dnsname
	util-linux procps passwd tar
	# A local registry for the image update tests (test/integration),
	# which start it themselves as a transient user unit on loopback.
	docker-registry
	# lintian checks the package make deb builds (test/system).
	lintian
)

SELF="$(readlink -f "${BASH_SOURCE[0]}")"
readonly SELF

# ---------------------------------------------------------------- helpers

log() { printf 'testenv: %s\n' "$*" >&2; }

# die MESSAGE: print MESSAGE (and the tails of the environment's logs, if
# there are any) and exit 1.
die() {
	printf 'testenv: error: %s\n' "$*" >&2
	local f
	for f in "$STATE_DIR"/manager.log "$STATE_DIR"/journald.log "$STATE_DIR"/build.log; do
		if [[ -s "$f" ]]; then
			printf -- '--- last lines of %s:\n' "$f" >&2
			tail -n 30 "$f" >&2
		fi
	done
	exit 1
}

need_root() {
	[[ "$(id -u)" -eq 0 ]] || die "must run as root"
}

# pid_alive PID: whether process PID exists.
pid_alive() {
	[[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null
}

read_state() { cat "$STATE_DIR/$1" 2>/dev/null || true; }

user_uid() { id -u "$TEST_USER"; }
user_gid() { id -g "$TEST_USER"; }
user_home() { getent passwd "$TEST_USER" | cut -d: -f6; }

# host_cgroup2: the mount point of a cgroup2 hierarchy in the caller's mount
# namespace (/sys/fs/cgroup/unified on hybrid hosts, /sys/fs/cgroup on pure
# v2 hosts), or nothing.
host_cgroup2() {
	findmnt -n -r -t cgroup2 -o TARGET 2>/dev/null | head -n 1
}

# close_extra_fds: close every descriptor above 2 of this shell, so the
# daemons it execs next (journald, the user manager) hold no caller's lock
# file open: a lock inherited by a daemon is held as long as it runs.
close_extra_fds() {
	local f n
	for f in /proc/"$BASHPID"/fd/*; do
		n="${f##*/}"
		[[ "$n" =~ ^[0-9]+$ ]] && ((n > 2)) && eval "exec $n>&-" 2>/dev/null
	done
	return 0
}

# with_lock CMD...: run CMD holding the up/down lock.
with_lock() {
	exec 9>"$LOCK_FILE"
	flock 9
	"$@"
	flock -u 9
	exec 9>&-
}

# ---------------------------------------------------------------- packages

install_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		if [[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]]; then
			missing+=("$p")
		fi
	done
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		# Wait for a concurrent apt/dpkg run instead of failing on its lock.
		local apt=(apt-get -q -o DPkg::Lock::Timeout=600)
		if ! "${apt[@]}" install -y --no-install-recommends "${missing[@]}" >"$STATE_DIR/apt.log" 2>&1; then
			log "apt-get install failed; running apt-get update and retrying"
			"${apt[@]}" update >>"$STATE_DIR/apt.log" 2>&1 || true
			"${apt[@]}" install -y --no-install-recommends "${missing[@]}" >>"$STATE_DIR/apt.log" 2>&1 ||
				{ tail -n 20 "$STATE_DIR/apt.log" >&2; die "could not install ${missing[*]}"; }
		fi
	fi
	# Rootless networking (slirp4netns) needs /dev/net/tun, which is 0600 here.
	if [[ -c /dev/net/tun ]]; then
		chmod 666 /dev/net/tun
	fi
	# journald names its directory after the machine id.
	if [[ ! -s /etc/machine-id ]]; then
		systemd-machine-id-setup >/dev/null
	fi
}

# ---------------------------------------------------------------- user

# next_subid_start FILE: the first id after every range in FILE (at least
# 100000).
next_subid_start() {
	awk -F: 'BEGIN { n = 100000 } NF >= 3 && $2 + $3 > n { n = $2 + $3 } END { print n }' "$1"
}

ensure_user() {
	if ! getent passwd "$TEST_USER" >/dev/null; then
		log "creating user $TEST_USER"
		useradd --create-home --home-dir "/home/$TEST_USER" --shell /bin/bash \
			--user-group --comment "ynhd integration tests" "$TEST_USER"
	fi
	local f
	for f in /etc/subuid /etc/subgid; do
		touch "$f"
		if ! grep -q "^$TEST_USER:" "$f"; then
			printf '%s:%s:65536\n' "$TEST_USER" "$(next_subid_start "$f")" >>"$f"
		fi
	done
}

# ---------------------------------------------------------------- manager

# is_up: whether the manager recorded in the state directory is running and
# answers on its private socket.
is_up() {
	local pid
	pid="$(read_state manager.pid)"
	pid_alive "$pid" || return 1
	[[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == systemd ]] || return 1
	[[ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" == "$(read_state mntns)" ]] || return 1
	run_as_user "" systemctl --user is-active --quiet dbus.socket </dev/null >/dev/null 2>&1
}

# The environment is started by re-running this script with internal
# subcommands: __ns runs in a new mount namespace, __manager in a new cgroup
# namespace as well; both end in exec, so the pid recorded by __ns becomes
# the pid of `systemd --user`.

# __ns UID GID: set up the mount namespace, start journald, enter the cgroup
# of the user manager.
inner_ns() {
	local uid="$1" gid="$2"
	echo "$$" >"$STATE_DIR/manager.pid"
	readlink "/proc/$$/ns/mnt" >"$STATE_DIR/mntns"
	mount --make-rprivate /

	# systemd --user only starts if /run/systemd/system exists.
	mkdir -p /run/systemd
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run/systemd
	mkdir -p /run/systemd/system /run/systemd/journal

	# A cgroup2 hierarchy on /sys/fs/cgroup, in place of the host's hybrid tree.
	umount -l /sys/fs/cgroup 2>/dev/null || true
	mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
	# podman warns unless / is a shared mount.
	mount --make-rshared /

	# The user's runtime directory, as logind would make it.
	mkdir -p "/run/user/$uid"
	mount -t tmpfs -o "mode=0700,uid=$uid,gid=$gid,nosuid,nodev,size=25%" tmpfs "/run/user/$uid"

	# journald, writing per-user journal files to a tmpfs /var/log/journal.
	mkdir -p /var/log/journal
	mount -t tmpfs -o mode=2755,gid=systemd-journal,nosuid,nodev tmpfs /var/log/journal
	touch /run/systemd/journal/flushed
	(close_extra_fds; exec /lib/systemd/systemd-journald </dev/null >>"$STATE_DIR/journald.log" 2>&1) &
	echo "$!" >"$STATE_DIR/journald.pid"
	local i
	for ((i = 0; i < 100; i++)); do
		[[ -S /run/systemd/journal/socket ]] && break
		sleep 0.1
	done
	[[ -S /run/systemd/journal/socket ]] || { echo "journald did not start" >&2; exit 1; }

	# The manager's cgroup, delegated to the user as systemd does for
	# user@.service.
	local cg="/sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service"
	mkdir -p "$cg"
	chown "$uid:$gid" "$cg" "$cg/cgroup.procs" "$cg/cgroup.subtree_control" "$cg/cgroup.threads"
	echo "$$" >"$cg/cgroup.procs"
	exec unshare --cgroup -- "$SELF" __manager "$uid" "$gid"
}

# __manager UID GID: in the new cgroup namespace, mount cgroup2 afresh (so
# it is rooted at the namespace's root) and exec the user manager.
inner_manager() {
	local uid="$1" gid="$2" home
	home="$(user_home)"
	umount -l /sys/fs/cgroup
	mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup
	exec setpriv --reuid="$uid" --regid="$gid" --init-groups \
		env -i HOME="$home" USER="$TEST_USER" LOGNAME="$TEST_USER" \
		PATH="$USER_PATH" XDG_RUNTIME_DIR="/run/user/$uid" \
		/lib/systemd/systemd --user
}

start_manager() {
	local uid gid
	uid="$(user_uid)"
	gid="$(user_gid)"
	rm -f "$STATE_DIR"/{manager.pid,journald.pid,mntns,manager.log,journald.log}
	echo "$uid" >"$STATE_DIR/uid"
	echo "$TEST_USER" >"$STATE_DIR/user"
	# The mount point on the host; the namespace mounts a tmpfs on it.
	install -d -m 0700 -o "$uid" -g "$gid" "/run/user/$uid"
	log "starting journald and systemd --user for $TEST_USER (uid $uid)"
	# Detached from the caller: new session, no inherited stdio, so a
	# caller that pipes our output is not kept waiting by these daemons.
	(close_extra_fds; exec setsid unshare --mount --propagation private -- "$SELF" __ns "$uid" "$gid" \
		</dev/null >>"$STATE_DIR/manager.log" 2>&1) &
	local i pid=""
	for ((i = 0; i < 300; i++)); do
		pid="$(read_state manager.pid)"
		if [[ -n "$pid" && "$(cat "/proc/$pid/comm" 2>/dev/null)" == systemd ]] &&
			[[ -S "/proc/$pid/root/run/user/$uid/systemd/private" ]]; then
			break
		fi
		if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
			die "the user manager exited during start"
		fi
		sleep 0.1
	done
	for ((i = 0; i < 300; i++)); do
		if is_up; then
			return 0
		fi
		if [[ -n "$pid" ]] && ! pid_alive "$pid"; then
			die "the user manager exited during start"
		fi
		sleep 0.1
	done
	die "the user manager did not become ready within 60 s"
}

# ---------------------------------------------------------------- config

# write_user_file PATH MODE: write stdin to PATH (owned by the test user),
# replacing it atomically if the content differs.
write_user_file() {
	local path="$1" mode="$2" tmp uid gid
	uid="$(user_uid)"
	gid="$(user_gid)"
	tmp="$(mktemp)"
	cat >"$tmp"
	if cmp -s "$tmp" "$path"; then
		rm -f "$tmp"
		return 0
	fi
	install -D -m "$mode" -o "$uid" -g "$gid" "$tmp" "$path"
	rm -f "$tmp"
}

# ensure_user_dirs DIR...: create DIRs (and missing parents below the
# user's home) as the test user.
ensure_user_dirs() {
	local d
	for d in "$@"; do
		setpriv --reuid="$(user_uid)" --regid="$(user_gid)" --init-groups mkdir -p "$d"
	done
}

write_config() {
	local home
	home="$(user_home)"
	ensure_user_dirs "$home/.config/containers" "$home/.config/systemd/user"
	# PID 1 is not systemd, so podman would not pick the systemd cgroup
	# manager and the journald log and event backends by itself. The cgroup2
	# tree has no controllers, so no pids limit. keyring=false: crun would
	# make a kernel keyring per container and the key quota (maxkeys=200)
	# would cap the number of containers.
	write_user_file "$home/.config/containers/containers.conf" 0644 <<-'EOF'
		# Written by hack/testenv.sh.
		[containers]
		log_driver = "journald"
		pids_limit = 0
		keyring = false

		[engine]
		cgroup_manager = "systemd"
		events_logger = "journald"
	EOF
	# /dev/fuse is 0600 on these machines: no fuse-overlayfs; vfs works
	# everywhere.
	write_user_file "$home/.config/containers/storage.conf" 0644 <<-'EOF'
		# Written by hack/testenv.sh.
		[storage]
		driver = "vfs"
	EOF
}

# ---------------------------------------------------------------- images

# apt_mirror: the Debian mirror apt uses for the main suite.
apt_mirror() {
	local m=""
	shopt -s nullglob
	local f files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
	shopt -u nullglob
	for f in "${files[@]}"; do
		[[ -r "$f" ]] || continue
		case "$f" in
		*.sources)
			# deb822: the URIs of the first stanza whose Suites has SUITE.
			m="$(awk -v suite="$SUITE" '
				/^[ \t]*$/ { if (uri != "" && ok) { print uri; exit } uri = ""; ok = 0; next }
				tolower($1) == "uris:" { uri = $2 }
				tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
				END { if (uri != "" && ok) print uri }' "$f" | head -n 1)"
			;;
		*)
			m="$(awk -v suite="$SUITE" '
				$1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
					if ($(i + 1) == suite) { print $i; exit } }' "$f")"
			;;
		esac
		[[ -n "$m" ]] && break
	done
	echo "${m:-http://deb.debian.org/debian}"
}

# tar_rootfs DIR OUT: a tarball of DIR with numeric root ownership and
# without device nodes (rootless podman cannot create them; it mounts /dev).
tar_rootfs() {
	local dir="$1" out="$2"
	tar --numeric-owner -C "$dir" \
		--exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
		-cf "$out.tmp" .
	mv "$out.tmp" "$out"
	chmod 0644 "$out"
}

# recipe_busybox DIR: the busybox image's root file system.
recipe_busybox() {
	local dir="$1" a
	mkdir -p "$dir"/{bin,etc,dev,proc,sys,tmp,root,var/www,usr/bin}
	chmod 1777 "$dir/tmp"
	chmod 0700 "$dir/root"
	cp /bin/busybox "$dir/bin/busybox"
	for a in $("$dir/bin/busybox" --list); do
		[[ "$a" == busybox ]] || ln -sf busybox "$dir/bin/$a"
	done
	ln -sf ../../bin/env "$dir/usr/bin/env"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$dir/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'nobody:x:65534:' >"$dir/etc/group"
}

# recipe_debian_systemd DIR MIRROR: a minimal Debian that boots systemd in a
# container.
recipe_debian_systemd() {
	local dir="$1" mirror="$2" u
	debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus \
		"$SUITE" "$dir" "$mirror"
	# Keep it small.
	rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin \
		"$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/*.log
	# systemd makes a fresh machine id per container when the file is empty.
	: >"$dir/etc/machine-id"
	rm -f "$dir/var/lib/dbus/machine-id"
	# Units that have nothing to do in a container and would only fail or
	# wait for devices.
	for u in getty@tty1.service systemd-udevd.service systemd-udev-trigger.service \
		systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
		sys-kernel-tracing.mount apt-daily.timer apt-daily-upgrade.timer \
		e2scrub_all.timer fstrim.timer; do
		ln -sf /dev/null "$dir/etc/systemd/system/$u"
	done
}

# recipe_hash FUNC...: a short hash of the source of the named functions
# (and of tar_rootfs), part of the key of the image cache.
recipe_hash() {
	{
		declare -f tar_rootfs "$@"
	} | sha256sum | cut -c1-16
}

# image_label IMAGE: the recipe label of IMAGE in the user's storage, or
# nothing if the image is missing.
image_label() {
	run_as_user "" podman image inspect --format "{{index .Labels \"$RECIPE_LABEL\"}}" "$1" \
		</dev/null 2>/dev/null || true
}

# ensure_tarball IMAGE KEY CMD: the path of the cached rootfs tarball of
# IMAGE's recipe with hash KEY, CACHE_DIR/NAME-KEY.tar, built first with
# CMD (called as CMD DIR) if it is missing.
ensure_tarball() {
	local image="$1" key="$2" build="$3"
	local tarball="$CACHE_DIR/${image##*/}"
	tarball="${tarball%%:*}-$key.tar"
	if [[ ! -s "$tarball" ]]; then
		log "building $image (recipe $key)"
		local work="$CACHE_DIR/work-$key"
		rm -rf "$work"
		mkdir -p "$work"
		if ! "$build" "$work/rootfs" >>"$STATE_DIR/build.log" 2>&1; then
			rm -rf "$work"
			die "building the root file system of $image failed (see $STATE_DIR/build.log)"
		fi
		tar_rootfs "$work/rootfs" "$tarball"
		rm -rf "$work"
		# Drop tarballs of older recipes of this image.
		local old
		for old in "${tarball%-*}"-*.tar; do
			[[ "$old" == "$tarball" ]] || rm -f "$old"
		done
	fi
	echo "$tarball"
}

# ensure_image IMAGE KEY CMD CHANGE...: make sure IMAGE in the user's
# storage was built from the recipe with hash KEY, from the tarball
# ensure_tarball keeps.
ensure_image() {
	local image="$1" key="$2" build="$3"
	shift 3
	if [[ "$(image_label "$image")" == "$key" ]]; then
		return 0
	fi
	local tarball
	tarball="$(ensure_tarball "$image" "$key" "$build")"
	log "importing $image"
	local args=() c
	for c in "$@" "LABEL $RECIPE_LABEL=$key"; do
		args+=(--change "$c")
	done
	run_as_user "" podman import --quiet "${args[@]}" "$tarball" "$image" </dev/null \
		>>"$STATE_DIR/build.log" 2>&1 || die "podman import of $image failed"
	# Remove the untagged image a previous recipe left behind.
	run_as_user "" podman image prune --force </dev/null >/dev/null 2>&1 || true
}

build_busybox() { recipe_busybox "$1"; }
build_debian_systemd() { recipe_debian_systemd "$1" "$MIRROR"; }

# image_keys: sets BB_KEY and SD_KEY, the recipe hashes of the two images.
image_keys() {
	install -d -m 0755 "$CACHE_DIR"
	MIRROR="$(apt_mirror)"
	local bb_key sd_key
	bb_key="$(
		recipe_hash recipe_busybox
		dpkg-query -W -f='${Version}' busybox-static
	)"
	bb_key="$(echo "$bb_key" | sha256sum | cut -c1-16)"
	sd_key="$(
		recipe_hash recipe_debian_systemd
		echo "$SUITE $MIRROR"
	)"
	sd_key="$(echo "$sd_key" | sha256sum | cut -c1-16)"
	BB_KEY="$bb_key" SD_KEY="$sd_key"
}

ensure_images() {
	image_keys
	ensure_image "$BUSYBOX_IMAGE" "$BB_KEY" build_busybox 'CMD ["/bin/sh"]'
	ensure_image "$SYSTEMD_IMAGE" "$SD_KEY" build_debian_systemd \
		'CMD ["/sbin/init"]' 'STOPSIGNAL SIGRTMIN+3'
}

# cmd_tarballs: build the test images' rootfs tarballs if needed and print
# "busybox PATH" and "debian-systemd PATH", for other environments
# (hack/bootenv.sh) that import them themselves.
cmd_tarballs() {
	need_root
	install -d -m 0755 "$STATE_DIR"
	install_packages
	image_keys
	echo "busybox $(ensure_tarball "$BUSYBOX_IMAGE" "$BB_KEY" build_busybox)"
	echo "debian-systemd $(ensure_tarball "$SYSTEMD_IMAGE" "$SD_KEY" build_debian_systemd)"
}

# ---------------------------------------------------------------- exec

# run_as_user CWD CMD...: run CMD as the test user inside the environment,
# in directory CWD (empty: the user's home). Replaces the current process
# only when called as the last thing (see cmd_exec); here it runs CMD in a
# subshell so that helpers can use it.
run_as_user() {
	(exec_as_user "$@")
}

# exec_as_user CWD CMD...: see run_as_user; replaces the current process.
exec_as_user() {
	local cwd="$1"
	shift
	local uid pid home
	uid="$(read_state uid)"
	pid="$(read_state manager.pid)"
	if [[ -z "$uid" ]] || ! pid_alive "$pid"; then
		die "the environment is not up (run: $SELF up)"
	fi
	home="$(user_home)"
	# Move this process into a cgroup the user owns, below its manager, so
	# that the user manager and podman treat it as one of the user's own
	# processes.
	local cg2 cg
	cg2="$(host_cgroup2)"
	if [[ -n "$cg2" ]]; then
		cg="$cg2/user.slice/user-$uid.slice/user@$uid.service/$EXEC_CGROUP"
		if [[ ! -d "$cg" ]]; then
			mkdir -p "$cg"
			chown "$uid:$(user_gid)" "$cg" "$cg/cgroup.procs" "$cg/cgroup.subtree_control" "$cg/cgroup.threads"
		fi
		echo "$BASHPID" >"$cg/cgroup.procs"
	fi
	local env=(
		HOME="$home" USER="$TEST_USER" LOGNAME="$TEST_USER" PATH="$USER_PATH"
		XDG_RUNTIME_DIR="/run/user/$uid"
		DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus"
	)
	local name
	while IFS= read -r name; do
		case "$name" in
		YNHD_* | GOFLAGS | GOCOVERDIR | TERM | NO_COLOR | SYSTEMD_COLORS) env+=("$name=${!name}") ;;
		esac
	done < <(compgen -e)
	env+=(YNHD_TESTENV=1)
	# shellcheck disable=SC2016 # the script is for the inner shell.
	exec nsenter --target "$pid" --mount --cgroup -- \
		setpriv --reuid="$uid" --regid="$(user_gid)" --init-groups -- \
		env -i "${env[@]}" /bin/sh -c '
			if ! { [ -n "$1" ] && cd -- "$1" 2>/dev/null && [ -r . ]; }; then
				cd -- "$HOME" || exit 125
			fi
			shift
			exec "$@"' ynhd-testenv "$cwd" "$@"
}

cmd_exec() {
	local scope=0
	while (($#)); do
		case "$1" in
		--scope) scope=1 ;;
		--) shift; break ;;
		-*) die "exec: unknown option $1" ;;
		*) break ;;
		esac
		shift
	done
	(($#)) || die "exec: no command given"
	is_up || die "the environment is not up (run: $SELF up)"
	if ((scope)); then
		set -- systemd-run --user --scope --quiet --collect -- "$@"
	fi
	exec_as_user "$PWD" "$@"
}

# ---------------------------------------------------------------- down

# kill_pids SIGNAL PID...: signal the given processes, ignoring those gone.
kill_pids() {
	local sig="$1"
	shift
	if (($#)); then
		kill "-$sig" "$@" 2>/dev/null || true
	fi
}

# env_pids: every process that belongs to the environment: those of the
# test user and of its subordinate ids (container processes), those in the
# environment's mount namespace (journald) and those in its cgroups.
# Usage: env_pids UID
env_pids() {
	local uid="$1" ns p cg2 user range
	ns="$(read_state mntns)"
	user="$(read_state user)"
	user="${user:-$TEST_USER}"
	{
		if [[ -n "$uid" ]]; then
			range="$(awk -F: -v u="$user" '$1 == u { print $2, $2 + $3; exit }' /etc/subuid 2>/dev/null || true)"
			ps -e -o pid=,uid= | awk -v uid="$uid" -v range="$range" '
				BEGIN { split(range, r, " ") }
				$2 == uid || (r[1] != "" && $2 >= r[1] && $2 < r[2]) { print $1 }'
			cg2="$(host_cgroup2)"
			if [[ -n "$cg2" && -d "$cg2/user.slice/user-$uid.slice" ]]; then
				find "$cg2/user.slice/user-$uid.slice" -name cgroup.procs -exec cat {} + 2>/dev/null || true
			fi
		fi
		if [[ -n "$ns" ]]; then
			for p in /proc/[0-9]*; do
				[[ "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$ns" ]] && echo "${p#/proc/}"
			done
		fi
	} | sort -un | grep -vx -e "$$" -e "$BASHPID" || true
}

do_down() {
	local pid uid jpid i
	pid="$(read_state manager.pid)"
	uid="$(read_state uid)"
	[[ -n "$uid" ]] || uid="$(id -u "$TEST_USER" 2>/dev/null || true)"
	jpid="$(read_state journald.pid)"
	if [[ -z "$pid$uid$jpid" ]]; then
		return 0
	fi
	if pid_alive "$pid" && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == systemd ]]; then
		# Stop every container first, with a short grace period: a
		# container whose PID 1 ignores SIGTERM would otherwise hold up the
		# manager's exit for the whole stop timeout.
		run_as_user "" timeout 60 podman stop --all --time 2 </dev/null >/dev/null 2>&1 || true
		# Let the manager stop its units cleanly.
		run_as_user "" timeout 30 systemctl --user exit </dev/null >/dev/null 2>&1 || true
		for ((i = 0; i < 150; i++)); do
			pid_alive "$pid" || break
			sleep 0.1
		done
	fi
	# Whatever is left: podman's pause process, conmon, exec'd commands,
	# journald.
	local pids sig
	for sig in TERM KILL; do
		mapfile -t pids < <(env_pids "$uid")
		((${#pids[@]})) || break
		kill_pids "$sig" "${pids[@]}"
		for ((i = 0; i < 50; i++)); do
			mapfile -t pids < <(env_pids "$uid")
			((${#pids[@]})) || break
			sleep 0.1
		done
	done
	mapfile -t pids < <(env_pids "$uid")
	((${#pids[@]} == 0)) || die "processes left behind: ${pids[*]}"
	# The mount namespace is gone with its last process; remove the cgroups
	# it made in the shared cgroup2 hierarchy and the mount point.
	local cg2
	cg2="$(host_cgroup2)"
	if [[ -n "$cg2" && -n "$uid" && -d "$cg2/user.slice/user-$uid.slice" ]]; then
		find "$cg2/user.slice/user-$uid.slice" -depth -type d -exec rmdir {} + 2>/dev/null || true
		rmdir "$cg2/user.slice" 2>/dev/null || true
	fi
	if [[ -n "$uid" ]]; then
		rmdir "/run/user/$uid" 2>/dev/null || true
	fi
	rm -f "$STATE_DIR"/{manager.pid,journald.pid,mntns,transient}
}

cmd_down() {
	need_root
	mkdir -p "$STATE_DIR"
	if [[ "${1:-}" == --if-unused ]]; then
		exec 8>"$LEASE_FILE"
		if ! flock -n -x 8; then
			log "environment still in use; leaving it up"
			return 0
		fi
		if [[ ! -e "$STATE_DIR/transient" ]]; then
			log "environment was started by a plain up; leaving it up"
			return 0
		fi
	fi
	with_lock do_down
	log "down"
}

cmd_purge() {
	need_root
	mkdir -p "$STATE_DIR"
	with_lock do_down
	if getent passwd "$TEST_USER" >/dev/null; then
		log "removing user $TEST_USER"
		local home
		home="$(user_home)"
		# Rootless storage has files owned by subordinate ids; remove as root.
		userdel "$TEST_USER" 2>/dev/null || true
		rm -rf -- "$home"
	fi
	local f
	for f in /etc/subuid /etc/subgid; do
		[[ -f "$f" ]] && sed -i "/^$TEST_USER:/d" "$f"
	done
	rm -rf "$CACHE_DIR" "$STATE_DIR"
	rm -f "$LOCK_FILE" "$LEASE_FILE"
	log "purged"
}

# ---------------------------------------------------------------- up

do_up() {
	local t0=$SECONDS transient=0
	[[ "${1:-}" == --transient ]] && transient=1
	# On a host booted with systemd the user would get a real user@.service
	# from logind; building a second one by hand next to it would interfere
	# with the host's cgroups.
	if [[ "$(cat /proc/1/comm 2>/dev/null)" == systemd ]]; then
		die "PID 1 is systemd: this environment is made for machines without it (containers, CI VMs)"
	fi
	install_packages
	ensure_user
	if ! is_up; then
		do_down
		start_manager
		if ((transient)); then
			touch "$STATE_DIR/transient"
		fi
	fi
	if ((!transient)); then
		rm -f "$STATE_DIR/transient"
	fi
	write_config
	run_as_user "" systemctl --user start podman.socket </dev/null ||
		die "could not start podman.socket for $TEST_USER"
	ensure_images
	local uid
	uid="$(user_uid)"
	cat <<-EOF
		ynhd test environment is up ($((SECONDS - t0)) s)
		  user:     $TEST_USER (uid $uid), home $(user_home)
		  manager:  pid $(read_state manager.pid) ($(run_as_user "" systemctl --user is-system-running </dev/null 2>/dev/null || true))
		  journald: pid $(read_state journald.pid)
		  podman:   $(run_as_user "" podman --version </dev/null), socket /run/user/$uid/podman/podman.sock
		  images:   $BUSYBOX_IMAGE, $SYSTEMD_IMAGE
		  state:    $STATE_DIR
		run commands inside with: $SELF exec -- CMD...
	EOF
}

cmd_up() {
	need_root
	mkdir -p "$STATE_DIR"
	chmod 0755 "$STATE_DIR"
	rm -f "$STATE_DIR/build.log"
	case "${1:-}" in
	'' | --transient) ;;
	*) die "up: unknown argument $1" ;;
	esac
	with_lock do_up "$@"
}

cmd_status() {
	if [[ "$(id -u)" -eq 0 ]] && is_up; then
		echo "up: $TEST_USER (uid $(read_state uid)), manager pid $(read_state manager.pid)," \
			"$(run_as_user "" systemctl --user is-system-running </dev/null 2>/dev/null || true)"
		return 0
	fi
	echo "down"
	exit 1
}

cmd_shell() {
	cmd_exec -- /bin/bash -l
}

usage() {
	sed -n '3,/^# What/{/^# What/d;s/^# \{0,1\}//;p}' "$SELF" >&2
	exit "${1:-2}"
}

main() {
	local cmd="${1:-}"
	(($#)) && shift
	case "$cmd" in
	up) cmd_up "$@" ;;
	down) cmd_down "$@" ;;
	purge) cmd_purge "$@" ;;
	status) cmd_status "$@" ;;
	tarballs) cmd_tarballs "$@" ;;
	exec) need_root; cmd_exec "$@" ;;
	shell) need_root; cmd_shell "$@" ;;
	__ns) inner_ns "$@" ;;
	__manager) inner_manager "$@" ;;
	-h | --help | help) usage 0 ;;
	*) usage 2 ;;
	esac
}

# Any failing command that is not handled ends the script with a message
# (once, from the main shell; subshells just pass their status on).
on_err() {
	local status="$1" line="$2" cmd="$3"
	if ((BASH_SUBSHELL == 0)); then
		die "failed (status $status) at line $line: $cmd"
	fi
}
set -E
trap 'on_err "$?" "$LINENO" "$BASH_COMMAND"' ERR

main "$@"
