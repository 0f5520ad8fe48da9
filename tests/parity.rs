//! Vault parity end to end, against the real `vault-rs` binary: the request
//! habits of Vault's clients (form bodies, Go `ParseBool` booleans, bodies on
//! GET), token lookup semantics, the granted TTL in the auth block, unseal
//! progress that a wrong share cannot wedge, and Vault's error wording where
//! clients match on it.

mod common;

use common::TestServer;
use serde_json::{json, Value};

/// A request with a raw body and a content type; (status, JSON body).
fn raw(
    s: &TestServer,
    method: &str,
    path: &str,
    body: &str,
    content_type: Option<&str>,
) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = reqwest::blocking::Client::new()
        .request(m, s.url(path))
        .header("X-Vault-Token", &s.root_token)
        .body(body.to_string());
    if let Some(ct) = content_type {
        rb = rb.header("Content-Type", ct);
    }
    let resp = rb.send().expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

fn kv1(s: &TestServer) {
    let (st, b) = s.post("sys/mounts/kv1", json!({"type": "kv"}));
    assert_eq!(st, 204, "{b}");
    for key in ["app/a", "app/b"] {
        let (st, b) = s.post(&format!("kv1/{key}"), json!({"v": key}));
        assert_eq!(st, 204, "{b}");
    }
}

#[test]
fn form_encoded_bodies_are_the_request_fields() {
    let s = TestServer::dev();
    kv1(&s);
    let (st, b) = raw(
        &s,
        "POST",
        "auth/token/create",
        "policies=default&ttl=1h&renewable=f&meta%5Bx%5D=1&display_name=a+b",
        FORM,
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["auth"]["lease_duration"], 3600, "{b}");
    assert_eq!(b["auth"]["renewable"], false, "{b}");
    // A field given twice is its values joined with commas (Vault's rule):
    // here, two policies.
    let (st, b) = raw(
        &s,
        "POST",
        "auth/token/create",
        "policies=p1&policies=p2",
        Some("application/x-www-form-urlencoded; charset=utf-8"),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["auth"]["policies"], json!(["default", "p1", "p2"]), "{b}");
    let (st, b) = raw(&s, "PUT", "kv1/form", "user=alice&pw=a%26b", FORM);
    assert_eq!(st, 204, "{b}");
    let (_, b) = s.get("kv1/form");
    assert_eq!(b["data"], json!({"user": "alice", "pw": "a&b"}));
    // The same bytes without the form content type are still bad JSON.
    let (st, _) = raw(&s, "PUT", "kv1/form", "user=alice", None);
    assert_eq!(st, 400);
    // `curl -d '{...}'` labels JSON as a form: a body that starts like JSON
    // is JSON, as Vault reads it.
    let (st, b) = raw(&s, "PUT", "kv1/curl", " {\"user\": \"bob\"}", FORM);
    assert_eq!(st, 204, "{b}");
    let (_, b) = s.get("kv1/curl");
    assert_eq!(b["data"], json!({"user": "bob"}));
}

#[test]
fn booleans_in_queries_and_fields_are_go_parse_bool() {
    let s = TestServer::dev();
    kv1(&s);
    for t in ["1", "t", "T", "TRUE", "true", "True"] {
        let (st, b) = s.get(&format!("kv1/app?list={t}"));
        assert_eq!(st, 200, "list={t}: {b}");
        assert_eq!(b["data"]["keys"], json!(["a", "b"]), "list={t}");
        let (st, b) = s.get(&format!("sys/policies/acl?list={t}"));
        assert_eq!(st, 200, "list={t}: {b}");
        assert!(b["data"]["keys"].as_array().is_some(), "{b}");
    }
    // False spellings read the path itself (a folder: nothing there).
    for f in ["0", "f", "F", "FALSE", "false", "False"] {
        assert_eq!(s.get(&format!("kv1/app?list={f}")).0, 404, "list={f}");
        assert_eq!(s.get(&format!("kv1/app/a?list={f}")).0, 200, "list={f}");
    }
    for bad in ["yes", "tRUE", "2"] {
        let (st, b) = s.get(&format!("kv1/app?list={bad}"));
        assert_eq!(st, 400, "list={bad}: {b}");
    }
    // Boolean fields given as strings take the same spellings.
    let (st, b) = s.post(
        "auth/token/create",
        json!({"policies": ["p1"], "no_default_policy": "T", "renewable": "F"}),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["auth"]["policies"], json!(["p1"]), "{b}");
    assert_eq!(b["auth"]["renewable"], false, "{b}");
    let (st, b) = s.post("auth/token/create", json!({"renewable": "maybe"}));
    assert_eq!(st, 400, "{b}");
}

