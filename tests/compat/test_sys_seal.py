"""Initialization, seal/unseal, health, leader, restart, rotate and rekey through hvac."""

from __future__ import annotations

import base64

import hvac
import pytest
import requests



def corrupt_share(hex_share: str) -> str:
    """Flip one bit of the last byte of a hex share (keeps length and format)."""
    raw = bytearray(bytes.fromhex(hex_share))
    raw[-1] ^= 0x01
    return raw.hex()


def payload(resp: dict) -> dict:
    """Fields of a sys response: Vault puts them under `data` and, for many
    sys endpoints, at the top level too. Prefer `data` when it is there."""
    data = resp.get("data")
    return data if isinstance(data, dict) else resp


# --------------------------------------------------------------------------
# initialization


def test_uninitialized_server_reports_so(vault_server):
    client = vault_server.client()
    assert client.sys.is_initialized() is False
    status = client.sys.read_seal_status()
    assert status["initialized"] is False
    assert status["sealed"] is True
    assert status["type"] == "shamir"
    assert status["storage_type"] == "sled"
    health = client.sys.read_health_status(method="GET")
    assert health.status_code == 501
    assert health.json()["initialized"] is False
    # uninitcode overrides the status code
    assert client.sys.read_health_status(method="GET", uninit_code=299).status_code == 299
    # HEAD (hvac's default method) gets the same code
    assert client.sys.read_health_status().status_code == 501


def test_initialize_returns_shares_and_root_token(vault_server):
    client = vault_server.client()
    result = client.sys.initialize(secret_shares=5, secret_threshold=3)
    assert len(result["keys"]) == 5
    assert len(result["keys_base64"]) == 5
    assert len(set(result["keys"])) == 5, "shares must differ"
    for hex_key, b64_key in zip(result["keys"], result["keys_base64"]):
        assert bytes.fromhex(hex_key) == base64.b64decode(b64_key)
    assert result["root_token"].startswith("hvs.")

    assert client.sys.is_initialized() is True
    assert client.sys.is_sealed() is True
    status = client.sys.read_seal_status()
    assert status["initialized"] is True
    assert status["sealed"] is True
    assert (status["t"], status["n"], status["progress"]) == (3, 5, 0)
    assert status["type"] == "shamir"
    assert status["storage_type"] == "sled"
    for field in ("nonce", "version", "migration", "recovery_seal"):
        assert field in status, f"seal-status lacks {field!r}: {status}"


def test_initialize_twice_is_refused(initialized):
    server, _ = initialized
    with pytest.raises(hvac.exceptions.InvalidRequest):
        server.client().sys.initialize(secret_shares=1, secret_threshold=1)
    # the first configuration is untouched
    status = server.client().sys.read_seal_status()
    assert (status["t"], status["n"]) == (3, 5)


def test_initialize_threshold_above_shares_is_refused(vault_server):
    client = vault_server.client()
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.initialize(secret_shares=2, secret_threshold=3)
    assert client.sys.is_initialized() is False


def test_initialize_with_one_share(vault_server):
    client = vault_server.client()
    result = client.sys.initialize(secret_shares=1, secret_threshold=1)
    assert len(result["keys"]) == 1
    status = client.sys.submit_unseal_key(result["keys"][0])
    assert status["sealed"] is False


# --------------------------------------------------------------------------
# unseal


def test_unseal_progress_one_share_at_a_time(initialized):
    server, result = initialized
    client = server.client()
    keys = result["keys"]

    s1 = client.sys.submit_unseal_key(keys[0])
    assert (s1["sealed"], s1["progress"], s1["t"], s1["n"]) == (True, 1, 3, 5)
    assert isinstance(s1["nonce"], str) and s1["nonce"], "an unseal in progress has a nonce"
    s2 = client.sys.submit_unseal_key(keys[1])
    assert (s2["sealed"], s2["progress"]) == (True, 2)
    assert s2["nonce"] == s1["nonce"]
    assert client.sys.read_seal_status()["progress"] == 2
    s3 = client.sys.submit_unseal_key(keys[2])
    assert s3["sealed"] is False
    assert s3["progress"] == 0
    assert client.sys.is_sealed() is False

    # unsealed: the root token works
    root = server.client(result["root_token"])
    assert "sys/" in root.sys.list_mounted_secrets_engines()["data"]

    # submitting to an unsealed vault just reports the status
    again = client.sys.submit_unseal_key(keys[3])
    assert again["sealed"] is False


