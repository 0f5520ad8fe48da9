//! Identity tokens (here with EdDSA keys): signed JWTs for authenticated callers, checked
//! here the way a service would — against the JWKS fetched without a token.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::TestServer;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{json, Value};

fn b64(seg: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(seg).expect("base64url segment")
}

/// The unauthenticated JWKS.
fn jwks(s: &TestServer) -> Vec<Value> {
    let (st, body) = s.get_raw("identity/oidc/.well-known/keys", None);
    assert_eq!(st, 200, "{body}");
    body["keys"].as_array().expect("keys").clone()
}

fn kids(keys: &[Value]) -> Vec<String> {
    keys.iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// Verifies `token` against `keys` as a relying party would; returns the
/// header and the claims.
fn verify(token: &str, keys: &[Value]) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let header: Value = serde_json::from_slice(&b64(parts[0])).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "JWT");
    let kid = header["kid"].as_str().expect("kid");
    let jwk = keys
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap_or_else(|| panic!("kid {kid} not in the JWKS"));
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    assert_eq!(jwk["alg"], "EdDSA");
    assert_eq!(jwk["use"], "sig");
    let x: [u8; 32] = b64(jwk["x"].as_str().unwrap()).try_into().unwrap();
    let vk = VerifyingKey::from_bytes(&x).unwrap();
    let sig: [u8; 64] = b64(parts[2]).try_into().unwrap();
    vk.verify_strict(
        format!("{}.{}", parts[0], parts[1]).as_bytes(),
        &Signature::from_bytes(&sig),
    )
    .expect("signature verifies against the JWKS");
    let claims: Value = serde_json::from_slice(&b64(parts[1])).unwrap();
    (header, claims)
}

fn introspect(s: &TestServer, token: &str, client_id: Option<&str>) -> Value {
    let mut body = json!({ "token": token });
    if let Some(c) = client_id {
        body["client_id"] = json!(c);
    }
    let (st, b) = s.post("identity/oidc/introspect", body);
    assert_eq!(st, 200, "{b}");
    b["active"].clone()
}

fn setup(s: &TestServer) {
    assert_eq!(
        s.post("identity/oidc/key/svc-key", json!({"algorithm": "EdDSA"}))
            .0,
        204
    );
    let (st, b) = s.post(
        "identity/oidc/role/svc",
        json!({"key": "svc-key", "ttl": "1h",
               "template": {"groups": "{{identity.token.policies}}",
                            "team": "{{identity.token.metadata.team}}"}}),
    );
    assert_eq!(st, 204, "{b}");
    s.policy(
        "svc-identity",
        r#"path "identity/oidc/token/svc" { capabilities = ["read"] }"#,
    );
}

