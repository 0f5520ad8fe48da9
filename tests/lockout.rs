//! End-to-end tests of login lockout (Vault's `user_lockout`) for userpass
//! and AppRole: N failed logins lock the alias out for a duration (even
//! the right password is refused), the count resets after a quiet window
//! and on success, settings come from the mount's tune, the operator sees
//! and lifts lockouts (`sys/locked-users`), the audit log records it all,
//! and time is the server's manual clock.

mod common;

use common::TestServer;
use serde_json::{json, Value};

fn login(s: &TestServer, user: &str, password: &str) -> u16 {
    s.request(
        "POST",
        &format!("auth/userpass/login/{user}"),
        Some(json!({"password": password})),
        None,
    )
    .0
}

fn with_userpass(s: &TestServer) -> String {
    assert_eq!(
        s.post("sys/auth/userpass", json!({"type": "userpass"})).0,
        204
    );
    for user in ["bob", "carol"] {
        let (st, b) = s.post(
            &format!("auth/userpass/users/{user}"),
            json!({"password": "right-pw"}),
        );
        assert_eq!(st, 204, "{b}");
    }
    let (st, b) = s.get("sys/auth");
    assert_eq!(st, 200, "{b}");
    b["data"]["userpass/"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string()
}

fn locked(s: &TestServer) -> Value {
    let (st, b) = s.get("sys/locked-users");
    assert_eq!(st, 200, "{b}");
    b["data"].clone()
}

#[test]
fn userpass_locks_after_five_failures_for_fifteen_minutes() {
    let s = TestServer::dev_manual_clock();
    let accessor = with_userpass(&s);
    // Untuned, the tune shows no lockout fields (as Vault's); the
    // defaults are Vault's.
    let (st, b) = s.get("sys/auth/userpass/tune");
    assert_eq!(st, 200, "{b}");
    assert!(b["data"].get("user_lockout_threshold").is_none(), "{b}");
    for _ in 0..4 {
        assert_eq!(login(&s, "bob", "wrong"), 400);
    }
    assert_eq!(locked(&s)["total"], 0);
    assert_eq!(login(&s, "Bob", "wrong"), 400, "names fold like the login");
    // Locked: the right password is refused, other users are not.
    assert_eq!(login(&s, "bob", "right-pw"), 403);
    assert_eq!(login(&s, "carol", "right-pw"), 200);
    let l = locked(&s);
    assert_eq!(l["total"], 1, "{l}");
    let m = &l["by_namespace"][0]["mount_accessors"][0];
    assert_eq!(m["mount_accessor"], accessor);
    assert_eq!(m["aliases"][0]["alias"], "bob");
    assert!(m["aliases"][0]["lockedtime"].is_string());
    // Still locked just before the 15 minutes end, free after.
    s.advance("899s");
    assert_eq!(login(&s, "bob", "right-pw"), 403);
    s.advance("1s");
    assert_eq!(login(&s, "bob", "right-pw"), 200);
    assert_eq!(locked(&s)["total"], 0);
}

#[test]
fn counts_reset_after_the_window_and_on_success() {
    let s = TestServer::dev_manual_clock();
    with_userpass(&s);
    for _ in 0..4 {
        assert_eq!(login(&s, "bob", "wrong"), 400);
    }
    s.advance("15m");
    for _ in 0..4 {
        assert_eq!(login(&s, "bob", "wrong"), 400);
    }
    assert_eq!(login(&s, "bob", "right-pw"), 200, "4 + 4 never locked");
    for _ in 0..4 {
        assert_eq!(login(&s, "bob", "wrong"), 400);
    }
    assert_eq!(login(&s, "bob", "right-pw"), 200, "success reset the count");
}

#[test]
fn tune_settings_operator_unlock_and_audit() {
    let s = TestServer::dev_manual_clock();
    let accessor = with_userpass(&s);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let (st, b) = s.post(
        "sys/audit/file",
        json!({"type": "file", "options": {"file_path": log.to_str().unwrap()}}),
    );
    assert_eq!(st, 204, "{b}");
    // Bad settings are refused; secrets mounts have none.
    let bad = json!({"user_lockout_config": {"lockout_threshold": 0}});
    assert_eq!(s.post("sys/auth/userpass/tune", bad).0, 400);
    let kv = json!({"user_lockout_config": {"lockout_threshold": 2}});
    assert_eq!(s.post("sys/mounts/secret/tune", kv).0, 400);
    let tune = json!({"user_lockout_config": {"lockout_threshold": "2", "lockout_duration": "1h"}});
    let (st, b) = s.post("sys/auth/userpass/tune", tune);
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.get("sys/auth/userpass/tune");
    assert_eq!(st, 200, "{b}");
    let d = &b["data"];
    assert_eq!(
        [
            &d["user_lockout_threshold"],
            &d["user_lockout_duration"],
            &d["user_lockout_counter_reset_duration"],
            &d["user_lockout_disable"]
        ],
        [&json!(2), &json!(3600), &json!(900), &json!(false)]
    );
    assert_eq!(login(&s, "bob", "wrong"), 400);
    assert_eq!(login(&s, "bob", "wrong"), 400);
    assert_eq!(login(&s, "bob", "right-pw"), 403);
    s.advance("59m");
    assert_eq!(login(&s, "bob", "right-pw"), 403);
    // Only a sudo token may see or lift lockouts.
    s.policy(
        "reader",
        r#"path "sys/locked-users*" { capabilities = ["read", "update"] }"#,
    );
    let t = s.token(json!({"policies": ["reader"]}));
    assert_eq!(s.get_raw("sys/locked-users", Some(&t)).0, 403);
    let unlock = format!("sys/locked-users/{accessor}/unlock/bob");
    assert_eq!(s.put_raw(&unlock, json!({}), Some(&t)).0, 403);
    assert_eq!(login(&s, "bob", "right-pw"), 403);
    // Filtered by accessor.
    let (st, b) = s.get(&format!("sys/locked-users?mount_accessor={accessor}"));
    assert_eq!((st, &b["data"]["total"]), (200, &json!(1)));
    let (st, b) = s.get("sys/locked-users?mount_accessor=auth_other_1");
    assert_eq!((st, &b["data"]["total"]), (200, &json!(0)));
    assert_eq!(s.post(&unlock, json!({})).0, 204);
    assert_eq!(login(&s, "bob", "right-pw"), 200);
    assert_eq!(locked(&s)["total"], 0);
    // Disabled: no lockout at all.
    let off = json!({"user_lockout_config": {"lockout_disable": true}});
    assert_eq!(s.post("sys/auth/userpass/tune", off).0, 204);
    for _ in 0..5 {
        assert_eq!(login(&s, "bob", "wrong"), 400);
    }
    assert_eq!(login(&s, "bob", "right-pw"), 200);
    // The audit log has the refused login and the unlock.
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let refused = lines.iter().any(|e| {
        e["type"] == "response"
            && e["request"]["path"] == "auth/userpass/login/bob"
            && e["error"] == "permission denied"
    });
    assert!(refused, "no audited refusal");
    let unlocked = lines
        .iter()
        .any(|e| e["type"] == "response" && e["request"]["path"] == unlock.as_str());
    assert!(unlocked, "no audited unlock");
    assert!(!text.contains("right-pw"), "a password in the audit log");
}

#[test]
fn approle_locks_by_role_id() {
    let s = TestServer::dev_manual_clock();
    assert_eq!(
        s.post("sys/auth/approle", json!({"type": "approle"})).0,
        204
    );
    assert_eq!(s.post("auth/approle/role/app", json!({})).0, 204);
    let (_, b) = s.get("auth/approle/role/app/role-id");
    let role_id = b["data"]["role_id"].as_str().unwrap().to_string();
    let (_, b) = s.post("auth/approle/role/app/secret-id", json!({}));
    let secret = b["data"]["secret_id"].as_str().unwrap().to_string();
    let login = |sid: &str| {
        s.request(
            "POST",
            "auth/approle/login",
            Some(json!({"role_id": role_id, "secret_id": sid})),
            None,
        )
        .0
    };
    for _ in 0..5 {
        assert_eq!(login("not-the-secret"), 400);
    }
    assert_eq!(login(&secret), 403);
    let l = locked(&s);
    assert_eq!(
        l["by_namespace"][0]["mount_accessors"][0]["aliases"][0]["alias"],
        role_id.as_str()
    );
    s.advance("15m");
    assert_eq!(login(&secret), 200);
}

#[test]
fn a_lockout_survives_a_restart() {
    let mut s = TestServer::unsealed(1, 1);
    with_userpass(&s);
    for _ in 0..5 {
        assert_eq!(login(&s, "bob", "wrong"), 400);
    }
    assert_eq!(login(&s, "bob", "right-pw"), 403);
    s.restart();
    s.unseal_all();
    assert_eq!(login(&s, "bob", "right-pw"), 403);
    assert_eq!(locked(&s)["total"], 1);
    // Counts below the threshold are not kept: carol starts over.
    assert_eq!(login(&s, "carol", "right-pw"), 200);
}