#[test]
fn a_get_ignores_a_body_that_is_not_json() {
    let s = TestServer::dev();
    kv1(&s);
    let (st, b) = raw(&s, "GET", "kv1/app/a", "not json", None);
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["v"], "app/a");
    // A write with the same body is still refused.
    let (st, _) = raw(&s, "PUT", "kv1/app/a", "not json", None);
    assert_eq!(st, 400);
}

#[test]
fn token_lookup_answers_as_vault() {
    let s = TestServer::dev();
    let (st, b) = s.post("auth/token/lookup", json!({"token": "hvs.doesnotexist"}));
    assert_eq!(
        (st, b["errors"][0].as_str()),
        (403, Some("bad token")),
        "{b}"
    );
    s.policy(
        "lookup",
        "path \"auth/token/lookup\" { capabilities = [\"update\"] }",
    );
    let (_, created) = s.post("auth/token/create", json!({"policies": ["lookup"]}));
    let token = created["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    let accessor = created["auth"]["accessor"].as_str().unwrap().to_string();
    let (st, b) = s.post("auth/token/lookup", json!({"token": token}));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["id"], token.as_str());
    // lookup-accessor never shows the token: id is "".
    let (st, b) = s.post("auth/token/lookup-accessor", json!({"accessor": accessor}));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["id"], "", "{b}");
    assert_eq!(b["data"]["accessor"], accessor.as_str());
    // Without a token field: the caller's own token.
    let (st, b) = s.request("POST", "auth/token/lookup", Some(json!({})), Some(&token));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["id"], token.as_str());
    assert_eq!(b["data"]["accessor"], accessor.as_str());
    // A revoked token is a bad token too.
    let (st, _) = s.post("auth/token/revoke", json!({"token": token}));
    assert_eq!(st, 204);
    let (st, b) = s.post("auth/token/lookup", json!({"token": token}));
    assert_eq!(
        (st, b["errors"][0].as_str()),
        (403, Some("bad token")),
        "{b}"
    );
}

#[test]
fn the_auth_block_reports_the_granted_ttl() {
    let s = TestServer::dev();
    // Many times over, so that some create straddles a clock tick.
    for _ in 0..40 {
        let (st, b) = s.post("auth/token/create", json!({"ttl": "1h"}));
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["auth"]["lease_duration"], 3600, "{b}");
    }
    let (_, b) = s.post("auth/token/create", json!({"ttl": "1h"}));
    let token = b["auth"]["client_token"].as_str().unwrap().to_string();
    for _ in 0..20 {
        let (st, b) = s.post(
            "auth/token/renew",
            json!({"token": token, "increment": "30m"}),
        );
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["auth"]["lease_duration"], 1800, "{b}");
    }
}

#[test]
fn unseal_reset_on_an_unsealed_vault_is_refused() {
    let s = TestServer::unsealed(1, 1);
    let (st, b) = s.put_raw("sys/unseal", json!({"reset": true}), None);
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["errors"][0], "vault is unsealed");
    // Sealed, a reset is what it always was: the seal status.
    let (st, _) = s.put_raw("sys/seal", json!({}), Some(&s.root_token));
    assert_eq!(st, 204);
    let (st, b) = s.put_raw("sys/unseal", json!({"reset": "t"}), None);
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["sealed"], true);
}

