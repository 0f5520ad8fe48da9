"""The KV version 2 engine through hvac `secrets.kv.v2` (dev server: `secret/`)."""

from __future__ import annotations

import hvac
import pytest
import requests



@pytest.fixture
def kv(root_client):
    return root_client.secrets.kv.v2


def test_dev_secret_mount_is_kv_v2(dev_server, root_client):
    mounts = root_client.sys.list_mounted_secrets_engines()
    assert mounts["data"]["secret/"]["options"]["version"] == "2"
    assert mounts["secret/"]["options"]["version"] == "2"
    # clients (the vault CLI, hvac helpers) detect the KV version here
    resp = requests.get(
        f"{dev_server.url}/v1/sys/internal/ui/mounts/secret/app/db",
        headers={"X-Vault-Token": "root"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert (data["type"], data["path"], data["options"]["version"]) == ("kv", "secret/", "2")


def read(kv, path, version=None, **kwargs):
    return kv.read_secret_version(path, version=version, raise_on_deleted_version=True, **kwargs)


def test_write_and_read_versions(kv):
    v1 = kv.create_or_update_secret("app/db", {"user": "alice", "pw": "one"})
    d = v1["data"]
    assert d["version"] == 1
    assert d["created_time"]
    assert d["deletion_time"] == ""
    assert d["destroyed"] is False
    assert "custom_metadata" in d

    assert kv.create_or_update_secret("app/db", {"user": "alice", "pw": "two"})["data"]["version"] == 2

    latest = read(kv, "app/db")
    assert latest["data"]["data"] == {"user": "alice", "pw": "two"}
    meta = latest["data"]["metadata"]
    assert meta["version"] == 2
    assert meta["deletion_time"] == ""
    assert meta["destroyed"] is False
    assert meta["created_time"]
    assert "custom_metadata" in meta
    assert latest["mount_type"] == "kv"

    first = read(kv, "app/db", version=1)
    assert first["data"]["data"] == {"user": "alice", "pw": "one"}
    assert first["data"]["metadata"]["version"] == 1
    # version=0 means latest, as in Vault
    assert read(kv, "app/db", version=0)["data"]["metadata"]["version"] == 2

    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, "app/db", version=99)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, "app/missing")


def test_check_and_set(kv):
    assert kv.create_or_update_secret("cas/x", {"v": 1}, cas=0)["data"]["version"] == 1
    # cas=0: only if the key does not exist yet
    with pytest.raises(hvac.exceptions.InvalidRequest) as err:
        kv.create_or_update_secret("cas/x", {"v": "nope"}, cas=0)
    assert "check-and-set parameter did not match the current version" in str(err.value)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv.create_or_update_secret("cas/x", {"v": "nope"}, cas=5)
    assert kv.create_or_update_secret("cas/x", {"v": 2}, cas=1)["data"]["version"] == 2
    assert read(kv, "cas/x")["data"]["data"] == {"v": 2}


def test_patch_via_hvac(kv):
    kv.create_or_update_secret("patch/x", {"a": 1, "b": 2})
    resp = kv.patch("patch/x", {"b": 3, "c": 4})
    assert resp["data"]["version"] == 2
    assert read(kv, "patch/x")["data"]["data"] == {"a": 1, "b": 3, "c": 4}
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.patch("patch/missing", {"a": 1})


def test_patch_merge_patch_http(dev_server, kv):
    kv.create_or_update_secret("mp/x", {"a": 1, "b": {"c": 2, "d": 3}, "e": 5})
    resp = requests.patch(
        f"{dev_server.url}/v1/secret/data/mp/x",
        headers={"X-Vault-Token": "root", "Content-Type": "application/merge-patch+json"},
        json={"data": {"a": None, "b": {"c": 20}, "f": 6}},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["version"] == 2
    assert read(kv, "mp/x")["data"]["data"] == {"b": {"c": 20, "d": 3}, "e": 5, "f": 6}
    # patching a missing secret is 404
    resp = requests.patch(
        f"{dev_server.url}/v1/secret/data/mp/missing",
        headers={"X-Vault-Token": "root", "Content-Type": "application/merge-patch+json"},
        json={"data": {"a": 1}},
        timeout=10,
    )
    assert resp.status_code == 404


def test_soft_delete_latest_and_undelete(kv):
    kv.create_or_update_secret("del/x", {"v": 1})
    kv.create_or_update_secret("del/x", {"v": 2})
    resp = kv.delete_latest_version_of_secret("del/x")
    assert resp.status_code == 204

    with pytest.raises(hvac.exceptions.InvalidPath) as err:
        read(kv, "del/x")
    body = err.value.json
    assert body is not None, "a deleted version is a 404 with a body"
    assert body["data"]["data"] is None
    assert body["data"]["metadata"]["version"] == 2
    assert body["data"]["metadata"]["deletion_time"] != ""
    assert body["data"]["metadata"]["destroyed"] is False

    # hvac can return the deleted version's body instead of raising
    soft = kv.read_secret_version("del/x", raise_on_deleted_version=False)
    assert soft["data"]["data"] is None
    assert soft["data"]["metadata"]["deletion_time"] != ""

    # the older version is still readable
    assert read(kv, "del/x", version=1)["data"]["data"] == {"v": 1}
    meta = kv.read_secret_metadata("del/x")["data"]
    assert meta["versions"]["2"]["deletion_time"] != ""
    assert meta["versions"]["1"]["deletion_time"] == ""

    assert kv.undelete_secret_versions("del/x", versions=[2]).status_code == 204
    got = read(kv, "del/x")
    assert got["data"]["data"] == {"v": 2}
    assert got["data"]["metadata"]["deletion_time"] == ""


def test_delete_specific_versions(kv):
    for i in range(1, 4):
        kv.create_or_update_secret("delv/x", {"v": i})
    assert kv.delete_secret_versions("delv/x", versions=[1, 3]).status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, "delv/x", version=1)
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, "delv/x")  # latest (3) is deleted
    assert read(kv, "delv/x", version=2)["data"]["data"] == {"v": 2}
    kv.undelete_secret_versions("delv/x", versions=[1])
    assert read(kv, "delv/x", version=1)["data"]["data"] == {"v": 1}
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, "delv/x", version=3)


