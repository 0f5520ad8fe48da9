//! End-to-end tests of tokens, ACL policies and leases.

mod common;

use common::TestServer;
use serde_json::{json, Value};
use std::time::Duration;

fn kv_server() -> TestServer {
    let s = TestServer::dev();
    assert_eq!(
        s.post(
            "sys/mounts/kv",
            json!({"type": "kv", "options": {"version": "1"}})
        )
        .0,
        204
    );
    s
}

fn status(s: &TestServer, method: &str, path: &str, token: &str) -> u16 {
    let body = if method == "POST" {
        Some(json!({"v": "x"}))
    } else {
        None
    };
    s.request(method, path, body, Some(token)).0
}

#[test]
fn each_capability_allows_only_its_operation() {
    let s = kv_server();
    s.post("kv/app/existing", json!({"v": "1"}));
    s.policy(
        "read-only",
        r#"path "kv/app/*" { capabilities = ["read"] }"#,
    );
    s.policy(
        "list-only",
        r#"path "kv/app/*" { capabilities = ["list"] }"#,
    );
    s.policy(
        "create-only",
        r#"path "kv/app/*" { capabilities = ["create"] }"#,
    );
    s.policy(
        "update-only",
        r#"path "kv/app/*" { capabilities = ["update"] }"#,
    );
    s.policy(
        "delete-only",
        r#"path "kv/app/*" { capabilities = ["delete"] }"#,
    );
    let ro = s.token(json!({"policies": ["read-only"]}));
    assert_eq!(status(&s, "GET", "kv/app/existing", &ro), 200);
    assert_eq!(status(&s, "POST", "kv/app/existing", &ro), 403);
    assert_eq!(status(&s, "DELETE", "kv/app/existing", &ro), 403);
    assert_eq!(status(&s, "LIST", "kv/app/", &ro), 403);
    assert_eq!(status(&s, "GET", "kv/other", &ro), 403);
    let li = s.token(json!({"policies": ["list-only"]}));
    assert_eq!(status(&s, "LIST", "kv/app/", &li), 200);
    assert_eq!(status(&s, "GET", "kv/app/existing", &li), 403);
    let cr = s.token(json!({"policies": ["create-only"]}));
    assert_eq!(status(&s, "POST", "kv/app/new", &cr), 204);
    assert_eq!(
        status(&s, "POST", "kv/app/existing", &cr),
        403,
        "existing key needs update"
    );
    let up = s.token(json!({"policies": ["update-only"]}));
    assert_eq!(status(&s, "POST", "kv/app/existing", &up), 204);
    assert_eq!(
        status(&s, "POST", "kv/app/brand-new", &up),
        403,
        "new key needs create"
    );
    let de = s.token(json!({"policies": ["delete-only"]}));
    assert_eq!(status(&s, "GET", "kv/app/existing", &de), 403);
    assert_eq!(status(&s, "DELETE", "kv/app/existing", &de), 204);
    // Default policy: self lookup works, sys does not.
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &ro), 200);
    assert_eq!(status(&s, "GET", "sys/mounts", &ro), 403);
    assert_eq!(status(&s, "GET", "sys/policies/acl", &ro), 403);
}

