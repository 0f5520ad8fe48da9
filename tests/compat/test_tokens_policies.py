"""auth/token and ACL policies through hvac (dev server, root token `root`).

The secrets these tests guard live on a KV version 1 mount at `kv/`, so that
it does not depend on KV v2."""

from __future__ import annotations

import re
import time

import hvac
import pytest


APP_POLICY = """
# read-only on the app's secrets, a writable slot, one secret denied
path "kv/app/*" {
  capabilities = ["read", "list"]
}
path "kv/app/rw" {
  capabilities = ["create", "update", "read"]
}
path "kv/app/forbidden" {
  capabilities = ["deny"]
}
path "auth/token/create" {
  capabilities = ["create", "update"]
}
"""


@pytest.fixture
def root(dev_server):
    client = dev_server.client("root")
    client.sys.enable_secrets_engine("kv", path="kv", options={"version": "1"})
    client.sys.create_or_update_acl_policy("app", APP_POLICY)
    kv = client.secrets.kv.v1
    kv.create_or_update_secret("app/config", {"level": "info"}, mount_point="kv")
    kv.create_or_update_secret("app/forbidden", {"x": "y"}, mount_point="kv")
    kv.create_or_update_secret("other/secret", {"x": "y"}, mount_point="kv")
    return client


def kv_read(client, path):
    return client.secrets.kv.v1.read_secret(path, mount_point="kv")["data"]


def kv_write(client, path, data):
    return client.secrets.kv.v1.create_or_update_secret(path, data, mount_point="kv")


def payload(resp: dict) -> dict:
    data = resp.get("data")
    return data if isinstance(data, dict) else resp


def new_token(root, **kwargs) -> dict:
    return root.auth.token.create(**kwargs)["auth"]


# --------------------------------------------------------------------------
# token lifecycle


def test_create_returns_auth_block(root):
    auth = new_token(root, policies=["app"], ttl="1h", meta={"team": "a"})
    assert auth["client_token"].startswith("hvs.")
    assert auth["accessor"] and auth["accessor"] != auth["client_token"]
    assert set(auth["policies"]) == {"app", "default"}
    assert set(auth["token_policies"]) == {"app", "default"}
    assert auth["metadata"] == {"team": "a"}
    assert auth["lease_duration"] == 3600
    assert auth["renewable"] is True
    assert auth["orphan"] is False
    assert auth["token_type"] == "service"
    assert auth["num_uses"] == 0
    for field in ("identity_policies", "entity_id", "mfa_requirement"):
        assert field in auth


def test_create_no_default_policy(root):
    auth = new_token(root, policies=["app"], no_default_policy=True)
    assert auth["policies"] == ["app"]


def test_lookup_lookup_self_lookup_accessor(dev_server, root):
    auth = new_token(root, policies=["app"], ttl="1h", meta={"team": "a"})
    token, accessor = auth["client_token"], auth["accessor"]

    data = root.auth.token.lookup(token)["data"]
    assert data["id"] == token
    assert data["accessor"] == accessor
    assert set(data["policies"]) == {"app", "default"}
    assert data["meta"] == {"team": "a"}
    assert data["creation_ttl"] == 3600
    assert 3590 <= data["ttl"] <= 3600
    assert data["renewable"] is True
    assert data["orphan"] is False
    assert data["num_uses"] == 0
    assert data["path"] == "auth/token/create"
    assert data["type"] == "service"
    for field in ("creation_time", "display_name", "entity_id", "expire_time", "explicit_max_ttl", "issue_time"):
        assert field in data, f"lookup lacks {field!r}"

    own = dev_server.client(token).auth.token.lookup_self()["data"]
    assert own["id"] == token
    assert own["accessor"] == accessor

    by_accessor = root.auth.token.lookup_accessor(accessor)["data"]
    assert by_accessor["accessor"] == accessor
    assert set(by_accessor["policies"]) == {"app", "default"}
    assert by_accessor.get("id", "") == "", "lookup-accessor must not reveal the token"
    assert token not in str(by_accessor)

    with pytest.raises(hvac.exceptions.VaultError):
        root.auth.token.lookup_accessor("no-such-accessor")


def test_renew(root):
    auth = new_token(root, policies=["app"], ttl="1h")
    renewed = root.auth.token.renew(auth["client_token"], increment="2h")["auth"]
    assert renewed["client_token"] == auth["client_token"]
    assert renewed["lease_duration"] == 7200
    ttl = root.auth.token.lookup(auth["client_token"])["data"]["ttl"]
    assert 7190 <= ttl <= 7200


