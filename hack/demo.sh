#!/usr/bin/env bash
# demo.sh - run the demo app (configs/demo/hello.toml) the way ynhd runs
# apps: checked and rendered by ynhd into a systemd user unit, started by a
# real `systemd --user` manager, running as a rootless podman container.
# Run as root (it brings up the test environment, hack/testenv.sh); the app
# runs as the environment's unprivileged test user.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it starts the test environment)" >&2; exit 1; }
[ -x bin/ynhd ] || { echo "demo: build first: make build" >&2; exit 1; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "bringing up the test environment (systemd --user, journald, rootless podman)"
bash hack/testenv.sh up

# The test user cannot read root's checkout: hand it a copy of the binary
# and the declaration.
share=/var/tmp/ynhd-demo
rm -rf "$share"
install -d -m 0755 "$share"
install -m 0755 bin/ynhd "$share/ynhd"
install -m 0644 configs/demo/hello.toml "$share/hello.toml"

in_env() { bash hack/testenv.sh exec -- "$@"; }

in_env sh -c "mkdir -p ~/.config/ynhd ~/.config/systemd/user && cp $share/hello.toml ~/.config/ynhd/hello.toml"

step "ynhd check"
in_env "$share/ynhd" check

step "ynhd render hello > ~/.config/systemd/user/hello.service"
in_env sh -c "$share/ynhd render hello > ~/.config/systemd/user/hello.service && cat ~/.config/systemd/user/hello.service"

step "systemctl --user daemon-reload && systemctl --user start hello"
in_env systemctl --user daemon-reload
in_env systemctl --user start hello.service
in_env systemctl --user --no-pager status hello.service | head -n 12 || true

step "podman ps (as the unprivileged test user)"
in_env podman ps --format '{{.Names}}  {{.Image}}  {{.Status}}  {{.Ports}}'

step "GET http://127.0.0.1:18080/"
for _ in $(seq 1 50); do
  if out=$(in_env podman exec hello wget -qO- http://127.0.0.1:8080/ 2>/dev/null); then break; fi
  sleep 0.2
done
echo "from inside the container: ${out:-<no answer>}"
if command -v curl >/dev/null; then
  echo "from the host:             $(curl -fsS http://127.0.0.1:18080/ || echo '<no answer>')"
fi

step "journalctl --user -u hello (the app's own output)"
in_env journalctl --user -u hello.service -o cat --no-pager | tail -n 8

cat <<'MSG'

The demo app is still running. Look around with
    bash hack/testenv.sh shell        # then: systemctl --user status hello; podman ps
Stop it and the environment with
    bash hack/testenv.sh exec -- systemctl --user stop hello && make testenv-down
MSG