def test_unseal_with_base64_shares_and_submit_unseal_keys(initialized):
    server, result = initialized
    client = server.client()
    # any 3 of the 5, base64 encoded, in any order
    status = client.sys.submit_unseal_keys([result["keys_base64"][4], result["keys_base64"][1], result["keys_base64"][3]])
    assert status["sealed"] is False
    assert client.sys.is_sealed() is False


def test_corrupt_share_is_refused_and_progress_kept(initialized):
    server, result = initialized
    client = server.client()
    keys = result["keys"]
    client.sys.submit_unseal_key(keys[0])
    client.sys.submit_unseal_key(keys[1])
    # the threshold-th share is corrupt: combining fails, the share is refused
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.submit_unseal_key(corrupt_share(keys[2]))
    status = client.sys.read_seal_status()
    assert status["sealed"] is True
    assert status["progress"] == 2, f"progress must be kept after a refused share: {status}"
    # a correct share completes the unseal
    status = client.sys.submit_unseal_key(keys[2])
    assert status["sealed"] is False


def test_malformed_share_is_refused_and_progress_kept(initialized):
    server, result = initialized
    client = server.client()
    client.sys.submit_unseal_key(result["keys"][0])
    for bad in ("not-a-share", "abcd", result["keys"][1][:-2]):
        with pytest.raises(hvac.exceptions.InvalidRequest):
            client.sys.submit_unseal_key(bad)
        assert client.sys.read_seal_status()["progress"] == 1
    status = client.sys.submit_unseal_keys(result["keys"][1:3])
    assert status["sealed"] is False


def test_share_of_another_vault_is_refused(vault_server):
    client = vault_server.client()
    result = client.sys.initialize(secret_shares=1, secret_threshold=1)
    # a well-formed share that belongs to a different key
    other = bytearray(bytes.fromhex(result["keys"][0]))
    for i in range(1, len(other)):
        other[i] ^= 0x5A
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.submit_unseal_key(other.hex())
    assert client.sys.is_sealed() is True
    assert client.sys.submit_unseal_key(result["keys"][0])["sealed"] is False


def test_unseal_reset_discards_progress(initialized):
    server, result = initialized
    client = server.client()
    assert client.sys.submit_unseal_key(result["keys"][0])["progress"] == 1
    status = client.sys.submit_unseal_key(reset=True)
    assert status["progress"] == 0
    assert status["sealed"] is True
    assert client.sys.read_seal_status()["progress"] == 0
    # after a reset, a full threshold is needed again
    s = client.sys.submit_unseal_key(result["keys"][1])
    assert (s["sealed"], s["progress"]) == (True, 1)
    s = client.sys.submit_unseal_keys(result["keys"][2:4])
    assert s["sealed"] is False


# --------------------------------------------------------------------------
# seal


def test_seal_needs_a_token(unsealed):
    server, _ = unsealed
    with pytest.raises(hvac.exceptions.Forbidden):
        server.client().sys.seal()
    with pytest.raises(hvac.exceptions.Forbidden):
        server.client("hvs.not-a-real-token").sys.seal()
    assert server.client().sys.is_sealed() is False


def test_seal_then_unseal_again(unsealed):
    server, result = unsealed
    root = server.client(result["root_token"])
    resp = root.sys.seal()
    assert resp.status_code == 204
    assert root.sys.is_sealed() is True
    # sealed: authenticated requests are refused with 503
    with pytest.raises(hvac.exceptions.VaultDown):
        root.sys.list_mounted_secrets_engines()
    status = root.sys.submit_unseal_keys(result["keys"][2:5])
    assert status["sealed"] is False
    assert "sys/" in root.sys.list_mounted_secrets_engines()["data"]