#[test]
fn priority_rules_follow_vault() {
    let s = kv_server();
    for p in ["a/b/c", "a/b/d", "a/x/c", "a/b/secret", "a/bb"] {
        s.post(&format!("kv/{p}"), json!({"v": "1"}));
    }
    s.policy(
        "prio",
        r#"
        path "kv/a/*"        { capabilities = ["read"] }
        path "kv/a/b/*"      { capabilities = ["list"] }
        path "kv/a/b/c"      { capabilities = ["read", "update"] }
        path "kv/a/+/c"      { capabilities = ["delete"] }
        path "kv/a/b/secret" { capabilities = ["deny"] }
        "#,
    );
    let t = s.token(json!({"policies": ["prio"]}));
    // Exact beats every glob.
    assert_eq!(status(&s, "GET", "kv/a/b/c", &t), 200);
    assert_eq!(status(&s, "POST", "kv/a/b/c", &t), 204);
    assert_eq!(status(&s, "DELETE", "kv/a/b/c", &t), 403);
    // Longer prefix beats shorter: kv/a/b/* (list only) wins over kv/a/* (read).
    assert_eq!(status(&s, "GET", "kv/a/b/d", &t), 403);
    // `+` rule (first wildcard later than kv/a/*'s) wins for kv/a/x/c.
    assert_eq!(status(&s, "GET", "kv/a/x/c", &t), 403);
    assert_eq!(status(&s, "DELETE", "kv/a/x/c", &t), 204);
    // Deny on a more specific path wins.
    assert_eq!(status(&s, "GET", "kv/a/b/secret", &t), 403);
    // kv/a/bb only matches kv/a/*.
    assert_eq!(status(&s, "GET", "kv/a/bb", &t), 200);
    let (st, b) = s.request(
        "POST",
        "sys/capabilities-self",
        Some(json!({"paths": ["kv/a/b/c"]})),
        Some(&t),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["capabilities"], json!(["read", "update"]));
    let (_, b) = s.post(
        "sys/capabilities",
        json!({"token": t, "paths": ["kv/a/b/secret"]}),
    );
    assert_eq!(b["data"]["kv/a/b/secret"], json!(["deny"]));
}

#[test]
fn policy_crud_and_errors() {
    let s = TestServer::dev();
    s.policy(
        "app",
        "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n",
    );
    let (st, b) = s.get("sys/policies/acl/app");
    assert_eq!(st, 200);
    assert!(b["data"]["policy"].as_str().unwrap().contains("secret/*"));
    let (_, b) = s.list("sys/policies/acl");
    let keys = b["data"]["keys"].as_array().unwrap();
    assert!(
        keys.contains(&json!("app"))
            && keys.contains(&json!("default"))
            && keys.contains(&json!("root"))
    );
    assert_eq!(
        s.get("sys/policy").1["data"]["policies"]
            .as_array()
            .map(|a| a.contains(&json!("app"))),
        Some(true)
    );
    assert_eq!(
        s.get("sys/policy/app").1["data"]["rules"]
            .as_str()
            .map(|r| r.contains("secret")),
        Some(true)
    );
    let (st, b) = s.post(
        "sys/policies/acl/bad",
        json!({"policy": "path \"x\" {\n  capabilities = [\"read\"\n"}),
    );
    assert_eq!(st, 400);
    let msg = b["errors"][0].as_str().unwrap();
    assert!(msg.contains("line") && msg.contains("column"), "{msg}");
    let (st, b) = s.post(
        "sys/policies/acl/bad",
        json!({"policy": "path \"x\" { capabilities = [\"fly\"] }"}),
    );
    assert_eq!(st, 400, "{b}");
    assert_eq!(
        s.post(
            "sys/policies/acl/root",
            json!({"policy": "path \"x\" { capabilities = [\"read\"] }"})
        )
        .0,
        400
    );
    assert_eq!(s.delete("sys/policies/acl/default").0, 400);
    assert_eq!(s.delete("sys/policies/acl/app").0, 204);
    assert_eq!(s.get("sys/policies/acl/app").0, 404);
}