/// A share of this vault with one byte of its polynomial value changed:
/// it passes every check made before combining, and then spoils the set.
fn corrupt(share: &str) -> String {
    let mut bytes: Vec<u8> = (0..share.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&share[i..i + 2], 16).expect("hex share"))
        .collect();
    bytes[3] ^= 1;
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_wrong_share_does_not_wedge_the_unseal() {
    let mut s = TestServer::unsealed(3, 2);
    s.restart();
    let bad = corrupt(&s.keys[1]);
    let (st, b) = s.put_raw("sys/unseal", json!({"key": bad}), None);
    assert_eq!((st, b["progress"].as_u64()), (200, Some(1)), "{b}");
    // The threshold is reached but the set does not combine: the attempt
    // is over, and the message says so and how to start over.
    let (st, b) = s.put_raw("sys/unseal", json!({"key": s.keys[0]}), None);
    assert_eq!(st, 400, "{b}");
    let msg = b["errors"][0].as_str().unwrap_or("");
    assert!(msg.contains("progress was reset"), "{msg}");
    assert!(msg.contains("-reset"), "{msg}");
    let (_, status) = s.get_raw("sys/seal-status", None);
    assert_eq!(status["progress"], 0, "{status}");
    assert_eq!(status["sealed"], true);
    // The good shares now open it, without a reset by hand.
    s.unseal_all();
}

#[test]
fn kv2_negative_cas_is_the_version_mismatch_error() {
    let s = TestServer::dev();
    let (st, b) = s.post("secret/data/app", json!({"data": {"a": 1}}));
    assert_eq!(st, 200, "{b}");
    for cas in [json!(-1), json!("-2"), json!(5)] {
        let (st, b) = s.post(
            "secret/data/app",
            json!({"data": {"a": 2}, "options": {"cas": cas}}),
        );
        assert_eq!(st, 400, "{b}");
        assert_eq!(
            b["errors"][0], "check-and-set parameter did not match the current version",
            "cas {cas}"
        );
    }
}

#[test]
fn audit_errors_use_vaults_wording() {
    let s = TestServer::dev();
    let (st, b) = s.post("sys/audit-hash/nope", json!({"input": "x"}));
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["errors"][0], "unknown audit backend \"nope/\"");
    let (st, b) = s.post("sys/audit/pigeon", json!({"type": "carrier-pigeon"}));
    assert_eq!(st, 400, "{b}");
    let msg = b["errors"][0].as_str().unwrap_or("");
    assert!(
        msg.starts_with("unknown backend type: \"carrier-pigeon\""),
        "{msg}"
    );
}

#[test]
fn generic_mounts_are_kv_version_1() {
    let mut s = TestServer::unsealed(1, 1);
    let (st, b) = s.post("sys/mounts/gen", json!({"type": "generic"}));
    assert_eq!(st, 204, "{b}");
    assert_eq!(s.post("gen/app/a", json!({"k": "v"})).0, 204);
    assert_eq!(s.post("gen/app/b", json!({"k": "w"})).0, 204);
    assert_eq!(s.get("gen/app/a").1["data"], json!({"k": "v"}));
    assert_eq!(s.list("gen/app").1["data"]["keys"], json!(["a", "b"]));
    // Listed as Vault lists it: its own type, options {}, no deprecation
    // status (generic is an alias, not a catalog entry).
    let (_, b) = s.get("sys/mounts");
    let m = &b["data"]["gen/"];
    assert_eq!(m["type"], "generic", "{m}");
    assert_eq!(m["options"], json!({}), "{m}");
    assert!(m.get("deprecation_status").is_none(), "{m}");
    // The data and the type outlive a restart.
    s.restart();
    s.unseal_all();
    assert_eq!(s.get("gen/app/b").1["data"], json!({"k": "w"}));
    assert_eq!(s.get("sys/mounts/gen").1["type"], "generic");
}

