#!/usr/bin/env bash
# install.sh BINARY DESTDIR BINDIR USERUNITDIR
# Installs the ynhd binary into DESTDIR/BINDIR and its user unit, with
# ExecStart pointing at BINDIR/ynhd, into DESTDIR/USERUNITDIR. `make install`
# runs it; so do the integration tests, so what they test is what installs.
set -euo pipefail
[ $# -eq 4 ] || { echo "usage: $0 BINARY DESTDIR BINDIR USERUNITDIR" >&2; exit 2; }
bin=$1 destdir=$2 bindir=$3 unitdir=$4
here=$(cd "$(dirname "$0")" && pwd)
install -D -m 0755 "$bin" "$destdir$bindir/ynhd"
install -d -m 0755 "$destdir$unitdir"
sed "s|@BINDIR@|$bindir|g" "$here/ynhd.service.in" > "$destdir$unitdir/ynhd.service.tmp"
chmod 0644 "$destdir$unitdir/ynhd.service.tmp"
mv "$destdir$unitdir/ynhd.service.tmp" "$destdir$unitdir/ynhd.service"
echo "installed $destdir$bindir/ynhd and $destdir$unitdir/ynhd.service"
