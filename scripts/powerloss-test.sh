#!/usr/bin/env bash
# Durability under power loss.
#
#   scripts/powerloss-test.sh [CUTS]      (default 3; the at-scale run uses 50+)
#
# The server's data directory (sled) and its file audit log live on powerfs
# (tests/powerloss/powerfs.py), a FUSE file system that passes everything
# through to a backing directory but remembers what was last synced
# (fsync/fdatasync of a file: its data and size; fsync of a directory: its
# entries) and, on a power cut, throws away everything else.
#
# After `sys/init` (1 share), unseal, a kv v2 mount at pl/ and a file audit
# device, each round:
#   - writers POST pl/data/... (KV v2) and log each acknowledged write;
#   - after a random delay the server is killed (SIGKILL) and, at the same
#     instant as far as the disk is concerned, the power is cut: powerfs
#     drops every unsynced byte and directory entry and unmounts;
#   - powerfs is mounted again on what survived, the server restarted and
#     unsealed, and every write acknowledged so far (all rounds) must read
#     back with its value, and have a successful response entry in the
#     audit log.
# At the end the server is stopped and `vault-rs audit verify` must accept
# the audit log (with the device's public key).
#
# FUSE is required: where it cannot be used (no /dev/fuse, no libfuse, no
# permission to mount) the test says so and FAILS.
#
# Environment:
#   VAULT_RS_BIN         server binary (default target/debug/vault-rs)
#   POWERLOSS_WRITERS    concurrent writers (default 4)
#   POWERLOSS_MAX_LOAD   upper bound of the random load time before a cut, in
#                        seconds (default 2.0; the lower bound is 0.2)
#   POWERLOSS_DIRS       powerfs directory model: strict (default: only a
#                        directory's fsync makes its entries durable) or
#                        with-file (a file's fsync also makes its path
#                        durable, as ext4 does in practice)
#   POWERLOSS_KEEP_GOING 1: do not stop at the first round that lost writes;
#                        count the losses over every cut and fail at the end
#   POWERLOSS_SEED       seed of the random cut points (default: random)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CUTS="${1:-${POWERLOSS_CUTS:-3}}"
source "$ROOT/scripts/lib.sh"
BIN="$(resolve_bin)"
WRITERS="${POWERLOSS_WRITERS:-4}"
MAX_LOAD="${POWERLOSS_MAX_LOAD:-2.0}"
DIRS="${POWERLOSS_DIRS:-strict}"
KEEP_GOING="${POWERLOSS_KEEP_GOING:-0}"
SEED="${POWERLOSS_SEED:-$RANDOM$RANDOM}"
STARTUP_TIMEOUT=60

fail() {
    echo "powerloss-test: FAIL: $*" >&2
    exit 1
}

[[ -x "$BIN" ]] || fail "server binary $BIN not found (build it or set VAULT_RS_BIN)"

# ---- FUSE: present, or installed here when we may (CI runs as root) -------
have_libfuse() {
    # (not grep -q: under pipefail, ldconfig's SIGPIPE would fail the test)
    ldconfig -p 2>/dev/null | grep 'libfuse\.so\.2' >/dev/null
}
if ! have_libfuse && [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "powerloss-test: installing libfuse2 (fusepy needs it)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq fuse libfuse2 >/dev/null 2>&1; then
        apt-get update -qq >/dev/null 2>&1 || true
        apt-get install -y -qq fuse libfuse2 >/dev/null 2>&1 ||
            apt-get install -y -qq libfuse2t64 >/dev/null 2>&1 || true
    fi
fi
[[ -e /dev/fuse ]] || fail "FUSE is not available here: /dev/fuse does not exist (the power-loss test needs it)"
have_libfuse || fail "FUSE is not available here: libfuse.so.2 is not installed (apt-get install fuse libfuse2)"

VENV="$ROOT/.venv-powerloss"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import fuse' >/dev/null 2>&1; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        -r tests/powerloss/requirements.txt
fi
PY="$VENV/bin/python"
POWERFS="$ROOT/tests/powerloss/powerfs.py"
DRIVER="$ROOT/tests/powerloss/driver.py"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vault-rs-powerloss.XXXXXX")"
BACKING="$WORK/backing"
MNT="$WORK/mnt"
STATE="$WORK/state"
mkdir -p "$BACKING/audit" "$MNT" "$STATE"
CONFIG="$WORK/config.hcl"
cat >"$CONFIG" <<EOF
storage "sled" {
  path = "$MNT/data"
}

listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
EOF
AUDIT_LOG="$MNT/audit/audit.log"

FS_PID=""
SERVER_PID=""
WRITER_PID=""
URL=""
OK=0

mount_fs() {
    "$PY" "$POWERFS" --dirs "$DIRS" "$BACKING" "$MNT" 2>>"$WORK/powerfs.log" &
    FS_PID=$!
    for _ in $(seq 1 100); do
        if mountpoint -q "$MNT"; then
            return 0
        fi
        kill -0 "$FS_PID" 2>/dev/null || break
        sleep 0.1
    done
    tail -n 20 "$WORK/powerfs.log" >&2 || true
    fail "FUSE is not available here: powerfs could not mount $MNT (see above)"
}

unmount_fs() {
    if mountpoint -q "$MNT"; then
        fusermount -u -z "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null || true
    fi
    if [[ -n "$FS_PID" ]]; then
        wait "$FS_PID" 2>/dev/null || true
        FS_PID=""
    fi
}

cleanup() {
    if [[ -n "$WRITER_PID" ]]; then
        kill "$WRITER_PID" 2>/dev/null || true
        wait "$WRITER_PID" 2>/dev/null || true
    fi
    if [[ -n "$SERVER_PID" ]]; then
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    unmount_fs
    if [[ "$OK" == 1 ]]; then
        rm -rf "$WORK"
    else
        echo "powerloss-test: logs and state kept in $WORK" >&2
        for log in "$WORK"/server-*.log; do
            [[ -f "$log" ]] || continue
        done
        if [[ -n "${log:-}" && -f "$log" ]]; then
            echo "--- $(basename "$log") (tail) ---" >&2
            tail -n 20 "$log" >&2 || true
        fi
    fi
}
trap cleanup EXIT

start_server() {
    local name="$1"
    local log="$WORK/server-$name.log"
    "$BIN" server --config "$CONFIG" >"$log" 2>&1 </dev/null &
    SERVER_PID=$!
    local status=0
    wait_listening "$SERVER_PID" "$log" "$STARTUP_TIMEOUT" || status=$?
    case "$status" in
        0) return 0 ;;
        1)
            wait "$SERVER_PID" 2>/dev/null || true
            SERVER_PID=""
            tail -n 20 "$log" >&2 || true
            fail "server exited during startup ($name)"
            ;;
        *) fail "server did not print 'Listening on http://' within ${STARTUP_TIMEOUT}s ($name)" ;;
    esac
}