def test_renew_non_renewable_is_refused(root):
    auth = new_token(root, ttl="1h", renewable=False)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.auth.token.renew(auth["client_token"], increment="2h")


def test_revoke(dev_server, root):
    auth = new_token(root, policies=["app"])
    client = dev_server.client(auth["client_token"])
    client.auth.token.lookup_self()
    assert root.auth.token.revoke(auth["client_token"]).status_code == 204
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.lookup_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_read(client, "app/config")
    with pytest.raises(hvac.exceptions.VaultError):
        root.auth.token.lookup_accessor(auth["accessor"])


def test_revoke_accessor(dev_server, root):
    auth = new_token(root, policies=["app"])
    client = dev_server.client(auth["client_token"])
    client.auth.token.lookup_self()
    assert root.auth.token.revoke_accessor(auth["accessor"]).status_code == 204
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.lookup_self()


def test_revoking_parent_revokes_children(dev_server, root):
    parent = new_token(root, policies=["app"])
    parent_client = dev_server.client(parent["client_token"])
    child = parent_client.auth.token.create(policies=["app"])["auth"]
    grandchild = dev_server.client(child["client_token"]).auth.token.create(policies=["app"])["auth"]
    assert child["orphan"] is False
    child_client = dev_server.client(child["client_token"])
    grandchild_client = dev_server.client(grandchild["client_token"])
    child_client.auth.token.lookup_self()
    grandchild_client.auth.token.lookup_self()

    root.auth.token.revoke(parent["client_token"])
    for c in (parent_client, child_client, grandchild_client):
        with pytest.raises(hvac.exceptions.Forbidden):
            c.auth.token.lookup_self()


def test_orphan_survives_parent_revocation(dev_server, root):
    parent = new_token(root, policies=["app"])
    orphan = root.auth.token.create_orphan(policies=["app"])["auth"]
    assert orphan["orphan"] is True
    root.auth.token.revoke(parent["client_token"])
    assert dev_server.client(orphan["client_token"]).auth.token.lookup_self()["data"]["orphan"] is True


def test_child_cannot_get_policies_the_parent_lacks(dev_server, root):
    root.sys.create_or_update_acl_policy("admin", 'path "*" { capabilities = ["sudo", "read"] }')
    parent = dev_server.client(new_token(root, policies=["app"])["client_token"])
    with pytest.raises(hvac.exceptions.InvalidRequest):
        parent.auth.token.create(policies=["admin"])
    # a subset is fine
    assert set(parent.auth.token.create(policies=["app"])["auth"]["policies"]) == {"app", "default"}


def test_ttl_expiry(dev_server, root):
    auth = new_token(root, policies=["app"], ttl="2s")
    assert auth["lease_duration"] == 2
    client = dev_server.client(auth["client_token"])
    assert kv_read(client, "app/config")
    time.sleep(3.0)
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_read(client, "app/config")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.lookup_self()


def test_num_uses(dev_server, root):
    auth = new_token(root, policies=["app"], num_uses=2)
    assert auth["num_uses"] == 2
    client = dev_server.client(auth["client_token"])
    for _ in range(2):
        assert kv_read(client, "app/config") == {
            "level": "info"
        }
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_read(client, "app/config")
    with pytest.raises(hvac.exceptions.VaultError):
        root.auth.token.lookup_accessor(auth["accessor"])


# --------------------------------------------------------------------------
# policies CRUD


def test_policy_crud(root):
    assert root.sys.create_or_update_acl_policy("crud", 'path "secret/data/x" { capabilities = ["read"] }').status_code == 204
    got = root.sys.read_acl_policy("crud")["data"]
    assert got["name"] == "crud"
    assert got["policy"] == 'path "secret/data/x" { capabilities = ["read"] }'
    names = root.sys.list_acl_policies()["data"]["keys"]
    assert {"crud", "app", "default", "root"} <= set(names)

    root.sys.create_or_update_acl_policy("crud", 'path "secret/data/y" { capabilities = ["list"] }')
    assert "secret/data/y" in root.sys.read_acl_policy("crud")["data"]["policy"]

    assert root.sys.delete_acl_policy("crud").status_code == 204
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.sys.read_acl_policy("crud")
    assert "crud" not in root.sys.list_acl_policies()["data"]["keys"]


