#!/usr/bin/env bash
# Crash atomicity of single operations under SIGKILL.
#
# For each operation (rotate, rekey, kv-cas, token-create, revoke-prefix,
# apikey-rotate): starts `vault-rs server` on a fresh sled data directory,
# initializes it (3 shares, threshold 2), then for each round
#   - runs the operation in a loop (tests/compat/crash_ops.py run), recording
#     every acknowledged result and every share set received;
#   - kills the server with SIGKILL at a random moment (uniform in
#     [CRASH_MIN_DELAY, CRASH_MAX_DELAY] seconds), which lands anywhere in the
#     operation, including inside the rekey/update that completes a rekey;
#   - restarts it and unseals it with the NEWEST share set the test holds
#     (fails if that set does not open the vault);
#   - checks the operation is fully done or not at all (crash_ops.py check).
#
# Environment:
#   VAULT_RS_BIN      server binary (default target/debug/vault-rs)
#   CRASH_OPS         operations to run (default: all six)
#   CRASH_ROUNDS      kill rounds per operation (default 3)
#   CRASH_REKEY_ROUNDS  kill rounds for rekey (default CRASH_ROUNDS)
#   CRASH_MIN_DELAY / CRASH_MAX_DELAY  kill delay bounds in seconds (default 0.05 / 0.8)
#   PYTHON            interpreter with `requests` (default .venv-compat/bin/python)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

source "$ROOT/scripts/lib.sh"
BIN="$(resolve_bin)"
OPS="${CRASH_OPS:-rotate rekey kv-cas token-create revoke-prefix apikey-rotate}"
ROUNDS="${CRASH_ROUNDS:-3}"
REKEY_ROUNDS="${CRASH_REKEY_ROUNDS:-$ROUNDS}"
MIN_DELAY="${CRASH_MIN_DELAY:-0.05}"
MAX_DELAY="${CRASH_MAX_DELAY:-0.8}"
PYTHON="$(default_python)"
HELPER="$ROOT/tests/compat/crash_ops.py"
STARTUP_TIMEOUT=30

if [[ ! -x "$BIN" ]]; then
    echo "crash-ops: server binary $BIN not found (build it or set VAULT_RS_BIN)" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import requests' 2>/dev/null; then
    echo "crash-ops: $PYTHON cannot import requests (set PYTHON)" >&2
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vault-rs-crash-ops.XXXXXX")"
SERVER_PID=""
RUNNER_PID=""
URL=""
OK=0
LOG=""

cleanup() {
    if [[ -n "$RUNNER_PID" ]] && kill -0 "$RUNNER_PID" 2>/dev/null; then
        kill "$RUNNER_PID" 2>/dev/null || true
        wait "$RUNNER_PID" 2>/dev/null || true
    fi
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "$OK" == 1 ]]; then
        rm -rf "$WORK"
    else
        echo "crash-ops: logs and state kept in $WORK" >&2
        if [[ -n "$LOG" && -f "$LOG" ]]; then
            echo "--- $(basename "$LOG") (tail) ---" >&2
            tail -n 20 "$LOG" >&2 || true
        fi
    fi
}
trap cleanup EXIT

start_server() {
    local dir="$1" name="$2"
    LOG="$dir/server-$name.log"
    "$BIN" server --config "$dir/config.hcl" >"$LOG" 2>&1 </dev/null &
    SERVER_PID=$!
    wait_listening "$SERVER_PID" "$LOG" "$STARTUP_TIMEOUT" && return 0
    echo "crash-ops: FAIL: server exited or did not start within ${STARTUP_TIMEOUT}s ($name)" >&2
    return 1
}

kill_server() {
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

random_delay() {
    "$PYTHON" -c "import random; print(f'{random.uniform($MIN_DELAY, $MAX_DELAY):.3f}')"
}

total=0
for op in $OPS; do
    rounds="$ROUNDS"
    [[ "$op" == rekey ]] && rounds="$REKEY_ROUNDS"
    dir="$WORK/$op"
    mkdir -p "$dir/state"
    write_sled_config "$dir/config.hcl" "$dir/data"
    start_server "$dir" "0"
    "$PYTHON" "$HELPER" setup "$URL" "$dir/state"
    for round in $(seq 1 "$rounds"); do
        "$PYTHON" "$HELPER" run "$URL" "$dir/state" "$op" --max-seconds 60 &
        RUNNER_PID=$!
        sleep "$(random_delay)"
        kill_server
        if ! wait "$RUNNER_PID"; then
            RUNNER_PID=""
            echo "crash-ops: FAIL: $op round $round: the operation failed before the kill" >&2
            exit 1
        fi
        RUNNER_PID=""
        start_server "$dir" "$round"
        if ! "$PYTHON" "$HELPER" unseal "$URL" "$dir/state"; then
            echo "crash-ops: FAIL: $op round $round: the vault does not open after SIGKILL" >&2
            exit 1
        fi
        if ! "$PYTHON" "$HELPER" check "$URL" "$dir/state" "$op"; then
            echo "crash-ops: FAIL: $op round $round: half-done after SIGKILL" >&2
            exit 1
        fi
        if grep -q "from before the last rekey" "$LOG"; then
            echo "crash-ops: rekey: killed after the switch, before the new shares reached the client (previous shares opened it)"
        fi
        total=$((total + 1))
    done
    kill_server
    echo "crash-ops: $op: $rounds round(s) OK"
done

OK=1
echo "crash-ops: PASS ($total kill rounds)"
