"""The suite ignores the developer's Vault settings.

A developer who ran `vault login root` against some dev server has
`~/.vault-token` holding `root`, and often VAULT_ADDR, VAULT_TOKEN,
VAULT_CACERT or VAULT_NAMESPACE exported. hvac picks all of these up when a
client is built without them; the suite must not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import conftest


def test_no_vault_variable_and_a_private_home():
    assert [name for name in os.environ if name.startswith("VAULT_")] == []
    assert Path(os.environ["HOME"]) == conftest.HERMETIC_HOME
    assert not (conftest.HERMETIC_HOME / ".vault-token").exists()


def test_anonymous_hvac_client_has_no_token(dev_server):
    assert dev_server.client().token is None


def test_suite_passes_with_a_hostile_outer_environment(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".vault-token").write_text("root\n")
    env = {
        **os.environ,
        "HOME": str(home),
        "VAULT_TOKEN": "root",
        "VAULT_ADDR": "http://127.0.0.1:1",
        "VAULT_CACERT": str(tmp_path / "missing-ca.pem"),
        "VAULT_NAMESPACE": "team-a",
        "VAULT_FORMAT": "json",
        "VAULT_RS_BIN": str(conftest.binary_path()),
    }
    tests = Path(__file__).resolve().parent
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{tests / 'test_mounts.py'}::test_mount_changes_need_a_token",
            f"{tests / 'test_hermetic.py'}::test_no_vault_variable_and_a_private_home",
            f"{tests / 'test_hermetic.py'}::test_anonymous_hvac_client_has_no_token",
        ],
        cwd=tests.parents[1],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 passed" in run.stdout, run.stdout