#[test]
fn mount_reads_answer_as_vault() {
    let s = TestServer::dev();
    let (st, b) = s.post("sys/mounts/kv1", json!({"type": "kv"}));
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.get("sys/mounts/kv1");
    assert_eq!(st, 200, "{b}");
    // Repeated at the top level, untuned TTLs as 0 (the system default).
    for m in [&b, &b["data"]] {
        assert_eq!(m["type"], "kv", "{b}");
        assert_eq!(m["config"]["default_lease_ttl"], 0, "{b}");
        assert_eq!(m["config"]["max_lease_ttl"], 0, "{b}");
    }
    let (st, b) = s.get("sys/mounts/missing");
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["errors"][0], "No secret engine mount at missing/");
    // Built-in mounts: no deprecation status, Vault's passthrough headers.
    let (_, b) = s.get("sys/mounts");
    assert!(b["data"]["sys/"].get("deprecation_status").is_none());
    assert_eq!(
        b["data"]["sys/"]["config"]["passthrough_request_headers"],
        json!(["Accept"])
    );
    assert_eq!(b["data"]["kv1/"]["deprecation_status"], "supported");
    // Auth methods: options {} and their token type.
    assert_eq!(s.post("sys/auth/up", json!({"type": "userpass"})).0, 204);
    let (st, b) = s.get("sys/auth/up");
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["options"], json!({}), "{b}");
    assert_eq!(b["config"]["token_type"], "default-service", "{b}");
    assert_eq!(s.get("sys/auth/missing").0, 400);
}

#[test]
fn auth_methods_tune_through_sys_mounts_auth() {
    let s = TestServer::dev();
    assert_eq!(s.post("sys/auth/up", json!({"type": "userpass"})).0, 204);
    let (st, b) = s.post(
        "sys/mounts/auth/up/tune",
        json!({"default_lease_ttl": "10m", "max_lease_ttl": "1h"}),
    );
    assert_eq!(st, 204, "{b}");
    for path in ["sys/mounts/auth/up/tune", "sys/auth/up/tune"] {
        let (st, b) = s.get(path);
        assert_eq!(st, 200, "{b}");
        assert_eq!(b["data"]["default_lease_ttl"], 600, "{path}: {b}");
        assert_eq!(b["data"]["max_lease_ttl"], 3600, "{path}: {b}");
        assert_eq!(b["token_type"], "default-service", "{path}: {b}");
    }
    // Tuning auth/ through sys/mounts needs sudo, like any mount change.
    let t = s.token(json!({"policies": ["default"]}));
    let (st, _) = s.request(
        "POST",
        "sys/mounts/auth/up/tune",
        Some(json!({"default_lease_ttl": "1m"})),
        Some(&t),
    );
    assert_eq!(st, 403);
}

#[test]
fn rotate_keyring_rotates_like_rotate() {
    let s = TestServer::dev();
    let term = |s: &TestServer| s.get("sys/key-status").1["data"]["term"].as_u64();
    let before = term(&s).expect("term");
    assert_eq!(s.post("sys/rotate/keyring", json!({})).0, 204);
    assert_eq!(term(&s), Some(before + 1));
    let t = s.token(json!({"policies": ["default"]}));
    let (st, _) = s.request("PUT", "sys/rotate/keyring", Some(json!({})), Some(&t));
    assert_eq!(st, 403);
}

#[test]
fn legacy_policy_writes_with_rules_warn_as_vault() {
    let s = TestServer::dev();
    let rules = r#"path "kv1/*" { capabilities = ["list"] }"#;
    let (st, b) = s.post("sys/policy/legacy", json!({"rules": rules}));
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        b["warnings"][0],
        "'rules' is deprecated, please use 'policy' instead"
    );
    let (st, _) = s.post("sys/policy/legacy", json!({"policy": rules}));
    assert_eq!(st, 204);
}

