"""HTTP-level behaviour with plain `requests`: error bodies, status codes,
envelope, verbs. After each bad request the server must still serve."""

from __future__ import annotations

import json

import pytest
import requests


ROOT = {"X-Vault-Token": "root"}
ENVELOPE_FIELDS = (
    "request_id",
    "lease_id",
    "renewable",
    "lease_duration",
    "data",
    "wrap_info",
    "warnings",
    "auth",
    "mount_type",
)
BODY_LIMIT = 32 * 1024 * 1024


class Api:
    def __init__(self, url: str):
        self.url = url
        self.session = requests.Session()

    def __call__(self, method: str, path: str, token: str | None = "root", **kwargs) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if token is not None:
            headers.setdefault("X-Vault-Token", token)
        return self.session.request(method, f"{self.url}/v1/{path}", headers=headers, timeout=60, **kwargs)

    def assert_alive(self):
        resp = self("GET", "sys/health", token=None)
        assert resp.status_code == 200, f"server stopped serving: {resp.status_code} {resp.text}"
        resp = self("GET", "sys/mounts")
        assert resp.status_code == 200, f"server stopped serving: {resp.status_code} {resp.text}"


def assert_error(resp: requests.Response, status: int, contains: str | None = None) -> list:
    assert resp.status_code == status, f"expected {status}, got {resp.status_code}: {resp.text[:500]}"
    assert resp.headers.get("Content-Type") == "application/json", resp.headers.get("Content-Type")
    body = resp.json()
    assert isinstance(body.get("errors"), list), body
    if contains is not None:
        assert any(contains in str(e) for e in body["errors"]), f"{contains!r} not in {body['errors']}"
    return body["errors"]


@pytest.fixture
def api(dev_server):
    a = Api(dev_server.url)
    resp = a("POST", "sys/mounts/kv1", json={"type": "kv", "options": {"version": "1"}})
    assert resp.status_code == 204, resp.text
    return a


# --------------------------------------------------------------------------
# success shapes


def test_write_is_204_with_empty_body(api):
    resp = api("POST", "kv1/a", json={"v": "1"})
    assert resp.status_code == 204
    assert resp.content == b""
    resp = api("PUT", "kv1/a", json={"v": "2"})
    assert resp.status_code == 204


def test_read_has_full_envelope(api):
    api("POST", "kv1/env", json={"k": "v"})
    resp = api("GET", "kv1/env", headers={"X-Vault-Request": "true"})
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    for field in ENVELOPE_FIELDS:
        assert field in body, f"envelope lacks {field!r}: {body}"
    assert body["data"] == {"k": "v"}
    assert body["lease_id"] == ""
    assert body["renewable"] is False
    assert isinstance(body["lease_duration"], int)
    assert body["wrap_info"] is None
    assert body["warnings"] is None
    assert body["auth"] is None
    assert body["mount_type"] == "kv"
    assert len(body["request_id"]) == 36  # a UUID


def test_bearer_token_header(api):
    api("POST", "kv1/bearer", json={"k": "v"})
    resp = api("GET", "kv1/bearer", token=None, headers={"Authorization": "Bearer root"})
    assert resp.status_code == 200
    assert resp.json()["data"] == {"k": "v"}


# --------------------------------------------------------------------------
# 400


@pytest.mark.parametrize(
    "body",
    [b"{not json", b'{"type": "kv",', b"[1, 2", b"\xff\xfe\x00", b'{"type": kv}'],
    ids=["garbage", "truncated", "array", "binary", "bare-word"],
)
def test_malformed_json_is_400(api, body):
    resp = api("POST", "sys/mounts/bad", data=body, headers={"Content-Type": "application/json"})
    errors = assert_error(resp, 400)
    assert errors, "a 400 must say what is wrong"
    assert api("GET", "sys/mounts").json()["data"].get("bad/") is None
    api.assert_alive()


def test_malformed_json_on_kv_write_is_400(api):
    resp = api("PUT", "kv1/x", data=b'{"a":', headers={"Content-Type": "application/json"})
    assert_error(resp, 400)
    assert api("GET", "kv1/x").status_code == 404
    api.assert_alive()


