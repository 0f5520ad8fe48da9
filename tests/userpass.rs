//! End-to-end tests of the userpass auth method: user CRUD, login, wrong
//! and unknown credentials, password and policy changes, and that neither
//! passwords nor their hashes ever come back.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};

fn server() -> TestServer {
    let s = TestServer::dev();
    let (st, b) = s.post("sys/auth/userpass", json!({"type": "userpass"}));
    assert_eq!(st, 204, "{b}");
    s
}

fn login(s: &TestServer, user: &str, password: &str) -> (u16, Value) {
    s.request(
        "POST",
        &format!("auth/userpass/login/{user}"),
        Some(json!({"password": password})),
        None,
    )
}

/// Turns off login lockout on `auth/userpass/` (for tests of what many
/// failed logins cost, which a lockout would cut short).
fn without_lockout(s: &TestServer) {
    let off = json!({"user_lockout_config": {"lockout_disable": true}});
    assert_eq!(s.post("sys/auth/userpass/tune", off).0, 204);
}

fn error(b: &Value) -> String {
    b["errors"][0].as_str().unwrap_or("").to_string()
}

#[test]
fn user_crud_never_shows_the_password() {
    let s = server();
    let body =
        json!({"password": "s3cret-pw-canary", "token_policies": "app,ops", "token_ttl": "1h"});
    // Policies match paths case-sensitively: only the stored (lower-case)
    // form of a name is accepted in management paths.
    assert_eq!(s.post("auth/userpass/users/Alice", body.clone()).0, 400);
    let (st, b) = s.post("auth/userpass/users/alice", body);
    assert_eq!(st, 204, "{b}");
    let (st, b) = s.get("auth/userpass/users/alice");
    assert_eq!(st, 200, "{b}");
    let d = &b["data"];
    assert_eq!(d["token_policies"], json!(["app", "ops"]));
    assert_eq!(d["token_ttl"], 3600);
    let text = b.to_string();
    assert!(!text.contains("s3cret-pw-canary"), "{text}");
    assert!(!text.contains("argon2"), "{text}");
    assert!(d.get("password").is_none() && d.get("password_hash").is_none());
    assert_eq!(s.get("auth/userpass/users/ALICE").0, 400);
    let (st, b) = s.list("auth/userpass/users");
    assert_eq!((st, &b["data"]["keys"]), (200, &json!(["alice"])));

    // Update without a password keeps it; a new user needs one.
    assert_eq!(
        s.post("auth/userpass/users/alice", json!({"token_ttl": 60}))
            .0,
        204
    );
    assert_eq!(login(&s, "alice", "s3cret-pw-canary").0, 200);
    let (st, b) = s.post("auth/userpass/users/bob", json!({"token_policies": "app"}));
    assert_eq!((st, error(&b).as_str()), (400, "missing password"));

    assert_eq!(s.delete("auth/userpass/users/alice").0, 204);
    assert_eq!(s.get("auth/userpass/users/alice").0, 404);
    assert_eq!(s.list("auth/userpass/users").0, 404);
    assert_eq!(login(&s, "alice", "s3cret-pw-canary").0, 400);
}

#[test]
fn login_issues_a_token_with_the_users_settings() {
    let s = server();
    s.post(
        "sys/mounts/kv",
        json!({"type": "kv", "options": {"version": "1"}}),
    );
    s.post("kv/app/x", json!({"v": "1"}));
    s.policy("app", r#"path "kv/app/*" { capabilities = ["read"] }"#);
    s.post(
        "auth/userpass/users/carol",
        json!({"password": "pw1", "policies": ["app"], "token_ttl": "30m", "token_max_ttl": "1h"}),
    );
    let (st, b) = login(&s, "Carol", "pw1");
    assert_eq!(st, 200, "{b}");
    let auth = &b["auth"];
    assert_eq!(auth["policies"], json!(["app", "default"]));
    assert_eq!(auth["metadata"], json!({"username": "carol"}));
    assert_eq!(auth["lease_duration"], 1800);
    let token = auth["client_token"].as_str().expect("token").to_string();
    let (_, me) = s.request("GET", "auth/token/lookup-self", None, Some(&token));
    assert_eq!(me["data"]["display_name"], "userpass-carol");
    assert_eq!(me["data"]["explicit_max_ttl"], 3600);
    assert_eq!(s.request("GET", "kv/app/x", None, Some(&token)).0, 200);
    assert!(!b.to_string().contains("pw1\""));
}

#[test]
fn wrong_password_and_unknown_user_get_the_same_answer() {
    let s = server();
    s.post("auth/userpass/users/dave", json!({"password": "right"}));
    let (st, wrong) = login(&s, "dave", "wrong");
    let (st2, unknown) = login(&s, "nobody", "wrong");
    assert_eq!((st, st2), (400, 400));
    assert_eq!(error(&wrong), "invalid username or password");
    assert_eq!(error(&wrong), error(&unknown));
    let (st, b) = s.request("POST", "auth/userpass/login/dave", Some(json!({})), None);
    assert_eq!((st, error(&b).as_str()), (400, "missing password"));
}

#[test]
fn unknown_user_login_costs_a_password_hash_too() {
    let s = server();
    without_lockout(&s);
    s.post("auth/userpass/users/erin", json!({"password": "right"}));
    let time = |user: &str| {
        let mut samples: Vec<Duration> = (0..5)
            .map(|_| {
                let t = Instant::now();
                assert_eq!(login(&s, user, "wrong").0, 400);
                t.elapsed()
            })
            .collect();
        samples.sort();
        samples[2]
    };
    let _warm = time("nobody");
    let known = time("erin");
    let unknown = time("nobody");
    // Generous bound: a shared test machine is noisy, but skipping the
    // hash would make the unknown-user login many times faster.
    assert!(
        unknown * 3 >= known,
        "unknown user {unknown:?} vs wrong password {known:?}"
    );
}

#[test]
fn password_and_policy_changes() {
    let s = server();
    s.post("auth/userpass/users/frank", json!({"password": "old"}));
    let (st, b) = s.post(
        "auth/userpass/users/frank/password",
        json!({"password": "new"}),
    );
    assert_eq!(st, 204, "{b}");
    assert_eq!(login(&s, "frank", "old").0, 400);
    assert_eq!(login(&s, "frank", "new").0, 200);
    let (st, b) = s.post("auth/userpass/users/frank/password", json!({}));
    assert_eq!((st, error(&b).as_str()), (400, "missing password"));
    let (st, _) = s.post(
        "auth/userpass/users/ghost/password",
        json!({"password": "x"}),
    );
    assert_eq!(st, 400);

    let (st, b) = s.post(
        "auth/userpass/users/frank/policies",
        json!({"policies": "b,a"}),
    );
    assert_eq!(st, 204, "{b}");
    assert_eq!(
        s.get("auth/userpass/users/frank").1["data"]["token_policies"],
        json!(["a", "b"])
    );
    let (_, b) = login(&s, "frank", "new");
    assert_eq!(b["auth"]["policies"], json!(["a", "b", "default"]));
}

#[test]
fn token_bound_cidrs_restrict_login_source() {
    let s = server();
    s.post(
        "auth/userpass/users/gina",
        json!({"password": "pw", "token_bound_cidrs": "127.0.0.1/32"}),
    );
    let client = reqwest::blocking::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().expect("ip"))
        .build()
        .expect("client");
    let st = client
        .post(s.url("auth/userpass/login/gina"))
        .json(&json!({"password": "pw"}))
        .send()
        .expect("send")
        .status()
        .as_u16();
    assert_eq!(st, 403);
    assert_eq!(login(&s, "gina", "pw").0, 200);
}