#[test]
fn service_gets_a_token_that_verifies_against_the_public_jwks() {
    let s = TestServer::dev();
    setup(&s);

    let (st, key) = s.get("identity/oidc/key/svc-key");
    assert_eq!(st, 200, "{key}");
    assert_eq!(
        key["data"],
        json!({"algorithm": "EdDSA", "rotation_period": 86400,
               "verification_ttl": 86400, "allowed_client_ids": ["*"]})
    );
    let (_, role) = s.get("identity/oidc/role/svc");
    let client_id = role["data"]["client_id"].as_str().unwrap().to_string();
    assert!(client_id.len() >= 20, "{role}");
    assert_eq!(role["data"]["key"], "svc-key");
    assert_eq!(role["data"]["ttl"], 3600);
    assert_eq!(
        s.list("identity/oidc/key").1["data"]["keys"],
        json!(["svc-key"])
    );
    assert_eq!(
        s.list("identity/oidc/role").1["data"]["keys"],
        json!(["svc"])
    );

    let t = s.token(json!({"policies": ["svc-identity"], "meta": {"team": "blue"}}));
    let (st, look) = s.request("GET", "auth/token/lookup-self", None, Some(&t));
    assert_eq!(st, 200);
    let accessor = look["data"]["accessor"].as_str().unwrap().to_string();

    let (st, body) = s.request("GET", "identity/oidc/token/svc", None, Some(&t));
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["client_id"], client_id.as_str());
    assert_eq!(body["data"]["ttl"], 3600);
    let jwt = body["data"]["token"].as_str().unwrap().to_string();

    let keys = jwks(&s);
    assert_eq!(keys.len(), 1);
    let (_, claims) = verify(&jwt, &keys);
    let (_, conf) = s.get_raw("identity/oidc/.well-known/openid-configuration", None);
    let iss = format!("{}/v1/identity/oidc", s.addr);
    assert_eq!(claims["iss"], iss.as_str());
    assert_eq!(conf["issuer"], iss.as_str());
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["sub"], accessor.as_str());
    assert_eq!(claims["namespace"], "root");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (iat, exp) = (
        claims["iat"].as_i64().unwrap(),
        claims["exp"].as_i64().unwrap(),
    );
    assert!((iat - now).abs() < 30, "{claims}");
    assert_eq!(exp - iat, 3600);
    assert_eq!(claims["policies"], json!(["default", "svc-identity"]));
    // Metadata chosen by the token's creator is never a claim (only what an
    // auth method set at login is).
    assert_eq!(claims["metadata"], json!({}));
    assert_eq!(claims["groups"], json!(["default", "svc-identity"]));
    assert!(claims.get("team").is_none(), "{claims}");

    // introspection: valid, wrong audience, tampered
    assert_eq!(introspect(&s, &jwt, None), json!(true));
    assert_eq!(introspect(&s, &jwt, Some(&client_id)), json!(true));
    assert_eq!(introspect(&s, &jwt, Some("someone-else")), json!(false));
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut forged: Value = serde_json::from_slice(&b64(parts[1])).unwrap();
    forged["policies"] = json!(["root"]);
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged.to_string()),
        parts[2]
    );
    assert_eq!(introspect(&s, &tampered, None), json!(false));
    assert_eq!(introspect(&s, "not-a-jwt", None), json!(false));
    // introspection needs a token
    let (st, _) = s.request(
        "POST",
        "identity/oidc/introspect",
        Some(json!({"token": jwt})),
        None,
    );
    assert_eq!(st, 403);
}

#[test]
fn token_issue_needs_the_acl_and_private_paths_need_a_token() {
    let s = TestServer::dev();
    setup(&s);
    let other = s.token(json!({"policies": ["default"]}));
    let (st, _) = s.request("GET", "identity/oidc/token/svc", None, Some(&other));
    assert_eq!(st, 403);
    let (st, _) = s.request("GET", "identity/oidc/token/svc", None, None);
    assert_eq!(st, 403);
    // only the well-known documents are open
    for p in ["identity/oidc/key/svc-key", "identity/oidc/role/svc"] {
        assert_eq!(s.get_raw(p, None).0, 403, "{p}");
    }
    assert_eq!(s.request("LIST", "identity/oidc/key", None, None).0, 403);
    // an unknown role is a 400 for a caller allowed to ask
    assert_eq!(s.get("identity/oidc/token/nope").0, 400);
    // the key never shows private material
    let (_, key) = s.get("identity/oidc/key/svc-key");
    let text = key.to_string();
    assert!(!text.contains("seed") && !text.contains("\"d\""), "{text}");
}

#[test]
fn rotation_keeps_old_keys_verifiable() {
    let s = TestServer::dev();
    setup(&s);
    let (_, b) = s.get("identity/oidc/token/svc");
    let old_jwt = b["data"]["token"].as_str().unwrap().to_string();
    let old_kid = kids(&jwks(&s))[0].clone();

    assert_eq!(s.post("identity/oidc/key/svc-key/rotate", json!({})).0, 204);
    let keys = jwks(&s);
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(kids(&keys).contains(&old_kid));
    let (_, b) = s.get("identity/oidc/token/svc");
    let new_jwt = b["data"]["token"].as_str().unwrap().to_string();
    let (header, _) = verify(&new_jwt, &keys);
    assert_ne!(header["kid"], old_kid.as_str());
    verify(&old_jwt, &keys);
    assert_eq!(introspect(&s, &old_jwt, None), json!(true));
    assert_eq!(introspect(&s, &new_jwt, None), json!(true));

    // a rotation with verification_ttl 0 drops the previous key at once
    assert_eq!(
        s.post(
            "identity/oidc/key/svc-key/rotate",
            json!({"verification_ttl": 0})
        )
        .0,
        204
    );
    let keys = jwks(&s);
    // the very old key (24h window) stays, the just-rotated one is gone
    assert!(kids(&keys).contains(&old_kid));
    assert_eq!(keys.len(), 2);
    assert_eq!(introspect(&s, &new_jwt, None), json!(false));
}