#[test]
fn small_answers_in_vaults_shape() {
    let s = TestServer::unsealed(1, 1);
    // sys/audit-hash repeats the hash at the top level.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let (st, b) = s.post(
        "sys/audit/file",
        json!({"type": "file", "options": {"file_path": log.to_str().unwrap()}}),
    );
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.post("sys/audit-hash/file", json!({"input": "x"}));
    assert_eq!(st, 200, "{b}");
    assert!(b["hash"].as_str().is_some(), "{b}");
    assert_eq!(b["hash"], b["data"]["hash"]);
    // wrap_info names a wrapped accessor only when a token is wrapped.
    let (st, b) = s.request(
        "POST",
        "sys/wrapping/wrap",
        Some(json!({"a": "b"})),
        Some(&s.root_token),
    );
    assert_eq!(st, 400, "no wrap TTL: {b}");
    let resp = reqwest::blocking::Client::new()
        .post(s.url("sys/wrapping/wrap"))
        .header("X-Vault-Token", &s.root_token)
        .header("X-Vault-Wrap-TTL", "60")
        .json(&json!({"a": "b"}))
        .send()
        .expect("send");
    let b: Value = resp.json().expect("json");
    assert!(b["wrap_info"]["token"].as_str().is_some(), "{b}");
    assert!(b["wrap_info"].get("wrapped_accessor").is_none(), "{b}");
    // DELETE sys/rekey/verify with no rekey under way.
    let (st, b) = s.delete("sys/rekey/verify");
    assert_eq!(st, 400, "{b}");
    assert_eq!(b["errors"][0], "no rekey configuration found");
    // The UI mount check: no mount there is the same 403 as a mount the
    // token may not use; a mount answers the sys/mounts fields.
    assert_eq!(s.get("sys/internal/ui/mounts/missing").0, 403);
    let (st, b) = s.post("sys/mounts/kv", json!({"type": "kv"}));
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.get("sys/internal/ui/mounts/kv/a/b");
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["path"], "kv/");
    assert_eq!(b["data"]["deprecation_status"], "supported");
    assert_eq!(b["data"]["running_plugin_version"], "");
    // A sealed vault does not name its cluster.
    assert!(s.get_raw("sys/seal-status", None).1["cluster_name"].is_string());
    assert_eq!(s.post("sys/seal", json!({})).0, 204);
    let (_, b) = s.get_raw("sys/seal-status", None);
    assert!(
        b.get("cluster_name").is_none() && b.get("cluster_id").is_none(),
        "{b}"
    );
    s.unseal_all();
}

#[test]
fn kv1_ttl_field_is_the_lease_duration() {
    let s = TestServer::dev();
    kv1(&s);
    assert_eq!(s.post("kv1/t", json!({"v": 1, "ttl": "1h"})).0, 204);
    let (st, b) = s.get("kv1/t");
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        (b["lease_duration"].as_u64(), b["lease_id"].as_str()),
        (Some(3600), Some(""))
    );
    assert_eq!(b["renewable"], false);
    assert_eq!(s.post("kv1/n", json!({"lease": 90})).0, 204);
    assert_eq!(s.get("kv1/n").1["lease_duration"], 90);
    // No ttl, or one that is not a duration: no refresh interval.
    assert_eq!(s.post("kv1/x", json!({"ttl": "soon"})).0, 204);
    assert_eq!(s.get("kv1/x").1["lease_duration"], 0);
    assert_eq!(s.get("kv1/app/a").1["lease_duration"], 0);
}

#[test]
fn a_ttl_over_the_max_is_capped_with_vaults_warning() {
    let s = TestServer::dev();
    let (st, b) = s.post("auth/token/create", json!({"ttl": "99999h"}));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["auth"]["lease_duration"], 2764800);
    assert_eq!(
        b["warnings"][0],
        "TTL of \"99999h\" exceeded the effective max_ttl of \"768h\"; TTL value is capped accordingly"
    );
    let (_, b) = s.post(
        "auth/token/create",
        json!({"ttl": "2h", "explicit_max_ttl": "90m"}),
    );
    assert_eq!(b["auth"]["lease_duration"], 5400);
    assert!(
        b["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("effective max_ttl of \"90m\"")),
        "{b}"
    );
    let (_, b) = s.post("auth/token/create", json!({"ttl": "1h"}));
    assert!(b["warnings"].is_null(), "{b}");
}

