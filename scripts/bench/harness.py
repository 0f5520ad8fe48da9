"""The side-by-side benchmark run by `scripts/bench.sh` (not a test).

Starts, in the same run, the vault-rs server (sled storage), OpenBao (`bao`,
raft storage) and a bare axum handler (`bench-baseline`) answering a JSON
body of the size of the vault's KV v2 read answer. Each vault is
initialized and unsealed through the API and given the same setup: kv v2 at
`secret/`, a file audit device, a policy `bench`, a non-root token holding
it, an AppRole role and (vault-rs only) an API key. Then `oha` drives each
case at each connection count against the three servers in turn, round
after round, so that they share the machine's noise; the table reports the
median across rounds and the sum of errors.

The KV v2 read is measured twice: `kv-read` with no audit device (the
device is disabled for it and enabled again, with a new file, afterwards)
and `kv-read-audit` with the device on. Every other case runs with the
device on.

Owns: the servers it starts (and their temporary directories), the table.
Must not: tune or configure the servers beyond the setup above.

Environment: BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNS (e.g. "1,32"),
BENCH_CASES (names or substrings, comma separated), BENCH_SMOKE=1 (1 s,
1 round, exit 1 on any error), BENCH_OUT (markdown copy of the table).
Paths of the binaries come from the command line (see bench.sh).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

POLICY = """
path "secret/data/bench/*" {
  capabilities = ["create", "read", "update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "apikeys/validate" {
  capabilities = ["update"]
}
"""

WRITE_BODY = json.dumps({"data": {"value": "x" * 100}})
READ_VALUE = {"value": "x" * 100, "user": "bench", "url": "https://db.example.internal:5432"}


class BenchError(Exception):
    """A server failed to start or to be set up, or answered wrongly."""


def log(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, method: str, path: str, body=None, token: str | None = None, ok=(200, 204)):
    """One API request; returns (status, parsed JSON or None, raw bytes)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{url}/v1/{path}", method=method, data=data)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Vault-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        raise BenchError(f"{method} {path}: {e}") from e
    parsed = None
    if raw:
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
    if ok and status not in ok:
        raise BenchError(f"{method} {path}: HTTP {status}: {raw[:300]!r}")
    return status, parsed, raw


def rss_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0])
    except OSError:
        pass
    return out


@dataclass
class Case:
    name: str
    method: str
    path: str  # under /v1/; for writes, a prefix completed by a random name
    body: str | None = None
    token: str | None = None
    audited: bool = True
    random_suffix: bool = False
    check: object = None  # fn(status, json) -> bool, run once before the load


@dataclass
class Server:
    label: str
    workdir: str
    proc: subprocess.Popen | None = None
    url: str = ""
    cases: dict[str, Case] = field(default_factory=dict)
    audit_on: bool = False
    audit_files: int = 0
    rss_idle: dict[str, int] = field(default_factory=dict)
    rss_end: dict[str, int] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log_tail(self) -> str:
        try:
            with open(os.path.join(self.workdir, "server.log"), errors="replace") as f:
                return "".join(f.readlines()[-30:])
        except OSError:
            return ""

    def wait_listening(self, timeout: float = 60) -> None:
        """Waits for `Listening on http://ADDR` in the server's log."""
        path = os.path.join(self.workdir, "server.log")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise BenchError(f"{self.label} exited while starting:\n{self.log_tail()}")
            try:
                with open(path, errors="replace") as f:
                    for line in f:
                        i = line.find("Listening on http://")
                        if i >= 0:
                            self.url = line[i + len("Listening on ") :].split()[0].rstrip("/")
                            return
            except OSError:
                pass
            time.sleep(0.05)
        raise BenchError(f"{self.label} did not listen within {timeout:.0f} s:\n{self.log_tail()}")

    def spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        logf = open(os.path.join(self.workdir, "server.log"), "wb")  # noqa: SIM115 (kept by the child)
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=logf,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
        logf.close()


