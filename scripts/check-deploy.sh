#!/usr/bin/env bash
# Checks the deployment files in deploy/: the systemd unit with
# `systemd-analyze verify` (skipped with a message where systemd is not
# installed), the compose file's structure, and that the Dockerfile and the
# unit start the server with the example configuration (which the config
# parser's unit tests parse).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${VAULT_RS_BIN:-target/debug/vault-rs}
# A Python with PyYAML (the compat venv has it: tests/compat/requirements.txt).
PYTHON=${PYTHON:-python3}
fail() {
    echo "check-deploy: $*" >&2
    exit 1
}

if command -v systemd-analyze >/dev/null 2>&1; then
    [[ -x "$BIN" ]] || fail "$BIN not built"
    dir=$(mktemp -d)
    trap 'rm -rf "$dir"' EXIT
    # verify insists that ExecStart names an existing executable.
    sed "s#/usr/local/bin/vault-rs#$(realpath "$BIN")#" deploy/vault-rs.service >"$dir/vault-rs.service"
    out=$(systemd-analyze verify "$dir/vault-rs.service" 2>&1) || fail "systemd-analyze verify failed: $out"
    [[ -z "$out" ]] || fail "systemd-analyze verify warned: $out"
    echo "check-deploy: vault-rs.service verified"
else
    echo "check-deploy: systemd-analyze not installed; unit not verified"
fi

for directive in 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'LimitCORE=0' \
    'MemoryDenyWriteExecute=yes' 'CapabilityBoundingSet=' 'ExecReload=/bin/kill --signal HUP $MAINPID'; do
    grep -qxF "$directive" deploy/vault-rs.service || fail "vault-rs.service lacks $directive"
done
grep -q -- '--config /etc/vault-rs/vault-rs.hcl' deploy/vault-rs.service || fail "unit does not use the example config path"
grep -q '"/etc/vault-rs/vault-rs.hcl"' deploy/Dockerfile || fail "Dockerfile does not use the example config path"
grep -q '^USER vault-rs' deploy/Dockerfile || fail "Dockerfile does not drop to the vault-rs user"

"$PYTHON" - <<'PY'
import json, sys
import yaml
doc = yaml.safe_load(open("deploy/compose.yaml"))
svc = doc["services"]["vault-rs"]
assert "sys/health" in json.dumps(svc["healthcheck"]["test"]), "health check must probe sys/health"
assert svc["cap_drop"] == ["ALL"], "compose must drop all capabilities"
assert svc["read_only"] is True, "compose root filesystem must be read-only"
assert svc["ulimits"]["core"] == 0, "compose must disable core dumps"
print("check-deploy: compose.yaml checked")
PY
echo "check-deploy: ok"
