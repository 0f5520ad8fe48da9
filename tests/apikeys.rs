//! End-to-end tests of the `apikeys` engine against the real binary:
//! create/validate, checksum rejection without storage access, rotation with
//! grace, the scheduler across a restart, revocation, creds and policies,
//! the audit log, rate limiting, imports, a second mount, webhooks, the CLI,
//! and validation that never fails while keys rotate.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};

/// Creates `name` on `mount`; returns the response data.
fn create_at(s: &TestServer, mount: &str, name: &str, body: Value) -> Value {
    let (st, b) = s.post(&format!("{mount}/keys/{name}"), body);
    assert_eq!(st, 200, "{b}");
    b["data"].clone()
}

fn create(s: &TestServer, name: &str, body: Value) -> String {
    let d = create_at(s, "apikeys", name, body);
    d["key"]
        .as_str()
        .expect("key in create response")
        .to_string()
}

/// Validates with `token`; returns the data (asserting a 200).
fn validate_as(s: &TestServer, token: &str, body: Value) -> Value {
    let (st, b) = s.request("POST", "apikeys/validate", Some(body), Some(token));
    assert_eq!(st, 200, "{b}");
    b["data"].clone()
}

fn validate(s: &TestServer, body: Value) -> Value {
    validate_as(s, &s.root_token, body)
}

/// "valid" or the reason.
fn verdict(s: &TestServer, key: &str) -> String {
    let d = validate(s, json!({ "key": key }));
    if d["valid"] == true {
        "valid".into()
    } else {
        d["reason"].as_str().unwrap_or("?").to_string()
    }
}

fn rotate(s: &TestServer, name: &str, body: Value) -> Value {
    let (st, b) = s.post(&format!("apikeys/keys/{name}/rotate"), body);
    assert_eq!(st, 200, "{b}");
    b["data"].clone()
}

fn current_version(s: &TestServer, name: &str) -> u64 {
    let (st, b) = s.get(&format!("apikeys/keys/{name}"));
    assert_eq!(st, 200, "{b}");
    b["data"]["current_version"]
        .as_u64()
        .expect("current_version")
}

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

fn one_char_changed(key: &str) -> String {
    let mut b = key.as_bytes().to_vec();
    let i = b.len() - 12;
    b[i] = if b[i] == b'Q' { b'R' } else { b'Q' };
    String::from_utf8(b).expect("ascii")
}

fn validator_token(s: &TestServer) -> String {
    s.policy(
        "validator",
        r#"path "apikeys/validate" { capabilities = ["update"] }"#,
    );
    s.token(json!({"policies": ["validator"]}))
}

#[test]
fn create_then_validate_with_scopes_and_service() {
    let s = TestServer::dev();
    let key = create(
        &s,
        "billing-api",
        json!({"service": "billing", "scopes": ["orders:read", "refunds:*"],
               "metadata": {"team": "payments"}, "ttl": "24h"}),
    );
    let (prefix, rest) = key.split_at("vrs_live_".len());
    assert_eq!(prefix, "vrs_live_");
    assert_eq!(rest.len(), 46, "40 random + 6 checksum: {key}");
    assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()));

    let token = validator_token(&s);
    let d = validate_as(
        &s,
        &token,
        json!({"key": key, "scope": "orders:read", "service": "billing"}),
    );
    assert_eq!(d["valid"], true, "{d}");
    assert_eq!(d["name"], "billing-api");
    assert_eq!(d["service"], "billing");
    assert_eq!(d["environment"], "live");
    assert_eq!(d["scopes"], json!(["orders:read", "refunds:*"]));
    assert_eq!(d["version"], 1);
    assert_eq!(d["metadata"]["team"], "payments");
    assert!(d["expires_at"].is_string());
    let d = validate_as(&s, &token, json!({"key": key, "scope": "refunds:issue"}));
    assert_eq!(d["valid"], true, "prefix-glob scope");

    let d = validate_as(&s, &token, json!({"key": key, "scope": "orders:write"}));
    assert_eq!(d, json!({"valid": false, "reason": "scope"}));
    let d = validate_as(&s, &token, json!({"key": key, "service": "shipping"}));
    assert_eq!(d, json!({"valid": false, "reason": "service"}));
    let other = key.replacen("vrs_live_", "vrs_test_", 1);
    assert_eq!(verdict(&s, &other), "malformed", "env is checksummed");

    // Metadata and list never show the key.
    let (st, meta) = s.get("apikeys/keys/billing-api");
    assert_eq!(st, 200);
    assert!(!meta.to_string().contains(&key));
    assert_eq!(meta["data"]["versions"]["1"]["state"], "current");
    let (st, list) = s.list("apikeys/keys");
    assert_eq!(
        (st, list["data"]["keys"].clone()),
        (200, json!(["billing-api"]))
    );
    // The validator token cannot read keys.
    let (st, _) = s.request("GET", "apikeys/creds/billing-api", None, Some(&token));
    assert_eq!(st, 403);
}

