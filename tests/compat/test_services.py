"""Services at boot through hvac: AppRole, userpass and response wrapping
(dev server, root token `root`)."""

from __future__ import annotations

import hvac
import pytest
import requests


def client_for(dev_server, token=None) -> hvac.Client:
    return hvac.Client(url=dev_server.url, token=token)


@pytest.fixture
def approle(root_client):
    root_client.sys.enable_auth_method("approle")
    root_client.sys.create_or_update_policy(
        "billing", 'path "secret/data/billing/*" { capabilities = ["read"] }'
    )
    root_client.auth.approle.create_or_update_approle(
        "billing", token_policies=["billing"], token_ttl="1h", secret_id_num_uses=1
    )
    return root_client.auth.approle


def test_approle_login_flow(dev_server, root_client, approle):
    root_client.secrets.kv.v2.create_or_update_secret("billing/db", {"password": "pw-1"})
    assert "billing" in approle.list_roles()["data"]["keys"]
    role = approle.read_role("billing")["data"]
    assert role["token_policies"] == ["billing"]
    assert role["token_ttl"] == 3600
    role_id = approle.read_role_id("billing")["data"]["role_id"]
    secret = approle.generate_secret_id("billing")["data"]
    assert secret["secret_id_num_uses"] == 1
    service = client_for(dev_server)
    login = service.auth.approle.login(role_id, secret["secret_id"])
    auth = login["auth"]
    assert auth["policies"] == ["billing", "default"]
    assert auth["lease_duration"] == 3600
    assert auth["metadata"]["role_name"] == "billing"
    assert service.is_authenticated()
    db = service.secrets.kv.v2.read_secret_version("billing/db", raise_on_deleted_version=True)
    assert db["data"]["data"]["password"] == "pw-1"
    with pytest.raises(hvac.exceptions.Forbidden):
        service.secrets.kv.v2.read_secret_version("other/db", raise_on_deleted_version=True)
    # secret_id_num_uses=1: the same secret_id cannot log in twice.
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client_for(dev_server).auth.approle.login(role_id, secret["secret_id"])


def test_approle_secret_id_management(approle):
    secret = approle.generate_secret_id("billing")["data"]
    accessor = secret["secret_id_accessor"]
    assert accessor in approle.list_secret_id_accessors("billing")["data"]["keys"]
    looked = approle.read_secret_id("billing", secret["secret_id"])["data"]
    assert looked["secret_id_accessor"] == accessor
    by_accessor = approle.read_secret_id_accessor("billing", accessor)["data"]
    assert by_accessor["secret_id_num_uses"] == 1
    approle.destroy_secret_id_accessor("billing", accessor)
    resp = approle.read_secret_id("billing", secret["secret_id"])
    assert resp is None or resp.status_code == 204 or not resp.get("data")
    other = approle.generate_secret_id("billing")["data"]
    approle.destroy_secret_id("billing", other["secret_id"])
    approle.delete_role("billing")
    with pytest.raises(hvac.exceptions.InvalidPath):
        approle.read_role("billing")


def test_wrapped_secret_id_unwraps_once(dev_server, root_client, approle):
    wrapped = approle.generate_secret_id("billing", wrap_ttl="60s")
    info = wrapped["wrap_info"]
    assert info["ttl"] == 60
    assert info["creation_path"] == "auth/approle/role/billing/secret-id"
    service = client_for(dev_server, token=info["token"])
    unwrapped = service.sys.unwrap()
    assert unwrapped["data"]["secret_id"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client_for(dev_server, token=info["token"]).sys.unwrap()


def test_wrap_and_unwrap_arbitrary_data(dev_server, root_client):
    wrapped = root_client.sys.wrap(payload={"api": "canary-wrap"}, ttl=120)
    token = wrapped["wrap_info"]["token"]
    assert root_client.sys.unwrap(token)["data"]["api"] == "canary-wrap"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        root_client.sys.unwrap(token)


def test_userpass_flow(dev_server, root_client):
    root_client.sys.enable_auth_method("userpass")
    up = root_client.auth.userpass
    with pytest.raises(hvac.exceptions.InvalidRequest):
        up.create_or_update_user("Alice", password="x", policies=["default"])
    up.create_or_update_user("alice", password="correct horse", policies=["default"])
    assert "alice" in up.list_user()["data"]["keys"]
    user = up.read_user("alice")["data"]
    assert "password" not in user
    assert not any("correct horse" in str(v) for v in user.values())
    svc = client_for(dev_server)
    login = svc.auth.userpass.login("alice", "correct horse")
    assert login["auth"]["metadata"]["username"] == "alice"
    assert svc.is_authenticated()
    for name, pw in [("alice", "wrong"), ("nobody", "correct horse")]:
        with pytest.raises(hvac.exceptions.InvalidRequest) as err:
            client_for(dev_server).auth.userpass.login(name, pw)
        assert "invalid username or password" in str(err.value)
    up.update_password_on_user("alice", "battery staple")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client_for(dev_server).auth.userpass.login("alice", "correct horse")
    client_for(dev_server).auth.userpass.login("alice", "battery staple")
    up.delete_user("alice")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client_for(dev_server).auth.userpass.login("alice", "battery staple")


def test_auth_methods_are_listed_and_disabled(root_client):
    root_client.sys.enable_auth_method("approle", path="svc")
    methods = root_client.sys.list_auth_methods()
    assert methods["data"]["svc/"]["type"] == "approle"
    assert methods["data"]["token/"]["type"] == "token"
    root_client.sys.disable_auth_method("svc")
    assert "svc/" not in root_client.sys.list_auth_methods()["data"]
