#!/usr/bin/env bash
# Durable KV v2 write throughput and latency (a benchmark, not a test).
#
# For each server binary given (e.g. a build before and after a change),
# starts `vault-rs server` on a fresh sled data directory, initializes,
# unseals, mounts kv v2 at secret/, then drives POST secret/data/<unique key>
# with wrk at 1 and at 32 connections. Binaries are interleaved round by
# round so that they see the same machine conditions. Prints requests/s and
# p99 latency per binary, connection count and round.
#
# Usage: scripts/bench-kv-writes.sh BIN [BIN...]
# Environment:
#   BENCH_SECONDS  seconds per wrk run (default 10)
#   BENCH_ROUNDS   rounds (default 3)
#   BENCH_DIR      where the data directories go (default $TMPDIR or /tmp;
#                  put it on the disk you want to measure)
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 BIN [BIN...]" >&2
    exit 1
fi
command -v wrk >/dev/null 2>&1 || { echo "bench-kv-writes: wrk is not installed" >&2; exit 1; }
SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
ROUNDS="${BENCH_ROUNDS:-3}"
BASE="${BENCH_DIR:-${TMPDIR:-/tmp}}"
WORK="$(mktemp -d "$BASE/vault-rs-bench.XXXXXX")"
PID=""
cleanup() {
    if [[ -n "$PID" ]]; then
        kill -TERM "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

cat >"$WORK/post.lua" <<'LUA'
local next_id = 0
setup = function(thread)
    thread:set("id", next_id)
    next_id = next_id + 1
end
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Vault-Token"] = os.getenv("BENCH_TOKEN")
wrk.body = '{"data":{"value":"' .. string.rep("x", 100) .. '"}}'
request = function()
    counter = counter + 1
    return wrk.format(nil, "/v1/secret/data/bench/" .. id .. "-" .. counter)
end
LUA

start() {
    local bin="$1" dir="$2"
    mkdir -p "$dir"
    cat >"$dir/config.hcl" <<CONF
storage "sled" {
  path = "$dir/data"
}
listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
CONF
    VAULT_RS_LOG=warn "$bin" server --config "$dir/config.hcl" >"$dir/server.log" 2>&1 </dev/null &
    PID=$!
    URL=""
    for _ in $(seq 1 300); do
        line="$(grep -a -o -m1 'Listening on http://[^[:space:]]*' "$dir/server.log" || true)"
        if [[ -n "$line" ]]; then URL="${line#Listening on }"; URL="${URL%/}"; break; fi
        sleep 0.1
    done
    [[ -n "$URL" ]] || { echo "server did not start" >&2; cat "$dir/server.log" >&2; exit 1; }
    TOKEN="$(python3 - "$URL" <<'PY'
import json, sys, urllib.request
url = sys.argv[1]
def call(method, path, body, token=None):
    req = urllib.request.Request(url + "/v1/" + path, method=method, data=json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Vault-Token", token)
    raw = urllib.request.urlopen(req, timeout=30).read()
    return json.loads(raw) if raw else {}
init = call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
call("PUT", "sys/unseal", {"key": init["keys_base64"][0]})
call("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, init["root_token"])
print(init["root_token"])
PY
)"
}

stop() {
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
}

printf "%-6s %-40s %5s %12s %10s\n" round binary conns "req/s" "p99"
for round in $(seq 1 "$ROUNDS"); do
    n=0
    for bin in "$@"; do
        n=$((n + 1))
        for conns in 1 32; do
            dir="$WORK/r$round-b$n-c$conns"
            start "$bin" "$dir"
            threads=$(( conns < 2 ? 1 : 2 ))
            out="$(BENCH_TOKEN="$TOKEN" wrk -t"$threads" -c"$conns" -d"${SECONDS_PER_RUN}s" --latency -s "$WORK/post.lua" "$URL")"
            stop
            if grep -q "Non-2xx" <<<"$out"; then
                echo "bench-kv-writes: $bin answered errors:" >&2
                echo "$out" >&2
                exit 1
            fi
            rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")"
            p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
            printf "%-6s %-40s %5s %12s %10s\n" "$round" "$bin" "$conns" "$rps" "$p99"
            rm -rf "$dir"
        done
    done
done
