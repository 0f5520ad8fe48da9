"""Unseal time and memory of the real server on a large store (not a test).

`scripts/bench.sh unseal` fills a sled store through the library
(`benches/fill_store.rs`: 1M KV v2 entries and 100k leases by default),
then this starts the release `vault-rs server` on it and measures:
- RSS of the sealed server after start;
- the first unseal (`PUT sys/unseal` until it answers, then until
  `sys/health` answers 200), RSS right after it;
- RSS after a load of random KV reads over the whole store;
- the median of further seal/unseal cycles in the same process.

Owns: the server it starts. Must not: change the store beyond what the
server itself writes.

Environment: BENCH_UNSEAL_READS (KV reads after unseal, default 20000),
BENCH_UNSEAL_CYCLES (default 3), BENCH_SLED_EXTRA (lines added to the
`storage "sled"` block, e.g. a cache setting).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from harness import BenchError, Server, call, log, rss_kib


def mib(kib: dict[str, int], key: str = "VmRSS") -> str:
    return f"{kib.get(key, 0) / 1024:.1f} MiB"


def unseal_once(url: str, key: str) -> tuple[float, float]:
    """Seconds until sys/unseal answers, and until sys/health answers 200."""
    t = time.monotonic()
    _, body, _ = call(url, "PUT", "sys/unseal", {"key": key})
    answered = time.monotonic() - t
    if body.get("sealed"):
        raise BenchError(f"still sealed after the key: {body}")
    while call(url, "GET", "sys/health", ok=None)[0] != 200:
        if time.monotonic() - t > 600:
            raise BenchError("sys/health not 200 ten minutes after unseal")
        time.sleep(0.005)
    return answered, time.monotonic() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vault-rs", required=True)
    ap.add_argument("--store", required=True, help="directory filled by fill_store (data/, keys.json)")
    ap.add_argument("--kv", type=int, required=True, help="number of KV entries in the store")
    args = ap.parse_args()
    reads = int(os.environ.get("BENCH_UNSEAL_READS", "20000"))
    cycles = int(os.environ.get("BENCH_UNSEAL_CYCLES", "3"))
    extra = os.environ.get("BENCH_SLED_EXTRA", "")

    with open(os.path.join(args.store, "keys.json")) as f:
        keys = json.load(f)
    key, root = keys["unseal_key_hex"], keys["root_token"]
    work = os.path.join(args.store, "server")
    os.makedirs(work, exist_ok=True)
    cfg = os.path.join(work, "config.hcl")
    with open(cfg, "w") as f:
        f.write(
            f'storage "sled" {{\n  path = "{args.store}/data"\n{extra}\n}}\n'
            'listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\n'
        )
    s = Server("vault-rs", work)
    try:
        t = time.monotonic()
        s.spawn([args.vault_rs, "server", "--config", cfg], {"VAULT_RS_LOG": "warn"})
        s.wait_listening(timeout=600)
        started = time.monotonic() - t
        time.sleep(0.5)
        sealed_rss = rss_kib(s.proc.pid)
        answered, active = unseal_once(s.url, key)
        after_unseal = rss_kib(s.proc.pid)
        raw = call(s.url, "GET", "sys/metrics?format=prometheus", token=root)[2].decode()
        leases = next((ln.split()[-1] for ln in raw.splitlines() if ln.startswith("vault_rs_leases")), "?")

        def read(i: int) -> None:
            path = f"secret/data/fill/{i % 1000:03}/{i}"
            _, body, _ = call(s.url, "GET", path, token=root)
            if body["data"]["data"]["value"] != f"{i:0>100}":
                raise BenchError(f"{path}: wrong value")

        t = time.monotonic()
        picks = [random.randrange(args.kv) for _ in range(reads)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(read, picks))
        read_time = time.monotonic() - t
        after_reads = rss_kib(s.proc.pid)

        again = []
        for _ in range(cycles):
            call(s.url, "PUT", "sys/seal", token=root)
            again.append(unseal_once(s.url, key))
        final = rss_kib(s.proc.pid)
        if not s.alive():
            raise BenchError(f"the server died:\n{s.log_tail()}")
    except BenchError as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        s.stop()

    print(f"\nstore: {args.kv} KV v2 entries, {leases} leases (vault_rs_leases); sled extra settings: {extra or 'none'}")
    print(f"server start to listening (sealed):       {started:.2f} s, RSS {mib(sealed_rss)}")
    print(f"first unseal: sys/unseal answered in      {answered:.3f} s; active (health 200) after {active:.3f} s")
    print(f"RSS after unseal:                         {mib(after_unseal)}")
    print(f"RSS after {reads} random KV reads:       {mib(after_reads)} ({reads / read_time:.0f} reads/s, 8 clients)")
    if again:
        print(
            f"seal + unseal again (median of {cycles}):    answered {statistics.median(a for a, _ in again):.3f} s; "
            f"active after {statistics.median(b for _, b in again):.3f} s"
        )
    print(f"RSS at the end: {mib(final)}; peak {mib(final, 'VmHWM')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
