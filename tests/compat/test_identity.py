"""Identity tokens (identity/oidc) through hvac and plain requests: keys,
roles, signed tokens (EdDSA here; every algorithm in
test_identity_jwt.py), introspection and the unauthenticated well-known
documents (dev server, root token `root`)."""

from __future__ import annotations

import base64
import json

import hvac
import pytest
import requests


def b64url_json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@pytest.fixture
def role(root_client):
    identity = root_client.secrets.identity
    identity.create_named_key("svc-key", algorithm="EdDSA", rotation_period="1h", verification_ttl="2h")
    identity.create_or_update_role("svc", key="svc-key", ttl="30m")
    return identity.read_role("svc")["data"]


def test_well_known_documents_need_no_token(dev_server, role):
    resp = requests.get(f"{dev_server.url}/v1/identity/oidc/.well-known/openid-configuration", timeout=10)
    assert resp.status_code == 200
    conf = resp.json()
    assert conf["issuer"] == f"{dev_server.url}/v1/identity/oidc"
    assert conf["jwks_uri"] == f"{conf['issuer']}/.well-known/keys"
    assert conf["id_token_signing_alg_values_supported"] == ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"]
    assert "id_token" in conf["response_types_supported"]

    resp = requests.get(conf["jwks_uri"], timeout=10)
    assert resp.status_code == 200
    keys = resp.json()["keys"]
    assert len(keys) == 1
    jwk = keys[0]
    assert {k: jwk[k] for k in ("kty", "crv", "alg", "use")} == {
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
    }
    assert len(base64.urlsafe_b64decode(jwk["x"] + "=")) == 32
    assert "d" not in jwk, "never the private key"

    # other identity paths still need a token
    assert requests.get(f"{dev_server.url}/v1/identity/oidc/key/svc-key", timeout=10).status_code == 403
    assert requests.get(f"{dev_server.url}/v1/identity/oidc/token/svc", timeout=10).status_code == 403


def test_signed_token_and_introspection(dev_server, root_client, role):
    identity = root_client.secrets.identity
    assert role["key"] == "svc-key" and role["ttl"] == 1800
    key = identity.read_named_key("svc-key")["data"]
    assert key == {
        "algorithm": "EdDSA",
        "rotation_period": 3600,
        "verification_ttl": 7200,
        "allowed_client_ids": ["*"],
    }
    root_client.sys.create_or_update_policy(
        "svc-identity", 'path "identity/oidc/token/svc" { capabilities = ["read"] }'
    )
    token = root_client.auth.token.create(policies=["svc-identity"], meta={"app": "billing"})["auth"]
    service = hvac.Client(url=dev_server.url, token=token["client_token"])
    issued = service.secrets.identity.generate_signed_id_token("svc")["data"]
    assert issued["client_id"] == role["client_id"] and issued["ttl"] == 1800

    header_b64, claims_b64, _sig = issued["token"].split(".")
    header = b64url_json(header_b64)
    assert header["alg"] == "EdDSA" and header["typ"] == "JWT"
    jwks = identity.read_active_public_keys()
    assert header["kid"] in [k["kid"] for k in jwks["keys"]]
    claims = b64url_json(claims_b64)
    assert claims["aud"] == role["client_id"]
    assert claims["sub"] == token["accessor"]
    assert claims["iss"] == f"{dev_server.url}/v1/identity/oidc"
    assert claims["exp"] - claims["iat"] == 1800
    # metadata chosen by the token's creator is never a claim
    assert claims["metadata"] == {}
    assert "svc-identity" in claims["policies"]

    assert identity.introspect_signed_id_token(issued["token"])["active"] is True
    assert identity.introspect_signed_id_token(issued["token"], client_id=role["client_id"])["active"] is True
    assert identity.introspect_signed_id_token(issued["token"], client_id="other")["active"] is False

    # a caller without the policy is refused
    other = hvac.Client(url=dev_server.url, token=root_client.auth.token.create(policies=["default"])["auth"]["client_token"])
    with pytest.raises(hvac.exceptions.Forbidden):
        other.secrets.identity.generate_signed_id_token("svc")


def test_hvac_default_key_is_rs256_and_unknown_algorithms_are_refused(root_client):
    identity = root_client.secrets.identity
    identity.create_named_key("rsa-key")  # hvac sends algorithm=RS256
    assert identity.read_named_key("rsa-key")["data"]["algorithm"] == "RS256"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        identity.create_named_key("hmac-key", algorithm="HS256")
