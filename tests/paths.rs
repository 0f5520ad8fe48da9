//! One canonical path for the ACL and the handler: every spelling of a
//! denied path (case, whitespace, slashes, encodings, dot segments, legacy
//! aliases) is either refused or denied, never served.

mod common;

use std::io::{Read, Write};

use common::TestServer;
use serde_json::{json, Value};

const ALL: &str = r#"["create", "read", "update", "delete", "list", "patch", "sudo"]"#;

/// A token whose only policy `name` has `text`.
fn limited(s: &TestServer, name: &str, text: &str) -> String {
    s.policy(name, text);
    s.token(json!({"policies": [name], "no_default_policy": true}))
}

/// A request with the exact request target `target` (no client-side URL
/// normalisation: dot segments, `%2e`, `//` reach the server as written).
fn raw(s: &TestServer, method: &str, target: &str, token: &str, body: &str) -> (u16, String) {
    let host = s.addr.trim_start_matches("http://");
    let mut conn = std::net::TcpStream::connect(host).expect("connect");
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {host}\r\nX-Vault-Token: {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    conn.read_to_string(&mut out).expect("read");
    let status = out
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, out)
}

#[test]
fn policy_names_are_folded_before_the_acl_check() {
    let s = TestServer::dev();
    s.policy("admin2", r#"path "secret/*" { capabilities = ["read"] }"#);
    s.policy(
        "protected",
        r#"path "secret/*" { capabilities = ["read"] }"#,
    );
    let t = limited(
        &s,
        "delegate",
        &format!(
            r#"path "sys/policies/acl/*" {{ capabilities = {ALL} }}
               path "sys/policy/*" {{ capabilities = {ALL} }}
               path "sys/policies/acl/delegate" {{ capabilities = ["deny"] }}
               path "sys/policies/acl/admin2" {{ capabilities = ["deny"] }}
               path "sys/policies/acl/protected" {{ capabilities = ["deny"] }}"#
        ),
    );
    let escalate = json!({"policy": format!(r#"path "*" {{ capabilities = {ALL} }}"#)});
    // Case: folded first, so the deny on the lower-case name applies.
    for p in [
        "sys/policies/acl/DELEGATE",
        "sys/policies/acl/Delegate",
        "sys/policy/delegate",
        "sys/policy/DELEGATE",
    ] {
        let (st, b) = s.put_raw(p, escalate.clone(), Some(&t));
        assert_eq!(st, 403, "{p}: {b}");
    }
    // Surrounding whitespace is refused, never trimmed.
    for p in [
        "sys/policies/acl/%20delegate",
        "sys/policies/acl/delegate%20",
        "sys/policies/acl/delegate%09",
    ] {
        let (st, b) = s.put_raw(p, escalate.clone(), Some(&t));
        assert_eq!(st, 400, "{p}: {b}");
    }
    let (st, b) = s.get_raw("sys/policies/acl/ADMIN2", Some(&t));
    assert_eq!(st, 403, "{b}");
    let (st, b) = s.get_raw("sys/policy/ADMIN2", Some(&t));
    assert_eq!(st, 403, "{b}");
    let (st, b) = s.request("DELETE", "sys/policies/acl/PROTECTED", None, Some(&t));
    assert_eq!(st, 403, "{b}");
    let (st, b) = s.request("DELETE", "sys/policy/protected", None, Some(&t));
    assert_eq!(st, 403, "{b}");
    // Nothing changed: the token still cannot write policies it was denied.
    let (_, me) = s.get("sys/policies/acl/delegate");
    assert!(me["data"]["policy"].as_str().unwrap().contains("deny"));
    assert_eq!(s.get("sys/policies/acl/protected").0, 200);
    // Allowed names are stored folded, under both spellings of the path.
    let (st, b) = s.put_raw(
        "sys/policies/acl/Team-A",
        json!({"policy": r#"path "secret/*" { capabilities = ["read"] }"#}),
        Some(&t),
    );
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.get("sys/policies/acl/team-a");
    assert_eq!((st, &b["data"]["name"]), (200, &json!("team-a")), "{b}");
    let (st, b) = s.get("sys/policy/TEAM-A");
    assert_eq!((st, &b["name"]), (200, &json!("team-a")), "{b}");
    assert!(b["rules"].as_str().is_some(), "legacy shape: {b}");
}

#[test]
fn legacy_policy_path_is_the_same_acl_object() {
    let s = TestServer::dev();
    s.policy(
        "protected",
        r#"path "secret/*" { capabilities = ["read"] }"#,
    );
    // Allowed on the legacy path, denied on the new one: the deny wins,
    // because both name one object.
    let t = limited(
        &s,
        "legacy-writer",
        &format!(
            r#"path "sys/policy/*" {{ capabilities = {ALL} }}
               path "sys/policies/acl/protected" {{ capabilities = ["deny"] }}"#
        ),
    );
    let (st, b) = s.put_raw(
        "sys/policy/protected",
        json!({"rules": r#"path "*" { capabilities = ["sudo", "read"] }"#}),
        Some(&t),
    );
    assert_eq!(st, 403, "{b}");
    let (st, _) = s.request("DELETE", "sys/policy/protected", None, Some(&t));
    assert_eq!(st, 403);
    assert_eq!(s.get("sys/policies/acl/protected").0, 200);
}

#[test]
fn response_wrapping_policy_name_is_reserved() {
    let s = TestServer::dev();
    let t = limited(
        &s,
        "writer",
        &format!(r#"path "sys/policies/acl/*" {{ capabilities = {ALL} }}"#),
    );
    let body = json!({"policy": r#"path "secret/*" { capabilities = ["read"] }"#});
    for (token, p) in [
        (t.as_str(), "sys/policies/acl/response-wrapping"),
        (t.as_str(), "sys/policies/acl/Response-Wrapping"),
        (s.root_token.as_str(), "sys/policies/acl/response-wrapping"),
        (s.root_token.as_str(), "sys/policy/response-wrapping"),
    ] {
        let (st, b) = s.put_raw(p, body.clone(), Some(token));
        assert_eq!(st, 400, "{p}: {b}");
        assert_eq!(
            b["errors"][0], "cannot update \"response-wrapping\" policy",
            "{b}"
        );
    }
    let (st, b) = s.put_raw("sys/policies/acl/root", body.clone(), Some(&s.root_token));
    assert_eq!(
        (st, &b["errors"][0]),
        (400, &json!("cannot update \"root\" policy"))
    );
    let (st, b) = s.delete("sys/policies/acl/response-wrapping");
    assert_eq!(st, 400, "{b}");
    // A wrapping token still reads nothing but its own response.
    assert_eq!(
        s.post("secret/data/hidden", json!({"data": {"v": "x"}})).0,
        200
    );
    let resp = reqwest::blocking::Client::new()
        .post(s.url("sys/wrapping/wrap"))
        .header("X-Vault-Token", &s.root_token)
        .header("X-Vault-Wrap-TTL", "60")
        .json(&json!({"k": "v"}))
        .send()
        .unwrap();
    let v: Value = resp.json().unwrap();
    let wrapping = v["wrap_info"]["token"].as_str().unwrap().to_string();
    assert_eq!(s.get_raw("secret/data/hidden", Some(&wrapping)).0, 403);
}

#[test]
fn identity_paths_are_not_trimmed() {
    let s = TestServer::dev();
    assert_eq!(
        s.post("identity/oidc/key/bosskey", json!({"algorithm": "EdDSA"}))
            .0,
        204
    );
    assert_eq!(
        s.post("identity/oidc/role/boss", json!({"key": "bosskey"}))
            .0,
        204
    );
    let t = limited(
        &s,
        "ident",
        &format!(
            r#"path "identity/*" {{ capabilities = {ALL} }}
               path "identity/oidc/token/boss" {{ capabilities = ["deny"] }}
               path "identity/oidc/role/boss" {{ capabilities = ["deny"] }}
               path "identity/oidc/key/bosskey" {{ capabilities = ["deny"] }}"#
        ),
    );
    for p in [
        "identity/oidc/token/boss/",
        "identity/oidc/token/boss//",
        "identity/oidc/token/boss%2f",
        "identity/oidc/token/boss%2F",
        "identity/oidc/token/BOSS/",
    ] {
        let (st, b) = s.get_raw(p, Some(&t));
        assert_eq!(st, 400, "{p}: {b}");
        assert!(b.get("data").is_none(), "{p}: {b}");
    }
    let (st, b) = s.put_raw(
        "identity/oidc/role/boss/",
        json!({"key": "other"}),
        Some(&t),
    );
    assert_eq!(st, 400, "{b}");
    let (st, b) = s.request("DELETE", "identity/oidc/key/bosskey/", None, Some(&t));
    assert_eq!(st, 400, "{b}");
    let (st, b) = s.get_raw("identity/oidc/token/boss", Some(&t));
    assert_eq!(st, 403, "{b}");
    assert_eq!(s.get("identity/oidc/key/bosskey").0, 200);
    assert_eq!(s.get("identity/oidc/role/boss").1["data"]["key"], "bosskey");
    // The list forms still list.
    let (st, b) = s.list("identity/oidc/role/");
    assert_eq!((st, &b["data"]["keys"]), (200, &json!(["boss"])), "{b}");
    let (st, b) = s.get("identity/oidc/key?list=true");
    assert_eq!((st, &b["data"]["keys"]), (200, &json!(["bosskey"])), "{b}");
}

fn approle(s: &TestServer) {
    assert_eq!(
        s.post("sys/auth/approle", json!({"type": "approle"})).0,
        204
    );
    s.policy("bosspol", r#"path "secret/*" { capabilities = ["read"] }"#);
    let (st, b) = s.post(
        "auth/approle/role/boss",
        json!({"token_policies": ["bosspol"]}),
    );
    assert_eq!(st, 204, "{b}");
}

#[test]
fn approle_refuses_writes_on_the_list_form() {
    let s = TestServer::dev();
    approle(&s);
    let t = limited(
        &s,
        "approle-admin",
        &format!(
            r#"path "auth/approle/*" {{ capabilities = {ALL} }}
               path "auth/approle/role/boss/secret-id" {{ capabilities = ["deny"] }}"#
        ),
    );
    for p in [
        "auth/approle/role/boss/secret-id/",
        "auth/approle/role/boss/secret-id%2f",
        "auth/approle/role/boss/secret-id//",
        "auth/approle/role/boss//secret-id",
    ] {
        let (st, b) = s.put_raw(p, json!({}), Some(&t));
        assert_eq!(st, 400, "{p}: {b}");
        assert!(b.get("data").is_none(), "{p}: {b}");
    }
    let (st, b) = s.put_raw("auth/approle/role/boss/secret-id", json!({}), Some(&t));
    assert_eq!(st, 403, "{b}");
    // Listing the folder is still a list.
    let (st, b) = s.post("auth/approle/role/boss/secret-id", json!({}));
    assert_eq!(st, 200, "{b}");
    let (st, b) = s.list("auth/approle/role/boss/secret-id/");
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["keys"].as_array().unwrap().len(), 1, "{b}");
}

#[test]
fn mount_admin_paths_with_empty_segments_are_refused() {
    let s = TestServer::dev();
    assert_eq!(
        s.post(
            "sys/mounts/kv2victim",
            json!({"type": "kv", "options": {"version": "2"}})
        )
        .0,
        204
    );
    assert_eq!(
        s.post("kv2victim/data/x", json!({"data": {"v": "1"}})).0,
        200
    );
    assert_eq!(
        s.post("sys/auth/userpass", json!({"type": "userpass"})).0,
        204
    );
    let t = limited(
        &s,
        "sys-admin",
        &format!(
            r#"path "sys/*" {{ capabilities = {ALL} }}
               path "sys/mounts/kv2victim" {{ capabilities = ["deny"] }}
               path "sys/mounts/kv2victim/tune" {{ capabilities = ["deny"] }}
               path "sys/auth/userpass" {{ capabilities = ["deny"] }}"#
        ),
    );
    let tune = json!({"max_lease_ttl": "1h"});
    for (m, p) in [
        ("POST", "sys/mounts//kv2victim/tune"),
        ("DELETE", "sys/mounts//kv2victim"),
        ("DELETE", "sys/auth//userpass"),
        ("DELETE", "sys/mounts/kv2victim%2f"),
    ] {
        let (st, b) = s.request(m, p, Some(tune.clone()), Some(&t));
        assert_eq!(st, 400, "{m} {p}: {b}");
    }
    // A client's trailing '/' after the mount path is canonicalised away
    // before the ACL: the deny still applies.
    for (m, p) in [
        ("DELETE", "sys/mounts/kv2victim/"),
        ("DELETE", "sys/auth/userpass/"),
        ("POST", "sys/mounts/kv2victim//tune"),
    ] {
        let (st, b) = s.request(m, p, Some(tune.clone()), Some(&t));
        assert_eq!(st, 403, "{m} {p}: {b}");
    }
    let (_, mounts) = s.get("sys/mounts");
    assert!(mounts["data"]["kv2victim/"].is_object(), "{mounts}");
    assert_ne!(
        mounts["data"]["kv2victim/"]["config"]["max_lease_ttl"],
        json!(3600)
    );
    let (_, auths) = s.get("sys/auth");
    assert!(auths["data"]["userpass/"].is_object(), "{auths}");
    assert_eq!(s.get("kv2victim/data/x").0, 200);
    // The spellings Vault clients send still work for an allowed token.
    assert_eq!(s.post("sys/mounts/compat/", json!({"type": "kv"})).0, 204);
    assert_eq!(
        s.post("sys/mounts/compat//tune", json!({"max_lease_ttl": "2h"}))
            .0,
        204
    );
    let (st, b) = s.get("sys/mounts/compat/tune");
    assert_eq!(
        (st, &b["data"]["max_lease_ttl"]),
        (200, &json!(7200)),
        "{b}"
    );
    assert_eq!(s.delete("sys/mounts/compat/").0, 204);
}

#[test]
fn identity_claims_never_come_from_caller_chosen_metadata() {
    let s = TestServer::dev();
    assert_eq!(
        s.post("identity/oidc/key/k", json!({"algorithm": "EdDSA"}))
            .0,
        204
    );
    let (st, b) = s.post(
        "identity/oidc/role/r",
        json!({"key": "k", "template": {
            "groups": "{{identity.token.metadata.groups}}",
            "role": "{{identity.token.metadata.role_name}}"}}),
    );
    assert_eq!(st, 204, "{b}");
    s.policy(
        "ident",
        r#"path "identity/oidc/token/r" { capabilities = ["read"] }
           path "auth/token/create" { capabilities = ["update"] }"#,
    );
    let parent = s.token(json!({"policies": ["ident"], "meta": {"groups": "devs"}}));
    let (st, b) = s.put_raw(
        "auth/token/create",
        json!({"policies": ["ident"], "meta": {"groups": "admins"}}),
        Some(&parent),
    );
    assert_eq!(st, 200, "{b}");
    let child = b["auth"]["client_token"].as_str().unwrap().to_string();
    for t in [&parent, &child] {
        let (st, b) = s.get_raw("identity/oidc/token/r", Some(t));
        assert_eq!(st, 200, "{b}");
        let claims = claims(b["data"]["token"].as_str().unwrap());
        assert!(claims.get("groups").is_none(), "{claims}");
        assert_eq!(claims["metadata"], json!({}), "{claims}");
    }
    // Metadata an auth method set at login still fills the template.
    approle(&s);
    let (st, b) = s.post(
        "auth/approle/role/boss",
        json!({"token_policies": ["ident"]}),
    );
    assert_eq!(st, 204, "{b}");
    let role_id = s.get("auth/approle/role/boss/role-id").1["data"]["role_id"]
        .as_str()
        .unwrap()
        .to_string();
    let secret_id = s.post("auth/approle/role/boss/secret-id", json!({})).1["data"]["secret_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (st, b) = s.put_raw(
        "auth/approle/login",
        json!({"role_id": role_id, "secret_id": secret_id}),
        None,
    );
    assert_eq!(st, 200, "{b}");
    let login = b["auth"]["client_token"].as_str().unwrap().to_string();
    let (st, b) = s.get_raw("identity/oidc/token/r", Some(&login));
    assert_eq!(st, 200, "{b}");
    let claims = claims(b["data"]["token"].as_str().unwrap());
    assert_eq!(claims["role"], "boss", "{claims}");
}

fn claims(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn ui_mounts_answers_only_for_mounts_the_token_may_use() {
    let s = TestServer::dev();
    assert_eq!(
        s.post(
            "sys/mounts/other",
            json!({"type": "kv", "options": {"version": "2"}})
        )
        .0,
        204
    );
    let t = limited(
        &s,
        "secret-reader",
        r#"path "secret/data/app/*" { capabilities = ["read"] }"#,
    );
    let (st, b) = s.get_raw("sys/internal/ui/mounts/secret/data/app/x", Some(&t));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["path"], "secret/");
    let (st, b) = s.get_raw("sys/internal/ui/mounts/secret/", Some(&t));
    assert_eq!(st, 200, "{b}");
    let (st, b) = s.get_raw("sys/internal/ui/mounts/other", Some(&t));
    assert_eq!(st, 403, "{b}");
    assert!(b.get("data").is_none(), "{b}");
    let (st, _) = s.get_raw("sys/internal/ui/mounts/other/data/x", Some(&t));
    assert_eq!(st, 403);
    assert_eq!(s.get("sys/internal/ui/mounts/other").0, 200);
}

#[test]
fn names_with_nul_control_characters_or_dot_segments_are_refused() {
    let s = TestServer::dev();
    let root = s.root_token.clone();
    for p in [
        "secret/data/a%00b",
        "secret/data/a%0ab",
        "secret/data/a%7f",
        "secret/data/%20a",
        "secret/data/a%20",
        "secret/data/a/",
        "secret//data/a",
    ] {
        let (st, b) = s.put_raw(p, json!({"data": {"v": "1"}}), Some(&root));
        assert_eq!(st, 400, "{p}: {b}");
    }
    let body = r#"{"data": {"v": "1"}}"#;
    for target in [
        "/v1/secret/data/../data/a",
        "/v1/secret/data/./a",
        "/v1/secret/data/%2e%2e/data/a",
        "/v1/secret/data/%2E/a",
        "/v1//secret/data/a",
    ] {
        let (st, text) = raw(&s, "PUT", target, &root, body);
        assert_eq!(st, 400, "{target}: {text}");
    }
    let (st, b) = s.get("secret/metadata?list=true");
    assert_ne!(st, 400, "{b}");
    // Nothing was written under any spelling.
    let (st, b) = s.list("secret/metadata/");
    assert_eq!(st, 404, "{b}");
    // Canonical paths work; a list may end in '/'.
    assert_eq!(
        s.post("secret/data/a b", json!({"data": {"v": "1"}})).0,
        200
    );
    let (st, b) = s.list("secret/metadata/");
    assert_eq!((st, &b["data"]["keys"]), (200, &json!(["a b"])), "{b}");
    let (st, b) = s.get("secret/metadata?list=true");
    assert_eq!((st, &b["data"]["keys"]), (200, &json!(["a b"])), "{b}");
}

#[test]
fn refusals_name_the_rule() {
    let s = TestServer::dev();
    let (st, b) = s.get("secret/data/x%2fy");
    assert_eq!(st, 400);
    assert!(b["errors"][0].as_str().unwrap().contains("%2F"), "{b}");
    let (st, b) = s.get("secret//x");
    assert_eq!(st, 400);
    assert!(
        b["errors"][0].as_str().unwrap().contains("empty segment"),
        "{b}"
    );
    let (st, b) = s.put_raw("secret/data/x/", json!({}), Some(&s.root_token));
    assert_eq!(st, 400);
    assert!(b["errors"][0].as_str().unwrap().contains("list"), "{b}");
}