#[test]
fn non_canonical_user_paths_are_refused() {
    let s = TestServer::dev();
    s.post("sys/auth/userpass", json!({"type": "userpass"}));
    assert_eq!(
        s.post("auth/userpass/users/admin", json!({"password": "pw"}))
            .0,
        204
    );
    s.policy(
        "helpdesk",
        "path \"auth/userpass/users/*\" {\n  capabilities = [\"create\", \"update\"]\n}\npath \"auth/userpass/users/admin\" {\n  capabilities = [\"deny\"]\n}\n",
    );
    let t = s.token(json!({"policies": ["helpdesk"]}));
    for path in [
        "auth/userpass/users/admin",
        "auth/userpass/users/admin/",
        "auth/userpass/users/ADMIN",
    ] {
        let (st, _) = s.request("POST", path, Some(json!({"password": "owned"})), Some(&t));
        assert!(st == 403 || st == 400 || st == 404, "{path}: {st}");
    }
    let (st, _) = s.request(
        "POST",
        "auth/userpass/login/admin",
        Some(json!({"password": "pw"})),
        None,
    );
    assert_eq!(st, 200, "admin's password is unchanged");
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS`, `VmHWM`).
fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A flood of anonymous logins with bad passwords (known and unknown
/// users) keeps memory bounded: Argon2 runs on a fixed set of workers that
/// reuse their memory, and what cannot be served in time gets 429.
#[test]
fn a_login_flood_keeps_memory_bounded() {
    let s = server();
    without_lockout(&s);
    let Some(pid) = s.pid() else { return };
    if status_kib(pid, "VmRSS").is_none() {
        return; // no /proc here
    }
    let (st, _) = s.post("auth/userpass/users/alice", json!({"password": "right-pw"}));
    assert_eq!(st, 204);
    // Warm up: one login of each kind, so idle includes the workers.
    login(&s, "alice", "warm");
    login(&s, "nobody", "warm");
    let idle = status_kib(pid, "VmRSS").expect("VmRSS");
    let deadline = Instant::now() + Duration::from_secs(6);
    let url = s.url("auth/userpass/login/");
    let clients: Vec<_> = (0..32)
        .map(|i| {
            let url = url.clone();
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .build()
                    .expect("client");
                let user = if i % 2 == 0 { "alice" } else { "nobody" };
                let mut statuses = Vec::new();
                while Instant::now() < deadline {
                    match client
                        .post(format!("{url}{user}"))
                        .json(&json!({"password": format!("bad-{i}")}))
                        .send()
                    {
                        Ok(r) => statuses.push(r.status().as_u16()),
                        Err(_) => statuses.push(0),
                    }
                }
                statuses
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for c in clients {
        statuses.extend(c.join().expect("client thread"));
    }
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|st| *st == 400 || *st == 429),
        "unexpected statuses: {:?}",
        statuses
            .iter()
            .filter(|st| **st != 400 && **st != 429)
            .take(5)
            .collect::<Vec<_>>()
    );
    let peak = status_kib(pid, "VmHWM").expect("VmHWM");
    let growth_mib = peak.saturating_sub(idle) / 1024;
    let served = statuses.iter().filter(|st| **st == 400).count();
    eprintln!(
        "login flood: {} answers ({served} verified, the rest 429), idle {idle} KiB, \
         peak {peak} KiB, growth {growth_mib} MiB",
        statuses.len()
    );
    assert!(
        growth_mib < 200,
        "peak RSS grew {growth_mib} MiB above idle ({idle} KiB) during the flood"
    );
    // The server still answers, and the right password still works.
    assert_eq!(login(&s, "alice", "right-pw").0, 200);
}