#[test]
fn keys_rotate_on_schedule() {
    let s = TestServer::dev_manual_clock();
    let (st, b) = s.post(
        "identity/oidc/key/fast",
        json!({"algorithm": "EdDSA", "rotation_period": "2s", "verification_ttl": "1h"}),
    );
    assert_eq!(st, 204, "{b}");
    assert_eq!(
        s.post("identity/oidc/role/r", json!({"key": "fast", "ttl": "10m"}))
            .0,
        204
    );
    let (_, b) = s.get("identity/oidc/token/r");
    let first = b["data"]["token"].as_str().unwrap().to_string();
    let (h1, _) = verify(&first, &jwks(&s));
    s.advance("3s");
    let (_, b) = s.get("identity/oidc/token/r");
    let second = b["data"]["token"].as_str().unwrap().to_string();
    let keys = jwks(&s);
    let (h2, _) = verify(&second, &keys);
    assert_ne!(h1["kid"], h2["kid"], "the key rotated on schedule");
    verify(&first, &keys);
    assert_eq!(introspect(&s, &first, None), json!(true));
}

#[test]
fn validation_errors() {
    let s = TestServer::dev();
    for alg in ["HS256", "none", "rs256", "ES512"] {
        let (st, b) = s.post("identity/oidc/key/k", json!({ "algorithm": alg }));
        assert_eq!(st, 400, "{alg}: {b}");
        assert!(b["errors"][0].as_str().unwrap().contains("RS256"), "{b}");
    }
    assert_eq!(s.get("identity/oidc/key/k").0, 404);
    // a role needs an existing key
    assert_eq!(s.post("identity/oidc/role/r", json!({"key": "k"})).0, 400);
    assert_eq!(s.post("identity/oidc/key/k", json!({})).0, 204);
    // templates cannot set reserved claims
    assert_eq!(
        s.post(
            "identity/oidc/role/r",
            json!({"key": "k", "template": "{\"aud\": \"x\"}"})
        )
        .0,
        400
    );
    // a role's ttl cannot outlive its key's verification window
    assert_eq!(
        s.post("identity/oidc/role/r", json!({"key": "k", "ttl": "48h"}))
            .0,
        400
    );
    let (st, b) = s.post(
        "identity/oidc/role/r",
        json!({"key": "k", "client_id": "my-app"}),
    );
    assert_eq!(st, 204, "{b}");
    assert_eq!(
        s.get("identity/oidc/role/r").1["data"]["client_id"],
        "my-app"
    );
    // a key in use cannot be deleted
    let (st, b) = s.delete("identity/oidc/key/k");
    assert_eq!(st, 400, "{b}");
    assert!(b["errors"][0].as_str().unwrap().contains("roles: r"), "{b}");
    // a key that does not allow the role's client_id cannot sign for it
    assert_eq!(
        s.post(
            "identity/oidc/key/k",
            json!({"allowed_client_ids": ["other"]})
        )
        .0,
        204
    );
    assert_eq!(s.get("identity/oidc/token/r").0, 400);
    assert_eq!(s.delete("identity/oidc/role/r").0, 204);
    assert_eq!(s.delete("identity/oidc/key/k").0, 204);
    assert_eq!(s.get("identity/oidc/key/k").0, 404);
    assert_eq!(jwks(&s).len(), 0);
    // the identity mount is built in and cannot be removed
    let (_, mounts) = s.get("sys/mounts");
    assert_eq!(mounts["data"]["identity/"]["type"], "identity", "{mounts}");
    assert_eq!(s.delete("sys/mounts/identity").0, 400);
}

