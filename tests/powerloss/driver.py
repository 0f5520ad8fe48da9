#!/usr/bin/env python3
"""The client side of the power-loss test (scripts/powerloss-test.sh).

    driver.py init   URL STATE AUDIT_LOG   initialize (1 share), unseal, mount kv v2
                                           at pl/, enable a file audit device
    driver.py write  URL STATE ROUND       write until the server goes away; log
                                           every acknowledged write
    driver.py unseal URL STATE             unseal with the stored share
    driver.py check  URL STATE             every acknowledged write must read back

Writes: each of --threads writers alternates between new keys
(pl/data/t<T>/r<ROUND>/n<N>, value "<T>-<ROUND>-<N>") and one key it
overwrites (pl/data/t<T>/hot, value the write's counter). A write is
acknowledged when the server answered 200/204; only then is it appended to
STATE/acked (flushed, so it survives the server's death; the test's own
bookkeeping is on a real disk, not on the simulated one).

Only the standard library is used.
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.request


def call(url, method, path, token=None, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url + "/v1/" + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Vault-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw) if raw else None
        except ValueError:
            return e.code, raw.decode(errors="replace")


def must(status, body, what, ok=(200, 204)):
    if status not in ok:
        sys.exit("driver: %s: HTTP %s %s" % (what, status, body))
    return body


def load(state):
    with open(os.path.join(state, "init.json")) as f:
        return json.load(f)


def unseal(url, state):
    """Unseals; exits 3 if the vault cannot be unsealed (gone or damaged)."""
    init = load(state)
    deadline = time.time() + 30
    while True:
        s, b = call(url, "PUT", "sys/unseal", body={"key": init["keys"][0]})
        if s == 200 and not b.get("sealed", True):
            return init
        if time.time() > deadline or s == 400:
            print("driver: unseal failed: HTTP %s %s" % (s, b), file=sys.stderr)
            sys.exit(3)
        time.sleep(0.2)


def cmd_init(a):
    s, b = call(a.url, "PUT", "sys/init", body={"secret_shares": 1, "secret_threshold": 1})
    init = must(s, b, "sys/init")
    with open(os.path.join(a.state, "init.json"), "w") as f:
        json.dump(init, f)
    unseal(a.url, a.state)
    tok = init["root_token"]
    must(*call(a.url, "POST", "sys/mounts/pl", tok, {"type": "kv", "options": {"version": "2"}}), "mount pl/")
    must(
        *call(a.url, "PUT", "sys/audit/file", tok, {"type": "file", "options": {"file_path": a.audit_log}}),
        "enable the file audit device",
    )
    s, b = call(a.url, "GET", "sys/audit/file/public-key", tok)
    if s == 200:
        with open(os.path.join(a.state, "audit-public-key"), "w") as f:
            f.write(b["data"]["public_key"])
    # kv v2 mounts finish their setup in the background: wait until writable.
    deadline = time.time() + 30
    while True:
        s, b = call(a.url, "POST", "pl/data/ready", tok, {"data": {"v": "1"}})
        if s in (200, 204):
            break
        if time.time() > deadline:
            sys.exit("driver: pl/ never became writable: HTTP %s %s" % (s, b))
        time.sleep(0.2)


def cmd_write(a):
    tok = load(a.state)["root_token"]
    out = open(os.path.join(a.state, "acked"), "a")
    lock = threading.Lock()
    counts = [0] * a.threads
    errors = []

    def writer(t):
        n = 0
        while True:
            n += 1
            if n % 4 == 0:
                key, value = "t%d/hot" % t, "%d-%d" % (a.round, n)
            else:
                key, value = "t%d/r%d/n%d" % (t, a.round, n), "%d-%d-%d" % (t, a.round, n)
            try:
                s, b = call(a.url, "POST", "pl/data/" + key, tok, {"data": {"v": value}}, timeout=60)
            except OSError:
                return  # the server is gone: the cut
            if s not in (200, 204):
                errors.append("HTTP %s %s on %s" % (s, b, key))
                return
            with lock:
                out.write(json.dumps({"key": key, "v": value, "round": a.round, "n": n}) + "\n")
                out.flush()
                counts[t] += 1

    threads = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(a.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    out.close()
    print("driver: round %d: %d acknowledged writes" % (a.round, sum(counts)))
    if errors:
        sys.exit("driver: round %d: %s" % (a.round, errors[0]))


def order(v):
    """The write counter of a hot key's value "<round>-<n>"."""
    r, n = v.split("-")
    return (int(r), int(n))


def cmd_check(a):
    tok = unseal(a.url, a.state)["root_token"]
    expect = {}
    # Losses already reported by an earlier check (--keep-going runs) are
    # not counted again.
    known = set()
    known_path = os.path.join(a.state, "lost-keys")
    if os.path.exists(known_path):
        with open(known_path) as f:
            known = {tuple(json.loads(line)) for line in f if line.strip()}
    path = os.path.join(a.state, "acked")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    w = json.loads(line)
                    expect[w["key"]] = w["v"]  # the last acknowledged value
    lost = []
    fresh = []
    for key, v in sorted(expect.items()):
        if (key, v) in known:
            continue
        s, b = call(a.url, "GET", "pl/data/" + key, tok)
        got = b["data"]["data"].get("v") if s == 200 else None
        if key.endswith("/hot"):
            # A later (unacknowledged, in-flight) write may have landed too.
            ok = got is not None and order(got) >= order(v)
        else:
            ok = got == v
        if not ok:
            lost.append("%s: expected %s, got HTTP %s %s" % (key, v, s, got))
            fresh.append((key, v))
    print("driver: check: %d acknowledged key(s), %d lost" % (len(expect), len(lost)))
    with open(known_path, "a") as f:
        for kv in fresh:
            f.write(json.dumps(kv) + "\n")
    for line in lost[:10]:
        print("driver:   lost " + line)
    if lost:
        sys.exit(1)


def cmd_audit_check(a):
    """Every acknowledged write has a successful response entry in the log."""
    want = set()
    with open(os.path.join(a.state, "acked")) as f:
        for line in f:
            if line.strip():
                want.add("pl/data/" + json.loads(line)["key"])
    seen = set()
    for log in a.logs:
        with open(log, "rb") as f:
            for line in f:
                try:
                    v = json.loads(line)
                except ValueError:
                    continue
                if v.get("type") != "response":
                    continue
                status = (v.get("response") or {}).get("status_code")
                path = (v.get("request") or {}).get("path")
                if status in (200, 204) and path:
                    seen.add(path)
    missing = sorted(want - seen)
    print("driver: audit check: %d acknowledged write(s), %d without a response entry" % (len(want), len(missing)))
    for p in missing[:10]:
        print("driver:   not in the audit log: " + p)
    if missing:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("init")
    p.add_argument("url")
    p.add_argument("state")
    p.add_argument("audit_log")
    p = sub.add_parser("write")
    p.add_argument("url")
    p.add_argument("state")
    p.add_argument("round", type=int)
    p.add_argument("--threads", type=int, default=4)
    p = sub.add_parser("audit-check")
    p.add_argument("state")
    p.add_argument("logs", nargs="+")
    for name in ("unseal", "check"):
        p = sub.add_parser(name)
        p.add_argument("url")
        p.add_argument("state")
    a = ap.parse_args()
    {"init": cmd_init, "write": cmd_write, "unseal": lambda a: unseal(a.url, a.state), "check": cmd_check, "audit-check": cmd_audit_check}[a.cmd](a)


if __name__ == "__main__":
    main()