# --------------------------------------------------------------------------
# health and leader


def test_health_codes(unsealed):
    server, result = unsealed
    client = server.client()
    health = client.sys.read_health_status(method="GET")
    # hvac's JSON adapter returns a dict for 200
    assert isinstance(health, dict), f"expected 200, got {getattr(health, 'status_code', health)}"
    assert health["initialized"] is True
    assert health["sealed"] is False
    assert health["standby"] is False
    assert "audit_ok" in health
    assert isinstance(client.sys.read_health_status(method="GET", standby_ok=True), dict)
    assert client.sys.read_health_status(method="GET", active_code=299).status_code == 299
    assert client.sys.read_health_status().status_code == 200  # HEAD

    server.client(result["root_token"]).sys.seal()
    sealed = client.sys.read_health_status(method="GET")
    assert sealed.status_code == 503
    assert sealed.json()["sealed"] is True
    assert sealed.json()["initialized"] is True
    assert client.sys.read_health_status(method="GET", sealed_code=299).status_code == 299
    assert client.sys.read_health_status(method="GET", standby_ok=True).status_code == 503
    assert client.sys.read_health_status().status_code == 503  # HEAD


def test_leader_status(unsealed):
    server, _ = unsealed
    leader = server.client().sys.read_leader_status()
    assert leader["ha_enabled"] is False
    assert leader["is_self"] is True


# --------------------------------------------------------------------------
# restart


def test_restart_comes_back_sealed_and_keeps_data(unsealed):
    server, result = unsealed
    root = server.client(result["root_token"])
    root.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    root.secrets.kv.v1.create_or_update_secret("app/db", {"user": "alice", "n": 42}, mount_point="kv")

    server.restart()
    client = server.client()
    assert client.sys.is_initialized() is True
    assert client.sys.is_sealed() is True
    status = client.sys.read_seal_status()
    assert (status["t"], status["n"], status["progress"]) == (3, 5, 0)
    with pytest.raises(hvac.exceptions.VaultDown):
        server.client(result["root_token"]).secrets.kv.v1.read_secret("app/db", mount_point="kv")

    assert client.sys.submit_unseal_keys(result["keys"][1:4])["sealed"] is False
    root = server.client(result["root_token"])
    assert root.secrets.kv.v1.read_secret("app/db", mount_point="kv")["data"] == {"user": "alice", "n": 42}
    assert "kv/" in root.sys.list_mounted_secrets_engines()["data"]
    # the mount keeps its options across the restart
    assert root.sys.list_mounted_secrets_engines()["data"]["kv/"]["type"] == "kv"


def test_sigkill_restart_keeps_acknowledged_writes(unsealed):
    server, result = unsealed
    root = server.client(result["root_token"])
    root.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    for i in range(20):
        root.secrets.kv.v1.create_or_update_secret(f"k{i}", {"i": i}, method="POST", mount_point="kv")
    server.kill()
    server.start()
    assert server.client().sys.submit_unseal_keys(result["keys"][:3])["sealed"] is False
    root = server.client(result["root_token"])
    for i in range(20):
        assert root.secrets.kv.v1.read_secret(f"k{i}", mount_point="kv")["data"] == {"i": i}


# --------------------------------------------------------------------------
# rotate