class Vault(Server):
    """What vault-rs and OpenBao share: setup through the HTTP API."""

    kind = "vault"
    root = ""

    def init_unseal(self) -> None:
        _, init, _ = call(self.url, "PUT", "sys/init", {"secret_shares": 1, "secret_threshold": 1})
        self.root = init["root_token"]
        call(self.url, "PUT", "sys/unseal", {"key": init["keys_base64"][0]})
        deadline = time.monotonic() + 60
        while True:
            status, _, _ = call(self.url, "GET", "sys/health", ok=None)
            if status == 200:
                return
            if time.monotonic() > deadline:
                raise BenchError(f"{self.label}: sys/health answered {status} 60 s after unseal")
            time.sleep(0.1)

    def set_audit(self, on: bool) -> None:
        if on == self.audit_on:
            return
        if on:
            self.audit_files += 1
            path = os.path.join(self.workdir, f"audit-{self.audit_files}.log")
            call(self.url, "PUT", "sys/audit/file", {"type": "file", "options": {"file_path": path}}, self.root)
        else:
            call(self.url, "DELETE", "sys/audit/file", token=self.root)
        self.audit_on = on

    def setup(self, apikeys: bool) -> None:
        url, root = self.url, self.root
        call(url, "POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}, root)
        # OpenBao's kv v2 answers errors for a moment after the mount.
        deadline = time.monotonic() + 60
        while True:
            status, _, raw = call(url, "POST", "secret/data/bench/item", {"data": READ_VALUE}, root, ok=None)
            if status == 200:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"{self.label}: first KV write answered {status}: {raw[:200]!r}")
            time.sleep(0.2)
        self.set_audit(True)
        call(url, "PUT", "sys/policies/acl/bench", {"policy": POLICY}, root)
        _, tok, _ = call(url, "POST", "auth/token/create", {"policies": ["bench"], "ttl": "24h"}, root)
        token = tok["auth"]["client_token"]
        call(url, "POST", "sys/auth/approle", {"type": "approle"}, root)
        call(url, "POST", "auth/approle/role/bench", {"token_policies": ["bench"], "token_ttl": "1h"}, root)
        _, rid, _ = call(url, "GET", "auth/approle/role/bench/role-id", token=root)
        _, sid, _ = call(url, "POST", "auth/approle/role/bench/secret-id", {}, root)
        login = json.dumps({"role_id": rid["data"]["role_id"], "secret_id": sid["data"]["secret_id"]})
        cases = [
            Case("kv-read", "GET", "secret/data/bench/item", token=token, audited=False,
                 check=lambda s, j: s == 200 and j["data"]["data"] == READ_VALUE),
            Case("kv-read-audit", "GET", "secret/data/bench/item", token=token,
                 check=lambda s, j: s == 200 and j["data"]["data"] == READ_VALUE),
            Case("kv-write", "POST", "secret/data/bench/w", WRITE_BODY, token, random_suffix=True,
                 check=lambda s, j: s == 200 and j["data"]["version"] == 1),
            Case("lookup-self", "GET", "auth/token/lookup-self", token=token,
                 check=lambda s, j: s == 200 and "bench" in j["data"]["policies"]),
            Case("approle-login", "POST", "auth/approle/login", login,
                 check=lambda s, j: s == 200 and j["auth"]["client_token"]),
        ]
        if apikeys:
            mounted = call(url, "GET", "sys/mounts", token=root)[1]
            table = mounted.get("data", mounted)
            if "apikeys/" not in table:
                call(url, "POST", "sys/mounts/apikeys", {"type": "apikeys"}, root)
            # The per-client rate limit would turn a load test into 429s.
            call(url, "POST", "apikeys/config", {"rate_limit": 0}, root)
            _, created, _ = call(url, "POST", "apikeys/keys/bench", {"service": "bench", "scopes": ["read"]}, root)
            body = json.dumps({"key": created["data"]["key"], "scope": "read"})
            cases.append(Case("apikey-validate", "POST", "apikeys/validate", body, token,
                              check=lambda s, j: s == 200 and j["data"]["valid"] is True))
        cases.append(Case("health", "GET", "sys/health", check=lambda s, j: s == 200 and j["sealed"] is False))
        self.cases = {c.name: c for c in cases}
        for c in cases:
            self.check_case(c)

    def check_case(self, c: Case) -> None:
        path = c.path + ("check" if c.random_suffix else "")
        body = None if c.body is None else json.loads(c.body)
        status, parsed, raw = call(self.url, c.method, path, body, c.token, ok=None)
        try:
            good = bool(c.check(status, parsed))
        except (KeyError, TypeError):
            good = False
        if not good:
            raise BenchError(f"{self.label} {c.name}: wrong answer {status}: {raw[:300]!r}")

    def kv_read_size(self) -> int:
        c = self.cases["kv-read"]
        return len(call(self.url, "GET", c.path, token=c.token)[2])


class VaultRs(Vault):
    def start(self, binary: str) -> None:
        cfg = os.path.join(self.workdir, "config.hcl")
        with open(cfg, "w") as f:
            f.write(
                f'storage "sled" {{\n  path = "{self.workdir}/data"\n}}\n'
                'listener "tcp" {\n  address = "127.0.0.1:0"\n  tls_disable = true\n}\n'
            )
        self.spawn([binary, "server", "--config", cfg], {"VAULT_RS_LOG": "warn"})
        self.wait_listening()
        self.init_unseal()
        self.setup(apikeys=True)