#[test]
fn policy_change_applies_to_live_tokens() {
    let s = kv_server();
    s.post("kv/x", json!({"v": "1"}));
    s.policy("p", r#"path "kv/x" { capabilities = ["read"] }"#);
    let t = s.token(json!({"policies": ["p"]}));
    assert_eq!(status(&s, "GET", "kv/x", &t), 200);
    s.policy("p", r#"path "kv/x" { capabilities = ["deny"] }"#);
    assert_eq!(status(&s, "GET", "kv/x", &t), 403);
}

#[test]
fn token_ttl_expiry_is_enforced_and_survives_restart() {
    let mut s = TestServer::unsealed(1, 1);
    let short = s.token(json!({"ttl": "2s", "policies": ["default"]}));
    let (_, b) = s.post("auth/token/lookup", json!({"token": short}));
    let accessor = b["data"]["accessor"].as_str().unwrap().to_string();
    assert!(b["data"]["ttl"].as_u64().unwrap() <= 2);
    let long = s.token(json!({"ttl": "1h"}));
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &short), 200);
    s.restart();
    s.unseal_all();
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &short), 200);
    std::thread::sleep(Duration::from_millis(3200));
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &short), 403);
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &long), 200);
    // The expiration manager revokes it for good (accessor gone).
    let (st, _) = s.post("auth/token/lookup-accessor", json!({"accessor": accessor}));
    assert_eq!(st, 400);
    let (_, b) = s.list("auth/token/accessors");
    assert!(!b["data"]["keys"]
        .as_array()
        .unwrap()
        .contains(&json!(accessor)));
}

#[test]
fn token_expiry_while_down_is_revoked_after_unseal() {
    let mut s = TestServer::unsealed(1, 1);
    let t = s.token(json!({"ttl": "1s"}));
    let (_, b) = s.post("auth/token/lookup", json!({"token": t}));
    let accessor = b["data"]["accessor"].as_str().unwrap().to_string();
    s.stop();
    std::thread::sleep(Duration::from_millis(1500));
    s.restart();
    s.unseal_all();
    std::thread::sleep(Duration::from_millis(800));
    let (_, b) = s.list("auth/token/accessors");
    assert!(
        !b["data"]["keys"]
            .as_array()
            .unwrap()
            .contains(&json!(accessor)),
        "{b}"
    );
}

#[test]
fn num_uses_limits_requests() {
    let s = TestServer::dev();
    let t = s.token(json!({"num_uses": 2}));
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &t), 200);
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &t), 200);
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &t), 403);
}

#[test]
fn revoking_a_parent_revokes_children_but_not_orphans() {
    let s = TestServer::dev();
    s.policy(
        "p",
        r#"path "auth/token/create*" { capabilities = ["update", "sudo"] }"#,
    );
    let parent = s.token(json!({"policies": ["p"]}));
    let mk = |body: Value| {
        let (st, b) = s.request("POST", "auth/token/create", Some(body), Some(&parent));
        assert_eq!(st, 200, "{b}");
        b["auth"]["client_token"].as_str().unwrap().to_string()
    };
    let child = mk(json!({}));
    let grandchild = {
        let (st, b) = s.request("POST", "auth/token/create", Some(json!({})), Some(&child));
        assert_eq!(st, 200, "{b}");
        b["auth"]["client_token"].as_str().unwrap().to_string()
    };
    let orphan = mk(json!({"no_parent": true}));
    assert_eq!(s.post("auth/token/revoke", json!({"token": parent})).0, 204);
    for t in [&parent, &child, &grandchild] {
        assert_eq!(status(&s, "GET", "auth/token/lookup-self", t), 403);
    }
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &orphan), 200);
}

#[test]
fn revoke_orphan_keeps_children() {
    let s = TestServer::dev();
    let parent = s.token(json!({}));
    let (_, b) = s.request("POST", "auth/token/create", Some(json!({})), Some(&parent));
    let child = b["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(
        s.post("auth/token/revoke-orphan", json!({"token": parent}))
            .0,
        204
    );
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &parent), 403);
    let (st, b) = s.request("GET", "auth/token/lookup-self", None, Some(&child));
    assert_eq!(st, 200);
    assert_eq!(b["data"]["orphan"], true);
}