#[test]
fn token_roles_take_policy_globs_and_no_default_policy() {
    let s = TestServer::dev();
    let (st, b) = s.post(
        "auth/token/roles/globby",
        json!({
            "allowed_policies_glob": ["dev-*"],
            "disallowed_policies_glob": ["*-admin"],
            "token_no_default_policy": true,
        }),
    );
    assert_eq!(st, 204, "{b}");
    let (_, b) = s.get("auth/token/roles/globby");
    assert_eq!(b["data"]["allowed_policies_glob"], json!(["dev-*"]));
    assert_eq!(b["data"]["disallowed_policies_glob"], json!(["*-admin"]));
    assert_eq!(b["data"]["token_no_default_policy"], true);
    let (st, b) = s.post(
        "auth/token/create/globby",
        json!({"policies": ["dev-a", "dev-b"]}),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["auth"]["policies"], json!(["dev-a", "dev-b"]), "{b}");
    for refused in ["prod", "dev-admin"] {
        let (st, b) = s.post("auth/token/create/globby", json!({"policies": [refused]}));
        assert_eq!(st, 400, "{refused}: {b}");
    }
}

#[test]
fn status_codes_and_shapes_as_the_reference_server() {
    let s = TestServer::dev();
    // KV v2: LIST on data/ is an operation the path does not serve (405);
    // a path without one of the versioned API's prefixes is Vault's 404
    // with a warning that names the versioned API.
    let (st, b) = s.post("secret/data/app/one", json!({"data": {"a": "b"}}));
    assert_eq!(st, 200, "{b}");
    let (st, b) = s.list("secret/data/app");
    assert_eq!(st, 405, "{b}");
    for (method, command) in [("GET", "get"), ("LIST", "list"), ("POST", "put")] {
        let body = (method == "POST").then(|| json!({"a": "b"}));
        let (st, b) = s.request(method, "secret/app/one", body, Some(&s.root_token));
        assert_eq!(st, 404, "{method}: {b}");
        assert!(b["data"].is_null() && b.get("errors").is_none(), "{b}");
        let warning = b["warnings"][0].as_str().unwrap_or_default();
        assert!(
            warning.starts_with("Invalid path for a versioned K/V secrets engine.")
                && warning.contains(&format!("kv {command}'")),
            "{b}"
        );
    }
    // Without the right to ask, still 403.
    let weak = s.token(json!({"policies": ["default"]}));
    assert_eq!(s.get_raw("secret/app/one", Some(&weak)).0, 403);
    // The seal lifecycle's paths refuse LIST as an operation (405), not for
    // want of a token.
    for path in ["sys/leader", "sys/health", "sys/seal-status"] {
        let (st, b) = s.request("LIST", path, None, None);
        assert_eq!(st, 405, "{path}: {b}");
    }
    // A kv mount enabled without options keeps none; its tune shows none.
    let (st, b) = s.post("sys/mounts/plain", json!({"type": "kv"}));
    assert_eq!(st, 204, "{b}");
    let (_, b) = s.get("sys/mounts/plain/tune");
    assert!(b["data"].get("options").is_none(), "{b}");
    let (_, b) = s.get("sys/mounts/secret/tune");
    assert_eq!(b["data"]["options"], json!({"version": "2"}), "{b}");
    let (st, b) = s.post("plain/x", json!({"v": "1"}));
    assert_eq!(st, 204, "a kv mount without options is version 1: {b}");
    // AppRole: the secret-id of a missing role is 404 naming it; a role
    // read shows the deprecated fields only when they were used.
    let (st, b) = s.post("sys/auth/approle", json!({"type": "approle"}));
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.post("auth/approle/role/missing/secret-id", json!({}));
    assert_eq!(st, 404, "{b}");
    assert_eq!(b["errors"], json!(["role \"missing\" does not exist"]));
    s.post(
        "auth/approle/role/new",
        json!({"token_policies": ["a"], "token_period": 60}),
    );
    let (_, b) = s.get("auth/approle/role/new");
    assert!(
        b["data"].get("policies").is_none() && b["data"].get("period").is_none(),
        "{b}"
    );
    assert!(b["data"]["secret_id_bound_cidrs"].is_null(), "{b}");
    s.post(
        "auth/approle/role/old",
        json!({"policies": ["a"], "period": 60}),
    );
    let (_, b) = s.get("auth/approle/role/old");
    assert_eq!(b["data"]["policies"], json!(["a"]), "{b}");
    assert_eq!(b["data"]["period"], json!(60), "{b}");
    assert_eq!(b["data"]["token_period"], json!(60), "{b}");
    s.post("auth/approle/role/old", json!({"token_policies": ["b"]}));
    let (_, b) = s.get("auth/approle/role/old");
    assert!(b["data"].get("policies").is_none(), "{b}");
    assert_eq!(b["data"]["period"], json!(60), "{b}");
    // userpass: the same rule.
    s.post("sys/auth/userpass", json!({"type": "userpass"}));
    s.post(
        "auth/userpass/users/new",
        json!({"password": "p", "token_policies": ["a"]}),
    );
    let (_, b) = s.get("auth/userpass/users/new");
    assert!(b["data"].get("policies").is_none(), "{b}");
    s.post(
        "auth/userpass/users/old",
        json!({"password": "p", "policies": ["a"], "ttl": "1h"}),
    );
    let (_, b) = s.get("auth/userpass/users/old");
    assert_eq!(b["data"]["policies"], json!(["a"]), "{b}");
    assert_eq!(b["data"]["ttl"], json!(3600), "{b}");
    // While sealed, sys/health names no cluster.
    let (_, b) = s.get_raw("sys/health", None);
    assert!(
        b["cluster_name"].is_string() && b["cluster_id"].is_string(),
        "{b}"
    );
    let (st, b) = s.post("sys/seal", json!({}));
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.get_raw("sys/health", None);
    assert_eq!(st, 503, "{b}");
    assert!(
        b.get("cluster_name").is_none() && b.get("cluster_id").is_none(),
        "{b}"
    );
}

