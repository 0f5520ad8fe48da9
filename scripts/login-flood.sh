#!/usr/bin/env bash
# Measures the server's memory under a userpass login flood: CLIENTS
# concurrent anonymous clients send bad passwords (half for an existing
# user, half for an unknown one) for SECS seconds; prints idle RSS, peak
# RSS (VmHWM) and the answers counted by status.
#
#   scripts/login-flood.sh [path/to/vault-rs] [CLIENTS] [SECS]
#
# Loopback only; the server is stopped at the end.
set -euo pipefail
BIN=${1:-target/release/vault-rs}
CLIENTS=${2:-40}
SECS=${3:-20}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ADDR="http://127.0.0.1:$PORT"
VAULT_RS_LOG=warn "$BIN" server --dev --dev-listen-address "127.0.0.1:$PORT" \
  --dev-root-token-id root >/dev/null 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "$ADDR/v1/sys/health" >/dev/null 2>&1 && break
  sleep 0.1
done
H=(-sf -H "X-Vault-Token: root")
curl "${H[@]}" -X POST -d '{"type":"userpass"}' "$ADDR/v1/sys/auth/userpass" >/dev/null
curl "${H[@]}" -X POST -d '{"password":"right-pw"}' "$ADDR/v1/auth/userpass/users/alice" >/dev/null
for u in alice nobody; do
  curl -s -X POST -d '{"password":"warm"}' "$ADDR/v1/auth/userpass/login/$u" >/dev/null
done
rss() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$PID/status"; }
IDLE=$(rss VmRSS)
python3 - "$ADDR" "$CLIENTS" "$SECS" <<'PY'
import collections, http.client, json, sys, threading, time, urllib.parse
addr, clients, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
u = urllib.parse.urlparse(addr)
deadline = time.time() + secs
counts = collections.Counter()
lock = threading.Lock()
def run(i):
    user = "alice" if i % 2 == 0 else "nobody"
    body = json.dumps({"password": f"bad-{i}"})
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
            c.request("POST", f"/v1/auth/userpass/login/{user}", body,
                      {"Content-Type": "application/json"})
            st = c.getresponse().status
            c.close()
        except Exception:
            st = 0
        with lock:
            counts[st] += 1
ts = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
for t in ts: t.start()
for t in ts: t.join()
print("answers by status:", dict(sorted(counts.items())))
PY
PEAK=$(rss VmHWM)
AFTER=$(rss VmRSS)
echo "clients=$CLIENTS secs=$SECS idle_rss_kib=$IDLE peak_rss_kib=$PEAK after_rss_kib=$AFTER growth_mib=$(( (PEAK - IDLE) / 1024 ))"
