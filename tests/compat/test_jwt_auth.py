"""The JWT auth method (auth/jwt, Vault's `jwt` type) through hvac: tokens
minted here with PyJWT (RS256, ES256), checked against a JWKS served on
127.0.0.1, log in; wrong audience or issuer, expired, unknown kid,
`alg: none` and HS256 keyed with the public key are refused. A vault-rs
identity token is accepted by pointing jwks_url at vault-rs's own JWKS."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import hvac
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import ROOT_TOKEN
from test_identity_jwt import advance, clocked  # noqa: F401 (fixture)

ISSUER = "https://idp.example.test"


class Keys:
    """Signing keys and the JWKS document a test issuer publishes."""

    def __init__(self):
        self.private = {}
        self.published = []

    def add(self, kid: str, alg: str) -> None:
        if alg == "RS256":
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
        jwk.update(kid=kid, alg=alg, use="sig")
        self.private[kid] = (key, alg)
        self.published.append(jwk)

    def mint(self, kid: str, **claims) -> str:
        key, alg = self.private[kid]
        now = int(time.time())
        body = {"iss": ISSUER, "aud": "vault", "sub": "ci-job-1", "iat": now, "exp": now + 300}
        body.update(claims)
        return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture
def issuer():
    keys = Keys()
    keys.add("rsa-1", "RS256")
    keys.add("ec-1", "ES256")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"keys": keys.published}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield keys, f"http://127.0.0.1:{server.server_address[1]}/jwks"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def jwt_auth(clocked, issuer):  # noqa: F811
    keys, url = issuer
    root = clocked.client(ROOT_TOKEN)
    root.sys.enable_auth_method("jwt")
    root.auth.jwt.configure(jwks_url=url, bound_issuer=ISSUER)
    root.auth.jwt.create_role(
        "ci",
        user_claim="sub",
        allowed_redirect_uris=[],
        bound_audiences=["vault"],
        bound_claims={"repo": "org/*"},
        bound_claims_type="glob",
        claim_mappings={"repo": "repository"},
        token_policies=["ci-deploy"],
        token_ttl="20m",
    )
    return clocked, root, keys


def login(server, role: str, token: str) -> dict:
    return hvac.Client(url=server.url).auth.jwt.jwt_login(role, token, use_token=False)["auth"]


def test_pyjwt_tokens_log_in(jwt_auth):
    server, root, keys = jwt_auth
    for kid in ("rsa-1", "ec-1"):
        auth = login(server, "ci", keys.mint(kid, repo="org/app"))
        assert "ci-deploy" in auth["policies"]
        assert auth["metadata"] == {"role": "ci", "repository": "org/app"}
        assert auth["lease_duration"] == 1200
        looked = hvac.Client(url=server.url, token=auth["client_token"]).auth.token.lookup_self()["data"]
        assert looked["display_name"] == "jwt-ci-job-1"
    assert root.auth.jwt.read_role("ci")["data"]["bound_claims_type"] == "glob"


def test_bad_tokens_are_refused(jwt_auth):
    server, _, keys = jwt_auth
    now = int(time.time())
    public_pem = keys.private["rsa-1"][0].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    good = keys.mint("rsa-1", repo="org/app")
    header, payload, _ = good.split(".")
    forged = {
        "wrong audience": keys.mint("rsa-1", repo="org/app", aud="someone-else"),
        "wrong issuer": keys.mint("rsa-1", repo="org/app", iss="https://evil.example"),
        "expired": keys.mint("rsa-1", repo="org/app", iat=now - 3600, exp=now - 600),
        "bound claim": keys.mint("rsa-1", repo="other/app"),
        "alg none": jwt.encode(
            {"iss": ISSUER, "aud": "vault", "sub": "x", "exp": now + 300, "repo": "org/app"},
            None,
            algorithm="none",
            headers={"kid": "rsa-1"},
        ),
        "tampered": f"{header}.{payload[:-4]}AAAA.{good.split('.')[2]}",
    }
    # HS256 keyed with the public key's PEM (algorithm confusion); PyJWT
    # refuses to do that itself, so the HMAC is made by hand.
    import base64
    import hashlib
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    hs_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
        + "."
        + b64(json.dumps({"iss": ISSUER, "aud": "vault", "sub": "x", "exp": now + 300, "repo": "org/app"}).encode())
    )
    sig = hmac.new(public_pem, hs_input.encode(), hashlib.sha256).digest()
    forged["hs256 with the public key"] = f"{hs_input}.{b64(sig)}"
    # a key the issuer never published
    keys.private["unknown"] = keys.private["rsa-1"]
    forged["unknown kid"] = keys.mint("unknown", repo="org/app")
    for why, token in forged.items():
        with pytest.raises((hvac.exceptions.InvalidRequest, hvac.exceptions.Forbidden)):
            login(server, "ci", token)
            pytest.fail(why)


def test_a_new_key_of_the_issuer_is_fetched_on_unknown_kid(jwt_auth):
    server, _, keys = jwt_auth
    login(server, "ci", keys.mint("rsa-1", repo="org/app"))  # JWKS fetched
    keys.add("rsa-2", "RS256")
    # Just fetched: an unknown kid does not refetch at once (a flood of
    # made-up kids cannot hammer the issuer) ...
    with pytest.raises(hvac.exceptions.InvalidRequest):
        login(server, "ci", keys.mint("rsa-2", repo="org/app"))
    # ... but does once the minimum interval has passed.
    advance(server, "11s")
    assert login(server, "ci", keys.mint("rsa-2", repo="org/app"))["client_token"]


def test_vault_rs_identity_tokens_log_in(clocked):  # noqa: F811
    root = clocked.client(ROOT_TOKEN)
    identity = root.secrets.identity
    identity.create_named_key("wl", algorithm="RS256", allowed_client_ids=["*"])
    identity.create_or_update_role("workload", key="wl", ttl="5m")
    audience = identity.read_role("workload")["data"]["client_id"]
    root.sys.enable_auth_method("jwt")
    root.auth.jwt.configure(
        jwks_url=f"{clocked.url}/v1/identity/oidc/.well-known/keys", bound_issuer=f"{clocked.url}/v1/identity/oidc"
    )
    root.auth.jwt.create_role("peer", user_claim="sub", allowed_redirect_uris=[], bound_audiences=[audience], token_policies=["peer"])
    token = identity.generate_signed_id_token("workload")["data"]["token"]
    auth = login(clocked, "peer", token)
    assert "peer" in auth["policies"]


def _self_signed(tmp_path):
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "jwks test issuer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_path = tmp_path / "key.pem"
    cert_path = tmp_path / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert_pem)
    return cert_pem.decode(), cert_path, key_path


def test_jwks_over_tls_trusts_jwks_ca_pem(clocked, tmp_path):  # noqa: F811
    import ssl

    keys = Keys()
    keys.add("ec-1", "ES256")
    cert_pem, cert_path, key_path = _self_signed(tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            body = json.dumps({"keys": keys.published}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/jwks"
        root = clocked.client(ROOT_TOKEN)
        root.sys.enable_auth_method("jwt")
        root.auth.jwt.create_role("ci", user_claim="sub", allowed_redirect_uris=[], bound_audiences=["vault"])
        # without the CA the issuer's certificate is not trusted
        root.auth.jwt.configure(jwks_url=url, bound_issuer=ISSUER)
        with pytest.raises(hvac.exceptions.InvalidRequest):
            login(clocked, "ci", keys.mint("ec-1"))
        root.auth.jwt.configure(jwks_url=url, jwks_ca_pem=cert_pem, bound_issuer=ISSUER)
        assert login(clocked, "ci", keys.mint("ec-1"))["client_token"]
        with pytest.raises(hvac.exceptions.InvalidRequest):
            root.auth.jwt.configure(jwks_url=url, jwks_ca_pem="not a certificate")
    finally:
        server.shutdown()
        server.server_close()
