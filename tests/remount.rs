//! `sys/remount` and `vault-rs secrets move` end to end: a mount moves with
//! all its data (its storage is bound to its uuid, so only the mount table
//! changes), the move is persisted and audited, its status is reported, and
//! the moves Vault refuses are refused with nothing changed.

mod common;

use common::TestServer;
use serde_json::{json, Value};

fn remount(s: &TestServer, from: &str, to: &str) -> (u16, Value) {
    s.post("sys/remount", json!({"from": from, "to": to}))
}

fn mount_of<'a>(mounts: &'a Value, path: &str) -> &'a Value {
    &mounts["data"][path]
}

#[test]
fn a_secrets_engine_moves_with_its_data_and_the_move_is_persisted() {
    let mut s = TestServer::unsealed(1, 1);
    let (st, b) = s.post(
        "sys/mounts/app",
        json!({"type": "kv", "options": {"version": "2"}, "description": "apps"}),
    );
    assert_eq!(st, 204, "{b}");
    for v in ["one", "two"] {
        let (st, b) = s.post("app/data/db", json!({"data": {"pw": v}}));
        assert_eq!(st, 200, "{b}");
    }
    assert_eq!(
        s.post("sys/mounts/app/tune", json!({"default_lease_ttl": "1h"}))
            .0,
        204
    );
    let (_, before) = s.get("sys/mounts");
    let before = mount_of(&before, "app/").clone();

    let (st, b) = remount(&s, "app", "moved/apps");
    assert_eq!(st, 200, "{b}");
    let id = b["data"]["migration_id"].as_str().expect("migration id");
    assert_eq!(b["migration_id"], id, "repeated at the top level: {b}");
    let (st, status) = s.get(&format!("sys/remount/status/{id}"));
    assert_eq!(st, 200, "{status}");
    assert_eq!(
        status["data"]["migration_info"],
        json!({"source_mount": "app/", "target_mount": "moved/apps/", "status": "success"})
    );

    // Every version, at the new path; nothing at the old one.
    let (st, b) = s.get("moved/apps/data/db?version=1");
    assert_eq!((st, &b["data"]["data"]["pw"]), (200, &json!("one")), "{b}");
    assert_eq!(s.get("moved/apps/data/db").1["data"]["data"]["pw"], "two");
    assert_eq!(s.get("app/data/db").0, 404);
    // The same mount (uuid, accessor, options, tuning), at its new path.
    let (_, after) = s.get("sys/mounts");
    assert!(mount_of(&after, "app/").is_null(), "{after}");
    let moved = mount_of(&after, "moved/apps/");
    for field in [
        "uuid",
        "accessor",
        "options",
        "config",
        "description",
        "type",
    ] {
        assert_eq!(moved[field], before[field], "{field}");
    }

    // Persisted: the new path serves after a restart.
    s.restart();
    s.unseal_all();
    assert_eq!(s.get("moved/apps/data/db").1["data"]["data"]["pw"], "two");
    assert_eq!(s.get("app/data/db").0, 404);
    // The status of a move is kept in memory, as Vault's.
    assert_eq!(s.get(&format!("sys/remount/status/{id}")).0, 400);
}

#[test]
fn moves_vault_refuses_change_nothing() {
    let s = TestServer::dev();
    for (path, kind) in [("a", "kv"), ("b", "kv")] {
        assert_eq!(
            s.post(&format!("sys/mounts/{path}"), json!({"type": kind}))
                .0,
            204
        );
    }
    assert_eq!(s.post("a/k", json!({"v": 1})).0, 204);
    assert_eq!(s.post("sys/auth/up", json!({"type": "userpass"})).0, 204);
    for (from, to, why) in [
        ("a", "b", "path already in use"),
        ("a", "b/inner", "path already in use"),
        ("a", "secret/x", "path already in use"),
        ("a", "a", "onto itself"),
        ("missing", "c", "no matching mount"),
        ("a", "auth/a", "non-auth mount to auth mount"),
        ("auth/up", "up", "auth mount to non-auth mount"),
        ("sys", "system", "reserved"),
        ("cubbyhole", "cubby", "reserved"),
        ("a", "sys/a", "reserved"),
        ("auth/token", "auth/tokens", "reserved"),
        ("a", "auth/", "non-auth mount to auth mount"),
        ("a", "../x", "invalid"),
    ] {
        let (st, b) = remount(&s, from, to);
        assert_eq!(st, 400, "{from} -> {to}: {b}");
        let msg = b["errors"][0].as_str().unwrap_or("");
        assert!(msg.contains(why), "{from} -> {to}: {msg}");
    }
    let (st, b) = s.post("sys/remount", json!({"from": "a"}));
    assert_eq!(st, 400, "{b}");
    assert_eq!(s.get("a/k").1["data"]["v"], 1);
    assert!(s.get("sys/mounts").1["data"]["b/"].is_object());
    // Root-protected, as Vault's sys/remount.
    let t = s.token(json!({"policies": ["default"]}));
    let (st, _) = s.request(
        "POST",
        "sys/remount",
        Some(json!({"from": "a", "to": "c"})),
        Some(&t),
    );
    assert_eq!(st, 403);
    assert_eq!(s.get("a/k").0, 200);
}

