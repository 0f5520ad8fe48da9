#!/usr/bin/env bash
# Failover test of two (or three) vault-rs nodes on one PostgreSQL (storage
# "postgresql" with ha_enabled):
#   - starts a throwaway PostgreSQL (initdb in a temp dir, 127.0.0.1 only;
#     installs the distribution's postgresql package when missing and root,
#     skips with a message otherwise);
#   - two nodes, init + unseal both; checks the standby (sys/health 429,
#     standbyok, sys/leader, 307 redirect to the active; hvac's view when
#     PYTHON has hvac) and sys/step-down;
#   - writes through a client that follows redirects, SIGKILLs the active
#     mid-load, measures the takeover time (the longest gap between two
#     acknowledged writes) and checks no acknowledged write was lost;
#   - fencing: restarts the killed node (standby), SIGSTOPs the new active,
#     sends it writes while paused, waits for the takeover, SIGCONTs it:
#     none of its writes may commit.
# Usage: scripts/pg-failover.sh   (VAULT_RS_BIN, PYTHON as in scripts/lib.sh;
#   PG_LOCK_TTL sets the nodes' lock_ttl, default 5s; PG_NODES=3 runs three
#   nodes, and then also checks that the remaining standby follows the new
#   active)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
BIN="$(resolve_bin)"
PY="${PYTHON:-python3}"
HELPER="$ROOT/scripts/pg_failover.py"
TTL="${PG_LOCK_TTL:-5s}"
NODES="${PG_NODES:-2}"

pg_bin_dir() {
    if command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; then
        dirname "$(command -v initdb)"
        return
    fi
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    [[ -n "$d" && -x "$d/initdb" ]] && echo "$d"
}

PGBIN="$(pg_bin_dir || true)"
if [[ -z "$PGBIN" && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing postgresql (distribution package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PGBIN="$(pg_bin_dir || true)"
fi
if [[ -z "$PGBIN" ]]; then
    echo "SKIPPED pg-failover: PostgreSQL is not installed (install the postgresql package)"
    exit 0
fi
[[ -x "$BIN" ]] || { echo "no server binary at $BIN (cargo build)"; exit 1; }

WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -9 "$p" 2>/dev/null || true; done
    if [[ -f "$WORK/pg/postmaster.pid" ]]; then
        "${AS[@]}" "$PGBIN/pg_ctl" -D "$WORK/pg" stop -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

AS=()
if [[ "$(id -u)" == 0 ]]; then
    chown postgres "$WORK"
    AS=(runuser -u postgres --)
fi
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PGPORT="$(free_port)"
"${AS[@]}" "$PGBIN/initdb" -A trust -U vault --no-sync -E UTF8 -D "$WORK/pg" >/dev/null
"${AS[@]}" "$PGBIN/postgres" -D "$WORK/pg" -h 127.0.0.1 -p "$PGPORT" -k "$WORK" >"$WORK/pg.log" 2>&1 &
disown "$!"
for _ in $(seq 100); do
    "$PY" -c "import socket; socket.create_connection(('127.0.0.1',$PGPORT),1)" 2>/dev/null && break
    sleep 0.1
done
sleep 0.5
DB="postgresql://vault@127.0.0.1:$PGPORT/postgres"

declare -A NODE_PID NODE_URL
start_node() {
    local n="$1" port="$2"
    cat >"$WORK/node$n.hcl" <<CONF
storage "postgresql" {
  ha_enabled = true
  lock_ttl   = "$TTL"
}
listener "tcp" {
  address     = "127.0.0.1:$port"
  tls_disable = true
}
api_addr = "http://127.0.0.1:$port"
CONF
    VAULT_PG_CONNECTION_URL="$DB" "$BIN" server --config "$WORK/node$n.hcl" >>"$WORK/node$n.log" 2>&1 &
    NODE_PID[$n]=$!
    disown "$!"
    PIDS+=($!)
    wait_listening "${NODE_PID[$n]}" "$WORK/node$n.log" 30 || { cat "$WORK/node$n.log"; exit 1; }
    NODE_URL[$n]="$URL"
}

declare -A PORT
URLS=()
for n in $(seq "$NODES"); do
    PORT[$n]="$(free_port)"
    start_node "$n" "${PORT[$n]}"
    URLS+=("${NODE_URL[$n]}")
done
ST="$WORK/state.json"
"$PY" "$HELPER" init "$ST" "${URLS[0]}"
"$PY" "$HELPER" unseal "$ST" "${URLS[0]}"
"$PY" "$HELPER" active "$ST" "${URLS[0]}" >/dev/null
"$PY" "$HELPER" unseal "$ST" "${URLS[@]:1}"
"$PY" "$HELPER" mount "$ST" "${URLS[@]}"
"$PY" "$HELPER" check-standby "$ST" "${URLS[@]}"
"$PY" "$HELPER" step-down "$ST" "${URLS[@]}"

node_of() {
    local n
    for n in $(seq "$NODES"); do [[ "${NODE_URL[$n]}" == "$1" ]] && echo "$n"; done
    return 0
}
# The URLs of every node but node $1.
others() {
    local n
    for n in $(seq "$NODES"); do [[ "$n" != "$1" ]] && echo "${NODE_URL[$n]}"; done
    return 0
}

echo "==> $NODES nodes: SIGKILL the active under load (lock_ttl $TTL)"
"$PY" "$HELPER" load "$ST" "${URLS[@]}" &
LOAD=$!
sleep 2
A="$(node_of "$("$PY" "$HELPER" active "$ST" "${URLS[@]}")")"
mapfile -t SURVIVORS < <(others "$A")
KILLED_AT=$(date +%s.%N)
kill -9 "${NODE_PID[$A]}"
NEW="$("$PY" "$HELPER" active "$ST" "${SURVIVORS[@]}")"
TOOK="$("$PY" -c "import time; print(round(time.time() - $KILLED_AT, 2))")"
B="$(node_of "$NEW")"
echo "takeover: node $B active ${TOOK}s after SIGKILL of node $A"
sleep 2
touch "$ST.stop"
wait "$LOAD"
"$PY" "$HELPER" verify "$ST" "$NEW"
if [[ "$NODES" -gt 2 ]]; then
    # The remaining standby follows the new active.
    "$PY" "$HELPER" check-standby "$ST" "${SURVIVORS[@]}"
fi

echo "==> fencing: SIGSTOP the active, takeover, SIGCONT"
rm -f "$ST.stop"
start_node "$A" "${PORT[$A]}"
"$PY" "$HELPER" unseal "$ST" "${NODE_URL[$A]}"
mapfile -t REST < <(others "$B")
kill -STOP "${NODE_PID[$B]}"
"$PY" "$HELPER" paused-write "$ST" "${NODE_URL[$B]}" &
PAUSED=$!
STOPPED_AT=$(date +%s.%N)
"$PY" "$HELPER" active "$ST" "${REST[@]}" >/dev/null
TOOK="$("$PY" -c "import time; print(round(time.time() - $STOPPED_AT, 2))")"
echo "takeover from the paused active: ${TOOK}s"
"$PY" "$HELPER" load "$ST" "${REST[@]}" &
LOAD=$!
sleep 1
kill -CONT "${NODE_PID[$B]}"
wait "$PAUSED"
sleep 2
touch "$ST.stop"
wait "$LOAD"
"$PY" "$HELPER" verify-fencing "$ST" "${NODE_URL[$B]}" "${REST[@]}"
"$PY" "$HELPER" verify "$ST" "${REST[@]}"
echo "pg-failover: passed"
