#!/usr/bin/env bash
# deb.sh BINARY VERSION OUTDIR [MAINTAINER [REVISION]]
# Builds OUTDIR/ynhd_DEBVERSION_ARCH.deb from the built BINARY with
# dpkg-deb, from a staged tree (see README.md in this directory for why not
# debhelper). VERSION is `git describe --tags --always --dirty` (or
# "devel"); debversion below turns it into the upstream part of the
# Debian version, REVISION (default 1) is the Debian revision: the package
# is not native, its changelog is changelog.Debian.gz. MAINTAINER is
# "Name <address>". What goes in:
#   /usr/bin/ynhd
#   /usr/lib/systemd/user/ynhd.service, ynhd-network-online.service
#     (enabled for every user by postinst, as dh_installsystemduser does)
#   /lib/systemd/system/ynhd.service (system mode; not enabled)
#   /usr/share/man/man*/ (whatever `make man` left in build/man)
#   bash, zsh and fish completions (when `ynhd completion SHELL` exists)
#   /usr/share/doc/ynhd: README, docs, examples (configs/), copyright,
#     changelog.Debian.gz
# Prints the path of the .deb on stdout.
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: $0 BINARY VERSION OUTDIR [MAINTAINER]" >&2; exit 2; }
bin=$1 version=$2 out=$3 maintainer=${4:-} revision=${5:-1}
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")

warn() { printf 'deb: warning: %s\n' "$*" >&2; }
die() { printf 'deb: error: %s\n' "$*" >&2; exit 1; }

