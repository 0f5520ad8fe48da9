"""OAuth2 client credentials (RFC 6749 §4.4) at POST identity/oidc/token:
an AppRole role_id/secret_id pair is the client, the identity role named
like the AppRole role issues the token. Performed with plain HTTP and with
a standard OAuth2 client (authlib) used unchanged; the token verifies with
PyJWT against the JWKS alone; errors are RFC 6749 §5.2's; the audit log
holds the issued token and the secret only HMAC-ed."""

from __future__ import annotations

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from conftest import ROOT_TOKEN


@pytest.fixture
def client(dev_server, root_client, tmp_path):
    """An AppRole `billing` (the OAuth2 client) and identity role `billing`
    with scopes `read write`; a file audit device. Returns (url, role_id,
    secret_id, audience, audit log path)."""
    log = tmp_path / "audit.log"
    root_client.sys.enable_audit_device("file", options={"file_path": str(log)})
    root_client.sys.enable_auth_method("approle")
    root_client.auth.approle.create_or_update_approle("billing", token_policies=["billing-policy"])
    role_id = root_client.auth.approle.read_role_id("billing")["data"]["role_id"]
    secret_id = root_client.auth.approle.generate_secret_id("billing")["data"]["secret_id"]
    identity = root_client.secrets.identity
    identity.create_named_key("svc", algorithm="ES256", rotation_period="24h", verification_ttl="24h")
    resp = root_client.adapter.post(
        "/v1/identity/oidc/role/billing", json={"key": "svc", "ttl": "15m", "scopes": ["read", "write"]}
    )
    assert resp.status_code == 204
    audience = identity.read_role("billing")["data"]["client_id"]
    return dev_server.url, role_id, secret_id, audience, log


def token_url(url: str) -> str:
    return f"{url}/v1/identity/oidc/token"


def verify(url: str, token: str, audience: str) -> dict:
    key = jwt.PyJWKClient(f"{url}/v1/identity/oidc/.well-known/keys", cache_keys=False).get_signing_key_from_jwt(token)
    return jwt.decode(token, key.key, algorithms=["ES256"], audience=audience, issuer=f"{url}/v1/identity/oidc")


def test_plain_http_with_basic_and_body_credentials(client):
    url, role_id, secret_id, audience, log = client
    resp = requests.post(
        token_url(url), data={"grant_type": "client_credentials", "scope": "read"}, auth=(role_id, secret_id), timeout=10
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["scope"] == "read"
    claims = verify(url, body["access_token"], audience)
    assert claims["sub"] == role_id and claims["scope"] == "read"
    assert "billing-policy" in claims["policies"]

    resp = requests.post(
        token_url(url),
        data={"grant_type": "client_credentials", "client_id": role_id, "client_secret": secret_id},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    assert "scope" not in verify(url, resp.json()["access_token"], audience)

    # the audit log records both grants, never the token or the secret
    text = log.read_text()
    assert text.count("identity/oidc/token") >= 4
    assert body["access_token"] not in text and secret_id not in text
    assert "hmac-sha256:" in text


def test_authlib_obtains_a_token_unchanged(client):
    url, role_id, secret_id, audience, _ = client
    for method in ("client_secret_basic", "client_secret_post"):
        session = OAuth2Session(role_id, secret_id, token_endpoint_auth_method=method, scope="read write")
        token = session.fetch_token(token_url(url), grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        claims = verify(url, token["access_token"], audience)
        assert claims["scope"] == "read write"


def test_errors_follow_rfc6749(client):
    url, role_id, secret_id, _, _ = client
    form = {"grant_type": "client_credentials"}
    resp = requests.post(token_url(url), data=form, auth=(role_id, "wrong-secret"), timeout=10)
    assert resp.status_code == 401
    assert resp.json()["error"] == "invalid_client"
    assert resp.headers["WWW-Authenticate"].startswith("Basic")
    resp = requests.post(token_url(url), data=form, timeout=10)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"

    resp = requests.post(token_url(url), data={"grant_type": "password"}, auth=(role_id, secret_id), timeout=10)
    assert resp.status_code == 400 and resp.json()["error"] == "unsupported_grant_type"
    resp = requests.post(token_url(url), data={}, auth=(role_id, secret_id), timeout=10)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    resp = requests.post(token_url(url), data=dict(form, scope="read admin"), auth=(role_id, secret_id), timeout=10)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_scope"
    resp = requests.post(token_url(url), json=form, auth=(role_id, secret_id), timeout=10)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    # credentials twice (Basic and the body)
    resp = requests.post(
        token_url(url), data=dict(form, client_secret=secret_id), auth=(role_id, secret_id), timeout=10
    )
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"
    # an AppRole role without an identity role of its name
    root = requests.Session()
    root.headers["X-Vault-Token"] = ROOT_TOKEN
    assert root.post(f"{url}/v1/auth/approle/role/other", json={}, timeout=10).status_code == 204
    other_id = root.get(f"{url}/v1/auth/approle/role/other/role-id", timeout=10).json()["data"]["role_id"]
    other_secret = root.post(f"{url}/v1/auth/approle/role/other/secret-id", timeout=10).json()["data"]["secret_id"]
    resp = requests.post(token_url(url), data=form, auth=(other_id, other_secret), timeout=10)
    assert resp.status_code == 400 and resp.json()["error"] == "unauthorized_client"
