#!/usr/bin/env bash
# install.sh [--system] BINARY DESTDIR BINDIR UNITDIR
# Installs the ynhd binary into DESTDIR/BINDIR and its unit, with ExecStart
# pointing at BINDIR/ynhd, into DESTDIR/UNITDIR: the user unit
# (ynhd.service.in), or with --system the system-mode unit
# (ynhd-system.service.in), both named ynhd.service. `make install` and
# `make install-system` run it; so do the tests, so what they test is what
# installs.
set -euo pipefail
src=ynhd.service.in
if [ "${1:-}" = --system ]; then
	src=ynhd-system.service.in
	shift
fi
[ $# -eq 4 ] || { echo "usage: $0 [--system] BINARY DESTDIR BINDIR UNITDIR" >&2; exit 2; }
bin=$1 destdir=$2 bindir=$3 unitdir=$4
here=$(cd "$(dirname "$0")" && pwd)
install -D -m 0755 "$bin" "$destdir$bindir/ynhd"
install -d -m 0755 "$destdir$unitdir"
sed "s|@BINDIR@|$bindir|g" "$here/$src" > "$destdir$unitdir/ynhd.service.tmp"
chmod 0644 "$destdir$unitdir/ynhd.service.tmp"
mv "$destdir$unitdir/ynhd.service.tmp" "$destdir$unitdir/ynhd.service"
if [ "$src" = ynhd.service.in ]; then
	# The user manager's stand-in for network-online.target (see the file).
	sed "s|@BINDIR@|$bindir|g" "$here/ynhd-network-online.service.in" > "$destdir$unitdir/ynhd-network-online.service.tmp"
	chmod 0644 "$destdir$unitdir/ynhd-network-online.service.tmp"
	mv "$destdir$unitdir/ynhd-network-online.service.tmp" "$destdir$unitdir/ynhd-network-online.service"
fi
echo "installed $destdir$bindir/ynhd and $destdir$unitdir/ynhd.service"
