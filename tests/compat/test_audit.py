"""Audit devices through hvac: enable a file device, find a token by its
hash, verify the log with the CLI."""

from __future__ import annotations

import subprocess

from conftest import binary_path


def test_file_device_hashes_secrets(dev_server, root_client, tmp_path):
    log = tmp_path / "audit.log"
    root_client.sys.enable_audit_device("file", options={"file_path": str(log)})
    devices = root_client.sys.list_enabled_audit_devices()
    assert devices["data"]["file/"]["type"] == "file"
    assert devices["data"]["file/"]["options"]["file_path"] == str(log)
    root_client.secrets.kv.v2.create_or_update_secret("audit/x", {"v": "canary-audit-value"})
    token = root_client.auth.token.create(policies=["default"])["auth"]["client_token"]
    text = log.read_text()
    assert "canary-audit-value" not in text
    assert token not in text
    assert '"client_token":"root"' not in text
    token_hash = root_client.sys.calculate_hash("file", token)["data"]["hash"]
    assert token_hash.startswith("hmac-sha256:")
    assert token_hash in text
    value_hash = root_client.sys.calculate_hash("file", "canary-audit-value")["data"]["hash"]
    assert value_hash in text
    root_client.sys.disable_audit_device("file")
    assert "file/" not in root_client.sys.list_enabled_audit_devices()["data"]
    verify = subprocess.run(
        [str(binary_path()), "audit", "verify", str(log)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
