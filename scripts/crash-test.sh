#!/usr/bin/env bash
# Durability under SIGKILL.
#
# Starts `vault-rs server` on a sled data directory, initializes it (1 share)
# and unseals it, mounts kv v1 at crash/, then for each round:
#   - 8 writer threads PUT crash/w<i>/<n> = {"v": "<i>-<n>"} in a loop and log
#     every acknowledged (200/204) key;
#   - after ~2 s the server is killed with SIGKILL in the middle of that load;
#   - the server is restarted on the same data directory and unsealed;
#   - every key acknowledged so far (all rounds) must read back with its value.
# Exits non-zero, listing the missing keys, if any acknowledged write is lost.
#
# Environment:
#   VAULT_RS_BIN   server binary (default target/debug/vault-rs, relative to the repo root)
#   CRASH_ROUNDS   number of kill/restart rounds (default 3)
#   CRASH_WRITERS  concurrent writers (default 8)
#   CRASH_LOAD_SECONDS  seconds of load before the kill (default 2)
#   PYTHON         interpreter with `requests` (default .venv-compat/bin/python if present, else python3)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

source "$ROOT/scripts/lib.sh"
BIN="$(resolve_bin)"
ROUNDS="${CRASH_ROUNDS:-3}"
WRITERS="${CRASH_WRITERS:-8}"
LOAD_SECONDS="${CRASH_LOAD_SECONDS:-2}"
PYTHON="$(default_python)"
HELPER="$ROOT/tests/compat/crash_writer.py"
STARTUP_TIMEOUT=30

if [[ ! -x "$BIN" ]]; then
    echo "crash-test: server binary $BIN not found (build it or set VAULT_RS_BIN)" >&2
    exit 1
fi
if ! "$PYTHON" -c 'import requests' 2>/dev/null; then
    echo "crash-test: $PYTHON cannot import requests (set PYTHON to an interpreter that has it)" >&2
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vault-rs-crash.XXXXXX")"
STATE="$WORK/state"
mkdir -p "$STATE"
CONFIG="$WORK/config.hcl"
write_sled_config "$CONFIG" "$WORK/data"

SERVER_PID=""
WRITER_PID=""
URL=""
OK=0

cleanup() {
    if [[ -n "$WRITER_PID" ]] && kill -0 "$WRITER_PID" 2>/dev/null; then
        kill "$WRITER_PID" 2>/dev/null || true
        wait "$WRITER_PID" 2>/dev/null || true
    fi
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "$OK" == 1 ]]; then
        rm -rf "$WORK"
    else
        echo "crash-test: server logs and state kept in $WORK" >&2
        for log in "$WORK"/server-*.log; do
            [[ -f "$log" ]] || continue
            echo "--- $(basename "$log") (tail) ---" >&2
            tail -n 30 "$log" >&2 || true
        done
    fi
}
trap cleanup EXIT

start_server() {
    local name="$1"
    local log="$WORK/server-$name.log"
    "$BIN" server --config "$CONFIG" >"$log" 2>&1 </dev/null &
    SERVER_PID=$!
    wait_listening "$SERVER_PID" "$log" "$STARTUP_TIMEOUT" && return 0
    echo "crash-test: server exited or did not listen within ${STARTUP_TIMEOUT}s ($name)" >&2
    return 1
}

kill_server() {
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

echo "crash-test: $ROUNDS round(s), $WRITERS writers, SIGKILL after ${LOAD_SECONDS}s of load"
start_server "0"
"$PYTHON" "$HELPER" init "$URL" "$STATE"

for round in $(seq 1 "$ROUNDS"); do
    "$PYTHON" "$HELPER" write "$URL" "$STATE" "$round" --threads "$WRITERS" --max-seconds 60 &
    WRITER_PID=$!
    sleep "$LOAD_SECONDS"
    if ! kill -0 "$WRITER_PID" 2>/dev/null; then
        # the writers stopped before the kill: an HTTP error (reported by the helper)
        wait "$WRITER_PID" || true
        WRITER_PID=""
        echo "crash-test: FAIL: round $round: the writers stopped before the server was killed" >&2
        exit 1
    fi
    kill_server
    if ! wait "$WRITER_PID"; then
        WRITER_PID=""
        echo "crash-test: FAIL: round $round: writer reported an error" >&2
        exit 1
    fi
    WRITER_PID=""

    start_server "$round"
    "$PYTHON" "$HELPER" unseal "$URL" "$STATE"
    if ! "$PYTHON" "$HELPER" verify "$URL" "$STATE" --threads "$WRITERS"; then
        echo "crash-test: FAIL: round $round: acknowledged writes were lost after SIGKILL" >&2
        exit 1
    fi
    echo "crash-test: round $round OK"
done

OK=1
echo "crash-test: PASS ($ROUNDS rounds, $(wc -l <"$STATE/acked.log") acknowledged writes verified)"
