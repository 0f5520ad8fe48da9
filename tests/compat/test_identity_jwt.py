"""Identity tokens checked by an independent verifier: PyJWT (with the
cryptography backend) verifies vault-rs's tokens of every algorithm against
nothing but the published JWKS, and refuses tampered, expired,
wrong-audience and rotated-out ones. The server runs in dev mode on its
manual clock (`sys/dev/clock`), so rotation windows pass without waiting."""

from __future__ import annotations

import base64
import json
import tempfile
from pathlib import Path

import hvac
import jwt
import pytest
import requests

from conftest import ROOT_TOKEN, VaultServer, _report_log_on_failure

ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"]


@pytest.fixture
def clocked(request):
    """`server --dev --dev-manual-clock`, root token `root`."""
    with tempfile.TemporaryDirectory(prefix="vault-rs-dev-") as tmp:
        server = VaultServer(
            [
                "server",
                "--dev",
                "--dev-manual-clock",
                "--dev-listen-address",
                "127.0.0.1:0",
                "--dev-root-token-id",
                ROOT_TOKEN,
            ],
            Path(tmp),
            "dev-clock",
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()
            _report_log_on_failure(request, server)


def advance(server, duration: str) -> None:
    resp = requests.put(
        f"{server.url}/v1/sys/dev/clock",
        json={"advance": duration},
        headers={"X-Vault-Token": ROOT_TOKEN},
        timeout=10,
    )
    assert resp.status_code in (200, 204), resp.text


def jwks_key(server, token: str):
    """The signing key of `token`, from the JWKS only (no cache)."""
    client = jwt.PyJWKClient(f"{server.url}/v1/identity/oidc/.well-known/keys", cache_keys=False, cache_jwk_set=False)
    return client.get_signing_key_from_jwt(token).key


def decode(server, token: str, alg: str, audience: str, verify_iat: bool = True, **kwargs) -> dict:
    return jwt.decode(
        token,
        jwks_key(server, token),
        algorithms=[alg],
        audience=audience,
        issuer=f"{server.url}/v1/identity/oidc",
        options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_iat": verify_iat},
        **kwargs,
    )


def issue(client: hvac.Client, role: str) -> str:
    return client.secrets.identity.generate_signed_id_token(role)["data"]["token"]


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_pyjwt_verifies_every_algorithm_and_refuses_forgeries(clocked, alg):
    root = clocked.client(ROOT_TOKEN)
    identity = root.secrets.identity
    identity.create_named_key("k", algorithm=alg, rotation_period="1h", verification_ttl="2h")
    identity.create_or_update_role("svc", key="k", ttl="10m")
    client_id = identity.read_role("svc")["data"]["client_id"]
    token = issue(root, "svc")

    assert jwt.get_unverified_header(token)["alg"] == alg
    claims = decode(clocked, token, alg, client_id)
    assert claims["aud"] == client_id
    assert claims["exp"] - claims["iat"] == 600

    # the payload changed, the signature kept
    header, payload, sig = token.split(".")
    forged = dict(claims, sub="someone-else")
    forged_payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        decode(clocked, f"{header}.{forged_payload}.{sig}", alg, client_id)
    # another audience
    with pytest.raises(jwt.InvalidAudienceError):
        decode(clocked, token, alg, "another-client")
    # checked 11 minutes from now (a negative leeway moves the check
    # later), the token has expired
    with pytest.raises(jwt.ExpiredSignatureError):
        decode(clocked, token, alg, client_id, leeway=-660, verify_iat=False)
    # vault-rs agrees
    assert identity.introspect_signed_id_token(token, client_id=client_id)["active"] is True
    assert identity.introspect_signed_id_token(f"{header}.{forged_payload}.{sig}")["active"] is False


def test_rotation_keeps_tokens_verifiable_for_the_verification_ttl(clocked):
    root = clocked.client(ROOT_TOKEN)
    identity = root.secrets.identity
    identity.create_named_key("k", algorithm="ES256", rotation_period="24h", verification_ttl="1h")
    identity.create_or_update_role("svc", key="k", ttl="30m")
    client_id = identity.read_role("svc")["data"]["client_id"]
    before = issue(root, "svc")
    old_kid = jwt.get_unverified_header(before)["kid"]

    # hvac 2.4.0's rotate_named_key posts to the key itself, not to
    # .../rotate: call the path directly.
    resp = root.adapter.post("/v1/identity/oidc/key/k/rotate", json={"verification_ttl": "1h"})
    assert resp.status_code == 204
    after = issue(root, "svc")
    assert jwt.get_unverified_header(after)["kid"] != old_kid
    published = [k["kid"] for k in requests.get(f"{clocked.url}/v1/identity/oidc/.well-known/keys", timeout=10).json()["keys"]]
    assert old_kid in published and len(published) == 2
    # signed before the rotation, still verifiable within verification_ttl
    assert decode(clocked, before, "ES256", client_id)["aud"] == client_id
    decode(clocked, after, "ES256", client_id)

    # past the verification window the old key leaves the JWKS: the token
    # it signed cannot be verified by anyone any more
    advance(clocked, "61m")
    published = [k["kid"] for k in requests.get(f"{clocked.url}/v1/identity/oidc/.well-known/keys", timeout=10).json()["keys"]]
    assert old_kid not in published
    with pytest.raises(jwt.PyJWKClientError):
        jwks_key(clocked, before)
    assert identity.introspect_signed_id_token(before)["active"] is False


def test_issuer_from_oidc_config(clocked):
    root = clocked.client(ROOT_TOKEN)
    resp = root.adapter.post("/v1/identity/oidc/config", json={"issuer": "https://id.example.test:8443"})
    assert resp.status_code == 204
    assert root.adapter.get("/v1/identity/oidc/config")["data"]["issuer"] == "https://id.example.test:8443"
    iss = "https://id.example.test:8443/v1/identity/oidc"
    conf = requests.get(f"{clocked.url}/v1/identity/oidc/.well-known/openid-configuration", timeout=10).json()
    assert conf["issuer"] == iss and conf["jwks_uri"] == f"{iss}/.well-known/keys"
    identity = root.secrets.identity
    identity.create_named_key("k")
    identity.create_or_update_role("svc", key="k")
    token = issue(root, "svc")
    client_id = identity.read_role("svc")["data"]["client_id"]
    claims = jwt.decode(token, jwks_key(clocked, token), algorithms=["RS256"], audience=client_id, issuer=iss)
    assert claims["iss"] == iss
    with pytest.raises(jwt.InvalidIssuerError):
        decode(clocked, token, "RS256", client_id)
