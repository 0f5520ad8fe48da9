"""Secrets engine mounts (sys/mounts, tune) and the KV version 1 engine through hvac."""

from __future__ import annotations

import hvac
import pytest
import requests



def payload(resp: dict) -> dict:
    data = resp.get("data")
    return data if isinstance(data, dict) else resp


def test_dev_server_mounts(root_client):
    mounts = root_client.sys.list_mounted_secrets_engines()
    # Vault returns the table both under `data` and at the top level
    for table in (mounts["data"], mounts):
        assert table["secret/"]["type"] == "kv"
        assert table["sys/"]["type"] == "system"
    for entry in ("type", "description", "config", "options"):
        assert entry in mounts["data"]["secret/"], f"mount entry lacks {entry!r}"


def test_enable_kv_v1_and_crud(root_client):
    resp = root_client.sys.enable_secrets_engine("kv", path="kv1", description="v1 store", options={"version": "1"})
    assert resp.status_code == 204
    mounts = root_client.sys.list_mounted_secrets_engines()["data"]
    assert mounts["kv1/"]["type"] == "kv"
    assert mounts["kv1/"]["description"] == "v1 store"
    assert mounts["kv1/"]["options"]["version"] == "1"

    kv = root_client.secrets.kv.v1
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret("app/db", mount_point="kv1")
    # hvac does a read first and then POSTs (missing) or PUTs (existing)
    resp = kv.create_or_update_secret("app/db", {"user": "alice", "port": 5432, "tls": True}, mount_point="kv1")
    assert resp.status_code == 204
    got = kv.read_secret("app/db", mount_point="kv1")
    assert got["data"] == {"user": "alice", "port": 5432, "tls": True}
    assert got["mount_type"] == "kv"
    assert got["request_id"]

    # update replaces the whole value
    kv.create_or_update_secret("app/db", {"user": "bob"}, mount_point="kv1")
    assert kv.read_secret("app/db", mount_point="kv1")["data"] == {"user": "bob"}
    # nested values are stored as given
    nested = {"a": {"b": [1, 2, {"c": None}]}, "s": "ünïcødé"}
    kv.create_or_update_secret("app/nested", nested, method="PUT", mount_point="kv1")
    assert kv.read_secret("app/nested", mount_point="kv1")["data"] == nested

    kv.create_or_update_secret("app/api/key", {"k": "1"}, mount_point="kv1")
    kv.create_or_update_secret("top", {"k": "2"}, mount_point="kv1")
    assert kv.list_secrets("", mount_point="kv1")["data"]["keys"] == ["app/", "top"]
    assert kv.list_secrets("app", mount_point="kv1")["data"]["keys"] == ["api/", "db", "nested"]
    assert kv.list_secrets("app/", mount_point="kv1")["data"]["keys"] == ["api/", "db", "nested"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.list_secrets("nothing-here", mount_point="kv1")

    resp = kv.delete_secret("app/db", mount_point="kv1")
    assert resp.status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret("app/db", mount_point="kv1")
    assert kv.list_secrets("app", mount_point="kv1")["data"]["keys"] == ["api/", "nested"]
    # deleting a missing key is not an error (as in Vault)
    assert kv.delete_secret("app/db", mount_point="kv1").status_code == 204


def test_kv_without_version_option_is_v1(root_client):
    root_client.sys.enable_secrets_engine("kv", path="plain")
    kv = root_client.secrets.kv.v1
    kv.create_or_update_secret("x", {"v": 1}, mount_point="plain")
    assert kv.read_secret("x", mount_point="plain")["data"] == {"v": 1}


def test_mounts_are_isolated(root_client):
    for path in ("iso-a", "iso-b"):
        root_client.sys.enable_secrets_engine("kv", path=path, options={"version": "1"})
    root_client.secrets.kv.v1.create_or_update_secret("same", {"m": "a"}, mount_point="iso-a")
    with pytest.raises(hvac.exceptions.InvalidPath):
        root_client.secrets.kv.v1.read_secret("same", mount_point="iso-b")
    # as in Vault, a mount inside an existing mount is refused
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root_client.sys.enable_secrets_engine("kv", path="iso-a/inner", options={"version": "1"})
    # and so is a mount that would contain an existing one
    root_client.sys.enable_secrets_engine("kv", path="outer/deep", options={"version": "1"})
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root_client.sys.enable_secrets_engine("kv", path="outer", options={"version": "1"})


def test_enable_on_used_path_is_refused(root_client):
    root_client.sys.enable_secrets_engine("kv", path="dup", options={"version": "1"})
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root_client.sys.enable_secrets_engine("kv", path="dup", options={"version": "1"})
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root_client.sys.enable_secrets_engine("kv", path="secret", options={"version": "1"})


def test_enable_unknown_engine_type_is_refused(root_client):
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root_client.sys.enable_secrets_engine("no-such-engine", path="bogus")
    assert "bogus/" not in root_client.sys.list_mounted_secrets_engines()["data"]


def test_tune_mount(root_client):
    root_client.sys.enable_secrets_engine("kv", path="tuned", options={"version": "1"})
    before = payload(root_client.sys.read_mount_configuration("tuned"))
    assert "default_lease_ttl" in before and "max_lease_ttl" in before

    resp = root_client.sys.tune_mount_configuration(
        "tuned", default_lease_ttl=3600, max_lease_ttl=7200, description="tuned up"
    )
    assert resp.status_code == 204
    conf = payload(root_client.sys.read_mount_configuration("tuned"))
    assert conf["default_lease_ttl"] == 3600
    assert conf["max_lease_ttl"] == 7200
    assert conf["description"] == "tuned up"
    mount = root_client.sys.list_mounted_secrets_engines()["data"]["tuned/"]
    assert mount["description"] == "tuned up"
    assert mount["config"]["default_lease_ttl"] == 3600
    assert mount["config"]["max_lease_ttl"] == 7200

    # Go-style duration strings are accepted and returned as seconds
    root_client.sys.tune_mount_configuration("tuned", default_lease_ttl="30m", max_lease_ttl="2h")
    conf = payload(root_client.sys.read_mount_configuration("tuned"))
    assert (conf["default_lease_ttl"], conf["max_lease_ttl"]) == (1800, 7200)

    # a default above the max is refused
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root_client.sys.tune_mount_configuration("tuned", default_lease_ttl="3h")
    conf = payload(root_client.sys.read_mount_configuration("tuned"))
    assert conf["default_lease_ttl"] == 1800


def test_unknown_mount_errors(root_client):
    with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.InvalidPath)):
        root_client.sys.read_mount_configuration("no-such-mount")
    with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.InvalidPath)):
        root_client.sys.tune_mount_configuration("no-such-mount", description="x")
    with pytest.raises(hvac.exceptions.InvalidPath):
        root_client.secrets.kv.v1.read_secret("x", mount_point="no-such-mount")