#[test]
fn one_changed_character_is_malformed_without_a_storage_read() {
    let s = TestServer::dev();
    let key = create(&s, "a", json!({"service": "svc"}));
    let (_, before) = s.get("apikeys/stats");
    let before = before["data"].clone();
    for _ in 0..20 {
        assert_eq!(verdict(&s, &one_char_changed(&key)), "malformed");
        assert_eq!(verdict(&s, &key), "valid");
    }
    let (_, after) = s.get("apikeys/stats");
    let after = after["data"].clone();
    assert_eq!(
        after["storage_reads"], before["storage_reads"],
        "validation reads no storage: {before} → {after}"
    );
    assert_eq!(after["storage_writes"], before["storage_writes"]);
    let delta = |k: &str| {
        after["validations"][k].as_u64().unwrap_or(0)
            - before["validations"][k].as_u64().unwrap_or(0)
    };
    assert_eq!((delta("malformed"), delta("valid")), (20, 20));
}

#[test]
fn rotation_keeps_the_old_key_valid_for_the_grace_period_only() {
    let s = TestServer::dev_manual_clock();
    let v1 = create(&s, "a", json!({"service": "svc", "grace_period": 2}));
    let r = rotate(&s, "a", json!({}));
    let v2 = r["key"].as_str().expect("key").to_string();
    assert_eq!(
        (r["version"].clone(), r["previous_version"].clone()),
        (json!(2), json!(1))
    );
    assert!(r["previous_valid_until"].is_string());
    assert_eq!(verdict(&s, &v1), "valid");
    assert_eq!(verdict(&s, &v2), "valid");
    assert_eq!(validate(&s, json!({"key": v1}))["current"], false);
    let (_, meta) = s.get("apikeys/keys/a");
    assert_eq!(meta["data"]["versions"]["1"]["state"], "grace");
    s.advance("3s");
    assert_eq!(verdict(&s, &v1), "expired");
    assert_eq!(verdict(&s, &v2), "valid");
    let (_, meta) = s.get("apikeys/keys/a");
    assert_eq!(meta["data"]["versions"]["1"]["state"], "retired");
    // The CLI spelling of a rotation works too (covered in cli_commands).
}