def test_destroy_versions(kv):
    kv.create_or_update_secret("destroy/x", {"v": 1})
    kv.create_or_update_secret("destroy/x", {"v": 2})
    assert kv.destroy_secret_versions("destroy/x", versions=[1]).status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath) as err:
        read(kv, "destroy/x", version=1)
    body = err.value.json
    assert body["data"]["data"] is None
    assert body["data"]["metadata"]["destroyed"] is True
    # even raise_on_deleted_version=False raises for a destroyed version
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_version("destroy/x", version=1, raise_on_deleted_version=False)

    meta = kv.read_secret_metadata("destroy/x")["data"]
    assert meta["versions"]["1"]["destroyed"] is True
    assert meta["versions"]["2"]["destroyed"] is False
    # undelete cannot bring back a destroyed version
    kv.undelete_secret_versions("destroy/x", versions=[1])
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, "destroy/x", version=1)
    assert read(kv, "destroy/x")["data"]["data"] == {"v": 2}


def test_list_nested_folders(kv):
    for path in ("lst/a", "lst/b/c", "lst/b/d", "lst/b/e/f", "other"):
        kv.create_or_update_secret(path, {"p": path})
    assert kv.list_secrets("lst")["data"]["keys"] == ["a", "b/"]
    assert kv.list_secrets("lst/b")["data"]["keys"] == ["c", "d", "e/"]
    assert kv.list_secrets("lst/b/e/")["data"]["keys"] == ["f"]
    top = kv.list_secrets("")["data"]["keys"]
    assert "lst/" in top and "other" in top
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.list_secrets("nothing/here")
    # a soft-deleted secret is still listed (its metadata exists)
    kv.delete_latest_version_of_secret("lst/a")
    assert kv.list_secrets("lst")["data"]["keys"] == ["a", "b/"]


def test_read_metadata(kv):
    kv.create_or_update_secret("meta/x", {"v": 1})
    kv.create_or_update_secret("meta/x", {"v": 2})
    meta = kv.read_secret_metadata("meta/x")["data"]
    assert meta["current_version"] == 2
    assert meta["oldest_version"] in (0, 1)
    assert meta["max_versions"] == 0
    assert meta["cas_required"] is False
    assert meta["created_time"]
    assert meta["updated_time"]
    assert "custom_metadata" in meta
    assert "delete_version_after" in meta
    assert sorted(meta["versions"]) == ["1", "2"]
    for v in meta["versions"].values():
        assert set(v) >= {"created_time", "deletion_time", "destroyed"}
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_metadata("meta/missing")


def test_max_versions_prunes_oldest(kv):
    kv.create_or_update_secret("prune/x", {"v": 1})
    assert kv.update_metadata("prune/x", max_versions=2).status_code == 204
    for i in range(2, 6):
        kv.create_or_update_secret("prune/x", {"v": i})
    meta = kv.read_secret_metadata("prune/x")["data"]
    assert meta["max_versions"] == 2
    assert meta["current_version"] == 5
    assert meta["oldest_version"] == 4
    assert sorted(meta["versions"], key=int) == ["4", "5"]
    for old in (1, 2, 3):
        with pytest.raises(hvac.exceptions.InvalidPath):
            read(kv, "prune/x", version=old)
    assert read(kv, "prune/x", version=4)["data"]["data"] == {"v": 4}


