#!/usr/bin/env bash
# Every test: the Rust unit and end-to-end tests, the compatibility suite
# (hvac, the differential test against OpenBao's dev server, the bao CLI
# session; in its own Python venv, .venv-compat/), the deployment files'
# check, the syscall-level sync check (strace), the SIGKILL crash test, the
# crash-atomicity smoke test, the PostgreSQL HA failover test
# (long runs: scripts/crash-soak.sh) and a few rounds of the power-loss
# test (FUSE; .venv-powerloss/).
# This is the test command README.md gives; .ci/run runs it after the
# formatting and lint checks.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
    echo
    echo "==> $*"
}

# The PostgreSQL storage tests start a throwaway server from the
# distribution's package; they skip (saying so) where it is missing.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1 \
    && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    step "apt-get install -y postgresql"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

step "cargo test --workspace --locked"
cargo test --workspace --locked

step "compatibility suite (hvac, differential test against OpenBao, bao CLI session)"
cargo build --locked -p vault-rs-cli
VENV=.venv-compat
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/compat/requirements.txt
VAULT_RS_BIN=target/debug/vault-rs \
    "$VENV/bin/python" -m pytest -q -p no:cacheprovider tests/compat

step "deployment files (systemd unit, container, example config)"
VAULT_RS_BIN=target/debug/vault-rs PYTHON="$VENV/bin/python" bash scripts/check-deploy.sh

step "sync check (strace: every acknowledged write is behind an fdatasync)"
VAULT_RS_BIN=target/debug/vault-rs bash scripts/strace-sync-check.sh

step "crash test (SIGKILL under load, ${CRASH_ROUNDS:-3} rounds)"
VAULT_RS_BIN=target/debug/vault-rs CRASH_ROUNDS="${CRASH_ROUNDS:-3}" PYTHON="$VENV/bin/python" \
    bash scripts/crash-test.sh

step "crash atomicity smoke (SIGKILL inside rotate, rekey, kv cas, token create, revoke-prefix, API key rotation)"
VAULT_RS_BIN=target/debug/vault-rs CRASH_ROUNDS=2 CRASH_REKEY_ROUNDS=6 PYTHON="$VENV/bin/python" \
    bash scripts/crash-ops.sh

step "PostgreSQL HA failover (two nodes: SIGKILL of the active, fencing with SIGSTOP/SIGCONT)"
VAULT_RS_BIN=target/debug/vault-rs PYTHON="$VENV/bin/python" bash scripts/pg-failover.sh

step "power-loss test (${POWERLOSS_CUTS:-3} cuts; scripts/powerloss-test.sh 50 for the at-scale run)"
VAULT_RS_BIN=target/debug/vault-rs bash scripts/powerloss-test.sh "${POWERLOSS_CUTS:-3}"

step "web UI in headless Chromium (Selenium; screenshots in target/ui-screenshots/)"
UI_TEST_NO_BUILD=1 bash scripts/ui-test.sh

step "benchmark smoke (scripts/bench.sh: every case for 1 s against vault-rs, OpenBao and the bare handler; zero errors)"
BENCH_SMOKE=1 BENCH_VENV="$VENV" bash scripts/bench.sh

echo
echo "==> all tests passed"