#[test]
fn scheduler_rotates_on_time_and_exactly_once_across_downtime() {
    // The server's clock moves only when the test says; a seal and unseal
    // (state dropped, rebuilt from storage) with time passing in between
    // is the downtime. (A real restart: `index_is_consistent_right_after_a_restart`.)
    let s = TestServer::dev_manual_clock();
    create(
        &s,
        "fast",
        json!({"service": "a", "rotation_period": 3, "grace_period": 30}),
    );
    create(
        &s,
        "slow",
        json!({"service": "b", "rotation_period": 14, "grace_period": 30}),
    );
    // On time: version 2 at 3 s after creation, not before.
    s.advance("2s");
    assert_eq!(current_version(&s, "fast"), 1, "rotated early");
    s.advance("1s");
    assert_eq!(current_version(&s, "fast"), 2);
    let (_, c) = s.get("apikeys/creds/fast");
    let v2 = c["data"]["key"].as_str().expect("key").to_string();
    // Down for more than two periods of "fast", in the middle of "slow"'s.
    let (st, b) = s.put_raw("sys/seal", json!({}), Some(&s.root_token));
    assert_eq!(st, 204, "{b}");
    s.unseal_all();
    // Right after the unseal the index is consistent: v2 is still valid.
    assert_eq!(verdict(&s, &v2), "valid");
    s.advance("7s");
    // Overdue: rotated once (3), not caught up (would be 4 or 5).
    assert_eq!(current_version(&s, "fast"), 3);
    s.advance("1s");
    assert_eq!(current_version(&s, "fast"), 3, "no catch-up rotation loop");
    assert_eq!(
        current_version(&s, "slow"),
        1,
        "not due yet: not rotated by the downtime"
    );
    // "slow" rotates at its original time (t0 + 14 s), once.
    s.advance("2s");
    assert_eq!(current_version(&s, "slow"), 1, "slow rotated early");
    s.advance("1s");
    assert_eq!(current_version(&s, "slow"), 2);
    s.advance("1s");
    assert_eq!(current_version(&s, "slow"), 2);
    let (_, meta) = s.get("apikeys/keys/fast");
    assert!(meta["data"]["next_rotation"].is_string());
}

#[test]
fn index_is_consistent_right_after_a_restart() {
    let mut s = TestServer::unsealed(1, 1);
    s.post("sys/mounts/apikeys", json!({"type": "apikeys"}));
    let v1 = create(&s, "a", json!({"service": "svc"}));
    let v2 = rotate(&s, "a", json!({}))["key"]
        .as_str()
        .expect("key")
        .to_string();
    let b = create(&s, "b", json!({"service": "svc"}));
    s.post("apikeys/keys/b/revoke", json!({}));
    let c = create(&s, "c", json!({"service": "svc"}));
    s.delete("apikeys/keys/c");
    s.restart();
    s.unseal_all();
    assert_eq!(verdict(&s, &v1), "valid");
    assert_eq!(verdict(&s, &v2), "valid");
    assert_eq!(verdict(&s, &b), "revoked");
    assert_eq!(verdict(&s, &c), "unknown");
}

#[test]
fn revocation_is_immediate() {
    let s = TestServer::dev();
    let v1 = create(&s, "a", json!({"service": "svc"}));
    let v2 = rotate(&s, "a", json!({}))["key"]
        .as_str()
        .expect("key")
        .to_string();
    let (st, r) = s.post("apikeys/keys/a/revoke", json!({"version": 1}));
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["data"]["revoked_versions"], json!([1]));
    assert_eq!(verdict(&s, &v1), "revoked");
    assert_eq!(verdict(&s, &v2), "valid");
    s.post("apikeys/keys/a/revoke", json!({}));
    assert_eq!(verdict(&s, &v2), "revoked");
    let (st, _) = s.get("apikeys/creds/a");
    assert_eq!(st, 400, "no usable version to hand out");
    assert_eq!(s.delete("apikeys/keys/a").0, 204);
    assert_eq!(verdict(&s, &v2), "unknown");
    assert_eq!(s.get("apikeys/keys/a").0, 404);
}

#[test]
fn creds_are_denied_by_policy_for_another_service() {
    let s = TestServer::dev();
    let a = create(
        &s,
        "svc-a",
        json!({"service": "a", "rotation_period": "1h"}),
    );
    create(
        &s,
        "svc-b",
        json!({"service": "b", "rotation_period": "1h"}),
    );
    s.policy(
        "service-a",
        r#"path "apikeys/creds/svc-a" { capabilities = ["read"] }"#,
    );
    let token = s.token(json!({"policies": ["service-a"]}));
    let (st, b) = s.request("GET", "apikeys/creds/svc-a", None, Some(&token));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["key"], json!(a));
    assert_eq!(b["data"]["version"], 1);
    let lease = b["lease_duration"].as_u64().expect("lease_duration");
    assert!((3590..=3600).contains(&lease), "time to rotation: {lease}");
    assert_eq!(b["mount_type"], "apikeys");
    for path in [
        "apikeys/creds/svc-b",
        "apikeys/keys/svc-a",
        "apikeys/keys/svc-b",
    ] {
        let (st, _) = s.request("GET", path, None, Some(&token));
        assert_eq!(st, 403, "{path}");
    }
    let (st, _) = s.request(
        "POST",
        "apikeys/keys/svc-a/rotate",
        Some(json!({})),
        Some(&token),
    );
    assert_eq!(st, 403);
}

