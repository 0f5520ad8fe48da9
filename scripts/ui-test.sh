#!/usr/bin/env bash
# The web UI in a real browser: headless Chromium driven by Selenium
# against a fresh server (sled storage in a temporary directory, ui = true).
# Installs Debian's chromium and chromium-driver if missing (needs root
# and the distribution's package mirror), and Selenium into .venv-ui/
# (pinned in tests/ui/requirements.txt). Screenshots of every page go to
# target/ui-screenshots/.
#
#   scripts/ui-test.sh            # builds target/debug/vault-rs if needed
#   UI_TEST_KEEP=1 scripts/ui-test.sh   # keep the server's directory
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "ui-test: chromium and chromium-driver are missing; run as root to install them" >&2
    exit 1
  fi
  echo "==> installing chromium and chromium-driver"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi

if [ ! -x .venv-ui/bin/python ] || ! cmp -s tests/ui/requirements.txt .venv-ui/requirements.txt; then
  echo "==> installing Selenium into .venv-ui/"
  python3 -m venv .venv-ui
  .venv-ui/bin/pip install -q --disable-pip-version-check -r tests/ui/requirements.txt
  cp tests/ui/requirements.txt .venv-ui/requirements.txt
fi

if [ ! -x target/debug/vault-rs ] || [ -z "${UI_TEST_NO_BUILD:-}" ]; then
  cargo build --locked -q -p vault-rs-cli --bin vault-rs
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -z "${UI_TEST_KEEP:-}" ]; then rm -rf "$work"; else echo "ui-test: kept $work"; fi
}
trap cleanup EXIT

cat >"$work/server.hcl" <<EOF
storage "sled" {
  path = "$work/data"
}
listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
ui = true
EOF

VAULT_RS_LOG=warn target/debug/vault-rs server --config "$work/server.hcl" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
addr=""
for _ in $(seq 1 100); do
  addr=$(sed -n 's/.*Listening on \(http[^ ]*\).*/\1/p' "$work/server.out" | head -1)
  [ -n "$addr" ] && break
  if ! kill -0 "$server_pid" 2>/dev/null; then
    cat "$work/server.err" >&2
    echo "ui-test: the server exited" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$addr" ] || { echo "ui-test: the server did not start" >&2; exit 1; }

mkdir -p target/ui-screenshots
echo "==> browser test against $addr"
UI_ADDR="$addr" UI_AUDIT_LOG="$work/audit.log" UI_SCREENSHOTS="$PWD/target/ui-screenshots" \
  .venv-ui/bin/python -m pytest -q -p no:cacheprovider tests/ui/test_ui.py "$@"