def test_policy_as_json(dev_server, root):
    policy = {"path": {"kv/json/*": {"capabilities": ["read"]}}}
    root.sys.create_or_update_acl_policy("json-pol", policy)
    kv_write(root, "json/a", {"v": 1})
    client = dev_server.client(new_token(root, policies=["json-pol"])["client_token"])
    assert kv_read(client, "json/a") == {"v": 1}
    with pytest.raises(hvac.exceptions.Forbidden):
        client.secrets.kv.v1.create_or_update_secret("json/a", {"v": 2}, method="PUT", mount_point="kv")


def test_legacy_policy_endpoints(root):
    listed = payload(root.sys.list_policies())
    assert {"app", "default", "root"} <= set(listed["policies"])
    assert set(listed["keys"]) == set(listed["policies"])
    read = payload(root.sys.read_policy("app"))
    assert read["name"] == "app"
    assert "kv/app/rw" in read["rules"]


@pytest.mark.parametrize(
    "text",
    [
        'path "secret/*" { capabilities = ["read"',
        'path "secret/*" { capabilities = ["fly"] }',
        'path { capabilities = ["read"] }',
        "this is not a policy",
    ],
    ids=["unterminated", "unknown-capability", "no-path", "garbage"],
)
def test_malformed_policy_is_400(root, text):
    with pytest.raises(hvac.exceptions.InvalidRequest) as err:
        root.sys.create_or_update_acl_policy("broken", text)
    assert err.value.errors, "the error must say what is wrong"
    with pytest.raises(hvac.exceptions.InvalidPath):
        root.sys.read_acl_policy("broken")


def test_malformed_policy_error_has_position(root):
    text = 'path "secret/a" {\n  capabilities = ["read"]\n}\npath "secret/b" {\n  capabilities = ["read"\n'
    with pytest.raises(hvac.exceptions.InvalidRequest) as err:
        root.sys.create_or_update_acl_policy("broken", text)
    message = " ".join(str(e) for e in err.value.errors)
    assert re.search(r"line|\d+:\d+", message, re.IGNORECASE), f"no line/column in {message!r}"


def test_builtin_policies_are_protected(root):
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.sys.create_or_update_acl_policy("root", 'path "*" { capabilities = ["read"] }')
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.sys.delete_acl_policy("default")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root.sys.delete_acl_policy("root")
    assert {"default", "root"} <= set(root.sys.list_acl_policies()["data"]["keys"])


# --------------------------------------------------------------------------
# enforcement


def test_capabilities_allowed_and_denied(dev_server, root):
    token = new_token(root, policies=["app"])["client_token"]
    client = dev_server.client(token)
    kv = client.secrets.kv.v1

    # read on the glob
    assert kv_read(client, "app/config") == {"level": "info"}
    # no create/update on the glob (hvac reads, then PUTs or POSTs)
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_write(client, "app/config", {"level": "debug"})
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_write(client, "app/new", {"x": 1})
    # the exact path beats the glob: create + update + read
    assert kv_write(client, "app/rw", {"x": 1}).status_code == 204
    assert kv_write(client, "app/rw", {"x": 2}).status_code == 204
    assert kv_read(client, "app/rw") == {"x": 2}
    # ... but not delete
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.delete_secret("app/rw", mount_point="kv")
    # deny wins over the glob
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_read(client, "app/forbidden")
    # list (LIST kv/app/ matches kv/app/*)
    assert kv.list_secrets("app", mount_point="kv")["data"]["keys"] == ["config", "forbidden", "rw"]
    # outside the policy
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_read(client, "other/secret")
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.list_secrets("other", mount_point="kv")
    with pytest.raises(hvac.exceptions.Forbidden):
        kv.list_secrets("", mount_point="kv")
    # no sudo: system changes are refused
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.enable_secrets_engine("kv", path="mine")
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.create_or_update_acl_policy("mine", 'path "*" { capabilities = ["sudo"] }')
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.seal()
    # nothing changed
    assert kv_read(root, "app/config") == {"level": "info"}
    assert kv_read(root, "app/rw") == {"x": 2}
    assert "mine/" not in root.sys.list_mounted_secrets_engines()["data"]
    assert root.sys.is_sealed() is False