#[test]
fn audit_log_holds_validations_with_hmaced_keys_only() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("audit.log");
    let (st, b) = s.request(
        "PUT",
        "sys/audit/file",
        Some(json!({"type": "file", "options": {"file_path": file.to_str().expect("utf8")}})),
        Some(&s.root_token),
    );
    assert_eq!(st, 204, "{b}");
    let key = create(&s, "a", json!({"service": "svc"}));
    let bad = one_char_changed(&key);
    assert_eq!(verdict(&s, &key), "valid");
    assert_eq!(verdict(&s, &bad), "malformed");
    let (_, c) = s.get("apikeys/creds/a");
    assert_eq!(c["data"]["key"], json!(key));
    let rotated = rotate(&s, "a", json!({}))["key"]
        .as_str()
        .expect("key")
        .to_string();
    let (_, h) = s.post("sys/audit-hash/file", json!({"input": key}));
    let hash = h["data"]["hash"].as_str().expect("hash").to_string();

    let text = std::fs::read_to_string(&file).expect("audit log");
    for secret in [&key, &bad, &rotated] {
        assert!(
            !text.contains(secret.as_str()),
            "a plaintext key is in the audit log"
        );
    }
    let validations: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["request"]["path"] == "apikeys/validate")
        .collect();
    let requests: Vec<&Value> = validations
        .iter()
        .filter(|e| e["type"] == "request")
        .collect();
    let responses = validations
        .iter()
        .filter(|e| e["type"] == "response")
        .count();
    assert_eq!(
        (requests.len(), responses),
        (2, 2),
        "every validation is audited"
    );
    for e in &requests {
        let logged = e["request"]["data"]["key"].as_str().expect("key field");
        assert!(logged.starts_with("hmac-sha256:"), "{logged}");
    }
    assert_eq!(requests[0]["request"]["data"]["key"], json!(hash));
}

#[test]
fn validate_is_rate_limited_per_client() {
    let s = TestServer::dev();
    let key = create(&s, "a", json!({"service": "svc"}));
    assert_eq!(
        s.post(
            "apikeys/config",
            json!({"rate_limit": 1, "rate_limit_burst": 3})
        )
        .0,
        204
    );
    let t1 = validator_token(&s);
    let t2 = s.token(json!({"policies": ["validator"]}));
    for _ in 0..3 {
        assert_eq!(validate_as(&s, &t1, json!({"key": key}))["valid"], true);
    }
    let (st, b) = s.request(
        "POST",
        "apikeys/validate",
        Some(json!({"key": key})),
        Some(&t1),
    );
    assert_eq!(st, 429, "{b}");
    assert!(b["errors"][0].as_str().unwrap_or("").contains("rate limit"));
    // Another client has its own bucket; the first refills.
    assert_eq!(validate_as(&s, &t2, json!({"key": key}))["valid"], true);
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(validate_as(&s, &t1, json!({"key": key}))["valid"], true);
    let (_, stats) = s.get("apikeys/stats");
    assert!(stats["data"]["validations"]["rate_limited"].as_u64() >= Some(1));
}

