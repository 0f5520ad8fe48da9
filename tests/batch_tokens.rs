//! Batch tokens end to end (`type=batch`): never stored, `hvb.` prefix,
//! an authenticated encrypted blob under a key the barrier holds; not
//! renewable, no accessor, revoked only by expiry or with their parent;
//! valid across a restart; a tampered token is refused.

mod common;

use common::TestServer;
use serde_json::{json, Value};

fn create(s: &TestServer, token: &str, body: Value) -> (u16, Value) {
    s.request("POST", "auth/token/create", Some(body), Some(token))
}

fn works(s: &TestServer, token: &str) -> u16 {
    s.request("GET", "auth/token/lookup-self", None, Some(token))
        .0
}

#[test]
fn a_batch_token_is_a_sealed_blob_with_vaults_semantics() {
    let mut s = TestServer::unsealed(1, 1);
    s.policy(
        "reader",
        "path \"kv/*\" { capabilities = [\"read\"] }\n\
         path \"auth/token/create\" { capabilities = [\"update\"] }",
    );
    assert_eq!(s.post("sys/mounts/kv", json!({"type": "kv"})).0, 204);
    assert_eq!(s.post("kv/a", json!({"v": 1})).0, 204);
    let root = s.root_token.clone();
    let (st, b) = create(
        &s,
        &root,
        json!({"type": "batch", "policies": ["reader"], "ttl": "10m"}),
    );
    assert_eq!(st, 200, "{b}");
    let auth = &b["auth"];
    let token = auth["client_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("hvb."), "{token}");
    assert_eq!(auth["token_type"], "batch");
    assert_eq!(auth["accessor"], "");
    assert_eq!(auth["renewable"], false);
    assert_eq!(auth["lease_duration"], 600);
    // It works, with its policies, and looks itself up as a batch token.
    assert_eq!(
        s.request("GET", "kv/a", None, Some(&token)).1["data"]["v"],
        1
    );
    let (st, b) = s.request("GET", "auth/token/lookup-self", None, Some(&token));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["type"], "batch");
    assert_eq!(b["data"]["policies"], json!(["default", "reader"]));
    let (st, b) = s.post("auth/token/lookup", json!({"token": token}));
    assert_eq!((st, &b["data"]["type"]), (200, &json!("batch")), "{b}");
    // Not stored: no accessor to list, no lease.
    let (_, accessors) = s.list("auth/token/accessors");
    assert_eq!(accessors["data"]["keys"].as_array().map(Vec::len), Some(1));
    // Not renewable, not revocable on its own, no children, no cubbyhole.
    for (path, body) in [
        ("auth/token/renew-self", json!({})),
        ("auth/token/revoke-self", json!({})),
    ] {
        let (st, b) = s.request("POST", path, Some(body), Some(&token));
        assert_eq!(st, 400, "{path}: {b}");
        assert!(b["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("batch tokens cannot"));
    }
    for path in ["auth/token/renew", "auth/token/revoke"] {
        let (st, b) = s.post(path, json!({"token": token}));
        assert_eq!(st, 400, "{path}: {b}");
    }
    assert_eq!(works(&s, &token), 200);
    let (st, b) = create(&s, &token, json!({}));
    assert_eq!(st, 400, "{b}");
    let (st, _) = s.request("POST", "cubbyhole/x", Some(json!({"a": 1})), Some(&token));
    assert_ne!(st, 204);
    // Valid across a restart: the key is in the barrier.
    s.restart();
    s.unseal_all();
    assert_eq!(works(&s, &token), 200);
    // A token altered anywhere is refused, never a 500.
    let mut bytes = token.clone().into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    assert_eq!(works(&s, &tampered), 403);
    for junk in ["hvb.", "hvb.!!!", "hvb.AAAA"] {
        assert_eq!(works(&s, junk), 403, "{junk}");
    }
}

#[test]
fn a_batch_token_ends_with_its_parent_or_its_ttl() {
    let s = TestServer::dev();
    s.policy(
        "creator",
        "path \"auth/token/create\" { capabilities = [\"update\"] }",
    );
    let parent = s.token(json!({"policies": ["creator"], "ttl": "1h"}));
    let (st, b) = create(
        &s,
        "root",
        json!({"type": "batch", "policies": ["default"], "ttl": "1h"}),
    );
    assert_eq!(st, 200, "{b}");
    let orphan_of_root = b["auth"]["client_token"].as_str().unwrap().to_string();
    // A child of `parent` (created by it).
    let (st, b) = create(&s, &parent, json!({"type": "batch"}));
    assert_eq!(st, 200, "{b}");
    let child = b["auth"]["client_token"].as_str().unwrap().to_string();
    // Its TTL stops at the parent's.
    assert!(b["auth"]["lease_duration"].as_u64().unwrap() <= 3600, "{b}");
    let (st, b) = create(
        &s,
        "root",
        json!({"type": "batch", "policies": ["default"], "no_parent": true}),
    );
    assert_eq!(st, 200, "{b}");
    let orphan = b["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(works(&s, &child), 200);
    assert_eq!(s.post("auth/token/revoke", json!({"token": parent})).0, 204);
    assert_eq!(works(&s, &child), 403, "revoked with its parent");
    assert_eq!(works(&s, &orphan), 200);
    assert_eq!(works(&s, &orphan_of_root), 200);
    // Refused combinations, as Vault.
    for body in [
        json!({"type": "batch", "policies": ["root"]}),
        json!({"type": "batch", "period": "1h"}),
        json!({"type": "batch", "num_uses": 3}),
        json!({"type": "sideways"}),
    ] {
        let (st, b) = create(&s, "root", body.clone());
        assert_eq!(st, 400, "{body}: {b}");
    }
}

#[test]
fn a_batch_token_expires() {
    let s = TestServer::dev();
    let (st, b) = create(
        &s,
        "root",
        json!({"type": "batch", "policies": ["default"], "ttl": "1s"}),
    );
    assert_eq!(st, 200, "{b}");
    let token = b["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(works(&s, &token), 200);
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(works(&s, &token), 403);
}

#[test]
fn token_roles_make_batch_tokens() {
    let s = TestServer::dev();
    let (st, b) = s.post(
        "auth/token/roles/batchy",
        json!({"token_type": "batch", "allowed_policies": ["default"]}),
    );
    assert_eq!(st, 204, "{b}");
    assert_eq!(
        s.get("auth/token/roles/batchy").1["data"]["token_type"],
        "batch"
    );
    let (st, b) = s.post("auth/token/create/batchy", json!({"policies": ["default"]}));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["auth"]["token_type"], "batch");
    // A fixed role type is not overridden by the request.
    let (st, _) = s.post("auth/token/create/batchy", json!({"type": "service"}));
    assert_eq!(st, 400);
    // default-batch: batch unless the request asks for a service token.
    let (st, _) = s.post(
        "auth/token/roles/either",
        json!({"token_type": "default-batch"}),
    );
    assert_eq!(st, 204);
    let (_, b) = s.post("auth/token/create/either", json!({"policies": ["default"]}));
    assert_eq!(b["auth"]["token_type"], "batch");
    let (_, b) = s.post("auth/token/create/either", json!({"type": "service"}));
    assert_eq!(b["auth"]["token_type"], "service");
    let (st, _) = s.post("auth/token/roles/bad", json!({"token_type": "odd"}));
    assert_eq!(st, 400);
}
