#!/usr/bin/env bash
# The long crash runs (minutes; not part of scripts/test.sh):
#   - SIGKILL at random points of rotate, kv-cas, token-create,
#     revoke-prefix and apikey-rotate: CRASH_ROUNDS (default 20) each;
#   - SIGKILL at random points of rekey, including inside the rekey/update
#     that completes it: CRASH_REKEY_ROUNDS (default 120) kill points; after
#     every one the newest share set the test holds must open the vault;
#   - the SIGKILL-under-load durability test (scripts/crash-test.sh) with
#     CRASH_LOAD_ROUNDS (default 20) rounds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
start=$SECONDS
CRASH_ROUNDS="${CRASH_ROUNDS:-20}" CRASH_REKEY_ROUNDS="${CRASH_REKEY_ROUNDS:-120}" \
    bash scripts/crash-ops.sh
CRASH_ROUNDS="${CRASH_LOAD_ROUNDS:-20}" bash scripts/crash-test.sh
echo "crash-soak: PASS in $((SECONDS - start))s"