# debversion DESCRIBE: the upstream part of a Debian version for a `git
# describe` output.
#   v1.2.3 -> 1.2.3; v2.0.0-rc1 -> 2.0.0~rc1 (sorts before 2.0.0);
#   v1.2.3-4-gabc1234 -> 1.2.3+git4.gabc1234 (after 1.2.3, before 1.2.4);
#   a bare commit abc1234 -> 0~git.abc1234; "devel" -> 0~devel;
#   "-dirty" -> "+dirty" (".dirty" after a "+" part).
debversion() {
	local d=$1 dirty="" tag tail="" v
	if [[ $d == *-dirty ]]; then
		dirty=1
		d=${d%-dirty}
	fi
	d=${d#v}
	tag=$d
	if [[ $d =~ ^(.+)-([0-9]+)-(g[0-9a-f]+)$ ]]; then
		tag=${BASH_REMATCH[1]} tail="+git${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
	fi
	if [[ $tag =~ ^[0-9][0-9A-Za-z.~+-]*$ && $tag == *.* ]]; then
		v=${tag//-/\~}$tail
	elif [[ -z $tail && $tag =~ ^[0-9a-f]{4,40}$ ]]; then
		v="0~git.$tag"
	else
		# Anything else (devel, an odd tag): its safe characters, sorted
		# before every release.
		v="0~$(printf '%s' "$tag" | tr -c 'A-Za-z0-9.+~' '.')$tail"
	fi
	if [[ -n $dirty ]]; then
		if [[ $v == *+* ]]; then v="$v.dirty"; else v="$v+dirty"; fi
	fi
	echo "$v"
}

if [ "$bin" = --debversion ]; then # for the tests: print the mapping only
	debversion "$version"
	exit 0
fi

[ -x "$bin" ] || die "$bin is not an executable; run make build first"
command -v dpkg-deb >/dev/null || die "dpkg-deb is missing: apt-get install dpkg"
[[ $revision =~ ^[0-9A-Za-z.+~]+$ ]] || die "revision \"$revision\" is not a Debian revision"
debver=$(debversion "$version")-$revision
if command -v dpkg >/dev/null && ! dpkg --validate-version "$debver" 2>/dev/null; then
	die "$version maps to $debver, which is not a valid Debian version"
fi
arch=$(dpkg --print-architecture)
if [ -z "$maintainer" ]; then
	maintainer=$(git -C "$top" log -1 --format='%an <%ae>' 2>/dev/null || true)
fi
[[ $maintainer =~ ^[^\<\>]+\ \<[^\<\>@\ ]+@[^\<\>\ ]+\>$ ]] ||
	die "maintainer \"$maintainer\" is not \"Name <address>\"; set DEB_MAINTAINER"
# Dates in the package: the commit's, so two builds of a commit are equal.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch

stage="$out/deb/ynhd_${debver}_$arch"
rm -rf "$stage"
install -d -m 0755 "$stage/DEBIAN"

# Binary and units, through the same script as make install.
bash "$here/install.sh" "$bin" "$stage" /usr/bin /usr/lib/systemd/user >&2
bash "$here/install.sh" --system "$bin" "$stage" /usr/bin /lib/systemd/system >&2

# Man pages from build/man (make man), compressed as Debian wants them.
mans=0
if [ -d "$top/build/man" ]; then
	while IFS= read -r -d '' m; do
		name=$(basename "${m%.gz}")
		sec=${name##*.}
		[[ $sec =~ ^[1-9] ]] || continue
		dst="$stage/usr/share/man/man${sec:0:1}/$name"
		install -d -m 0755 "$(dirname "$dst")"
		if [[ $m == *.gz ]]; then
			install -m 0644 "$m" "$dst.gz"
		else
			gzip -9n <"$m" >"$dst.gz"
			chmod 0644 "$dst.gz"
		fi
		mans=$((mans + 1))
	done < <(find "$top/build/man" -maxdepth 1 -type f \( -name '*.[1-9]*' \) -print0 | sort -z)
fi
[ "$mans" -gt 0 ] || warn "no man pages in build/man (make man writes them): the package has none"

# Shell completions, when this ynhd can write them.
declare -A compdir=(
	[bash]=usr/share/bash-completion/completions/ynhd
	[zsh]=usr/share/zsh/vendor-completions/_ynhd
	[fish]=usr/share/fish/vendor_completions.d/ynhd.fish
)
for sh in bash zsh fish; do
	if comp=$("$bin" completion "$sh" 2>/dev/null) && [ -n "$comp" ]; then
		install -D -m 0644 /dev/null "$stage/${compdir[$sh]}"
		printf '%s\n' "$comp" >"$stage/${compdir[$sh]}"
	else
		warn "$bin completion $sh does not work: no $sh completion in the package"
	fi
done

# Documentation and examples. Text over 4 KiB is compressed, as
# dh_compress would; examples stay as they are, to be copied.
doc="$stage/usr/share/doc/ynhd"
install -d -m 0755 "$doc/docs" "$doc/examples"
install -m 0644 "$top/README.md" "$doc/"
install -m 0644 "$top"/docs/*.md "$doc/docs/"
install -m 0644 "$top"/configs/*.toml "$doc/examples/"
if [ -d "$top/configs/demo" ]; then
	install -d -m 0755 "$doc/examples/demo"
	install -m 0644 "$top"/configs/demo/*.toml "$doc/examples/demo/"
fi
find "$doc" -path "$doc/examples" -prune -o -type f -name '*.md' -size +4k -exec gzip -9n {} +
# The Go modules linked in, from the binary's build information.
modules=$(go version -m "$bin" 2>/dev/null | awk '$1 == "dep" { printf " %s %s\n", $2, $3 }')
[ -n "$modules" ] || die "go version -m $bin names no modules; is go on PATH?"
awk -v m="${modules%$'\n'}" -v y="$(date -u -d "@$epoch" +%Y)" \
	'$0 == "@MODULES@" { print m; next } { sub(/@YEAR@/, y); print }' "$here/deb/copyright.in" >"$doc/copyright"
chmod 0644 "$doc/copyright"
{
	printf 'ynhd (%s) unstable; urgency=medium\n\n' "$debver"
	printf '  * Built from %s.\n\n' "$version"
	printf ' -- %s  %s\n' "$maintainer" "$(date -u -R -d "@$epoch")"
} | gzip -9n >"$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"
# This package is built from the ynhd tree, not uploaded to Debian: its
# changelog closes no ITP bug.
install -D -m 0644 "$here/deb/lintian-overrides" "$stage/usr/share/lintian/overrides/ynhd"

# Maintainer scripts.
for s in postinst prerm postrm; do
	install -m 0755 "$here/deb/$s" "$stage/DEBIAN/$s"
done

# The C library the binary was linked against (cgo: os/user and net use
# libc for NSS): its newest GLIBC symbol version is the floor.
depends="podman (>= 4.3), uidmap, slirp4netns | passt, dbus-user-session, init-system-helpers (>= 1.58)"
if glibc=$(grep -aoE 'GLIBC_2\.[0-9]+' "$stage/usr/bin/ynhd" | sort -uV | tail -n 1) && [ -n "$glibc" ]; then
	depends="libc6 (>= ${glibc#GLIBC_}), $depends"
fi
size=$(du -sk --apparent-size --exclude=DEBIAN "$stage" | cut -f1)
cat >"$stage/DEBIAN/control" <<EOF
Package: ynhd
Version: $debver
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: admin
Priority: optional
Description: declared podman apps kept running as systemd units
 ynhd runs a user's services as rootless podman containers supervised by
 systemd. Each app is declared in one TOML file in ~/.config/ynhd (or, in
 system mode, /etc/ynhd); ynhd checks it, renders a systemd unit for it and
 keeps it running as declared, reacting to edits, deletions and drift.
 .
 The user unit is enabled for every user: ynhd starts with each user
 manager (at login, or at boot with lingering). The system-mode unit is
 installed but not enabled.
EOF
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/control" "$stage/DEBIAN/md5sums"
find "$stage" -type d -exec chmod 0755 {} +
# Every file gets the commit's time, so a rebuild gives the same archive.
find "$stage" -exec touch -h -d "@$epoch" {} +

deb="$out/ynhd_${debver}_$arch.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >&2
echo "$deb"