#[test]
fn imported_keys_are_delivered_validated_and_flagged_when_due() {
    let s = TestServer::dev_manual_clock();
    let external = "sk_live_51HthirdPartyProviderKeyAbc123";
    let d = create_at(
        &s,
        "apikeys",
        "stripe",
        json!({"service": "payments", "key": external, "rotation_period": 1, "scopes": ["charge"]}),
    );
    assert_eq!(
        (d["key"].clone(), d["imported"].clone()),
        (json!(external), json!(true))
    );
    let (_, c) = s.get("apikeys/creds/stripe");
    assert_eq!(c["data"]["key"], json!(external));
    let v = validate(&s, json!({"key": external, "scope": "charge"}));
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(verdict(&s, "sk_live_51HsomeOtherValue000000"), "unknown");
    s.advance("2s");
    let (_, meta) = s.get("apikeys/keys/stripe");
    assert_eq!(meta["data"]["rotation_due"], true);
    assert_eq!(meta["data"]["current_version"], 1, "never generated");
    let (_, c) = s.get("apikeys/creds/stripe");
    assert_eq!(c["data"]["rotation_due"], true);
    assert!(c["warnings"][0]
        .as_str()
        .unwrap_or("")
        .contains("rotation is due"));
    let (st, _) = s.post("apikeys/keys/stripe/rotate", json!({}));
    assert_eq!(st, 400, "an imported key needs its new value");
    let newer = "sk_live_51HthirdPartyProviderKeyXyz789";
    let r = rotate(&s, "stripe", json!({"key": newer}));
    assert_eq!(r["version"], 2);
    assert_eq!(verdict(&s, newer), "valid");
    assert_eq!(verdict(&s, external), "valid", "previous value in grace");
    let (_, meta) = s.get("apikeys/keys/stripe");
    assert_eq!(meta["data"]["rotation_due"], false);
}

#[test]
fn a_second_mount_has_its_own_prefix_and_keys() {
    let s = TestServer::dev();
    assert_eq!(
        s.post("sys/mounts/partner-keys", json!({"type": "apikeys"}))
            .0,
        204
    );
    assert_eq!(
        s.post("partner-keys/config", json!({"prefix": "ptr"})).0,
        204
    );
    let d = create_at(
        &s,
        "partner-keys",
        "acme",
        json!({"service": "acme", "environment": "test"}),
    );
    let key = d["key"].as_str().expect("key").to_string();
    assert!(key.starts_with("ptr_test_"), "{key}");
    assert_eq!(verdict(&s, &key), "unknown", "not a key of apikeys/");
    let (st, b) = s.post("partner-keys/validate", json!({"key": key}));
    assert_eq!((st, b["data"]["valid"].clone()), (200, json!(true)));
}

/// A webhook receiver: fails the first delivery, accepts the second.
fn webhook_receiver() -> (String, std::thread::JoinHandle<(String, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hooks/keys", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let mut last = (String::new(), String::new());
        for (i, stream) in listener.incoming().take(2).enumerate() {
            let mut stream = stream.expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let (mut signature, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).expect("header");
                let line = line.trim_end();
                if line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(": ") {
                    match name.to_ascii_lowercase().as_str() {
                        "x-vault-rs-signature" => signature = value.to_string(),
                        "content-length" => length = value.parse().unwrap_or(0),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).expect("body");
            let status = if i == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
            last = (signature, String::from_utf8(body).expect("utf8 body"));
        }
        last
    });
    (url, handle)
}

