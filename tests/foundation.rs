//! End-to-end tests of the foundation: init, unseal, seal, restart,
//! rotation, rekey, mounts, KV v1, and bad input, against the real binary.

mod common;

use common::TestServer;
use serde_json::json;

#[test]
fn init_unseal_write_restart_read() {
    let mut s = TestServer::sled();
    assert_eq!(s.get_raw("sys/init", None).1["initialized"], false);
    let (st, h) = s.get_raw("sys/health", None);
    assert_eq!(st, 501, "{h}");
    s.init(5, 3);
    assert_eq!(s.keys.len(), 5);
    assert!(s.root_token.starts_with("hvs."));
    // Init leaves the vault sealed, as Vault does.
    let (st, body) = s.get("sys/mounts");
    assert_eq!(
        (st, body["errors"][0].as_str()),
        (503, Some("Vault is sealed"))
    );
    assert_eq!(s.get_raw("sys/health", None).0, 503);
    s.unseal_all();
    assert_eq!(s.get_raw("sys/health", None).0, 200);
    assert_eq!(s.post("sys/mounts/kv", json!({"type": "kv"})).0, 204);
    assert_eq!(
        s.post("kv/app/db", json!({"password": "canary-123"})).0,
        204
    );
    s.restart();
    let (st, body) = s.get_raw("sys/seal-status", None);
    assert_eq!(st, 200);
    assert_eq!(body["sealed"], true);
    assert_eq!(body["t"], 3);
    assert_eq!(body["n"], 5);
    assert_eq!(s.get("kv/app/db").0, 503);
    s.unseal_all();
    let (st, body) = s.get("kv/app/db");
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["password"], "canary-123");
    assert_eq!(body["mount_type"], "kv");
}

#[test]
fn data_at_rest_holds_no_names_or_values() {
    // Random canaries (a different set each run) in values, path segments of
    // KV v1 and v2 mounts, a policy name and a token's metadata; then the
    // root token and every share (hex and raw) must not appear on disk.
    let mut s = TestServer::unsealed(3, 2);
    let canary = |tag: &str| format!("{tag}{:016x}", rand_u64());
    let (seg_a, seg_b, value, meta, policy) = (
        canary("seg"),
        canary("leaf"),
        canary("value"),
        canary("meta"),
        canary("pol"),
    );
    s.post("sys/mounts/kv", json!({"type": "kv"}));
    s.post(
        "sys/mounts/kv2",
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    assert_eq!(
        s.post(&format!("kv/{seg_a}/{seg_b}"), json!({"v": value}))
            .0,
        204
    );
    let (st, _) = s.post(
        &format!("kv2/data/{seg_a}/{seg_b}"),
        json!({"data": {"v": value}}),
    );
    assert_eq!(st, 200);
    s.policy(&policy, "path \"kv/*\" {\n  capabilities = [\"read\"]\n}\n");
    let token = s.token(json!({"policies": [policy], "meta": {"m": meta}}));
    s.terminate();
    let mut needles: Vec<Vec<u8>> = [
        &seg_a,
        &seg_b,
        &value,
        &meta,
        &policy,
        &token,
        &s.root_token,
    ]
    .iter()
    .map(|n| n.as_bytes().to_vec())
    .collect();
    for key in &s.keys {
        needles.push(key.as_bytes().to_vec());
        needles.push(hex_decode(key));
    }
    let mut found = Vec::new();
    for entry in walk(&s.dir.join("data")) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        for needle in &needles {
            if bytes.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push((
                    entry.display().to_string(),
                    String::from_utf8_lossy(needle).to_string(),
                ));
            }
        }
    }
    assert!(found.is_empty(), "plaintext found: {found:?}");
}