#[test]
fn cli_gets_a_token_and_verifies_it_against_the_jwks() {
    let s = TestServer::dev();
    assert_eq!(
        s.post("identity/oidc/key/k", json!({"algorithm": "ES384"}))
            .0,
        204
    );
    assert_eq!(s.post("identity/oidc/role/r", json!({"key": "k"})).0, 204);
    let (_, b) = s.get("identity/oidc/role/r");
    let client_id = b["data"]["client_id"].as_str().unwrap().to_string();
    let cli = |args: &[&str]| {
        std::process::Command::new(common::bin())
            .args(args)
            .env("VAULT_ADDR", &s.addr)
            .env("VAULT_TOKEN", &s.root_token)
            .output()
            .expect("run the CLI")
    };
    let out = cli(&["identity", "token", "r"]);
    assert!(out.status.success(), "{out:?}");
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(token.split('.').count(), 3);
    let out = cli(&[
        "identity",
        "verify",
        &token,
        "--audience",
        &client_id,
        "-format=json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let claims: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(claims["data"]["aud"], client_id.as_str());
    // another audience, a tampered token: refused
    let out = cli(&["identity", "verify", &token, "--audience", "other"]);
    assert!(!out.status.success());
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(br#"{"aud":"x","exp":99999999999}"#);
    let out = cli(&["identity", "verify", &parts.join(".")]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid"));
}

#[test]
fn cli_logs_in_with_jwt_from_a_file_using_this_vaults_own_jwks() {
    let s = TestServer::dev();
    assert_eq!(s.post("identity/oidc/key/k", json!({})).0, 204);
    assert_eq!(
        s.post("identity/oidc/role/r", json!({"key": "k", "ttl": "5m"}))
            .0,
        204
    );
    let (_, b) = s.get("identity/oidc/role/r");
    let audience = b["data"]["client_id"].as_str().unwrap().to_string();
    assert_eq!(s.post("sys/auth/jwt", json!({"type": "jwt"})).0, 204);
    let (_, conf) = s.get("identity/oidc/.well-known/openid-configuration");
    let (st, b) = s.post(
        "auth/jwt/config",
        json!({"jwks_url": conf["jwks_uri"], "bound_issuer": conf["issuer"]}),
    );
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.post(
        "auth/jwt/role/peer",
        json!({"bound_audiences": [audience], "user_claim": "sub",
               "token_policies": ["peer"], "claim_mappings": {"namespace": "ns"}}),
    );
    assert_eq!(st, 204, "{b}");
    let (_, b) = s.get("identity/oidc/token/r");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token.jwt");
    std::fs::write(&file, format!("{}\n", b["data"]["token"].as_str().unwrap())).unwrap();
    let login = |jwt_arg: String| {
        std::process::Command::new(common::bin())
            .args([
                "login",
                "-method=jwt",
                "-format=json",
                "-no-store",
                "role=peer",
                &jwt_arg,
            ])
            .env("VAULT_ADDR", &s.addr)
            .env("HOME", dir.path())
            .env_remove("VAULT_TOKEN")
            .output()
            .expect("run the CLI")
    };
    let out = login(format!("jwt=@{}", file.display()));
    assert!(out.status.success(), "{out:?}");
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    let policies = body["auth"]["policies"].as_array().unwrap();
    assert!(policies.iter().any(|p| p == "peer"), "{body}");
    assert_eq!(body["auth"]["metadata"]["ns"], "root");
    assert_eq!(body["auth"]["metadata"]["role"], "peer");
    // The same token for a role bound to another audience: refused.
    let (st, _) = s.post(
        "auth/jwt/role/other",
        json!({"bound_audiences": ["someone-else"], "token_policies": ["peer"]}),
    );
    assert_eq!(st, 204);
    let (st, b) = s.post(
        "auth/jwt/login",
        json!({"role": "other", "jwt": std::fs::read_to_string(&file).unwrap()}),
    );
    assert_eq!(st, 400, "{b}");
}
