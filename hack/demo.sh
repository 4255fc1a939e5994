#!/usr/bin/env bash
# demo.sh - ynhd's main job on the built-in example: install ynhd as an
# unprivileged user would, start it with `systemctl --user start ynhd`,
# drop configs/demo/hello.toml into ~/.config/ynhd and watch ynhd turn it
# into a running rootless podman container under a real systemd user
# manager. Run as root: it brings up the test environment
# (hack/testenv.sh), where everything runs as the unprivileged test user.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it starts the test environment)" >&2; exit 1; }
[ -x bin/ynhd ] || { echo "demo: build first: make build" >&2; exit 1; }

# Step titles in bold on a terminal only, and never with NO_COLOR set
# (https://no-color.org): piped or logged output stays plain text.
bold="" plain=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-dumb}" != dumb ]; then
	bold=$'\033[1m' plain=$'\033[0m'
fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

step "bringing up the test environment (systemd --user, D-Bus, journald, rootless podman)"
bash hack/testenv.sh up

# The test user cannot read root's checkout: hand it a copy of what it needs.
share=/var/tmp/ynhd-demo
rm -rf "$share"
install -d -m 0755 "$share" "$share/packaging"
install -m 0755 bin/ynhd "$share/ynhd"
install -m 0644 packaging/install.sh packaging/ynhd.service.in packaging/ynhd-network-online.service.in "$share/packaging/"
install -m 0644 configs/demo/hello.toml "$share/hello.toml"

in_env() { bash hack/testenv.sh exec -- "$@"; }

step "make install PREFIX=~/.local && systemctl --user start ynhd"
in_env sh -c "bash $share/packaging/install.sh $share/ynhd '' \$HOME/.local/bin \$HOME/.local/share/systemd/user"
in_env systemctl --user daemon-reload
in_env systemctl --user restart ynhd.service
in_env systemctl --user --no-pager status ynhd.service | head -n 6 || true

step "cp configs/demo/hello.toml ~/.config/ynhd/  (written to a dotfile, then renamed)"
in_env sh -c "mkdir -p ~/.config/ynhd && cp $share/hello.toml ~/.config/ynhd/.hello.toml && mv ~/.config/ynhd/.hello.toml ~/.config/ynhd/hello.toml"
for _ in $(seq 1 100); do
  if in_env systemctl --user is-active -q hello.service 2>/dev/null; then break; fi
  sleep 0.2
done

step "ynhd status"
in_env sh -c '$HOME/.local/bin/ynhd status'

step "GET http://127.0.0.1:18080/"
out=
for _ in $(seq 1 50); do
  if out=$(curl -fsS http://127.0.0.1:18080/ 2>/dev/null) || out=$(in_env podman exec hello wget -qO- http://127.0.0.1:8080/ 2>/dev/null); then break; fi
  sleep 0.2
done
echo "${out:-<no answer>}"

step "journalctl --user -u ynhd (what ynhd did)"
in_env journalctl --user -u ynhd.service -o cat --no-pager | grep -v '^$' | tail -n 8

step "journalctl --user -u hello (the app's own output)"
in_env journalctl --user -u hello.service -o cat --no-pager | grep -v ' container \| image \|^[0-9a-f]\{64\}$\|^$' | tail -n 5 || true

cat <<'MSG'

ynhd and the demo app are still running. Look around, edit or delete the declaration:
    bash hack/testenv.sh shell      # then: ynhd status; vi ~/.config/ynhd/hello.toml; journalctl --user -u ynhd -f
Stop everything with
    make testenv-down
MSG