class OpenBao(Vault):
    def start(self, binary: str) -> None:
        port, cluster = free_port(), free_port()
        os.makedirs(os.path.join(self.workdir, "raft"))
        cfg = os.path.join(self.workdir, "config.hcl")
        with open(cfg, "w") as f:
            f.write(
                f'storage "raft" {{\n  path = "{self.workdir}/raft"\n  node_id = "bench"\n}}\n'
                f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n'
                f'api_addr = "http://127.0.0.1:{port}"\ncluster_addr = "http://127.0.0.1:{cluster}"\n'
                "disable_mlock = true\nlog_level = \"warn\"\n"
                # OpenBao refuses audit devices created through the API without this.
                "unsafe_allow_api_audit_creation = true\n"
            )
        self.spawn([binary, "server", f"-config={cfg}"], {"BAO_ADDR": f"http://127.0.0.1:{port}"})
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            if not self.alive():
                raise BenchError(f"{self.label} exited while starting:\n{self.log_tail()}")
            try:
                status, _, _ = call(self.url, "GET", "sys/health", ok=None)
                if status in (501, 503, 200):
                    break
            except BenchError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{self.label} did not answer within 60 s:\n{self.log_tail()}")
            time.sleep(0.1)
        self.init_unseal()
        self.setup(apikeys=False)


class Bare(Server):
    def start(self, binary: str, body_bytes: int, like: dict[str, Case]) -> None:
        self.spawn([binary, "--body-bytes", str(body_bytes)])
        self.wait_listening()
        self.cases = {
            name: Case(name, c.method, c.path, c.body, None, c.audited, c.random_suffix)
            for name, c in like.items()
        }
        call(self.url, "GET", "anything")

    def set_audit(self, on: bool) -> None:
        pass


@dataclass
class Result:
    rps: float
    p50: float  # ms
    p99: float  # ms
    errors: int


def run_oha(oha: str, server: Server, case: Case, conns: int, seconds: float) -> Result:
    argv = [
        oha, "--no-tui", "--output-format", "json", "-z", f"{seconds}s", "-c", str(conns),
        "--wait-ongoing-requests-after-deadline", "-m", case.method,
    ]
    if case.token:
        argv += ["-H", f"X-Vault-Token: {case.token}"]
    if case.body is not None:
        argv += ["-H", "Content-Type: application/json", "-d", case.body]
    if case.random_suffix:
        # A new key for every request ("." is literal in oha's URL regex).
        argv += ["--rand-regex-url", f"{server.url}/v1/{case.path}[a-z0-9]{{24}}"]
    else:
        argv.append(f"{server.url}/v1/{case.path}")
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds * 4 + 120)
    if p.returncode != 0:
        raise BenchError(f"oha failed ({p.returncode}) on {server.label} {case.name}: {p.stderr[-500:]}")
    out = json.loads(p.stdout)
    codes = {int(k): v for k, v in out.get("statusCodeDistribution", {}).items()}
    ok = sum(v for k, v in codes.items() if 200 <= k < 300)
    bad = sum(v for k, v in codes.items() if not 200 <= k < 300)
    failed = sum(out.get("errorDistribution", {}).values())
    total = out["summary"]["total"]
    pct = out.get("latencyPercentiles", {})
    return Result(
        rps=ok / total if total else 0.0,
        p50=(pct.get("p50") or 0.0) * 1000,
        p99=(pct.get("p99") or 0.0) * 1000,
        errors=bad + failed,
    )


def fmt_rate(x: float) -> str:
    return f"{x:.0f}"


def fmt_ms(x: float) -> str:
    return f"{x:.2f}" if x < 10 else f"{x:.1f}"


def fmt_mib(kib: int | None) -> str:
    return "?" if not kib else f"{kib / 1024:.1f}"


def build_table(servers, results, case_names, conns_list):
    """Rows of cells (strings), the first the header."""
    labels = [s.label for s in servers]
    header = ["case", "conns"]
    for lab in labels:
        header += [f"{lab} req/s", f"{lab} p50 ms", f"{lab} p99 ms", f"{lab} err"]
    header += ["vault-rs/bare", "vault-rs/OpenBao"]
    rows = [header]
    for name in case_names:
        for conns in conns_list:
            row = [name, str(conns)]
            med = {}
            for s in servers:
                rs = results.get((s.label, name, conns))
                if not rs:
                    row += ["n/a"] * 4
                    continue
                m = Result(
                    statistics.median(r.rps for r in rs),
                    statistics.median(r.p50 for r in rs),
                    statistics.median(r.p99 for r in rs),
                    sum(r.errors for r in rs),
                )
                med[s.label] = m
                row += [fmt_rate(m.rps), fmt_ms(m.p50), fmt_ms(m.p99), str(m.errors)]
            vr = med.get("vault-rs")
            for other in ("bare", "OpenBao"):
                o = med.get(other)
                row.append(f"{vr.rps / o.rps:.2f}" if vr and o and o.rps else "n/a")
            rows.append(row)
    for what, pick in (
        ("RSS idle MiB", lambda s: s.rss_idle.get("VmRSS")),
        ("RSS peak MiB", lambda s: s.rss_end.get("VmHWM")),
        ("RSS after MiB", lambda s: s.rss_end.get("VmRSS")),
    ):
        row = [what, ""]
        for s in servers:
            row += [fmt_mib(pick(s)), "", "", ""]
        row += ["", ""]
        rows.append(row)
    return rows