/// A random number: `RandomState` is seeded from the OS for each instance.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish()
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn unseal_progress_wrong_share_and_reset() {
    let mut s = TestServer::sled();
    s.init(3, 2);
    let (st, b) = s.put_raw("sys/unseal", json!({"key": s.keys[0]}), None);
    assert_eq!((st, b["progress"].as_u64()), (200, Some(1)));
    assert_ne!(b["nonce"], "");
    // Malformed share: 400, progress kept.
    let (st, b) = s.put_raw("sys/unseal", json!({"key": "not-a-share"}), None);
    assert_eq!(st, 400, "{b}");
    assert!(b["errors"][0]
        .as_str()
        .unwrap()
        .contains("invalid key share"));
    assert_eq!(s.get_raw("sys/seal-status", None).1["progress"], 1);
    // The same share twice: 400, progress kept.
    assert_eq!(
        s.put_raw("sys/unseal", json!({"key": s.keys[0]}), None).0,
        400
    );
    // A corrupted share (same length) spoils the attempt: refused, and the
    // progress is reset (Vault's rule: either share may be the wrong one).
    let mut bad = hex_decode(&s.keys[1]);
    bad[4] ^= 0x55;
    let (st, _) = s.put_raw("sys/unseal", json!({"key": hex_encode(&bad)}), None);
    assert_eq!(st, 400);
    assert_eq!(s.get_raw("sys/seal-status", None).1["progress"], 0);
    s.put_raw("sys/unseal", json!({"key": s.keys[0]}), None);
    // Reset clears progress.
    let (st, b) = s.put_raw("sys/unseal", json!({"reset": true}), None);
    assert_eq!((st, b["progress"].as_u64()), (200, Some(0)));
    // A share from another vault is refused.
    let other = TestServer::unsealed(3, 2);
    s.put_raw("sys/unseal", json!({"key": s.keys[2]}), None);
    assert_eq!(
        s.put_raw("sys/unseal", json!({"key": other.keys[0]}), None)
            .0,
        400
    );
    let (st, b) = s.put_raw("sys/unseal", json!({"key": s.keys[1]}), None);
    assert_eq!((st, b["sealed"].as_bool()), (200, Some(false)), "{b}");
    // Already unsealed: 200 with status.
    assert_eq!(
        s.put_raw("sys/unseal", json!({"key": s.keys[0]}), None).0,
        200
    );
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn init_validation() {
    let s = TestServer::sled();
    for body in [
        json!({"secret_shares": 0, "secret_threshold": 0}),
        json!({"secret_shares": 11, "secret_threshold": 2}),
        json!({"secret_shares": 3, "secret_threshold": 4}),
        json!({"secret_shares": "three", "secret_threshold": 1}),
        json!({"secret_shares": 1, "secret_threshold": 1, "pgp_keys": ["x"]}),
        json!({}),
    ] {
        let (st, b) = s.put_raw("sys/init", body.clone(), None);
        assert_eq!(st, 400, "{body} → {b}");
        assert!(b["errors"].is_array());
    }
    assert_eq!(
        s.put_raw(
            "sys/init",
            json!({"secret_shares": 1, "secret_threshold": 1}),
            None
        )
        .0,
        200
    );
    assert_eq!(
        s.put_raw(
            "sys/init",
            json!({"secret_shares": 1, "secret_threshold": 1}),
            None
        )
        .0,
        400
    );
}

#[test]
fn seal_then_everything_is_503() {
    let s = TestServer::unsealed(1, 1);
    assert_eq!(s.put_raw("sys/seal", json!({}), Some(&s.root_token)).0, 204);
    for path in [
        "sys/mounts",
        "auth/token/lookup-self",
        "secret/x",
        "sys/policies/acl",
    ] {
        let (st, b) = s.get(path);
        assert_eq!(st, 503, "{path}: {b}");
        assert_eq!(b["errors"][0], "Vault is sealed");
    }
    assert_eq!(s.get_raw("sys/health?sealedcode=299", None).0, 299);
    assert_eq!(s.get_raw("sys/seal-status", None).1["sealed"], true);
    s.unseal_all();
    assert_eq!(s.get_raw("sys/health?activecode=299", None).0, 299);
    assert_eq!(s.get_raw("sys/leader", None).1["is_self"], true);
}

#[test]
fn rotate_keeps_old_data_and_rekey_replaces_shares() {
    let mut s = TestServer::unsealed(3, 2);
    s.post("sys/mounts/kv", json!({"type": "kv"}));
    s.post("kv/old", json!({"v": "1"}));
    let (_, st0) = s.get("sys/key-status");
    assert_eq!(st0["data"]["term"], 1);
    assert_eq!(
        s.put_raw("sys/rotate", json!({}), Some(&s.root_token)).0,
        204
    );
    assert_eq!(s.get("sys/key-status").1["data"]["term"], 2);
    s.post("kv/new", json!({"v": "2"}));
    // Rekey to 2-of-4 with the old shares.
    let (st, b) = s.put_raw(
        "sys/rekey/init",
        json!({"secret_shares": 4, "secret_threshold": 2}),
        Some(&s.root_token),
    );
    assert_eq!(st, 200, "{b}");
    let nonce = b["nonce"].as_str().unwrap().to_string();
    assert_eq!(
        s.put_raw(
            "sys/rekey/update",
            json!({"key": s.keys[0], "nonce": "wrong"}),
            Some(&s.root_token)
        )
        .0,
        400
    );
    let (_, b) = s.put_raw(
        "sys/rekey/update",
        json!({"key": s.keys[0], "nonce": nonce}),
        Some(&s.root_token),
    );
    assert_eq!(b["progress"], 1);
    let (st, b) = s.put_raw(
        "sys/rekey/update",
        json!({"key": s.keys[1], "nonce": nonce}),
        Some(&s.root_token),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["complete"], true);
    let new_keys: Vec<String> = b["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    assert_eq!(new_keys.len(), 4);
    let old_keys = std::mem::replace(&mut s.keys, new_keys);
    s.restart();
    // An old share cannot be told apart alone; combined with a new one it is refused.
    assert_eq!(
        s.put_raw("sys/unseal", json!({"key": old_keys[0]}), None).0,
        200
    );
    assert_eq!(
        s.put_raw("sys/unseal", json!({"key": s.keys[0]}), None).0,
        400
    );
    s.put_raw("sys/unseal", json!({"reset": true}), None);
    s.unseal_all();
    assert_eq!(s.get("sys/key-status").1["data"]["term"], 2);
    assert_eq!(s.get("kv/old").1["data"]["v"], "1");
    assert_eq!(s.get("kv/new").1["data"]["v"], "2");
}

#[test]
fn mounts_enable_tune_disable_and_ui() {
    let s = TestServer::dev();
    assert_eq!(
        s.post(
            "sys/mounts/team/app",
            json!({"type": "kv", "description": "d"})
        )
        .0,
        204
    );
    let (st, b) = s.get("sys/mounts");
    assert_eq!(st, 200);
    assert_eq!(b["data"]["team/app/"]["type"], "kv");
    assert_eq!(b["team/app/"]["type"], "kv", "mounts also at top level");
    assert_eq!(
        s.post("sys/mounts/team/app", json!({"type": "kv"})).1["errors"][0]
            .as_str()
            .map(|e| e.contains("already in use")),
        Some(true)
    );
    assert_eq!(
        s.post("sys/mounts/team", json!({"type": "kv"})).0,
        400,
        "overlapping mount"
    );
    assert_eq!(s.post("sys/mounts/x", json!({"type": "nope"})).0, 400);
    assert_eq!(s.post("sys/mounts/sys", json!({"type": "kv"})).0, 400);
    assert_eq!(
        s.post("sys/mounts/a%2F..%2Fb", json!({"type": "kv"})).0,
        400
    );
    assert_eq!(
        s.post("sys/mounts/team/app/tune", json!({"max_lease_ttl": "2h"}))
            .0,
        204
    );
    assert_eq!(
        s.get("sys/mounts/team/app/tune").1["data"]["max_lease_ttl"],
        7200
    );
    let (st, b) = s.get("sys/internal/ui/mounts/team/app/some/key");
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["path"], "team/app/");
    s.post("team/app/k", json!({"a": "b"}));
    assert_eq!(s.delete("sys/mounts/team/app").0, 204);
    assert_eq!(s.get("team/app/k").0, 404);
    // Re-mounting at the same path does not resurrect old data.
    s.post("sys/mounts/team/app", json!({"type": "kv"}));
    assert_eq!(s.get("team/app/k").0, 404);
}

#[test]
fn kv_v1_crud_list_and_verbs() {
    let s = TestServer::dev();
    s.post(
        "sys/mounts/kv",
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    assert_eq!(
        s.post("kv/a/b", json!({"x": 1, "nested": {"y": [1, 2]}})).0,
        204
    );
    assert_eq!(
        s.request("PUT", "kv/a/c", Some(json!({"x": 2})), Some("root"))
            .0,
        204
    );
    s.post("kv/top", json!({"x": 3}));
    let (st, b) = s.list("kv/a/");
    assert_eq!((st, b["data"]["keys"].clone()), (200, json!(["b", "c"])));
    assert_eq!(
        s.get("kv/?list=true").1["data"]["keys"],
        json!(["a/", "top"])
    );
    assert_eq!(s.get("kv/a/b").1["data"]["nested"]["y"][1], 2);
    assert_eq!(s.delete("kv/a/b").0, 204);
    let (st, b) = s.get("kv/a/b");
    assert_eq!((st, b), (404, json!({"errors": []})));
    assert_eq!(s.list("kv/empty/").0, 404);
    assert_eq!(s.get("nomount/x").0, 404);
}

#[test]
fn bad_input_gets_clear_errors_and_server_keeps_serving() {
    let s = TestServer::dev();
    s.post("sys/mounts/kv", json!({"type": "kv"}));
    let cases: Vec<(&str, &str, Vec<u8>, u16)> = vec![
        ("POST", "kv/x", b"{not json".to_vec(), 400),
        ("POST", "kv/x", b"[1,2]".to_vec(), 400),
        ("POST", "sys/mounts/y", br#"{"type": 5}"#.to_vec(), 400),
        (
            "POST",
            "sys/mounts/y",
            br#"{"type": "kv", "options": "v2"}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "auth/token/create",
            br#"{"ttl": true}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "auth/token/create",
            br#"{"policies": {"a": 1}}"#.to_vec(),
            400,
        ),
        (
            "POST",
            "sys/policies/acl/p",
            br#"{"policy": "path \"x\" { capabilities = [\"read\""}"#.to_vec(),
            400,
        ),
        ("POST", "kv/a//b", br#"{"a": "b"}"#.to_vec(), 400),
        ("GET", "kv/%ff", Vec::new(), 400),
        ("BREW", "kv/x", Vec::new(), 405),
    ];
    for (method, path, body, want) in cases {
        let (st, b, ct) = s.send_bytes(method, path, body, Some("root"));
        assert_eq!(st, want, "{method} {path}: {b}");
        assert_eq!(ct, "application/json", "{method} {path}");
        assert!(b["errors"].is_array(), "{method} {path}: {b}");
    }
    let big = vec![b'a'; 33 * 1024 * 1024];
    let (st, b, _) = s.send_bytes("POST", "kv/big", big, Some("root"));
    assert_eq!(st, 413, "{b}");
    let (st, b) = s.request("GET", "kv/x", None, None);
    assert_eq!(
        (st, b["errors"][0].as_str()),
        (403, Some("permission denied"))
    );
    let (st, _) = s.request("GET", "kv/x", None, Some("hvs.bogus"));
    assert_eq!(st, 403);
    assert_eq!(s.post("kv/still", json!({"ok": true})).0, 204);
    assert_eq!(s.get("kv/still").1["data"]["ok"], true);
}

#[test]
fn bearer_token_and_vault_request_header_are_accepted() {
    let s = TestServer::dev();
    let resp = reqwest::blocking::Client::new()
        .get(s.url("auth/token/lookup-self"))
        .header("Authorization", "Bearer root")
        .header("X-Vault-Request", "true")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

#[test]
fn sigterm_shuts_down_cleanly_and_keeps_acknowledged_writes() {
    let mut s = TestServer::unsealed(1, 1);
    s.post("sys/mounts/kv", json!({"type": "kv"}));
    for i in 0..20 {
        assert_eq!(s.post(&format!("kv/k{i}"), json!({"i": i})).0, 204);
    }
    let status = s.terminate();
    assert!(status.success(), "exit status {status:?}");
    s.restart();
    s.unseal_all();
    for i in 0..20 {
        assert_eq!(s.get(&format!("kv/k{i}")).1["data"]["i"], i);
    }
}

#[test]
fn bad_config_and_arguments_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.hcl");
    std::fs::write(&cfg, "storage \"sled\" {\n path = \"d\"\n}\nlistener \"tcp\" {\n address = \"127.0.0.1:0\"\n tls_disable = true\n}\nlog_level = \"chatty\"\n").unwrap();
    let out = common::command()
        .args(["server", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("log_level"), "{err}");
    let out = common::command().args(["server"]).output().unwrap();
    assert!(!out.status.success());
    let out = common::command()
        .args(["server", "--config", "/nonexistent/x.hcl"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

#[test]
fn metrics_in_prometheus_and_json() {
    let s = TestServer::dev();
    s.get("sys/mounts");
    let resp = reqwest::blocking::Client::new()
        .get(s.url("sys/metrics?format=prometheus"))
        .header("X-Vault-Token", "root")
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = resp.text().unwrap();
    assert!(
        text.contains("vault_rs_requests_total{mount=\"sys/\",operation=\"read\",code=\"2xx\"}"),
        "{text}"
    );
    assert!(text.contains("vault_rs_sealed 0"), "{text}");
    assert!(!text.contains("root"), "no token or path in metrics");
    let (st, b) = s.get("sys/metrics");
    assert_eq!(st, 200);
    let sealed = b["Gauges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["Name"] == "vault_rs_sealed")
        .expect("sealed gauge");
    assert_eq!(sealed["Value"], 0.0);
    assert_eq!(s.request("GET", "sys/metrics", None, None).0, 403);
    assert_eq!(s.get("sys/metrics?format=xml").0, 400);
}

fn rekey_to(s: &TestServer, shares: u64, threshold: u64) -> Vec<String> {
    let (st, b) = s.put_raw(
        "sys/rekey/init",
        json!({"secret_shares": shares, "secret_threshold": threshold}),
        Some(&s.root_token),
    );
    assert_eq!(st, 200, "{b}");
    let nonce = b["nonce"].as_str().unwrap().to_string();
    let t = s.get_raw("sys/seal-status", None).1["t"].as_u64().unwrap() as usize;
    let mut last = json!(null);
    for key in s.keys.iter().take(t) {
        let (st, b) = s.put_raw(
            "sys/rekey/update",
            json!({"key": key, "nonce": nonce}),
            Some(&s.root_token),
        );
        assert_eq!(st, 200, "{b}");
        last = b;
    }
    assert_eq!(last["complete"], true, "{last}");
    last["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn held_shares_open_the_vault_until_the_new_shares_are_used() {
    // If the response carrying the new shares is lost (crash, network), the
    // operator still holds shares that open the vault.
    let mut s = TestServer::unsealed(3, 2);
    s.post("sys/mounts/kv", json!({"type": "kv"}));
    s.post("kv/a", json!({"v": "1"}));
    let new_keys = rekey_to(&s, 2, 2);
    s.restart();
    // The old set (threshold 2 of 3) still opens it ...
    s.unseal_all();
    assert_eq!(s.get("kv/a").1["data"]["v"], "1");
    // ... until the new shares are used once.
    let old_keys = std::mem::replace(&mut s.keys, new_keys);
    s.restart();
    s.unseal_all();
    s.restart();
    let (st, b) = s.put_raw("sys/unseal", json!({"key": old_keys[0]}), None);
    assert_eq!(st, 400, "{b}");
    assert!(
        b["errors"][0].as_str().unwrap().contains("does not belong"),
        "{b}"
    );
    s.unseal_all();
    assert_eq!(s.get("kv/a").1["data"]["v"], "1");
}

#[test]
fn a_share_of_another_vault_is_a_400_not_a_500() {
    let mut other = TestServer::sled();
    other.init(1, 1);
    for (n, k) in [(1, 1), (3, 2)] {
        let mut s = TestServer::sled();
        s.init(n, k);
        let (st, b) = s.put_raw("sys/unseal", json!({"key": other.keys[0]}), None);
        assert_eq!(st, 400, "{b}");
        assert!(
            b["errors"][0].as_str().unwrap().contains("does not belong"),
            "{b}"
        );
        // The vault's own shares still work afterwards.
        s.unseal_all();
        let (st, b) = s.put_raw(
            "sys/rekey/init",
            json!({"secret_shares": 1, "secret_threshold": 1}),
            Some(&s.root_token),
        );
        assert_eq!(st, 200, "{b}");
        let nonce = b["nonce"].as_str().unwrap();
        let (st, b) = s.put_raw(
            "sys/rekey/update",
            json!({"key": other.keys[0], "nonce": nonce}),
            Some(&s.root_token),
        );
        assert_eq!(st, 400, "{b}");
    }
    other.stop();
}

#[test]
fn server_refuses_a_store_with_data_but_no_seal_record() {
    let mut s = TestServer::unsealed(1, 1);
    s.post("sys/mounts/kv", json!({"type": "kv"}));
    s.post("kv/a", json!({"v": "1"}));
    s.stop();
    let data = s.dir.join("data");
    {
        use vault_rs::physical::Backend;
        let b = vault_rs::physical::SledBackend::open(&data).unwrap();
        assert!(b.get("core/seal").unwrap().is_some());
        b.delete("core/seal").unwrap();
    }
    let out = common::command()
        .args([
            "server",
            "--config",
            s.dir.join("config.hcl").to_str().unwrap(),
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to start"), "{err}");
    assert!(err.contains(data.to_str().unwrap()), "{err}");
    assert!(err.contains("no seal configuration"), "{err}");
}
