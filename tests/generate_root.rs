//! Root token generation from unseal shares: `sys/generate-root-token/*`
//! (sudo) and Vault's token-less `sys/generate-root/*` (only when the
//! configuration enables it), with Vault's OTP encoding.

mod common;

use base64::Engine;
use common::TestServer;
use serde_json::{json, Value};

/// `base64(token XOR otp)`, decoded as an operator would.
fn decode(encoded: &str, otp: &str) -> String {
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(encoded)
        .expect("unpadded base64");
    assert_eq!(raw.len(), otp.len());
    raw.iter()
        .zip(otp.bytes())
        .map(|(e, o)| (e ^ o) as char)
        .collect()
}

/// Runs a whole attempt through `prefix` with `token` (None: no token) and
/// returns the decoded root token.
fn generate(s: &TestServer, prefix: &str, token: Option<&str>, envelope: bool) -> String {
    let body = |v: Value| if envelope { v["data"].clone() } else { v };
    let (st, v) = s.get_raw(&format!("{prefix}/attempt"), token);
    assert_eq!(st, 200, "{v}");
    let status = body(v);
    assert_eq!(status["started"], false);
    let otp_length = status["otp_length"].as_u64().unwrap() as usize;
    assert!(otp_length > 20);

    let (st, v) = s.put_raw(&format!("{prefix}/attempt"), json!({}), token);
    assert_eq!(st, 200, "{v}");
    let started = body(v);
    let otp = started["otp"].as_str().unwrap().to_string();
    assert_eq!(otp.len(), otp_length);
    let nonce = started["nonce"].as_str().unwrap().to_string();
    assert_eq!(started["required"], 2);

    // A second attempt while one runs is refused.
    assert_eq!(
        s.put_raw(&format!("{prefix}/attempt"), json!({}), token).0,
        400
    );

    let (st, v) = s.put_raw(
        &format!("{prefix}/update"),
        json!({"key": s.keys[0], "nonce": nonce}),
        token,
    );
    assert_eq!(st, 200, "{v}");
    let progress = body(v);
    assert_eq!(progress["progress"], 1);
    assert_eq!(progress["complete"], false);
    assert_eq!(progress["encoded_token"], "");

    let (st, v) = s.put_raw(
        &format!("{prefix}/update"),
        json!({"key": s.keys[1], "nonce": nonce}),
        token,
    );
    assert_eq!(st, 200, "{v}");
    let done = body(v);
    assert_eq!(done["complete"], true);
    let encoded = done["encoded_token"].as_str().unwrap();
    assert_eq!(done["encoded_root_token"], encoded);
    // Neither the OTP nor the token appear in clear in the answer.
    assert!(!done.to_string().contains(&otp));
    let root = decode(encoded, &otp);
    assert!(root.starts_with("hvs."), "decoded token {}", root.len());
    // The attempt is over.
    assert_eq!(
        body(s.get_raw(&format!("{prefix}/attempt"), token).1)["started"],
        false
    );
    root
}

fn lookup_policies(s: &TestServer, token: &str) -> Value {
    let (st, v) = s.get_raw("auth/token/lookup-self", Some(token));
    assert_eq!(st, 200, "{v}");
    v["data"]["policies"].clone()
}

#[test]
fn a_sudo_token_and_a_threshold_of_shares_make_a_root_token() {
    let s = TestServer::unsealed(3, 2);
    let root = generate(&s, "sys/generate-root-token", Some(&s.root_token), true);
    assert_ne!(root, s.root_token);
    assert_eq!(lookup_policies(&s, &root), json!(["root"]));
}

#[test]
fn the_authenticated_form_needs_sudo() {
    let s = TestServer::unsealed(3, 2);
    s.policy(
        "almost",
        r#"path "sys/generate-root-token/*" { capabilities = ["read", "update", "create", "delete"] }"#,
    );
    let t = s.token(json!({"policies": ["almost"]}));
    assert_eq!(
        s.get_raw("sys/generate-root-token/attempt", Some(&t)).0,
        403
    );
    assert_eq!(
        s.put_raw("sys/generate-root-token/attempt", json!({}), None)
            .0,
        403
    );
}

#[test]
fn without_a_token_it_is_off_unless_configured() {
    let s = TestServer::unsealed(3, 2);
    let (st, v) = s.put_raw("sys/generate-root/attempt", json!({}), None);
    assert_eq!(st, 400, "{v}");
    assert!(
        v["errors"][0]
            .as_str()
            .unwrap()
            .contains("enable_unauthenticated_access"),
        "{v}"
    );

    let mut s =
        TestServer::sled_with_config("enable_unauthenticated_access = [\"generate-root\"]\n");
    s.init(3, 2);
    s.unseal_all();
    let root = generate(&s, "sys/generate-root", None, false);
    assert_eq!(lookup_policies(&s, &root), json!(["root"]));
}

