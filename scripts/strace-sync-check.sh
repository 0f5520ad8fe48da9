#!/usr/bin/env bash
# Syscall-level durability check.
#
# Starts `vault-rs server` on a sled data directory under
# `strace -f -y -e trace=fsync,fdatasync`, initializes (1 share), unseals,
# mounts kv v2 at secret/, then performs N sequential KV v2 writes. Each
# acknowledged write must have been preceded by at least one new
# `fdatasync` of sled's log file (`<data>/db`): at least N such syncs in
# all, one issued before each response. Then, with a file audit device
# enabled: N sequential reads must each be preceded by a new `fdatasync` of
# the audit log, one per read (a read's request and response entries share
# it: at most 1.5 N in all, checkpoints included), and N sequential writes
# must take at least two each (the request entry is durable before the
# write is applied). Fails (never skips) when strace is missing.
#
# Environment:
#   VAULT_RS_BIN    server binary (default target/debug/vault-rs, relative to the repo root)
#   STRACE_WRITES   number of sequential writes (default 30)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

source "$ROOT/scripts/lib.sh"
BIN="$(resolve_bin)"
WRITES="${STRACE_WRITES:-30}"
STARTUP_TIMEOUT=60

if ! command -v strace >/dev/null 2>&1; then
    echo "strace-sync-check: FAIL: strace is not installed (apt-get install -y strace)" >&2
    exit 1
fi
if [[ ! -x "$BIN" ]]; then
    echo "strace-sync-check: FAIL: server binary $BIN not found (build it or set VAULT_RS_BIN)" >&2
    exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vault-rs-strace.XXXXXX")"
CONFIG="$WORK/config.hcl"
write_sled_config "$CONFIG" "$WORK/data"

STRACE_PID=""
OK=0
cleanup() {
    if [[ -n "$STRACE_PID" ]]; then
        local server
        server="$(pgrep -P "$STRACE_PID" || true)"
        [[ -n "$server" ]] && kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$STRACE_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$STRACE_PID" 2>/dev/null || true
        wait "$STRACE_PID" 2>/dev/null || true
    fi
    if [[ "$OK" == 1 ]]; then
        rm -rf "$WORK"
    else
        echo "strace-sync-check: logs kept in $WORK" >&2
        tail -n 20 "$WORK/server.log" >&2 2>/dev/null || true
    fi
}
trap cleanup EXIT

strace -f -qq -y -e trace=fsync,fdatasync -o "$WORK/trace" \
    "$BIN" server --config "$CONFIG" >"$WORK/server.log" 2>&1 </dev/null &
STRACE_PID=$!

if ! wait_listening "$STRACE_PID" "$WORK/server.log" "$STARTUP_TIMEOUT"; then
    echo "strace-sync-check: FAIL: the server exited or did not listen within ${STARTUP_TIMEOUT}s" >&2
    exit 1
fi

python3 - "$URL" "$WRITES" "$WORK/trace" "$WORK/data" "$WORK/audit.log" <<'PY'
import json, re, sys, time, urllib.request

url, writes, trace, data, audit_log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
audit_sync = re.compile(r"\bfdatasync\(\d+<" + re.escape(audit_log) + r">\)\s*=\s*0")
log_sync = re.compile(r"\bfdatasync\(\d+<" + re.escape(data) + r"/db>\)\s*=\s*0")
integrity_sync = re.compile(r"\bfdatasync\(\d+<" + re.escape(data) + r"/integrity>\)\s*=\s*0")

def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + "/v1/" + path, method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Vault-Token", token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else {}

def count(pattern):
    # strace writes each line as the syscall returns; give it a moment.
    with open(trace, errors="replace") as f:
        return sum(1 for line in f if pattern.search(line))

init = call("PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
call("PUT", "sys/unseal", {"key": init["keys_base64"][0]})
token = init["root_token"]
call("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, token)

start_log, start_integrity = count(log_sync), count(integrity_sync)
missing = []
before = start_log
for i in range(writes):
    call("POST", f"secret/data/s{i}", {"data": {"n": str(i)}}, token)
    # The sync of write i happened before its response: strace prints the
    # line when the call returns, but under load its output can lag, so
    # wait up to 10 s for it (a missing sync never shows up).
    after = before
    for _ in range(500):
        after = count(log_sync)
        if after > before:
            break
        time.sleep(0.02)
    if after <= before:
        missing.append(i)
    before = after
total = count(log_sync) - start_log
integrity = count(integrity_sync) - start_integrity
print(f"strace-sync-check: {writes} sequential writes: {total} fdatasync of the log, "
      f"{integrity} of the integrity file")
if missing or total < writes:
    print(f"strace-sync-check: FAIL: writes acknowledged without a new fdatasync of the log: {missing}",
          file=sys.stderr)
    sys.exit(1)

def each_synced(op):
    """Runs op(i) for each i; the indices answered without a new audit sync."""
    missed = []
    before = count(audit_sync)
    for i in range(writes):
        op(i)
        after = before
        for _ in range(500):
            after = count(audit_sync)
            if after > before:
                break
            time.sleep(0.02)
        if after <= before:
            missed.append(i)
        before = after
    return missed

call("PUT", "sys/audit/file", {"type": "file", "options": {"file_path": audit_log}}, token)
time.sleep(0.5)
start = count(audit_sync)
missed = each_synced(lambda i: call("GET", f"secret/data/s{i}", None, token))
time.sleep(0.5)
reads = count(audit_sync) - start
start = count(audit_sync)
missed_w = each_synced(lambda i: call("POST", f"secret/data/s{i}", {"data": {"n": "again"}}, token))
time.sleep(0.5)
audited_writes = count(audit_sync) - start
print(f"strace-sync-check: {writes} sequential audited reads: {reads} fdatasync of the audit log; "
      f"{writes} audited writes: {audited_writes}")
if missed or reads < writes:
    print(f"strace-sync-check: FAIL: reads answered without a new fdatasync of the audit log: {missed}",
          file=sys.stderr)
    sys.exit(1)
if reads > writes + writes // 2:
    print(f"strace-sync-check: FAIL: {reads} audit syncs for {writes} reads (one each expected)",
          file=sys.stderr)
    sys.exit(1)
if missed_w or audited_writes < 2 * writes:
    print(f"strace-sync-check: FAIL: {audited_writes} audit syncs for {writes} writes (two each expected): {missed_w}",
          file=sys.stderr)
    sys.exit(1)
PY

OK=1
echo "strace-sync-check: PASS"