def test_non_object_body_on_kv_write_is_400(api):
    resp = api("PUT", "kv1/x", data=b'"just a string"', headers={"Content-Type": "application/json"})
    assert_error(resp, 400)
    api.assert_alive()


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("sys/mounts/typed", {"type": {"name": "kv"}}, "type"),
        ("sys/mounts/typed", {"type": "kv", "options": "version=2"}, "options"),
        ("sys/mounts/typed", {"type": "kv", "description": ["a"]}, "description"),
        ("sys/mounts/kv1/tune", {"max_lease_ttl": {"h": 1}}, "max_lease_ttl"),
        ("sys/mounts/kv1/tune", {"default_lease_ttl": "soon"}, "default_lease_ttl"),
    ],
    ids=["type-object", "options-string", "description-list", "ttl-object", "ttl-bad-duration"],
)
def test_wrong_field_type_is_400_naming_the_field(api, path, body, field):
    resp = api("POST", path, json=body)
    assert_error(resp, 400, contains=field)
    api.assert_alive()


def test_missing_required_field_is_400(api):
    resp = api("POST", "sys/mounts/untyped", json={"description": "no type"})
    assert_error(resp, 400, contains="type")
    api.assert_alive()


def test_unknown_fields_are_ignored(api):
    resp = api("POST", "sys/mounts/extra", json={"type": "kv", "options": {"version": "1"}, "bogus_field": 1})
    assert resp.status_code == 204, resp.text
    assert api("GET", "sys/mounts").json()["data"]["extra/"]["type"] == "kv"


def test_null_optional_fields_are_accepted(api):
    # hvac sends every optional parameter, null when unset
    body = {
        "type": "kv",
        "description": None,
        "config": None,
        "options": None,
        "plugin_name": None,
        "local": False,
        "seal_wrap": False,
    }
    resp = api("POST", "sys/mounts/nulls", json=body)
    assert resp.status_code == 204, resp.text


# --------------------------------------------------------------------------
# 413


def test_body_over_limit_is_413(api):
    big = b'{"v":"' + b"a" * (BODY_LIMIT + 1024) + b'"}'
    resp = api("PUT", "kv1/big", data=big, headers={"Content-Type": "application/json"})
    assert_error(resp, 413)
    api.assert_alive()
    assert api("GET", "kv1/big").status_code == 404


def test_body_under_limit_is_accepted(api):
    value = "b" * (1024 * 1024)
    resp = api("PUT", "kv1/medium", json={"v": value})
    assert resp.status_code == 204, resp.text[:300]
    assert api("GET", "kv1/medium").json()["data"]["v"] == value


# --------------------------------------------------------------------------
# 404 / 405


def test_unknown_mount_is_404(api):
    assert_error(api("GET", "no-such-mount/foo"), 404)
    assert_error(api("PUT", "no-such-mount/foo", json={"a": 1}), 404)
    api.assert_alive()


def test_missing_secret_is_404_with_empty_errors(api):
    resp = api("GET", "kv1/does/not/exist")
    errors = assert_error(resp, 404)
    assert errors == []


def test_unknown_sys_path_is_404(api):
    assert_error(api("GET", "sys/no-such-endpoint"), 404)
    api.assert_alive()


def test_unsupported_operation_is_405(api):
    assert_error(api("DELETE", "sys/seal-status", token="root"), 405)
    api.assert_alive()


# --------------------------------------------------------------------------
# 403


def test_missing_token_is_403(api):
    api("POST", "kv1/guarded", json={"k": "v"})
    for method, path, kwargs in [
        ("GET", "kv1/guarded", {}),
        ("PUT", "kv1/guarded", {"json": {"k": "x"}}),
        ("DELETE", "kv1/guarded", {}),
        ("LIST", "kv1/", {}),
        ("GET", "sys/mounts", {}),
        ("GET", "no-such-mount/x", {}),
    ]:
        resp = api(method, path, token=None, **kwargs)
        assert_error(resp, 403, contains="permission denied")
    # nothing was changed
    assert api("GET", "kv1/guarded").json()["data"] == {"k": "v"}
    api.assert_alive()


@pytest.mark.parametrize("token", ["bogus", "hvs.AAAAAAAAAAAAAAAAAAAAAAAA", "", "roo"])
def test_bad_token_is_403(api, token):
    resp = api("GET", "kv1/anything", token=None, headers={"X-Vault-Token": token})
    assert_error(resp, 403, contains="permission denied")
    resp = api("GET", "kv1/anything", token=None, headers={"Authorization": f"Bearer {token}x"})
    assert_error(resp, 403, contains="permission denied")
    api.assert_alive()