#[test]
fn rotations_notify_a_signed_webhook_with_retries() {
    let s = TestServer::dev();
    let (url, receiver) = webhook_receiver();
    // By default webhooks must be https:// and public: a plain-http
    // receiver on loopback is refused until the mount allows both.
    let (st, b) = s.post(
        "apikeys/keys/refused",
        json!({"service": "svc", "webhook_url": url}),
    );
    assert_eq!(st, 400, "{b}");
    assert!(b.to_string().contains("https"), "{b}");
    let (st, _) = s.post("apikeys/config", json!({"webhook_allow_http": true}));
    assert_eq!(st, 204);
    let (st, b) = s.post(
        "apikeys/keys/refused",
        json!({"service": "svc", "webhook_url": url}),
    );
    assert_eq!(st, 400, "{b}");
    assert!(b.to_string().contains("internal address"), "{b}");
    let (st, _) = s.post(
        "apikeys/config",
        json!({"webhook_allowed_networks": ["127.0.0.0/8"]}),
    );
    assert_eq!(st, 204);
    // Link-local (cloud metadata) stays refused: it is not in the list.
    let (st, b) = s.post(
        "apikeys/keys/refused",
        json!({"service": "svc", "webhook_url": "http://169.254.169.254/latest/meta-data/"}),
    );
    assert_eq!(st, 400, "{b}");
    let (st, b) = s.post(
        "apikeys/config",
        json!({"webhook_allowed_networks": ["not a cidr"]}),
    );
    assert_eq!(st, 400, "{b}");
    let d = create_at(
        &s,
        "apikeys",
        "hooked",
        json!({"service": "svc", "webhook_url": url}),
    );
    let secret = d["webhook_secret"]
        .as_str()
        .expect("webhook_secret")
        .to_string();
    let key = rotate(&s, "hooked", json!({}))["key"]
        .as_str()
        .expect("key")
        .to_string();
    let (signature, body) = receiver.join().expect("receiver");
    assert!(!body.contains(&key), "the event carries no key");
    let event: Value = serde_json::from_str(&body).expect("json event");
    assert_eq!(
        (event["event"].clone(), event["name"].clone()),
        (json!("rotated"), json!("hooked"))
    );
    assert_eq!(
        (event["version"].clone(), event["trigger"].clone()),
        (json!(2), json!("manual"))
    );
    let t = signature
        .split(',')
        .find_map(|p| p.strip_prefix("t="))
        .expect("t=");
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body.as_bytes());
    let expected = hex(&vault_rs::crypto::hmac_sha256(secret.as_bytes(), &signed));
    assert!(
        signature.ends_with(&format!("v1={expected}")),
        "{signature}"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn cli(s: &TestServer, home: &std::path::Path, args: &[&str]) -> Output {
    common::command()
        .args(args)
        .env("VAULT_ADDR", &s.addr)
        .env("VAULT_TOKEN", &s.root_token)
        .env("HOME", home)
        .output()
        .expect("run vault-rs")
}

fn cli_json(s: &TestServer, home: &std::path::Path, args: &[&str]) -> Value {
    let out = cli(s, home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

#[test]
fn cli_commands() {
    let s = TestServer::dev();
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let d = cli_json(
        &s,
        h,
        &[
            "apikeys",
            "create",
            "web",
            "--service",
            "web",
            "--scope",
            "read,write",
            "--rotation-period",
            "1h",
            "--metadata",
            "owner=ops",
            "--format",
            "json",
        ],
    );
    let key = d["data"]["key"].as_str().expect("key").to_string();
    assert!(key.starts_with("vrs_live_"));
    let g = cli_json(&s, h, &["apikeys", "get", "web", "--format", "json"]);
    assert_eq!(g["data"]["scopes"], json!(["read", "write"]));
    assert!(!g.to_string().contains(&key));
    let l = cli_json(&s, h, &["apikeys", "list", "--format", "json"]);
    assert_eq!(l, json!(["web"]));
    let c = cli_json(&s, h, &["apikeys", "creds", "web", "--format", "json"]);
    assert_eq!(c["data"]["key"], json!(key));
    let v = cli_json(
        &s,
        h,
        &[
            "apikeys", "validate", &key, "--scope", "read", "--format", "json",
        ],
    );
    assert_eq!(v["data"]["valid"], true);
    let bad = cli(
        &s,
        h,
        &[
            "apikeys",
            "validate",
            &one_char_changed(&key),
            "--format",
            "json",
        ],
    );
    assert_eq!(bad.status.code(), Some(1), "invalid key: exit 1");
    let out: Value = serde_json::from_slice(&bad.stdout).expect("json");
    assert_eq!(out["data"]["reason"], "malformed");
    let r = cli_json(&s, h, &["apikeys", "rotate", "web", "--format", "json"]);
    assert_eq!(r["data"]["version"], 2);
    let r = cli_json(
        &s,
        h,
        &[
            "apikeys",
            "revoke",
            "web",
            "--version",
            "1",
            "--format",
            "json",
        ],
    );
    assert_eq!(r["data"]["revoked_versions"], json!([1]));
    assert_eq!(verdict(&s, &key), "revoked");
    let out = cli(&s, h, &["apikeys", "delete", "web"]);
    assert!(out.status.success());
    let out = cli(&s, h, &["apikeys", "get", "web"]);
    assert_eq!(out.status.code(), Some(1));
}

/// The "done" criterion: services fetch their current key (as at boot and
/// on every refresh), receivers validate continuously from several threads,
/// keys rotate on schedule and by hand — and not one validation fails.
#[test]
fn validation_never_fails_while_keys_rotate() {
    let s = TestServer::dev_manual_clock();
    assert_eq!(s.post("apikeys/config", json!({"rate_limit": 0})).0, 204);
    create(
        &s,
        "live",
        json!({"service": "orders", "scopes": ["orders:read"], "rotation_period": 1, "grace_period": 3}),
    );
    let token = validator_token(&s);
    let fetch = |s: &TestServer| {
        let (st, b) = s.get("apikeys/creds/live");
        assert_eq!(st, 200, "{b}");
        (
            b["data"]["key"].as_str().expect("key").to_string(),
            b["data"]["version"].as_u64().expect("version"),
        )
    };
    let current = RwLock::new(fetch(&s));
    let stop = AtomicBool::new(false);
    let validations = AtomicU64::new(0);
    let failures = Mutex::new(Vec::new());
    let seen_versions = Mutex::new(std::collections::BTreeSet::new());
    std::thread::scope(|scope| {
        // The service: refreshes its key every 250 ms.
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                *current.write().expect("lock") = fetch(&s);
                std::thread::sleep(Duration::from_millis(250));
            }
        });
        // Time: a second passes every 500 ms (the schedule runs at each).
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                s.advance("1s");
            }
        });
        // An operator rotating by hand now and then.
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(1700));
                rotate(&s, "live", json!({}));
            }
        });
        // Receivers validating whatever key the service presents.
        for _ in 0..3 {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let (key, version) = current.read().expect("lock").clone();
                    let body = json!({"key": key, "scope": "orders:read", "service": "orders"});
                    let (st, b) = s.request("POST", "apikeys/validate", Some(body), Some(&token));
                    validations.fetch_add(1, Ordering::Relaxed);
                    if st != 200 || b["data"]["valid"] != true {
                        failures
                            .lock()
                            .expect("lock")
                            .push(format!("v{version}: {st} {b}"));
                    }
                    seen_versions.lock().expect("lock").insert(version);
                }
            });
        }
        std::thread::sleep(Duration::from_secs(4));
        stop.store(true, Ordering::Relaxed);
    });
    let failures = failures.into_inner().expect("lock");
    assert!(
        failures.is_empty(),
        "{} failed validations: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let n = validations.load(Ordering::Relaxed);
    let versions = seen_versions.into_inner().expect("lock");
    assert!(n > 200, "only {n} validations");
    assert!(
        versions.len() >= 6,
        "validated across rotations: {versions:?}"
    );
    let (_, stats) = s.get("apikeys/stats");
    assert!(
        stats["data"]["scheduled_rotations"].as_u64() >= Some(3),
        "{stats}"
    );
}

#[test]
fn scheduled_rotations_are_audited() {
    let s = TestServer::dev_manual_clock();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let (st, b) = s.request(
        "PUT",
        "sys/audit/file",
        Some(json!({"type": "file", "options": {"file_path": log.display().to_string()}})),
        Some("root"),
    );
    assert_eq!(st, 204, "{b}");
    let key = create(
        &s,
        "sched",
        json!({"service": "svc", "rotation_period": 1, "grace_period": 30}),
    );
    s.advance("1s");
    assert!(wait_until(Duration::from_secs(10), || current_version(
        &s, "sched"
    ) >= 2));
    let text = std::fs::read_to_string(&log).unwrap();
    let scheduled: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains("apikeys/keys/sched/rotate") && !l.contains("\"client_token\":\"hmac")
        })
        .collect();
    assert!(scheduled.len() >= 2, "request and response entries: {text}");
    assert!(!text.contains(&key), "the key never appears in clear");
}