#[test]
fn child_cannot_gain_policies_and_lookup_accessor_hides_id() {
    let s = TestServer::dev();
    s.policy(
        "a",
        r#"path "auth/token/create" { capabilities = ["update"] }"#,
    );
    s.policy("b", r#"path "kv/*" { capabilities = ["read"] }"#);
    let t = s.token(json!({"policies": ["a"]}));
    let (st, b) = s.request(
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["b"]})),
        Some(&t),
    );
    assert_eq!(st, 400, "{b}");
    let (st, b) = s.request(
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["a"]})),
        Some(&t),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["auth"]["policies"], json!(["a", "default"]));
    let (_, b) = s.post("auth/token/lookup", json!({"token": t}));
    assert_eq!(b["data"]["id"], json!(t));
    let acc = b["data"]["accessor"].as_str().unwrap();
    let (st, b) = s.post("auth/token/lookup-accessor", json!({"accessor": acc}));
    assert_eq!(st, 200);
    // Vault's shape: the field is there, empty (the token is never stored).
    assert_eq!(b["data"]["id"], "", "{b}");
    assert_eq!(b["data"]["policies"], json!(["a", "default"]));
}

#[test]
fn renew_and_lease_endpoints() {
    let s = TestServer::dev();
    let (_, b) = s.post(
        "auth/token/create",
        json!({"ttl": "60s", "explicit_max_ttl": "120s"}),
    );
    let t = b["auth"]["client_token"].as_str().unwrap().to_string();
    let acc = b["auth"]["accessor"].as_str().unwrap().to_string();
    assert_eq!(b["auth"]["lease_duration"], 60);
    let (st, b) = s.request(
        "POST",
        "auth/token/renew-self",
        Some(json!({"increment": "100s"})),
        Some(&t),
    );
    assert_eq!(st, 200, "{b}");
    assert!(b["auth"]["lease_duration"].as_u64().unwrap() <= 120);
    assert_eq!(
        s.post("auth/token/renew-accessor", json!({"accessor": acc}))
            .0,
        200
    );
    let (st, b) = s.list("sys/leases/lookup/auth/token/create/");
    assert_eq!(st, 200, "{b}");
    let key = b["data"]["keys"][0].as_str().unwrap().to_string();
    let lease = format!("auth/token/create/{key}");
    let (st, b) = s.request(
        "PUT",
        "sys/leases/lookup",
        Some(json!({"lease_id": lease})),
        Some("root"),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["id"], json!(lease));
    // The path that made the lease, as Vault reports it.
    assert_eq!(b["data"]["path"], "auth/token/create");
    assert_eq!(b["data"]["renewable"], true);
    // As Vault: a token's lease is renewed through auth/token/renew*.
    let (st, b) = s.request(
        "PUT",
        "sys/leases/renew",
        Some(json!({"lease_id": lease, "increment": 30})),
        Some("root"),
    );
    assert_eq!(st, 400, "{b}");
    assert!(
        b["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("tokens cannot be renewed through this endpoint"),
        "{b}"
    );
    assert_eq!(
        s.request(
            "PUT",
            "sys/leases/revoke",
            Some(json!({"lease_id": lease})),
            Some("root")
        )
        .0,
        204
    );
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &t), 403);
    assert_eq!(
        s.request(
            "PUT",
            "sys/leases/lookup",
            Some(json!({"lease_id": "nope/x"})),
            Some("root")
        )
        .0,
        400
    );
    // revoke-prefix needs sudo: a plain token with update is refused.
    s.policy(
        "lease",
        r#"path "sys/leases/*" { capabilities = ["update"] }"#,
    );
    let u = s.token(json!({"policies": ["lease"]}));
    assert_eq!(
        s.request("PUT", "sys/leases/revoke-prefix/auth/token", None, Some(&u))
            .0,
        403
    );
}