def test_rotate_encryption_key(unsealed):
    server, result = unsealed
    root = server.client(result["root_token"])
    root.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    root.secrets.kv.v1.create_or_update_secret("before", {"v": "1"}, mount_point="kv")

    status = payload(root.sys.get_encryption_key_status())
    assert status["term"] == 1
    assert status["install_time"]

    resp = root.sys.rotate_encryption_key()
    assert resp.status_code == 204
    status = payload(root.sys.get_encryption_key_status())
    assert status["term"] == 2
    root.secrets.kv.v1.create_or_update_secret("after", {"v": "2"}, mount_point="kv")
    assert root.sys.rotate_encryption_key().status_code == 204
    assert payload(root.sys.get_encryption_key_status())["term"] == 3

    # old and new data readable, also after a restart
    assert root.secrets.kv.v1.read_secret("before", mount_point="kv")["data"] == {"v": "1"}
    assert root.secrets.kv.v1.read_secret("after", mount_point="kv")["data"] == {"v": "2"}
    server.restart()
    server.client().sys.submit_unseal_keys(result["keys"][:3])
    root = server.client(result["root_token"])
    assert payload(root.sys.get_encryption_key_status())["term"] == 3
    assert root.secrets.kv.v1.read_secret("before", mount_point="kv")["data"] == {"v": "1"}
    assert root.secrets.kv.v1.read_secret("after", mount_point="kv")["data"] == {"v": "2"}


def test_rotate_needs_a_privileged_token(unsealed):
    server, _ = unsealed
    with pytest.raises(hvac.exceptions.Forbidden):
        server.client().sys.rotate_encryption_key()
    with pytest.raises(hvac.exceptions.Forbidden):
        server.client().sys.get_encryption_key_status()


# --------------------------------------------------------------------------
# rekey (with the root token: token-less rekey is off unless the
# configuration enables it, as in OpenBao)


def test_rekey_then_unseal_with_new_shares_only(unsealed):
    server, result = unsealed
    client = server.client(result["root_token"])
    root = server.client(result["root_token"])
    root.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    root.secrets.kv.v1.create_or_update_secret("keep", {"v": "kept"}, mount_point="kv")

    assert client.sys.read_rekey_progress()["started"] is False
    started = client.sys.start_rekey(secret_shares=3, secret_threshold=2)
    assert started["started"] is True
    assert started["nonce"]
    assert (started["t"], started["n"], started["progress"], started["required"]) == (2, 3, 0, 3)
    nonce = started["nonce"]

    progress = client.sys.read_rekey_progress()
    assert progress["started"] is True
    assert progress["nonce"] == nonce

    step = client.sys.rekey(result["keys"][0], nonce=nonce)
    assert step.get("complete") is not True
    assert step["progress"] == 1
    assert client.sys.read_rekey_progress()["progress"] == 1

    done = client.sys.rekey_multi(result["keys"][1:3], nonce=nonce)
    assert done["complete"] is True
    new_keys = done["keys"]
    assert len(new_keys) == 3 and len(done["keys_base64"]) == 3
    assert not set(new_keys) & set(result["keys"])
    assert client.sys.read_rekey_progress()["started"] is False

    status = client.sys.read_seal_status()
    assert (status["t"], status["n"]) == (2, 3)

    root.sys.seal()
    # the new shares unseal, with the new threshold; their first use retires
    # the old shares (which stay valid until then, in case the response
    # carrying the new ones was lost)
    assert client.sys.submit_unseal_key(new_keys[2])["sealed"] is True
    assert client.sys.submit_unseal_key(new_keys[0])["sealed"] is False
    assert root.secrets.kv.v1.read_secret("keep", mount_point="kv")["data"] == {"v": "kept"}
    root.sys.seal()
    # the old shares no longer unseal
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.submit_unseal_key(result["keys"][0])
    assert client.sys.is_sealed() is True
    client.sys.submit_unseal_key(reset=True)
    assert client.sys.submit_unseal_keys(new_keys[0:2])["sealed"] is False

    # and still after a restart
    server.restart()  # a new port: make new clients
    client = server.client(result["root_token"])
    root = server.client(result["root_token"])
    assert client.sys.submit_unseal_keys(done["keys_base64"][1:3])["sealed"] is False
    assert root.secrets.kv.v1.read_secret("keep", mount_point="kv")["data"] == {"v": "kept"}