# The random delay before cut number $1 (deterministic given the seed).
delay_for() {
    "$PY" -c "import random,sys; r=random.Random('$SEED-$1'); print('%.3f' % r.uniform(0.2, $MAX_LOAD))"
}

power_cut() {
    # Everything stops at once: the process dies, then the disk forgets what
    # was never synced (nothing can write in between: the only writer is dead).
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    echo cut >"$MNT/.powercut"
    wait "$FS_PID" 2>/dev/null || true
    FS_PID=""
    mountpoint -q "$MNT" && unmount_fs
    return 0
}

echo "powerloss-test: $CUTS cut(s), $WRITERS writers, load 0.2-${MAX_LOAD}s before each cut, directories: $DIRS, seed $SEED"
mount_fs
start_server 0
"$PY" "$DRIVER" init "$URL" "$STATE" "$AUDIT_LOG"

FAILED_ROUNDS=0
for round in $(seq 1 "$CUTS"); do
    "$PY" "$DRIVER" write "$URL" "$STATE" "$round" --threads "$WRITERS" &
    WRITER_PID=$!
    sleep "$(delay_for "$round")"
    kill -0 "$WRITER_PID" 2>/dev/null ||
        { wait "$WRITER_PID" || true; WRITER_PID=""; fail "round $round: the writers stopped before the cut"; }
    power_cut
    if ! wait "$WRITER_PID"; then
        WRITER_PID=""
        fail "round $round: a writer got an unexpected answer before the cut"
    fi
    WRITER_PID=""
    tail -n 1 "$WORK/powerfs.log" | sed "s/^/powerloss-test: round $round: /"

    mount_fs
    start_server "$round"
    round_ok=1
    rc=0
    "$PY" "$DRIVER" check "$URL" "$STATE" || rc=$?
    [[ "$rc" == 3 ]] && fail "round $round: the vault could not be unsealed after the power cut (acknowledged state lost)"
    [[ "$rc" == 0 ]] || round_ok=0
    "$PY" "$DRIVER" audit-check "$STATE" "$AUDIT_LOG" || round_ok=0
    if [[ "$round_ok" == 0 ]]; then
        FAILED_ROUNDS=$((FAILED_ROUNDS + 1))
        echo "powerloss-test: round $round LOST acknowledged writes" >&2
        [[ "$KEEP_GOING" == 1 ]] || fail "round $round: acknowledged writes were lost at a power cut"
    fi
done

# A clean stop closes the audit log with a signed checkpoint; the whole log
# (every session since the first) must verify.
kill -TERM "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
VERIFY=("$BIN" audit verify "$AUDIT_LOG")
[[ -s "$STATE/audit-public-key" ]] && VERIFY+=(--public-key "$(cat "$STATE/audit-public-key")")
if ! "${VERIFY[@]}"; then
    fail "vault-rs audit verify rejected the audit log after $CUTS power cut(s)"
fi
LOST="$(wc -l <"$STATE/lost-keys" 2>/dev/null || echo 0)"
ACKED="$(wc -l <"$STATE/acked" 2>/dev/null || echo 0)"
echo "powerloss-test: $CUTS cut(s), $ACKED acknowledged write(s), $LOST lost, $FAILED_ROUNDS round(s) with losses"
[[ "$FAILED_ROUNDS" == 0 ]] || fail "$FAILED_ROUNDS of $CUTS power cut(s) lost acknowledged writes"
OK=1
echo "powerloss-test: passed"