#[test]
fn token_roles_and_revoke_self() {
    let s = TestServer::dev();
    s.policy("svc", r#"path "kv/*" { capabilities = ["read"] }"#);
    assert_eq!(
        s.post(
            "auth/token/roles/svc",
            json!({"allowed_policies": ["svc"], "orphan": true, "token_period": "1h"})
        )
        .0,
        204
    );
    let (st, b) = s.get("auth/token/roles/svc");
    assert_eq!((st, b["data"]["orphan"].clone()), (200, json!(true)));
    assert_eq!(s.list("auth/token/roles").1["data"]["keys"], json!(["svc"]));
    let (st, b) = s.post("auth/token/create/svc", json!({}));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["auth"]["orphan"], true);
    assert_eq!(b["auth"]["lease_duration"], 3600);
    let t = b["auth"]["client_token"].as_str().unwrap().to_string();
    assert_eq!(
        s.post("auth/token/create/svc", json!({"policies": ["root"]}))
            .0,
        400
    );
    assert_eq!(
        s.request("POST", "auth/token/revoke-self", None, Some(&t))
            .0,
        204
    );
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &t), 403);
    assert_eq!(s.delete("auth/token/roles/svc").0, 204);
    assert_eq!(s.post("auth/token/create/svc", json!({})).0, 400);
}

#[test]
fn example_policies_are_valid_and_scoped() {
    let s = TestServer::dev();
    for (name, text) in [
        ("operator", include_str!("../policies/operator.hcl")),
        ("billing", include_str!("../policies/service-at-boot.hcl")),
        ("rotation-bot", include_str!("../policies/rotation-bot.hcl")),
        ("auditor", include_str!("../policies/auditor.hcl")),
    ] {
        s.policy(name, text);
    }
    let caps = |policy: &str, path: &str| {
        let t = s.token(json!({"policies": [policy]}));
        let (_, b) = s.post("sys/capabilities", json!({"token": t, "paths": [path]}));
        b["data"]["capabilities"].clone()
    };
    assert_eq!(caps("billing", "secret/data/billing/db"), json!(["read"]));
    assert_eq!(caps("billing", "secret/data/payroll/db"), json!(["deny"]));
    assert_eq!(
        caps("rotation-bot", "apikeys/keys/web/rotate"),
        json!(["update"])
    );
    assert_eq!(caps("rotation-bot", "apikeys/creds/web"), json!(["deny"]));
    assert_eq!(caps("operator", "secret/data/billing/db"), json!(["deny"]));
    assert_eq!(caps("auditor", "sys/mounts/x"), json!(["deny"]));
}

#[test]
fn limited_use_tokens_cannot_be_overspent_or_resurrected() {
    let s = TestServer::dev();
    // revoke-self with uses left: the token stays revoked.
    let t = s.token(json!({"num_uses": 5}));
    assert_eq!(
        s.request("POST", "auth/token/revoke-self", None, Some(&t))
            .0,
        204
    );
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &t), 403);
    // Concurrent requests with one use: exactly one is served.
    let t = s.token(json!({"num_uses": 1}));
    let served = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                if status(&s, "GET", "auth/token/lookup-self", &t) == 200 {
                    served.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(served.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(status(&s, "GET", "auth/token/lookup-self", &t), 403);
}

#[test]
fn only_root_can_mint_root_or_wrapping_tokens() {
    let s = TestServer::dev();
    s.policy(
        "minter",
        r#"path "auth/token/create" { capabilities = ["update", "sudo"] }"#,
    );
    let m = s.token(json!({"policies": ["minter"]}));
    let (st, b) = s.request(
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["root"]})),
        Some(&m),
    );
    assert_eq!(st, 400, "{b}");
    let (st, _) = s.request(
        "POST",
        "auth/token/create",
        Some(json!({"policies": ["response-wrapping"]})),
        Some("root"),
    );
    assert_eq!(st, 400);
    // Auth methods cannot issue root tokens either.
    s.post("sys/auth/userpass", json!({"type": "userpass"}));
    s.post(
        "auth/userpass/users/eve",
        json!({"password": "pw", "token_policies": ["root"]}),
    );
    let (st, b) = s.request(
        "POST",
        "auth/userpass/login/eve",
        Some(json!({"password": "pw"})),
        None,
    );
    assert_eq!(st, 400, "{b}");
}