def test_rekey_old_shares_work_until_the_new_ones_are_used(unsealed):
    server, result = unsealed
    client = server.client(result["root_token"])
    nonce = client.sys.start_rekey(secret_shares=2, secret_threshold=2)["nonce"]
    done = client.sys.rekey_multi(result["keys"][:3], nonce=nonce)
    assert done["complete"] is True
    # the response is "lost": the operator unseals with what they hold
    server.restart()
    client = server.client(result["root_token"])
    assert client.sys.submit_unseal_keys(result["keys"][:3])["sealed"] is False


def test_rekey_with_verification(unsealed):
    server, result = unsealed
    client = server.client(result["root_token"])
    started = client.sys.start_rekey(secret_shares=2, secret_threshold=2, require_verification=True)
    assert started["verification_required"] is True
    done = client.sys.rekey_multi(result["keys"][:3], nonce=started["nonce"])
    assert done["complete"] is True and done["verification_required"] is True
    vnonce = done["verification_nonce"]
    assert client.sys.read_rekey_verify_progress()["nonce"] == vnonce
    # not verified yet: nothing changed, the old shares still open the vault
    server.restart()
    client = server.client(result["root_token"])
    assert client.sys.submit_unseal_keys(result["keys"][:3])["sealed"] is False
    assert client.sys.read_seal_status()["t"] == 3

    started = client.sys.start_rekey(secret_shares=2, secret_threshold=2, require_verification=True)
    done = client.sys.rekey_multi(result["keys"][:3], nonce=started["nonce"])
    vnonce = done["verification_nonce"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.rekey_verify(result["keys"][0], nonce=vnonce)
    verified = client.sys.rekey_verify_multi(done["keys"], nonce=vnonce)
    assert verified["complete"] is True
    assert client.sys.read_seal_status()["t"] == 2
    # verified: the old shares are retired at once
    server.restart()
    client = server.client(result["root_token"])
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.submit_unseal_key(result["keys"][0])
    client.sys.submit_unseal_key(reset=True)
    assert client.sys.submit_unseal_keys(done["keys"])["sealed"] is False


def test_rekey_wrong_nonce_and_cancel(unsealed):
    server, result = unsealed
    client = server.client(result["root_token"])
    nonce = client.sys.start_rekey(secret_shares=2, secret_threshold=2)["nonce"]
    # a second start while one is in progress is refused
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.start_rekey(secret_shares=2, secret_threshold=2)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.rekey(result["keys"][0], nonce="not-the-nonce")
    assert client.sys.read_rekey_progress()["progress"] == 0
    assert client.sys.rekey(result["keys"][0], nonce=nonce)["progress"] == 1

    resp = client.sys.cancel_rekey()
    assert resp.status_code == 204
    assert client.sys.read_rekey_progress()["started"] is False
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.rekey(result["keys"][1], nonce=nonce)

    # nothing changed: the old shares still unseal
    server.client(result["root_token"]).sys.seal()
    assert client.sys.submit_unseal_keys(result["keys"][:3])["sealed"] is False
    status = client.sys.read_seal_status()
    assert (status["t"], status["n"]) == (3, 5)


def test_rekey_refuses_corrupt_share(unsealed):
    server, result = unsealed
    client = server.client(result["root_token"])
    nonce = client.sys.start_rekey(secret_shares=1, secret_threshold=1)["nonce"]
    client.sys.rekey_multi(result["keys"][:2], nonce=nonce)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.rekey(corrupt_share(result["keys"][2]), nonce=nonce)
    assert client.sys.read_rekey_progress()["progress"] == 2
    done = client.sys.rekey(result["keys"][2], nonce=nonce)
    assert done["complete"] is True
    assert len(done["keys"]) == 1


def test_seal_status_raw_http_shape(unsealed):
    """sys/seal-status is a raw body (no envelope), as Vault returns it."""
    server, _ = unsealed
    resp = requests.get(f"{server.url}/v1/sys/seal-status", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    assert "data" not in body
    for field in (
        "type",
        "initialized",
        "sealed",
        "t",
        "n",
        "progress",
        "nonce",
        "version",
        "migration",
        "recovery_seal",
        "storage_type",
    ):
        assert field in body, f"seal-status lacks {field!r}"