#[test]
fn an_auth_method_moves_and_its_old_tokens_are_revoked() {
    let s = TestServer::dev();
    assert_eq!(s.post("sys/auth/up", json!({"type": "userpass"})).0, 204);
    let (st, b) = s.post("auth/up/users/alice", json!({"password": "pw-alice-123"}));
    assert_eq!(st, 204, "{b}");
    let login = |mount: &str| {
        s.request(
            "POST",
            &format!("auth/{mount}/login/alice"),
            Some(json!({"password": "pw-alice-123"})),
            None,
        )
    };
    let (st, b) = login("up");
    assert_eq!(st, 200, "{b}");
    let old = b["auth"]["client_token"].as_str().unwrap().to_string();
    let (_, before) = s.get("sys/auth");
    let accessor = before["data"]["up/"]["accessor"].clone();

    let (st, b) = remount(&s, "auth/up", "auth/people");
    assert_eq!(st, 200, "{b}");
    // The user moved with the method; the old path serves nothing.
    let (st, b) = login("people");
    assert_eq!(st, 200, "{b}");
    // (No token and no mount there: refused as any such request.)
    assert_eq!(login("up").0, 403);
    let (_, after) = s.get("sys/auth");
    assert_eq!(after["data"]["people/"]["accessor"], accessor);
    assert!(after["data"]["up/"].is_null());
    // Tokens issued under the old path are revoked, as Vault does.
    let (st, _) = s.request("GET", "auth/token/lookup-self", None, Some(&old));
    assert_eq!(st, 403);
}

#[test]
fn the_move_is_audited() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    let (st, b) = s.post(
        "sys/audit/file",
        json!({"type": "file", "options": {"file_path": log.to_str().unwrap()}}),
    );
    assert_eq!(st, 204, "{b}");
    assert_eq!(s.post("sys/mounts/a", json!({"type": "kv"})).0, 204);
    let (st, b) = remount(&s, "a", "z");
    assert_eq!(st, 200, "{b}");
    let text = std::fs::read_to_string(&log).expect("audit log");
    let entries: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let moved = entries
        .iter()
        .filter(|e| e["request"]["path"] == "sys/remount")
        .count();
    assert_eq!(moved, 2, "the request and its response: {text}");
}

#[test]
fn secrets_move_in_the_cli() {
    let s = TestServer::dev();
    assert_eq!(s.post("sys/mounts/kv1", json!({"type": "kv"})).0, 204);
    assert_eq!(s.post("kv1/a", json!({"k": "v"})).0, 204);
    let home = tempfile::tempdir().expect("home");
    let run = |args: &[&str]| {
        common::command()
            .args(args)
            .env("VAULT_ADDR", &s.addr)
            .env("VAULT_TOKEN", &s.root_token)
            .env("HOME", home.path())
            .output()
            .expect("run vault-rs")
    };
    let out = run(&["secrets", "move", "kv1", "kv1-moved"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Success! Finished moving secrets engine kv1/ to kv1-moved/"),
        "{stdout}"
    );
    assert_eq!(s.get("kv1-moved/a").1["data"]["k"], "v");
    // A refused move fails with the server's reason.
    let out = run(&["secrets", "move", "kv1-moved", "secret"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("path already in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