def test_custom_metadata(kv):
    kv.create_or_update_secret("custom/x", {"v": 1})
    kv.update_metadata("custom/x", custom_metadata={"owner": "team-a", "tier": "gold"})
    meta = kv.read_secret_metadata("custom/x")["data"]
    assert meta["custom_metadata"] == {"owner": "team-a", "tier": "gold"}
    assert read(kv, "custom/x")["data"]["metadata"]["custom_metadata"] == {"owner": "team-a", "tier": "gold"}
    # metadata can be written before any version exists
    kv.update_metadata("custom/new", custom_metadata={"k": "v"}, max_versions=3)
    meta = kv.read_secret_metadata("custom/new")["data"]
    assert meta["custom_metadata"] == {"k": "v"}
    assert meta["max_versions"] == 3
    assert meta["current_version"] == 0


def test_delete_metadata_and_all_versions(kv):
    kv.create_or_update_secret("wipe/x", {"v": 1})
    kv.create_or_update_secret("wipe/x", {"v": 2})
    kv.create_or_update_secret("wipe/y", {"v": 1})
    assert kv.delete_metadata_and_all_versions("wipe/x").status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        kv.read_secret_metadata("wipe/x")
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, "wipe/x", version=1)
    assert kv.list_secrets("wipe")["data"]["keys"] == ["y"]
    # writing again starts at version 1
    assert kv.create_or_update_secret("wipe/x", {"v": "new"})["data"]["version"] == 1


def test_configure_engine(kv):
    assert kv.configure(max_versions=5, cas_required=True).status_code == 204
    conf = kv.read_configuration()["data"]
    assert conf["max_versions"] == 5
    assert conf["cas_required"] is True
    assert conf["delete_version_after"] in (0, "0s")

    # cas_required: a write without cas is refused, one with cas works
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv.create_or_update_secret("cfg/x", {"v": 1})
    assert kv.create_or_update_secret("cfg/x", {"v": 1}, cas=0)["data"]["version"] == 1

    # mount-wide max_versions applies
    for i in range(2, 8):
        kv.create_or_update_secret("cfg/x", {"v": i}, cas=i - 1)
    meta = kv.read_secret_metadata("cfg/x")["data"]
    assert len(meta["versions"]) == 5
    assert meta["oldest_version"] == 3

    kv.configure(max_versions=0, cas_required=False)
    conf = kv.read_configuration()["data"]
    assert (conf["max_versions"], conf["cas_required"]) == (0, False)
    assert kv.create_or_update_secret("cfg/x", {"v": "free"})["data"]["version"] == 8


def test_read_subkeys(dev_server, kv):
    kv.create_or_update_secret("sub/x", {"a": 1, "b": {"c": 2, "d": {"e": 3}}, "f": [1, 2]})
    url = f"{dev_server.url}/v1/secret/subkeys/sub/x"
    headers = {"X-Vault-Token": "root"}
    resp = requests.get(url, headers=headers, timeout=10)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["subkeys"] == {"a": None, "b": {"c": None, "d": {"e": None}}, "f": None}
    assert data["metadata"]["version"] == 1
    resp = requests.get(url, headers=headers, params={"depth": 1}, timeout=10)
    assert resp.json()["data"]["subkeys"] == {"a": None, "b": None, "f": None}
    resp = requests.get(url, headers=headers, params={"depth": 2}, timeout=10)
    assert resp.json()["data"]["subkeys"] == {"a": None, "b": {"c": None, "d": None}, "f": None}
    assert requests.get(f"{dev_server.url}/v1/secret/subkeys/sub/missing", headers=headers, timeout=10).status_code == 404


def test_new_kv2_mount(root_client):
    root_client.sys.enable_secrets_engine("kv", path="kv2b", options={"version": "2"})
    kv = root_client.secrets.kv.v2
    kv.create_or_update_secret("p", {"v": 1}, mount_point="kv2b")
    assert read(kv, "p", mount_point="kv2b")["data"]["data"] == {"v": 1}
    # the data of secret/ and kv2b/ are separate
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, "p")


def test_kv2_survives_restart(unsealed):
    server, result = unsealed
    root = server.client(result["root_token"])
    root.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    kv = root.secrets.kv.v2
    kv.create_or_update_secret("r/x", {"v": 1}, mount_point="kv")
    kv.create_or_update_secret("r/x", {"v": 2}, mount_point="kv")
    kv.delete_secret_versions("r/x", versions=[1], mount_point="kv")
    server.restart()  # a new port: make new clients
    server.client().sys.submit_unseal_keys(result["keys"][:3])
    kv = server.client(result["root_token"]).secrets.kv.v2
    assert read(kv, "r/x", mount_point="kv")["data"]["data"] == {"v": 2}
    with pytest.raises(hvac.exceptions.InvalidPath):
        read(kv, "r/x", version=1, mount_point="kv")
    assert kv.read_secret_metadata("r/x", mount_point="kv")["data"]["current_version"] == 2