def test_unauthenticated_endpoints_need_no_token(api):
    for path in ("sys/health", "sys/seal-status", "sys/init", "sys/leader"):
        resp = api("GET", path, token=None)
        assert resp.status_code == 200, f"{path}: {resp.status_code} {resp.text}"


# --------------------------------------------------------------------------
# 503


def test_sealed_is_503(api):
    api("POST", "kv1/s", json={"k": "v"})
    resp = api("PUT", "sys/seal")
    assert resp.status_code == 204, resp.text
    assert_error(api("GET", "kv1/s"), 503, contains="Vault is sealed")
    assert_error(api("GET", "sys/mounts"), 503, contains="Vault is sealed")
    # even without a token, sealed wins over permission denied
    assert_error(api("GET", "kv1/s", token=None), 503, contains="Vault is sealed")
    status = api("GET", "sys/seal-status", token=None)
    assert status.status_code == 200
    assert status.json()["sealed"] is True
    assert api("GET", "sys/health", token=None).status_code == 503


# --------------------------------------------------------------------------
# verbs


def test_list_verb_and_query_param(api):
    for key in ("dir/a", "dir/b", "dir/sub/c"):
        assert api("PUT", f"kv1/{key}", json={"k": key}).status_code == 204
    expected = ["a", "b", "sub/"]
    resp = api("LIST", "kv1/dir")
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["keys"] == expected
    resp = api("GET", "kv1/dir", params={"list": "true"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["data"]["keys"] == expected
    resp = api("GET", "kv1/dir/", params={"list": "true"})
    assert resp.json()["data"]["keys"] == expected
    # a plain GET on the folder is a read, and there is no secret there
    assert api("GET", "kv1/dir").status_code == 404
    # listing nothing is 404
    assert api("LIST", "kv1/empty").status_code == 404
    assert api("GET", "kv1/empty", params={"list": "true"}).status_code == 404


def test_hvac_strict_http_list(dev_server, api):
    """hvac with strict_http=True sends GET ?list=true instead of LIST."""
    api("PUT", "kv1/strict/one", json={"k": 1})
    client = dev_server.client("root", strict_http=True)
    assert client.secrets.kv.v1.list_secrets("strict", mount_point="kv1")["data"]["keys"] == ["one"]


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("GET", "sys/mounts", None),
        ("GET", "sys/mounts/kv1/tune", None),
        ("GET", "sys/auth", None),
        pytest.param("GET", "sys/key-status", None),
        pytest.param("GET", "sys/policy", None),
        pytest.param("GET", "sys/policy/default", None),
        pytest.param("POST", "sys/capabilities-self", {"paths": ["kv1/x"]}),
    ],
    ids=["mounts", "mount-tune", "auth", "key-status", "policy-list", "policy-read", "capabilities-self"],
)
def test_sys_data_is_also_at_top_level(api, method, path, body):
    """For these sys/ endpoints Vault copies every field of `data` to the top
    level of the body too (its injectDataIntoTopRoutes); clients read either."""
    resp = api(method, path, json=body)
    assert resp.status_code == 200, resp.text
    full = resp.json()
    data = full.get("data")
    assert isinstance(data, dict) and data, full
    missing = sorted(k for k in data if full.get(k) != data[k])
    assert not missing, f"fields of data not copied to the top level: {missing}"


def test_post_and_put_are_the_same(api):
    api("POST", "kv1/same", json={"v": "post"})
    assert api("GET", "kv1/same").json()["data"] == {"v": "post"}
    api("PUT", "kv1/same", json={"v": "put"})
    assert api("GET", "kv1/same").json()["data"] == {"v": "put"}


def test_errors_body_is_valid_json_everywhere(api):
    """Every error status seen above has the same JSON shape."""
    for method, path, token, kwargs in [
        ("GET", "kv1/missing", "root", {}),
        ("GET", "kv1/missing", None, {}),
        ("POST", "sys/mounts/x", "root", {"data": b"{"}),
    ]:
        resp = api(method, path, token=token, **kwargs)
        assert resp.status_code >= 400
        assert resp.headers["Content-Type"] == "application/json"
        assert isinstance(json.loads(resp.content)["errors"], list)