#[test]
fn token_leases_are_not_renewed_through_sys_leases() {
    let s = TestServer::dev();
    let own = s.token(json!({"ttl": "1h", "policies": ["default"]}));
    let (_, b) = s.list("sys/leases/lookup/auth/token/create/");
    let keys: Vec<String> = b["data"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert!(!keys.is_empty());
    // Neither its holder (for its own lease) nor root renews a token here:
    // the token's own rules are applied by auth/token/renew*.
    for k in &keys {
        let lease = format!("auth/token/create/{k}");
        for token in [own.as_str(), "root"] {
            for path in ["sys/leases/renew", "sys/renew"] {
                let (st, b) = s.request("PUT", path, Some(json!({"lease_id": lease})), Some(token));
                assert_eq!(st, 400, "{path}: {b}");
            }
        }
    }
    let (st, _) = s.request(
        "PUT",
        "sys/leases/renew",
        Some(json!({"lease_id": "nope/1"})),
        Some("root"),
    );
    assert_eq!(st, 400);
    let (st, b) = s.request("POST", "auth/token/renew-self", Some(json!({})), Some(&own));
    assert_eq!(st, 200, "{b}");
}

/// Vault's rule for a child's lifetime: a non-orphan child is bounded by
/// its parent's max expiry (it is revoked with the parent), an orphan only
/// by the system max TTL and its own explicit max TTL.
#[test]
fn child_lifetime_is_bounded_by_the_parent_unless_orphan() {
    let s = TestServer::dev();
    s.policy(
        "p",
        r#"path "auth/token/*" { capabilities = ["create", "update", "read", "sudo"] }"#,
    );
    let parent = s.token(json!({"policies": ["p"], "explicit_max_ttl": "1h", "ttl": "1h"}));
    let mk = |body: Value| {
        let (st, b) = s.request("POST", "auth/token/create", Some(body), Some(&parent));
        assert_eq!(st, 200, "{b}");
        (
            b["auth"]["client_token"].as_str().unwrap().to_string(),
            b["auth"]["lease_duration"].as_u64().unwrap(),
        )
    };
    let renew = |t: &str| {
        let (st, b) = s.request(
            "POST",
            "auth/token/renew-self",
            Some(json!({"increment": "504h"})),
            Some(t),
        );
        assert_eq!(st, 200, "{b}");
        b["auth"]["lease_duration"].as_u64().unwrap()
    };
    // A child asking for more than its parent has: capped at creation and
    // at every renewal by the parent's max expiry.
    let (child, ttl) = mk(json!({"explicit_max_ttl": "1000h", "ttl": "1000h"}));
    assert!(ttl <= 3600, "child ttl {ttl}");
    assert!(renew(&child) <= 3600, "a child renewed past its parent");
    let (st, b) = s.request("GET", "auth/token/lookup-self", None, Some(&child));
    assert_eq!(st, 200);
    assert!(b["data"]["ttl"].as_u64().unwrap() <= 3600, "{b}");
    // An orphan is independent of the parent: its own explicit max TTL
    // (1000h) and the system max TTL (768h) bound it, as in Vault.
    let (orphan, _) = mk(json!({"explicit_max_ttl": "1000h", "ttl": "2h", "no_parent": true}));
    let renewed = renew(&orphan);
    assert!(renewed > 3600, "orphan renewed only to {renewed}s");
    assert!(renewed <= 504 * 3600, "orphan renewed to {renewed}s");
    // An orphan with a small explicit max TTL keeps it.
    let (short, _) = mk(json!({"explicit_max_ttl": "90m", "no_parent": true}));
    assert!(renew(&short) <= 90 * 60);
}