def test_default_policy_allows_self_service(dev_server, root):
    auth = new_token(root, policies=["default"])
    client = dev_server.client(auth["client_token"])
    assert client.auth.token.lookup_self()["data"]["accessor"] == auth["accessor"]
    assert client.auth.token.renew_self()["auth"]["client_token"] == auth["client_token"]
    # but nothing else
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.lookup(auth["client_token"])
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_read(client, "app/config")
    # revoke-self works and ends the token
    assert client.auth.token.revoke_self().status_code == 204
    with pytest.raises(hvac.exceptions.Forbidden):
        client.auth.token.lookup_self()


def test_policy_change_applies_to_existing_tokens(dev_server, root):
    client = dev_server.client(new_token(root, policies=["app"])["client_token"])
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_read(client, "other/secret")
    root.sys.create_or_update_acl_policy("app", APP_POLICY + '\npath "kv/other/*" { capabilities = ["read"] }\n')
    assert kv_read(client, "other/secret") == {"x": "y"}
    root.sys.delete_acl_policy("app")
    with pytest.raises(hvac.exceptions.Forbidden):
        kv_read(client, "app/config")


def test_capabilities_self(dev_server, root):
    token = new_token(root, policies=["app"])["client_token"]
    client = dev_server.client(token)
    paths = ["kv/app/config", "kv/app/rw", "kv/app/forbidden", "kv/other/x"]
    # one key per path (test_errors.py checks that Vault's copy of the
    # fields at the top level of the body is there too)
    caps = payload(client.sys.get_capabilities(paths))
    assert sorted(caps["kv/app/config"]) == ["list", "read"]
    assert sorted(caps["kv/app/rw"]) == ["create", "read", "update"]
    assert caps["kv/app/forbidden"] == ["deny"]
    assert caps["kv/other/x"] == ["deny"]
    # one path: also under "capabilities"
    single = payload(client.sys.get_capabilities(["kv/app/config"]))
    assert sorted(single["capabilities"]) == ["list", "read"]
    # sys/capabilities with a token, as root
    assert sorted(payload(root.sys.get_capabilities(["kv/app/config"], token=token))["kv/app/config"]) == ["list", "read"]
    # sys/capabilities-accessor
    accessor = root.auth.token.lookup(token)["data"]["accessor"]
    by_accessor = payload(root.sys.get_capabilities(["kv/app/rw"], accessor=accessor))
    assert sorted(by_accessor["kv/app/rw"]) == ["create", "read", "update"]
    # root has everything
    assert payload(root.sys.get_capabilities(["kv/anything"]))["kv/anything"] == ["root"]


def test_tokens_survive_restart(unsealed):
    server, result = unsealed
    root = server.client(result["root_token"])
    root.sys.create_or_update_acl_policy("p", 'path "sys/mounts" { capabilities = ["read"] }')
    auth = root.auth.token.create(policies=["p"], ttl="1h")["auth"]
    server.restart()
    server.client().sys.submit_unseal_keys(result["keys"][:3])
    client = server.client(auth["client_token"])
    assert client.auth.token.lookup_self()["data"]["accessor"] == auth["accessor"]
    assert "sys/" in client.sys.list_mounted_secrets_engines()["data"]
    with pytest.raises(hvac.exceptions.Forbidden):
        client.sys.enable_secrets_engine("kv", path="no")


def test_lease_calls_on_token_leases(dev_server):
    client = dev_server.client("root")
    created = client.auth.token.create(policies=["default"], ttl="1h")["auth"]
    keys = client.sys.list_leases("auth/token/create")["data"]["keys"]
    assert keys, "a token with a TTL has a lease"
    lease_id = "auth/token/create/" + keys[0]
    looked = client.sys.read_lease(lease_id)["data"]
    assert looked["id"] == lease_id
    assert looked["renewable"] is True
    assert 0 < looked["ttl"] <= 3600
    # As Vault, a token's lease is renewed through auth/token/renew*.
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.renew_lease(lease_id, increment=7200)
    client.sys.revoke_lease(lease_id)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.sys.read_lease(lease_id)
    # revoke-prefix revokes every token lease under the prefix.
    other = client.auth.token.create(policies=["default"], ttl="1h")["auth"]["client_token"]
    client.sys.revoke_prefix("auth/token/create")
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client(other).auth.token.lookup_self()
    with pytest.raises(hvac.exceptions.Forbidden):
        dev_server.client(created["client_token"]).auth.token.lookup_self()