def test_disable_mount_removes_it_and_its_data(root_client):
    root_client.sys.enable_secrets_engine("kv", path="gone", options={"version": "1"})
    root_client.secrets.kv.v1.create_or_update_secret("s", {"v": 1}, mount_point="gone")
    resp = root_client.sys.disable_secrets_engine("gone")
    assert resp.status_code == 204
    assert "gone/" not in root_client.sys.list_mounted_secrets_engines()["data"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        root_client.secrets.kv.v1.read_secret("s", mount_point="gone")
    # mounting again at the same path starts empty
    root_client.sys.enable_secrets_engine("kv", path="gone", options={"version": "1"})
    with pytest.raises(hvac.exceptions.InvalidPath):
        root_client.secrets.kv.v1.read_secret("s", mount_point="gone")


def test_system_mount_cannot_be_disabled(root_client):
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root_client.sys.disable_secrets_engine("sys")
    assert "sys/" in root_client.sys.list_mounted_secrets_engines()["data"]


def test_mount_changes_need_a_token(dev_server):
    anon = dev_server.client()
    with pytest.raises(hvac.exceptions.Forbidden):
        anon.sys.enable_secrets_engine("kv", path="nope")
    with pytest.raises(hvac.exceptions.Forbidden):
        anon.sys.list_mounted_secrets_engines()
    with pytest.raises(hvac.exceptions.Forbidden):
        anon.sys.disable_secrets_engine("secret")


def test_internal_ui_mounts(dev_server, root_client):
    root_client.sys.enable_secrets_engine("kv", path="ui-kv", options={"version": "1"})
    resp = requests.get(
        f"{dev_server.url}/v1/sys/internal/ui/mounts/ui-kv/some/path",
        headers={"X-Vault-Token": "root"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["type"] == "kv"
    assert data["path"] == "ui-kv/"
    assert data["options"]["version"] == "1"
    # without a token: 403
    resp = requests.get(f"{dev_server.url}/v1/sys/internal/ui/mounts/ui-kv", timeout=10)
    assert resp.status_code == 403


def test_mount_survives_restart(unsealed):
    server, result = unsealed
    root = server.client(result["root_token"])
    root.sys.enable_secrets_engine("kv", path="durable", description="d", options={"version": "1"})
    root.sys.tune_mount_configuration("durable", default_lease_ttl=60, max_lease_ttl=120)
    server.restart()  # a new port: make new clients
    server.client().sys.submit_unseal_keys(result["keys"][:3])
    root = server.client(result["root_token"])
    mount = root.sys.list_mounted_secrets_engines()["data"]["durable/"]
    assert mount["description"] == "d"
    assert mount["options"]["version"] == "1"
    assert mount["config"]["default_lease_ttl"] == 60
    assert mount["config"]["max_lease_ttl"] == 120
