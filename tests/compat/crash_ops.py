#!/usr/bin/env python3
"""Helper of scripts/crash-ops.sh: one operation in a loop until SIGKILL, then
"fully done or not at all" checks after restart.

Subcommands (STATE keeps what the operator holds between server restarts:
every share set ever received, the root token, and what each operation had
acknowledged):

  setup  URL STATE         init (3 shares, threshold 2), unseal, mount kv v1 at
                           crash/, kv v2 at kv2/, apikeys at apikeys/, seed data
  unseal URL STATE         unseal with the NEWEST share set the operator holds
                           (the one from the last acknowledged init or rekey);
                           fails if it does not open the vault
  run    URL STATE OP      repeat OP until the server goes away, recording each
                           acknowledged result (and the one in flight)
  check  URL STATE OP      after restart + unseal: OP is fully done or not at all

OP is one of: rotate, rekey, kv-cas, token-create, revoke-prefix, apikey-rotate.
Only `requests` is needed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from pathlib import Path

import requests

OPS = ["rotate", "rekey", "kv-cas", "token-create", "revoke-prefix", "apikey-rotate"]
SEED = {f"seed{i}": f"value-{i}" for i in range(5)}


def fail(msg: str) -> None:
    print(f"crash-ops: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


class State:
    def __init__(self, path: Path):
        self.path = path
        self.file = path / "state.json"

    def load(self) -> dict:
        return json.loads(self.file.read_text()) if self.file.exists() else {}

    def save(self, data: dict) -> None:
        tmp = self.path / "state.json.tmp"
        tmp.write_text(json.dumps(data))
        tmp.replace(self.file)


def api(session: requests.Session, method: str, url: str, path: str, body=None, ok=(200, 204)):
    resp = session.request(method, f"{url}/v1/{path}", json=body, timeout=30)
    if resp.status_code not in ok:
        raise RuntimeError(f"{method} {path}: HTTP {resp.status_code} {resp.text[:300]}")
    return resp.json() if resp.content else {}


def root_session(st: dict) -> requests.Session:
    s = requests.Session()
    s.headers["X-Vault-Token"] = st["root_token"]
    return s


def try_unseal(url: str, share_set: dict) -> tuple[bool, str]:
    s = requests.Session()
    s.put(f"{url}/v1/sys/unseal", json={"reset": True}, timeout=30)
    last = ""
    for key in share_set["keys"][: share_set["threshold"]]:
        resp = s.put(f"{url}/v1/sys/unseal", json={"key": key}, timeout=30)
        last = f"HTTP {resp.status_code} {resp.text[:200]}"
        if resp.status_code != 200:
            return False, last
        if resp.json().get("sealed") is False:
            return True, last
    return False, last


def cmd_unseal(url: str, state: State) -> None:
    st = state.load()
    sets = st["share_sets"]
    ok, why = try_unseal(url, sets[-1])
    if ok:
        return
    # Say which older set (if any) opens it, to help diagnosis.
    older = [i for i, s in enumerate(sets[:-1]) if try_unseal(url, s)[0]]
    fail(
        f"the newest share set the operator holds (#{len(sets) - 1}) does not open the vault "
        f"({why}); older sets that do: {older or 'none'}"
    )


def cmd_setup(url: str, state: State) -> None:
    body = api(requests.Session(), "PUT", url, "sys/init", {"secret_shares": 3, "secret_threshold": 2})
    st = {"root_token": body["root_token"], "share_sets": [{"threshold": 2, "keys": body["keys"]}]}
    state.save(st)
    cmd_unseal(url, state)
    s = root_session(st)
    api(s, "POST", url, "sys/mounts/crash", {"type": "kv"})
    api(s, "POST", url, "sys/mounts/kv2", {"type": "kv", "options": {"version": "2"}})
    api(s, "POST", url, "sys/mounts/apikeys", {"type": "apikeys"})
    for k, v in SEED.items():
        api(s, "PUT", url, f"crash/{k}", {"v": v})
    created = api(s, "POST", url, "apikeys/keys/crash", {"service": "crash"})
    st.update(
        {
            "rotate": {"acked_term": api(s, "GET", url, "sys/key-status")["data"]["term"]},
            "kv-cas": {"acked_version": 0},
            "token-create": {"acked": [], "in_flight": None},
            "revoke-prefix": {"rounds": []},
            "apikey-rotate": {"acked_version": created["data"].get("version", 1), "acked_key": created["data"]["key"]},
            "rekey": {"acked": 0},
        }
    )
    state.save(st)


def run_rotate(url: str, state: State, st: dict, s: requests.Session) -> None:
    while True:
        api(s, "PUT", url, "sys/rotate", {})
        term = api(s, "GET", url, "sys/key-status")["data"]["term"]
        # A write under the new term, acknowledged: it must read back.
        api(s, "PUT", url, f"crash/rot{term}", {"v": str(term)})
        st["rotate"]["acked_term"] = term
        st["rotate"].setdefault("written", []).append(term)
        state.save(st)


def check_rotate(url: str, st: dict, s: requests.Session) -> None:
    term = api(s, "GET", url, "sys/key-status")["data"]["term"]
    acked = st["rotate"]["acked_term"]
    if term not in (acked, acked + 1):
        fail(f"rotate: term {term} after restart, last acknowledged {acked}")
    # (a term whose rotation was in flight at a kill may have no write)
    for t in st["rotate"].get("written", []):
        got = api(s, "GET", url, f"crash/rot{t}", ok=(200, 404))
        if got.get("data", {}).get("v") != str(t):
            fail(f"rotate: the write made under term {t} is lost or wrong: {got}")


def run_rekey(url: str, state: State, st: dict, s: requests.Session) -> None:
    while True:
        current = st["share_sets"][-1]
        n = random.randint(1, 4)
        t = random.randint(1, n)
        api(s, "DELETE", url, "sys/rekey/init", ok=(200, 204))
        init = api(s, "PUT", url, "sys/rekey/init", {"secret_shares": n, "secret_threshold": t})
        nonce = init["nonce"]
        keys = random.sample(current["keys"], current["threshold"])
        body = {}
        for i, key in enumerate(keys):
            if i == len(keys) - 1:
                st["rekey"]["in_completing_update"] = True
                state.save(st)
            body = api(s, "PUT", url, "sys/rekey/update", {"key": key, "nonce": nonce})
        st["rekey"]["in_completing_update"] = False
        if not body.get("complete"):
            raise RuntimeError(f"rekey did not complete: {body}")
        st["share_sets"].append({"threshold": t, "keys": body["keys"]})
        st["rekey"]["acked"] += 1
        state.save(st)


def check_rekey(url: str, st: dict, s: requests.Session) -> None:
    # Opening with the newest set was checked by `unseal`; the data must be intact.
    for k, v in SEED.items():
        got = api(s, "GET", url, f"crash/{k}", ok=(200, 404))
        if got.get("data", {}).get("v") != v:
            fail(f"rekey: seed secret {k} lost or wrong after restart: {got}")
    if st["rekey"].get("in_completing_update"):
        print("crash-ops: rekey: killed inside the rekey/update that completes a rekey")
    status = api(requests.Session(), "GET", url, "sys/seal-status")
    if status.get("sealed") is not False:
        fail(f"rekey: still sealed: {status}")


def run_kv_cas(url: str, state: State, st: dict, s: requests.Session) -> None:
    while True:
        v = st["kv-cas"]["acked_version"]
        body = api(s, "POST", url, "kv2/data/cas", {"options": {"cas": v}, "data": {"n": str(v + 1), "pad": "x" * 64}})
        got = body["data"]["version"]
        if got != v + 1:
            raise RuntimeError(f"cas write {v} returned version {got}")
        st["kv-cas"]["acked_version"] = got
        state.save(st)


def check_kv_cas(url: str, st: dict, s: requests.Session) -> None:
    acked = st["kv-cas"]["acked_version"]
    got = api(s, "GET", url, "kv2/data/cas", ok=(200, 404))
    if "data" not in got:
        # Not there: fine only if nothing was acknowledged, and then no
        # metadata may exist without its version.
        if acked > 0:
            fail(f"kv-cas: acknowledged version {acked} lost")
        meta = s.get(f"{url}/v1/kv2/metadata/cas", timeout=30)
        if meta.status_code == 200 and meta.json()["data"].get("current_version", 0) != 0:
            fail(f"kv-cas: metadata without its version: {meta.text[:200]}")
        return
    meta = api(s, "GET", url, "kv2/metadata/cas")["data"]
    cur = meta["current_version"]
    if cur not in (acked, acked + 1):
        fail(f"kv-cas: current_version {cur}, last acknowledged {acked}")
    if got["data"]["metadata"]["version"] != cur or got["data"]["data"]["n"] != str(cur):
        fail(f"kv-cas: version {cur} is half written: {got}")
    for v in range(max(1, acked - 3), cur + 1):
        one = api(s, "GET", url, f"kv2/data/cas?version={v}")["data"]["data"]
        if one["n"] != str(v):
            fail(f"kv-cas: version {v} holds {one}")
    # A write that completed but whose answer the kill cut off is now the
    # current version: the next round's check-and-set starts from it.
    st["kv-cas"]["acked_version"] = cur


def run_token_create(url: str, state: State, st: dict, s: requests.Session) -> None:
    while True:
        tid = f"hvs.crash{uuid.uuid4().hex}"
        st["token-create"]["in_flight"] = tid
        state.save(st)
        body = api(s, "POST", url, "auth/token/create", {"id": tid, "policies": ["default"], "ttl": "1h"})
        if body["auth"]["client_token"] != tid:
            raise RuntimeError("token create ignored the id")
        st["token-create"]["acked"].append([tid, body["auth"]["accessor"]])
        st["token-create"]["in_flight"] = None
        state.save(st)


def token_state(url: str, s: requests.Session, tid: str):
    resp = s.post(f"{url}/v1/auth/token/lookup", json={"token": tid}, timeout=30)
    if resp.status_code == 200:
        return resp.json()["data"]
    return None


def check_token_create(url: str, st: dict, s: requests.Session) -> None:
    for tid, accessor in st["token-create"]["acked"]:
        data = token_state(url, s, tid)
        if data is None or data["accessor"] != accessor:
            fail(f"token-create: acknowledged token (accessor {accessor}) lost")
        api(s, "POST", url, "auth/token/lookup-accessor", {"accessor": accessor})
    tid = st["token-create"]["in_flight"]
    if tid:
        data = token_state(url, s, tid)
        if data is not None:
            # Done: its accessor must resolve too.
            api(s, "POST", url, "auth/token/lookup-accessor", {"accessor": data["accessor"]})
    # No dangling accessor (an accessor entry without its token).
    listed = api(s, "LIST", url, "auth/token/accessors", ok=(200, 404)).get("data", {}).get("keys", [])
    for accessor in listed:
        resp = s.post(f"{url}/v1/auth/token/lookup-accessor", json={"accessor": accessor}, timeout=30)
        if resp.status_code != 200:
            fail(f"token-create: accessor without a token after restart: HTTP {resp.status_code} {resp.text[:200]}")


def run_revoke_prefix(url: str, state: State, st: dict, s: requests.Session) -> None:
    while True:
        batch = []
        for _ in range(random.randint(3, 8)):
            body = api(s, "POST", url, "auth/token/create", {"policies": ["default"], "ttl": "1h"})
            batch.append([body["auth"]["client_token"], body["auth"]["accessor"]])
        rnd = {"tokens": batch, "acked": False}
        st["revoke-prefix"]["rounds"].append(rnd)
        state.save(st)
        api(s, "PUT", url, "sys/leases/revoke-prefix/auth/token/create", {})
        rnd["acked"] = True
        state.save(st)


def check_revoke_prefix(url: str, st: dict, s: requests.Session) -> None:
    for i, rnd in enumerate(st["revoke-prefix"]["rounds"]):
        for tid, accessor in rnd["tokens"]:
            alive = token_state(url, s, tid) is not None
            resp = s.post(f"{url}/v1/auth/token/lookup-accessor", json={"accessor": accessor}, timeout=30)
            acc_alive = resp.status_code == 200
            if alive != acc_alive:
                fail(f"revoke-prefix: round {i}: token alive={alive} but accessor alive={acc_alive}")
            if rnd["acked"] and alive:
                fail(f"revoke-prefix: round {i}: acknowledged revoke-prefix left a token alive")


def run_apikey_rotate(url: str, state: State, st: dict, s: requests.Session) -> None:
    while True:
        body = api(s, "POST", url, "apikeys/keys/crash/rotate", {})["data"]
        st["apikey-rotate"]["acked_version"] = body["version"]
        st["apikey-rotate"]["acked_key"] = body["key"]
        state.save(st)


def check_apikey_rotate(url: str, st: dict, s: requests.Session) -> None:
    acked = st["apikey-rotate"]["acked_version"]
    cur = api(s, "GET", url, "apikeys/keys/crash")["data"]["current_version"]
    if cur not in (acked, acked + 1):
        fail(f"apikey-rotate: current_version {cur}, last acknowledged {acked}")
    verdict = api(s, "POST", url, "apikeys/validate", {"key": st["apikey-rotate"]["acked_key"]})["data"]
    if cur == acked and verdict.get("valid") is not True:
        fail(f"apikey-rotate: the last acknowledged key does not validate: {verdict}")
    if verdict.get("version") not in (None, acked):
        fail(f"apikey-rotate: the last acknowledged key validates as version {verdict.get('version')}")


RUN = {
    "rotate": run_rotate,
    "rekey": run_rekey,
    "kv-cas": run_kv_cas,
    "token-create": run_token_create,
    "revoke-prefix": run_revoke_prefix,
    "apikey-rotate": run_apikey_rotate,
}
CHECK = {
    "rotate": check_rotate,
    "rekey": check_rekey,
    "kv-cas": check_kv_cas,
    "token-create": check_token_create,
    "revoke-prefix": check_revoke_prefix,
    "apikey-rotate": check_apikey_rotate,
}


def cmd_run(url: str, state: State, op: str, max_seconds: float) -> None:
    st = state.load()
    s = root_session(st)
    deadline = time.monotonic() + max_seconds
    try:
        while time.monotonic() < deadline:
            RUN[op](url, state, st, s)
    except (requests.RequestException, ConnectionError):
        return  # the server was killed: expected
    except RuntimeError as exc:
        # An HTTP error: fine only if the server is gone (killed mid-request).
        try:
            requests.get(f"{url}/v1/sys/health", timeout=2)
        except requests.RequestException:
            return
        fail(f"{op}: {exc}")
    fail(f"{op}: the server was still up after {max_seconds}s: it was not killed")


def cmd_check(url: str, state: State, op: str) -> None:
    st = state.load()
    CHECK[op](url, st, root_session(st))
    state.save(st)
    # Every operation: the seed data reads back.
    s = root_session(st)
    for k, v in SEED.items():
        got = api(s, "GET", url, f"crash/{k}", ok=(200, 404))
        if got.get("data", {}).get("v") != v:
            fail(f"{op}: seed secret {k} lost after restart")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("command", choices=["setup", "unseal", "run", "check"])
    p.add_argument("url")
    p.add_argument("state", type=Path)
    p.add_argument("op", nargs="?", choices=OPS)
    p.add_argument("--max-seconds", type=float, default=60.0)
    a = p.parse_args()
    url = a.url.rstrip("/")
    state = State(a.state)
    if a.command == "setup":
        cmd_setup(url, state)
    elif a.command == "unseal":
        cmd_unseal(url, state)
    elif a.command == "run":
        cmd_run(url, state, a.op, a.max_seconds)
    else:
        cmd_check(url, state, a.op)


if __name__ == "__main__":
    main()
