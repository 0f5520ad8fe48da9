#!/usr/bin/env python3
"""Helper of scripts/crash-test.sh: initialize, unseal, write under load, verify.

Subcommands (STATE is a directory that keeps the unseal share, the root
token and the log of acknowledged writes between server restarts):

  init   URL STATE                 init with 1 share, unseal, mount kv v1 at crash/
  unseal URL STATE                 unseal with the saved share
  write  URL STATE ROUND [--threads 8] [--max-seconds 60]
         writers put crash/w<i>/<n> = {"v": "<i>-<n>"} until the server goes
         away; every acknowledged (200/204) key is appended to STATE/acked.log
  verify URL STATE                 every acknowledged key must read back with its value

Only `requests` is needed.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import requests

MOUNT = "crash"
ROUND_STRIDE = 1_000_000  # n = round * ROUND_STRIDE + counter: keys never repeat


def fail(msg: str) -> None:
    print(f"crash-test: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def state_files(state: Path):
    return state / "unseal-share", state / "root-token", state / "acked.log"


def unseal(url: str, state: Path) -> None:
    share_file, _, _ = state_files(state)
    share = share_file.read_text().strip()
    resp = requests.put(f"{url}/v1/sys/unseal", json={"key": share}, timeout=30)
    if resp.status_code != 200:
        fail(f"unseal returned {resp.status_code}: {resp.text}")
    if resp.json().get("sealed") is not False:
        fail(f"still sealed after submitting the share: {resp.text}")


def cmd_init(url: str, state: Path) -> None:
    share_file, token_file, acked = state_files(state)
    resp = requests.put(f"{url}/v1/sys/init", json={"secret_shares": 1, "secret_threshold": 1}, timeout=30)
    if resp.status_code != 200:
        fail(f"init returned {resp.status_code}: {resp.text}")
    body = resp.json()
    share_file.write_text(body["keys"][0] + "\n")
    token_file.write_text(body["root_token"] + "\n")
    acked.write_text("")
    unseal(url, state)
    resp = requests.post(
        f"{url}/v1/sys/mounts/{MOUNT}",
        json={"type": "kv"},
        headers={"X-Vault-Token": body["root_token"]},
        timeout=30,
    )
    if resp.status_code not in (200, 204):
        fail(f"mounting {MOUNT}/ returned {resp.status_code}: {resp.text}")


def cmd_write(url: str, state: Path, round_no: int, threads: int, max_seconds: float) -> None:
    _, token_file, acked_path = state_files(state)
    token = token_file.read_text().strip()
    lock = threading.Lock()
    errors: list[str] = []
    counts = [0] * threads
    deadline = time.monotonic() + max_seconds

    with open(acked_path, "a", encoding="utf-8") as acked:

        def writer(i: int) -> None:
            session = requests.Session()
            session.headers["X-Vault-Token"] = token
            n = round_no * ROUND_STRIDE
            while time.monotonic() < deadline:
                key = f"w{i}/{n}"
                value = f"{i}-{n}"
                try:
                    resp = session.put(f"{url}/v1/{MOUNT}/{key}", json={"v": value}, timeout=30)
                except requests.RequestException:
                    return  # the server went away: expected once it is killed
                if resp.status_code in (200, 204):
                    with lock:
                        acked.write(f"{key}\t{value}\n")
                        acked.flush()
                    counts[i] += 1
                    n += 1
                else:
                    with lock:
                        errors.append(f"PUT {MOUNT}/{key}: HTTP {resp.status_code} {resp.text[:200]}")
                    return

        workers = [threading.Thread(target=writer, args=(i,), daemon=True) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    total = sum(counts)
    print(f"crash-test: round {round_no}: {total} writes acknowledged by {threads} writers")
    if errors:
        fail("writes failed with an HTTP error before the crash:\n  " + "\n  ".join(errors))
    if time.monotonic() >= deadline:
        fail(f"the server was still up after {max_seconds}s: it was not killed")
    if total == 0:
        fail("no write was acknowledged before the crash; the round proves nothing")


def cmd_verify(url: str, state: Path, threads: int) -> None:
    _, token_file, acked_path = state_files(state)
    token = token_file.read_text().strip()
    expected: list[tuple[str, str]] = []
    for line in acked_path.read_text(encoding="utf-8").splitlines():
        if line:
            key, value = line.split("\t")
            expected.append((key, value))
    if not expected:
        fail("the log of acknowledged writes is empty")

    missing: list[str] = []
    wrong: list[str] = []
    other: list[str] = []
    lock = threading.Lock()

    def reader(chunk: list[tuple[str, str]]) -> None:
        session = requests.Session()
        session.headers["X-Vault-Token"] = token
        for key, value in chunk:
            try:
                resp = session.get(f"{url}/v1/{MOUNT}/{key}", timeout=30)
            except requests.RequestException as exc:
                with lock:
                    other.append(f"{key}: {exc}")
                continue
            with lock:
                if resp.status_code == 404:
                    missing.append(key)
                elif resp.status_code != 200:
                    other.append(f"{key}: HTTP {resp.status_code} {resp.text[:200]}")
                else:
                    got = resp.json().get("data")
                    if got != {"v": value}:
                        wrong.append(f"{key}: expected {{'v': {value!r}}}, got {json.dumps(got)}")

    chunks = [expected[i::threads] for i in range(threads)]
    workers = [threading.Thread(target=reader, args=(c,), daemon=True) for c in chunks]
    for w in workers:
        w.start()
    for w in workers:
        w.join()

    if missing or wrong or other:
        lines = []
        if missing:
            lines.append(f"{len(missing)} acknowledged key(s) MISSING after the crash:")
            lines += [f"  {MOUNT}/{k}" for k in sorted(missing)[:200]]
            if len(missing) > 200:
                lines.append(f"  ... and {len(missing) - 200} more")
        if wrong:
            lines.append(f"{len(wrong)} key(s) with a WRONG value:")
            lines += [f"  {MOUNT}/{w}" for w in wrong[:50]]
        if other:
            lines.append(f"{len(other)} read(s) failed:")
            lines += [f"  {o}" for o in other[:50]]
        fail(f"{len(expected)} acknowledged writes checked\n" + "\n".join(lines))
    print(f"crash-test: all {len(expected)} acknowledged writes read back correctly")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["init", "unseal", "write", "verify"])
    parser.add_argument("url")
    parser.add_argument("state", type=Path)
    parser.add_argument("round", type=int, nargs="?", default=0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    args = parser.parse_args()
    url = args.url.rstrip("/")
    if args.command == "init":
        cmd_init(url, args.state)
    elif args.command == "unseal":
        unseal(url, args.state)
    elif args.command == "write":
        cmd_write(url, args.state, args.round, args.threads, args.max_seconds)
    else:
        cmd_verify(url, args.state, args.threads)


if __name__ == "__main__":
    main()
