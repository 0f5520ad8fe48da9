"""Client side of scripts/pg-failover.sh: init/unseal, writes through a
client that follows 307 redirects, takeover timing, lost-write and
fencing checks. Standard library only."""

import http.client
import json
import sys
import threading
import time
import urllib.parse


def call(url, method, path, token=None, body=None, follow=True, timeout=5):
    """One request; follows 307 (re-sending the body) when `follow`.
    Returns (status, json-or-None, final url)."""
    for _ in range(5):
        u = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if token:
            headers["X-Vault-Token"] = token
        data = json.dumps(body).encode() if body is not None else None
        try:
            conn.request(method, "/v1/" + path, body=data, headers=headers)
            r = conn.getresponse()
            raw = r.read()
            loc = r.getheader("Location")
        finally:
            conn.close()
        if r.status == 307 and follow and loc:
            lu = urllib.parse.urlsplit(loc)
            url = f"{lu.scheme}://{lu.netloc}"
            continue
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return r.status, doc, url
    raise RuntimeError("redirect loop")


def wait_active(urls, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for u in urls:
            try:
                s, doc, _ = call(u, "GET", "sys/leader", follow=False, timeout=2)
                if s == 200 and doc and doc.get("is_self"):
                    return u
            except OSError:
                pass
        time.sleep(0.1)
    raise SystemExit("FAIL: no active node within %ss" % timeout)


def write_any(urls, token, key, value):
    """Writes through any node (redirects followed); True once acknowledged."""
    for u in urls:
        try:
            s, _, _ = call(u, "POST", "secret/" + key, token, {"v": value}, timeout=3)
            if s in (200, 204):
                return True
        except OSError:
            continue
    return False


def main():
    cmd, state_path = sys.argv[1], sys.argv[2]
    urls = sys.argv[3:]
    if cmd == "init":
        s, doc, _ = call(urls[0], "PUT", "sys/init", body={"secret_shares": 1, "secret_threshold": 1})
        assert s == 200, (s, doc)
        state = {"key": doc["keys_base64"][0], "token": doc["root_token"]}
        json.dump(state, open(state_path, "w"))
        return
    state = json.load(open(state_path))
    token = state["token"]
    if cmd == "unseal":
        for u in urls:
            s, doc, _ = call(u, "PUT", "sys/unseal", body={"key": state["key"]}, follow=False)
            assert s == 200 and not doc["sealed"], (u, s, doc)
        return
    if cmd == "mount":
        active = wait_active(urls)
        s, doc, _ = call(active, "POST", "sys/mounts/secret", token,
                         {"type": "kv", "options": {"version": "1"}})
        assert s in (200, 204), (s, doc)
        return
    if cmd == "active":
        print(wait_active(urls))
        return
    if cmd == "check-standby":
        active = wait_active(urls)
        standby = [u for u in urls if u != active][0]
        s, doc, _ = call(standby, "GET", "sys/health", follow=False)
        assert s == 429 and doc["standby"], ("health", s, doc)
        s, _, _ = call(standby, "GET", "sys/health?standbyok=true", follow=False)
        assert s == 200, ("standbyok", s)
        s, doc, _ = call(standby, "GET", "sys/leader", follow=False)
        assert doc["ha_enabled"] and not doc["is_self"] and doc["leader_address"] == active, doc
        s, _, final = call(standby, "GET", "sys/mounts", token)
        assert s == 200 and final == active, ("redirect", s, final)
        print("standby checks passed (429, standbyok, sys/leader, 307 to %s)" % active)
        try:
            import hvac
        except ImportError:
            print("hvac not installed: its view of the cluster not checked")
            return
        for u, is_active in ((active, True), (standby, False)):
            c = hvac.Client(url=u, token=token)
            leader = c.sys.read_leader_status()
            assert leader["ha_enabled"] and leader["is_self"] == is_active, (u, leader)
            assert leader["leader_address"] == active, (u, leader)
            # hvac hands back the parsed body for a 200, the response otherwise.
            def answer(r):
                return (r.status_code, r.json()) if hasattr(r, "status_code") else (200, r)
            code, body = answer(c.sys.read_health_status(method="GET"))
            assert body["standby"] == (not is_active) and not body["sealed"], (u, body)
            assert code == (200 if is_active else 429), (u, code)
            code, _ = answer(c.sys.read_health_status(standby_ok=True, method="GET"))
            assert code == 200, (u, code)
        print("hvac agrees: read_leader_status and read_health_status on both nodes")
        return
    if cmd == "step-down":
        active = wait_active(urls)
        s, doc, _ = call(active, "PUT", "sys/step-down", token, follow=False)
        assert s in (200, 204), (s, doc)
        started = time.time()
        deadline = started + 30
        while time.time() < deadline:
            new = wait_active(urls)
            if new != active:
                print("step-down: %s handed over to %s in %.2fs" % (active, new, time.time() - started))
                return
            time.sleep(0.1)
        raise SystemExit("FAIL: no other node took over after step-down")
    if cmd == "load":
        # Writes until told to stop (a file appears), recording what was
        # acknowledged and the longest gap between acknowledgements.
        stop_file, out = state_path + ".stop", state_path + ".acked"
        acked, i, last_ok, longest = [], 0, time.time(), 0.0
        deadline = time.time() + 120
        import os
        while not os.path.exists(stop_file) and time.time() < deadline:
            key = "load/k%05d" % i
            if write_any(urls, token, key, "v%d" % i):
                now = time.time()
                longest = max(longest, now - last_ok)
                last_ok = now
                acked.append(key)
                i += 1
            else:
                time.sleep(0.05)
        json.dump({"acked": acked, "longest_gap": longest}, open(out, "w"))
        return
    if cmd == "verify":
        res = json.load(open(state_path + ".acked"))
        active = wait_active(urls)
        lost = []
        for n, key in enumerate(res["acked"]):
            s, doc, _ = call(active, "GET", "secret/" + key, token)
            want = "v" + key.split("k")[-1].lstrip("0") if key.split("k")[-1].lstrip("0") else "v0"
            if s != 200 or doc["data"]["v"] != want:
                lost.append(key)
        print("acknowledged writes: %d, lost: %d, longest gap without an acknowledged write: %.2fs"
              % (len(res["acked"]), len(lost), res["longest_gap"]))
        if lost:
            raise SystemExit("FAIL: acknowledged writes lost: %s" % lost[:10])
        return
    if cmd == "paused-write":
        # Sent to the paused old active (answered only once it resumes);
        # prints the status it answered.
        old = urls[0]
        results = {}

        def send(i):
            try:
                s, _, _ = call(old, "POST", "secret/fenced/%d" % i, token, {"v": "old"},
                               follow=False, timeout=30)
                results[i] = s
            except OSError as e:
                results[i] = str(e)
        threads = [threading.Thread(target=send, args=(i,)) for i in range(5)]
        for t in threads:
            t.start()
        json.dump({"threads": len(threads)}, open(state_path + ".paused", "w"))
        for t in threads:
            t.join()
        json.dump(results, open(state_path + ".paused", "w"))
        return
    if cmd == "verify-fencing":
        results = json.load(open(state_path + ".paused"))
        active = wait_active(urls[1:])
        accepted = []
        for i, s in results.items():
            r, doc, _ = call(active, "GET", "secret/fenced/%s" % i, token)
            if r == 200:
                accepted.append(i)
            if s in (200, 204) and r != 200:
                raise SystemExit("FAIL: the old active acknowledged a write that is not stored")
        print("paused old active answered %s; writes it committed after takeover: %d"
              % (sorted(set(map(str, results.values()))), len(accepted)))
        if accepted:
            raise SystemExit("FAIL: the old active committed after takeover: %s" % accepted)
        return
    raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
