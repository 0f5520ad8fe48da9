//! Unseal shares encrypted to operators' OpenPGP keys (`pgp_keys` on
//! `sys/init` and `sys/rekey/init`) and the rekey backup, checked with
//! GnuPG as the independent decrypter.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::TestServer;
use serde_json::{json, Value};

/// A throwaway GnuPG home with one key per name; returns each key's
/// public key as base64 of its binary form (what `pgp_keys` takes).
fn gpg_keys(home: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|name| {
            let st = gpg(home)
                .args([
                    "--quick-gen-key",
                    &format!("{name} <{name}@example.test>"),
                    "future-default",
                    "default",
                    "never",
                ])
                .status()
                .expect("gpg (GnuPG) is needed for this test");
            assert!(st.success(), "gpg --quick-gen-key failed");
            let out = gpg(home).args(["--export", name]).output().unwrap();
            assert!(out.status.success() && !out.stdout.is_empty());
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(out.stdout)
        })
        .collect()
}

fn gpg(home: &Path) -> Command {
    let mut c = Command::new("gpg");
    c.args([
        "--batch",
        "--yes",
        "--quiet",
        "--pinentry-mode",
        "loopback",
        "--passphrase",
        "",
    ])
    .env("GNUPGHOME", home)
    .stdin(Stdio::piped())
    .stderr(Stdio::null());
    c
}

/// Decrypts one `keys_base64` entry with GnuPG: the hex share.
fn decrypt(home: &Path, b64: &str) -> String {
    use base64::Engine;
    use std::io::Write;
    let msg = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let mut child = gpg(home)
        .arg("--decrypt")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&msg).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "gpg could not decrypt a share");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn init_and_rekey_hand_out_shares_only_the_key_holders_can_read() {
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let keys = gpg_keys(home.path(), &["op1", "op2", "op3"]);
    let mut s = TestServer::sled();

    // Refusals leave the vault uninitialized.
    let init = |s: &TestServer, body: Value| s.put_raw("sys/init", body, None);
    let (st, v) = init(
        &s,
        json!({"secret_shares": 2, "secret_threshold": 2, "pgp_keys": ["keybase:alice", keys[1]]}),
    );
    assert_eq!(st, 400, "{v}");
    assert!(v.to_string().contains("keybase"), "{v}");
    let (st, v) = init(
        &s,
        json!({"secret_shares": 2, "secret_threshold": 2, "pgp_keys": [keys[0]]}),
    );
    assert_eq!(st, 400, "{v}");
    assert_eq!(s.get_raw("sys/init", None).1["initialized"], false);

    let (st, v) = init(
        &s,
        json!({"secret_shares": 2, "secret_threshold": 2, "pgp_keys": [keys[0], keys[1]]}),
    );
    assert_eq!(st, 200, "{v}");
    s.root_token = v["root_token"].as_str().unwrap().to_string();
    let handed = strings(&v["keys_base64"]);
    // What was handed out is not a share: unsealing with it fails.
    assert_eq!(
        s.put_raw("sys/unseal", json!({"key": handed[0]}), None).0,
        400
    );
    s.keys = handed.iter().map(|k| decrypt(home.path(), k)).collect();
    assert!(s.keys.iter().all(|k| k.len() == 226), "hex shares");
    s.unseal_all();

    // Rekey to three operators, with a backup.
    let t = Some(s.root_token.as_str());
    let (st, v) = s.put_raw(
        "sys/rekey/init",
        json!({"secret_shares": 3, "secret_threshold": 2, "pgp_keys": keys, "backup": true}),
        Some(&s.root_token),
    );
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["backup"], true);
    let fps = strings(&v["pgp_fingerprints"]);
    assert_eq!(fps.len(), 3);
    let nonce = v["nonce"].as_str().unwrap().to_string();
    let mut done = Value::Null;
    for k in &s.keys {
        let (st, v) = s.put_raw(
            "sys/rekey/update",
            json!({"key": k, "nonce": nonce}),
            Some(&s.root_token),
        );
        assert_eq!(st, 200, "{v}");
        done = v;
    }
    assert_eq!(done["complete"], true, "{done}");
    assert_eq!(strings(&done["pgp_fingerprints"]), fps);
    let new_keys: Vec<String> = strings(&done["keys_base64"])
        .iter()
        .map(|k| decrypt(home.path(), k))
        .collect();

    // The backup holds the same encrypted shares, by fingerprint; sudo only.
    assert_eq!(s.get_raw("sys/rekey/backup", None).0, 403);
    let (st, b) = s.get_raw("sys/rekey/backup", t);
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["nonce"], nonce);
    for (fp, handed) in fps.iter().zip(strings(&done["keys_base64"])) {
        assert_eq!(strings(&b["data"]["keys_base64"][fp]), vec![handed]);
    }
    assert_eq!(s.request("DELETE", "sys/rekey/backup", None, t).0, 204);
    assert_eq!(s.get_raw("sys/rekey/backup", t).0, 400);

    // The decrypted new shares open the vault.
    assert_eq!(s.put_raw("sys/seal", json!({}), t).0, 204);
    s.keys = new_keys;
    s.unseal_all();

    // backup without keys, or a wrong count, is refused.
    let (st, _) = s.put_raw(
        "sys/rekey/init",
        json!({"secret_shares": 2, "secret_threshold": 2, "backup": true}),
        Some(&s.root_token),
    );
    assert_eq!(st, 400);
    let (st, _) = s.put_raw(
        "sys/rekey/init",
        json!({"secret_shares": 2, "secret_threshold": 2, "pgp_keys": [keys[0]]}),
        Some(&s.root_token),
    );
    assert_eq!(st, 400);
}

