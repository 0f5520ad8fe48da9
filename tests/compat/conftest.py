"""Fixtures of the hvac compatibility suite.

Every test talks to the real `vault-rs` binary over HTTP on 127.0.0.1:

- `vault_server`: `vault-rs server --config FILE` with sled storage in a
  temporary directory, not initialized; it can be stopped, killed and
  restarted on the same data directory.
- `server_url`: the URL of such a server.
- `dev_server`: `vault-rs server --dev` (in-memory, initialized, unsealed,
  root token `root`, KV v2 at `secret/`).

The binary is `$VAULT_RS_BIN`, default `target/debug/vault-rs` under the
repository root.

The suite is hermetic: when this file is loaded, every `VAULT_*` variable
of the outer environment is removed (after `VAULT_RS_BIN` and
`VAULT_RS_STARTUP_TIMEOUT` are read) and HOME points at an empty temporary
directory, so neither hvac nor a server started here sees a developer's
`VAULT_TOKEN`, `VAULT_ADDR` or `~/.vault-token`.

"""

from __future__ import annotations

import atexit
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import hvac
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

STARTUP_TIMEOUT = float(os.environ.get("VAULT_RS_STARTUP_TIMEOUT", "30"))
ROOT_TOKEN = "root"
_BINARY = os.environ.get("VAULT_RS_BIN", "target/debug/vault-rs")


def _hermetic_environment() -> Path:
    """Drops every VAULT_* variable and points HOME at an empty directory.

    hvac falls back to VAULT_TOKEN, then ~/.vault-token, when a client is
    built without a token, and reads VAULT_CACERT and friends: none of the
    developer's settings may reach the suite. Returns the new HOME."""
    for name in [name for name in os.environ if name.startswith("VAULT_")]:
        del os.environ[name]
    home = Path(tempfile.mkdtemp(prefix="vault-rs-compat-home-"))
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    os.environ["HOME"] = str(home)
    return home


HERMETIC_HOME = _hermetic_environment()


def binary_path() -> Path:
    path = Path(_BINARY)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


# --------------------------------------------------------------------------
# server process


class VaultServer:
    """One `vault-rs server` process (restartable on the same data dir)."""

    def __init__(self, args: list[str], workdir: Path, name: str):
        self.args = args
        self.workdir = workdir
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.log_path = workdir / f"{name}.log"
        self._drainer: threading.Thread | None = None
        self.starts = 0

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> str:
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        binary = binary_path()
        if not binary.is_file():
            pytest.fail(f"server binary {binary} does not exist (build it, or set VAULT_RS_BIN)")
        self.starts += 1
        log = open(self.log_path, "ab")
        log.write(f"--- start #{self.starts}: {' '.join(self.args)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [str(binary), *self.args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=self.workdir,
            env={**os.environ, "NO_COLOR": "1"},
        )
        log.close()
        lines: queue.Queue = queue.Queue()

        def drain(stream, out_path):
            # Keep reading stdout for the life of the process, so that the
            # server never blocks on a full pipe; hand lines to the starter.
            with open(out_path, "ab") as out:
                for raw in iter(stream.readline, b""):
                    out.write(raw)
                    out.flush()
                    lines.put(raw.decode("utf-8", "replace"))
            lines.put(None)

        self._drainer = threading.Thread(target=drain, args=(self.proc.stdout, self.log_path), daemon=True)
        self._drainer.start()

        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.kill()
                pytest.fail(f"server did not print 'Listening on http://' within {STARTUP_TIMEOUT}s\n{self.log_tail()}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait()
                pytest.fail(f"server exited with {code} before listening\n{self.log_tail()}")
            marker = "Listening on http://"
            if marker in line:
                rest = line[line.index(marker) + len(marker):].split()[0].rstrip("/.,;")
                self.url = "http://" + rest
                return self.url

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, then SIGKILL. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._join_drainer()
        return self.proc.returncode

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._join_drainer()

    def restart(self) -> str:
        self.stop()
        return self.start()

    def _join_drainer(self):
        if self._drainer is not None:
            self._drainer.join(timeout=5)
            self._drainer = None

    # -- helpers -----------------------------------------------------------

    def log_tail(self, n: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"
        return "--- server log (tail) ---\n" + "\n".join(text.splitlines()[-n:])

    def client(self, token: str | None = None, **kwargs) -> hvac.Client:
        return hvac.Client(url=self.url, token=token, timeout=30, **kwargs)

    def alive(self) -> bool:
        """True while the process runs and answers sys/seal-status."""
        if self.proc is None or self.proc.poll() is not None:
            return False
        try:
            return requests.get(f"{self.url}/v1/sys/seal-status", timeout=10).status_code == 200
        except requests.RequestException:
            return False


def _write_sled_config(workdir: Path, extra_listener: str = "") -> Path:
    data = workdir / "data"
    config = workdir / "config.hcl"
    config.write_text(
        f'storage "sled" {{\n  path = "{data}"\n}}\n\n'
        f'listener "tcp" {{\n  address = "127.0.0.1:0"\n  tls_disable = true\n{extra_listener}}}\n'
    )
    return config


@pytest.fixture
def vault_server(request):
    """A sled-backed server, not initialized. Yields the VaultServer."""
    with tempfile.TemporaryDirectory(prefix="vault-rs-compat-") as tmp:
        workdir = Path(tmp)
        config = _write_sled_config(workdir)
        server = VaultServer(["server", "--config", str(config)], workdir, "server")
        server.start()
        try:
            yield server
        finally:
            server.stop()
            _report_log_on_failure(request, server)


@pytest.fixture
def server_url(vault_server):
    """URL of a fresh sled-backed, uninitialized server."""
    return vault_server.url


@pytest.fixture
def dev_server(request):
    """`server --dev`: initialized, unsealed, root token `root`, KV v2 at secret/."""
    with tempfile.TemporaryDirectory(prefix="vault-rs-dev-") as tmp:
        server = VaultServer(
            [
                "server",
                "--dev",
                "--dev-listen-address",
                "127.0.0.1:0",
                "--dev-root-token-id",
                ROOT_TOKEN,
            ],
            Path(tmp),
            "dev",
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()
            _report_log_on_failure(request, server)


@pytest.fixture
def root_client(dev_server) -> hvac.Client:
    """hvac client with the root token on the dev server."""
    return dev_server.client(ROOT_TOKEN)


@pytest.fixture
def initialized(vault_server):
    """A sled server initialized with 5 shares / threshold 3, still sealed.

    Yields (server, init_result)."""
    client = vault_server.client()
    result = client.sys.initialize(secret_shares=5, secret_threshold=3)
    return vault_server, result


@pytest.fixture
def unsealed(initialized):
    """A sled server initialized (5/3) and unsealed. Yields (server, init_result)."""
    server, result = initialized
    status = server.client().sys.submit_unseal_keys(result["keys"][:3])
    assert status["sealed"] is False, status
    return server, result


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


_FAILED_LOGS: list[tuple[str, str]] = []


def _report_log_on_failure(request, server: VaultServer):
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        _FAILED_LOGS.append((request.node.nodeid, server.log_tail()))


def pytest_terminal_summary(terminalreporter):
    if not _FAILED_LOGS:
        return
    terminalreporter.section("vault-rs server logs of failed tests")
    for nodeid, tail in _FAILED_LOGS:
        terminalreporter.write_line(nodeid)
        terminalreporter.write_line(tail)