#[test]
fn path_help_describes_the_declared_route() {
    let s = TestServer::dev();
    let (st, b) = s.post("sys/auth/approle", json!({"type": "approle"}));
    assert_eq!(st, 204, "{b}");
    // Any valid token may ask (no capability on the path), as in Vault.
    let weak = s.token(json!({"policies": ["default"]}));
    let (st, b) = s.get_raw("secret/data/app?help=1", Some(&weak));
    assert_eq!(st, 200, "{b}");
    let help = b["help"].as_str().unwrap();
    assert!(
        help.starts_with("Request:        data/app\nMatching Route: data/"),
        "{help}"
    );
    assert!(
        help.contains("## PARAMETERS") && help.contains("    path (string)"),
        "{help}"
    );
    assert!(
        b["openapi"]["paths"]["/data/{path}"]["get"].is_object(),
        "{b}"
    );
    assert!(b.get("see_also").is_some(), "{b}");
    // The path itself was not served: a plain read is still refused.
    assert_eq!(s.get_raw("secret/data/app", Some(&weak)).0, 403);
    assert_eq!(s.get_raw("secret/data/app?help=1", None).0, 403);
    assert_eq!(s.get_raw("secret/data/app?help=1", Some("bogus")).0, 403);
    // Declared fields are listed with their types.
    let (st, b) = s.get("auth/approle/role/web?help=1");
    assert_eq!(st, 200, "{b}");
    let help = b["help"].as_str().unwrap();
    assert!(help.contains("Matching Route: role/"), "{help}");
    let (_, b) = s.get("sys/rotate?help=1");
    let help = b["help"].as_str().unwrap_or_default();
    assert!(
        help.contains("Matching Route: rotate\n") && help.contains("sudo"),
        "{b}"
    );
    // A mount's root lists its routes; a path under no mount is 404.
    let (st, b) = s.get("secret/?help=True");
    assert_eq!(st, 200, "{b}");
    let help = b["help"].as_str().unwrap();
    assert!(
        help.contains("## DESCRIPTION") && help.contains("    metadata/:path*"),
        "{help}"
    );
    assert_eq!(s.get("nomount/x?help=1").0, 404);
    // `help=0` is an ordinary read.
    let (st, b) = s.get("secret/data/app?help=0");
    assert_eq!(st, 404, "{b}");
    // The CLI prints the help text.
    let out = common::command()
        .args(["path-help", "secret/data/app"])
        .env("VAULT_ADDR", &s.addr)
        .env("VAULT_TOKEN", &s.root_token)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Request:        data/app"), "{text}");
    let out = common::command()
        .args(["path-help", "nomount/x"])
        .env("VAULT_ADDR", &s.addr)
        .env("VAULT_TOKEN", &s.root_token)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn token_less_rekey_is_off_unless_configured() {
    let s = TestServer::unsealed(1, 1);
    let init = json!({"secret_shares": 1, "secret_threshold": 1});
    // No token: refused, naming both ways in.
    let (st, b) = s.put_raw("sys/rekey/init", init.clone(), None);
    assert_eq!(st, 400, "{b}");
    let msg = b["errors"][0].as_str().unwrap();
    assert!(
        msg.contains("enable_unauthenticated_access") && msg.contains("sudo"),
        "{b}"
    );
    for path in ["sys/rekey/init", "sys/rekey/verify"] {
        assert_eq!(s.get_raw(path, None).0, 400, "{path}");
    }
    assert_eq!(
        s.put_raw("sys/rekey/update", json!({"key": "x", "nonce": "y"}), None)
            .0,
        400
    );
    // A bad token, or one without sudo on the path: 403.
    assert_eq!(
        s.put_raw("sys/rekey/init", init.clone(), Some("bogus")).0,
        403
    );
    s.policy(
        "rekeyer",
        r#"path "sys/rekey/*" { capabilities = ["create", "read", "update", "delete"] }"#,
    );
    let no_sudo = s.token(json!({"policies": ["rekeyer"]}));
    assert_eq!(
        s.put_raw("sys/rekey/init", init.clone(), Some(&no_sudo)).0,
        403
    );
    assert_eq!(s.get_raw("sys/rekey/init", Some(&no_sudo)).0, 403);
    // Nothing was started by the refusals.
    let (st, b) = s.get_raw("sys/rekey/init", Some(&s.root_token));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["started"], false, "{b}");
    // A token with sudo on the path rekeys.
    s.policy(
        "rekey-sudo",
        r#"path "sys/rekey/*" { capabilities = ["create", "read", "update", "delete", "sudo"] }"#,
    );
    let sudo = s.token(json!({"policies": ["rekey-sudo"]}));
    let (st, b) = s.put_raw("sys/rekey/init", init.clone(), Some(&sudo));
    assert_eq!(st, 200, "{b}");
    let nonce = b["nonce"].as_str().unwrap().to_string();
    let (st, b) = s.put_raw(
        "sys/rekey/update",
        json!({"key": s.keys[0], "nonce": nonce}),
        Some(&sudo),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["complete"], true, "{b}");

    // With enable_unauthenticated_access = ["rekey"], as Vault: no token.
    let mut s = TestServer::sled_with_config("enable_unauthenticated_access = [\"rekey\"]\n");
    s.init(1, 1);
    s.unseal_all();
    let (st, b) = s.put_raw("sys/rekey/init", init, None);
    assert_eq!(st, 200, "{b}");
    let nonce = b["nonce"].as_str().unwrap().to_string();
    let (st, b) = s.put_raw(
        "sys/rekey/update",
        json!({"key": s.keys[0], "nonce": nonce}),
        None,
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["complete"], true, "{b}");
    // Token-less root generation stays off: it has its own setting.
    assert_eq!(
        s.put_raw("sys/generate-root/attempt", json!({}), None).0,
        400
    );
}