def render_text(rows) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, r in enumerate(rows):
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join("---" if i < 2 else "---:" for i in range(len(rows[0]))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def env_list(name: str, default: str) -> list[str]:
    return [x.strip() for x in os.environ.get(name, default).split(",") if x.strip()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vault-rs", required=True)
    ap.add_argument("--bao", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--oha", required=True)
    args = ap.parse_args()

    smoke = os.environ.get("BENCH_SMOKE") == "1"
    seconds = float(os.environ.get("BENCH_SECONDS", "1" if smoke else "5"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "1" if smoke else "3"))
    conns_list = [int(c) for c in env_list("BENCH_CONNS", "1,32")]
    wanted = env_list("BENCH_CASES", "")
    base = tempfile.mkdtemp(prefix="vault-rs-bench.", dir=os.environ.get("BENCH_DIR"))

    vr = VaultRs("vault-rs", os.path.join(base, "vault-rs"))
    bao = OpenBao("OpenBao", os.path.join(base, "openbao"))
    bare = Bare("bare", os.path.join(base, "bare"))
    servers = [vr, bao, bare]
    for s in servers:
        os.makedirs(s.workdir)
    failed = False
    try:
        t = time.monotonic()
        vr.start(args.vault_rs)
        log(f"vault-rs ready at {vr.url} in {time.monotonic() - t:.1f} s")
        t = time.monotonic()
        bao.start(args.bao)
        log(f"OpenBao ready at {bao.url} in {time.monotonic() - t:.1f} s")
        size = vr.kv_read_size()
        bare.start(args.baseline, size, vr.cases)
        log(f"bare handler ready at {bare.url} (body {size} bytes; OpenBao's KV read: {bao.kv_read_size()} bytes)")
        names = [n for n in vr.cases if not wanted or any(w == n or w in n for w in wanted)]
        if not names:
            raise BenchError(f"BENCH_CASES={','.join(wanted)} matches no case of {', '.join(vr.cases)}")
        time.sleep(1)
        for s in servers:
            s.rss_idle = rss_kib(s.proc.pid)
        results: dict[tuple[str, str, int], list[Result]] = {}
        for rnd in range(1, rounds + 1):
            for name in names:
                for conns in conns_list:
                    for s in servers:
                        case = s.cases.get(name)
                        if case is None:
                            continue
                        if not s.alive():
                            raise BenchError(f"{s.label} died:\n{s.log_tail()}")
                        s.set_audit(case.audited)
                        r = run_oha(args.oha, s, case, conns, seconds)
                        results.setdefault((s.label, name, conns), []).append(r)
                        log(
                            f"round {rnd}/{rounds} {name:<15} c={conns:<3} {s.label:<8} "
                            f"{r.rps:10.0f} req/s  p50 {r.p50:7.2f} ms  p99 {r.p99:7.2f} ms  errors {r.errors}"
                        )
                        if r.errors or r.rps == 0:
                            failed = True
            for s in servers:
                s.set_audit(True)
        for s in servers:
            if not s.alive():
                raise BenchError(f"{s.label} died:\n{s.log_tail()}")
            s.rss_end = rss_kib(s.proc.pid)
        rows = build_table(servers, results, names, conns_list)
        print(
            f"\n{seconds:g} s per case, {rounds} round(s), median across rounds (errors: sum); "
            f"vault-rs {vr.url}, OpenBao {bao.url}, bare {bare.url}\n"
        )
        print(render_text(rows))
        out = os.environ.get("BENCH_OUT")
        if out:
            with open(out, "w") as f:
                f.write(render_markdown(rows) + "\n")
            log(f"markdown table written to {out}")
    except BenchError as e:
        log(f"FAILED: {e}")
        return 1
    finally:
        for s in servers:
            s.stop()
        if os.environ.get("BENCH_KEEP") == "1":
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    if failed:
        log("FAILED: some requests were answered with errors, or a case had no answer (see the table)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