#[test]
fn shares_of_another_vault_reset_progress_and_say_how_to_start_over() {
    let s = TestServer::unsealed(3, 2);
    let other = TestServer::unsealed(3, 2);
    let t = Some(s.root_token.as_str());
    let (_, v) = s.put_raw("sys/generate-root-token/attempt", json!({}), t);
    let nonce = v["data"]["nonce"].as_str().unwrap().to_string();
    for key in &other.keys[..1] {
        let (st, _) = s.put_raw(
            "sys/generate-root-token/update",
            json!({"key": key, "nonce": nonce}),
            t,
        );
        assert_eq!(st, 200);
    }
    let (st, v) = s.put_raw(
        "sys/generate-root-token/update",
        json!({"key": other.keys[1], "nonce": nonce}),
        t,
    );
    assert_eq!(st, 400, "{v}");
    let msg = v["errors"][0].as_str().unwrap();
    assert!(
        msg.contains("progress was reset") && msg.contains("cancel"),
        "{msg}"
    );
    let (_, v) = s.get_raw("sys/generate-root-token/attempt", t);
    assert_eq!(v["data"]["progress"], 0);
    assert_eq!(v["data"]["started"], true);
    // A wrong nonce is refused; cancelling ends the attempt.
    let (st, _) = s.put_raw(
        "sys/generate-root-token/update",
        json!({"key": s.keys[0], "nonce": "x"}),
        t,
    );
    assert_eq!(st, 400);
    assert_eq!(s.delete("sys/generate-root-token/attempt").0, 204);
    assert_eq!(
        s.get_raw("sys/generate-root-token/attempt", t).1["data"]["started"],
        false
    );
}

#[test]
fn a_chosen_otp_must_have_the_token_length_and_pgp_is_refused() {
    let s = TestServer::unsealed(1, 1);
    let t = Some(s.root_token.as_str());
    let (st, v) = s.put_raw(
        "sys/generate-root-token/attempt",
        json!({"otp": "short"}),
        t,
    );
    assert_eq!(st, 400, "{v}");
    assert!(v["errors"][0].as_str().unwrap().contains("otp"));
    let (st, v) = s.put_raw(
        "sys/generate-root-token/attempt",
        json!({"pgp_key": "abc"}),
        t,
    );
    assert_eq!(st, 400, "{v}");
    let len = s.get_raw("sys/generate-root-token/attempt", t).1["data"]["otp_length"]
        .as_u64()
        .unwrap() as usize;
    let otp: String = "a".repeat(len);
    let (st, v) = s.put_raw("sys/generate-root-token/attempt", json!({"otp": otp}), t);
    assert_eq!(st, 200, "{v}");
    assert!(v["data"].get("otp").is_none(), "a chosen OTP is not echoed");
    let nonce = v["data"]["nonce"].as_str().unwrap().to_string();
    let (_, v) = s.put_raw(
        "sys/generate-root-token/update",
        json!({"key": s.keys[0], "nonce": nonce}),
        t,
    );
    let root = decode(v["data"]["encoded_token"].as_str().unwrap(), &otp);
    assert_eq!(lookup_policies(&s, &root), json!(["root"]));
}

/// `vault-rs ARGS…` against `s` with `token`; (exit code, stdout, stderr).
fn cli(s: &TestServer, token: &str, args: &[&str]) -> (i32, String, String) {
    let out = common::command()
        .args(args)
        .env("VAULT_ADDR", &s.addr)
        .env("VAULT_TOKEN", token)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_cli_runs_the_whole_flow_and_decodes_locally() {
    let s = TestServer::unsealed(3, 2);
    let root = s.root_token.clone();
    let (code, out, err) = cli(&s, &root, &["operator", "generate-root", "-status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Started") && out.contains("false"), "{out}");
    let (code, out, err) = cli(
        &s,
        &root,
        &["operator", "generate-root", "-init", "-format=json"],
    );
    assert_eq!(code, 0, "{err}");
    let init: Value = serde_json::from_str(&out).unwrap();
    let otp = init["otp"].as_str().unwrap().to_string();
    let mut encoded = String::new();
    for key in &s.keys[..2] {
        let (code, out, err) = cli(
            &s,
            &root,
            &["operator", "generate-root", "-format=json", key],
        );
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        encoded = v["encoded_token"].as_str().unwrap_or("").to_string();
    }
    assert!(!encoded.is_empty());
    let (code, out, err) = cli(
        &s,
        "",
        &[
            "operator",
            "generate-root",
            "-decode",
            &encoded,
            "-otp",
            &otp,
        ],
    );
    assert_eq!(code, 0, "{err}");
    let token = out.trim();
    assert_eq!(lookup_policies(&s, token), json!(["root"]));
    // A wrong pad is refused, not turned into garbage.
    let (code, _, err) = cli(
        &s,
        "",
        &[
            "operator",
            "generate-root",
            "-decode",
            &encoded,
            "-otp",
            "short",
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("length"), "{err}");
    // Cancel and status.
    assert_eq!(cli(&s, &root, &["operator", "generate-root", "-init"]).0, 0);
    let (code, out, _) = cli(&s, &root, &["operator", "generate-root", "-cancel"]);
    assert_eq!(code, 0);
    assert!(out.contains("canceled"), "{out}");
}