/// The fingerprint GnuPG gives the primary key of `name`, lower-case hex.
fn gpg_fingerprint(home: &Path, name: &str) -> String {
    let out = gpg(home)
        .args(["--with-colons", "--fingerprint", name])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("fpr:"))
        .expect("a fingerprint");
    line.split(':').nth(9).unwrap().to_lowercase()
}

#[test]
fn generate_root_with_pgp_key_hands_the_token_to_the_key_holder_only() {
    let home = tempfile::tempdir().unwrap();
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let keys = gpg_keys(home.path(), &["op1"]);
    let s = TestServer::unsealed(3, 2);
    let t = Some(s.root_token.as_str());
    let attempt = "sys/generate-root-token/attempt";
    // An OTP and a key together, or a key that is not one: refused.
    let (st, v) = s.put_raw(
        attempt,
        json!({"pgp_key": keys[0], "otp": "a".repeat(28)}),
        t,
    );
    assert_eq!(st, 400, "{v}");
    assert!(v.to_string().contains("mutually exclusive"), "{v}");
    let (st, v) = s.put_raw(attempt, json!({"pgp_key": "keybase:alice"}), t);
    assert_eq!(st, 400, "{v}");
    assert!(v.to_string().contains("pgp_key"), "{v}");

    let (st, v) = s.put_raw(attempt, json!({"pgp_key": keys[0]}), t);
    assert_eq!(st, 200, "{v}");
    let started = &v["data"];
    let fingerprint = gpg_fingerprint(home.path(), "op1");
    assert_eq!(started["pgp_fingerprint"], fingerprint.as_str(), "{v}");
    assert!(started.get("otp").is_none(), "no OTP with a key: {v}");
    let nonce = started["nonce"].as_str().unwrap().to_string();
    // The status names the key while the attempt runs.
    let (_, v) = s.get_raw(attempt, t);
    assert_eq!(v["data"]["pgp_fingerprint"], fingerprint.as_str(), "{v}");

    let update = |key: &str| {
        s.put_raw(
            "sys/generate-root-token/update",
            json!({"key": key, "nonce": nonce}),
            t,
        )
    };
    let (st, v) = update(&s.keys[0]);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["encoded_token"], "");
    let (st, v) = update(&s.keys[2]);
    assert_eq!(st, 200, "{v}");
    let done = &v["data"];
    assert_eq!(done["complete"], true, "{v}");
    assert_eq!(done["pgp_fingerprint"], fingerprint.as_str(), "{v}");
    let encoded = done["encoded_token"].as_str().unwrap();
    assert_eq!(done["encoded_root_token"], encoded);

    // GnuPG decrypts the message to the token itself (Vault's plaintext).
    let token = decrypt(home.path(), encoded);
    assert!(token.starts_with("hvs."), "{token}");
    assert!(!v.to_string().contains(&token), "the token is not in clear");
    assert_ne!(token, s.root_token);
    let (st, v) = s.get_raw("auth/token/lookup-self", Some(&token));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["data"]["policies"], json!(["root"]));
    // The attempt is over.
    let (_, v) = s.get_raw(attempt, t);
    assert_eq!(v["data"]["started"], false, "{v}");
    assert_eq!(v["data"]["pgp_fingerprint"], "", "{v}");

    // The CLI's -pgp-key takes a key file (here GnuPG's binary export).
    use base64::Engine;
    let file = home.path().join("op1.gpg");
    let binary = base64::engine::general_purpose::STANDARD
        .decode(&keys[0])
        .unwrap();
    std::fs::write(&file, binary).unwrap();
    let out = common::command()
        .args(["operator", "generate-root", "-init", "-pgp-key"])
        .arg(&file)
        .env("VAULT_ADDR", &s.addr)
        .env("VAULT_TOKEN", &s.root_token)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&fingerprint), "{text}");
    let (_, v) = s.get_raw(attempt, t);
    assert_eq!(v["data"]["pgp_fingerprint"], fingerprint.as_str(), "{v}");
}
