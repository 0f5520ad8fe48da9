//! Response wrapping end to end: wrap, lookup, unwrap once, rewrap.

mod common;

use common::TestServer;
use serde_json::json;

fn wrapped(
    s: &TestServer,
    method: &str,
    path: &str,
    body: serde_json::Value,
    ttl: &str,
) -> serde_json::Value {
    let resp = reqwest::blocking::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            s.url(path),
        )
        .header("X-Vault-Token", "root")
        .header("X-Vault-Wrap-TTL", ttl)
        .json(&body)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    resp.json().unwrap()
}

#[test]
fn wrap_unwrap_once() {
    let s = TestServer::dev();
    let b = wrapped(
        &s,
        "POST",
        "sys/wrapping/wrap",
        json!({"secret": "canary"}),
        "60s",
    );
    assert_eq!(b["data"], serde_json::Value::Null);
    let info = &b["wrap_info"];
    assert_eq!(info["ttl"], 60);
    assert_eq!(info["creation_path"], "sys/wrapping/wrap");
    let token = info["token"].as_str().unwrap().to_string();
    let (st, b) = s.request(
        "POST",
        "sys/wrapping/lookup",
        Some(json!({"token": token})),
        None,
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["creation_ttl"], 60);
    // The wrapping token grants nothing else.
    assert_eq!(
        s.request("GET", "auth/token/lookup-self", None, Some(&token))
            .0,
        403
    );
    let (st, b) = s.request("POST", "sys/wrapping/unwrap", None, Some(&token));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["secret"], "canary");
    let (st, b) = s.request("POST", "sys/wrapping/unwrap", None, Some(&token));
    assert_eq!(st, 400, "{b}");
    assert!(b["errors"][0]
        .as_str()
        .unwrap()
        .contains("wrapping token is not valid"));
}

#[test]
fn wrapped_token_creation_and_rewrap() {
    let s = TestServer::dev();
    let b = wrapped(
        &s,
        "POST",
        "auth/token/create",
        json!({"policies": ["default"]}),
        "5m",
    );
    let info = b["wrap_info"].clone();
    assert_eq!(info["creation_path"], "auth/token/create");
    assert!(!info["wrapped_accessor"].as_str().unwrap().is_empty());
    let t1 = info["token"].as_str().unwrap().to_string();
    let (st, b) = s.post("sys/wrapping/rewrap", json!({"token": t1}));
    assert_eq!(st, 200, "{b}");
    let t2 = b["wrap_info"]["token"].as_str().unwrap().to_string();
    assert_ne!(t1, t2);
    assert_eq!(s.post("sys/wrapping/unwrap", json!({"token": t1})).0, 400);
    let (st, b) = s.post("sys/wrapping/unwrap", json!({"token": t2}));
    assert_eq!(st, 200, "{b}");
    let inner = b["auth"]["client_token"].as_str().unwrap();
    assert_eq!(
        s.request("GET", "auth/token/lookup-self", None, Some(inner))
            .0,
        200
    );
    // Wrap without a TTL header is refused.
    assert_eq!(s.post("sys/wrapping/wrap", json!({"a": "b"})).0, 400);
}

#[test]
fn concurrent_unwraps_succeed_once() {
    let s = TestServer::dev();
    let b = wrapped(&s, "POST", "sys/wrapping/wrap", json!({"v": "x"}), "60s");
    let token = b["wrap_info"]["token"].as_str().unwrap().to_string();
    let ok = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                if s.request("POST", "sys/wrapping/unwrap", None, Some(&token))
                    .0
                    == 200
                {
                    ok.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(ok.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[test]
fn an_overlong_wrap_ttl_is_refused_before_anything_runs() {
    let s = TestServer::dev();
    let before = s.list("auth/token/accessors").1["data"]["keys"]
        .as_array()
        .unwrap()
        .len();
    let resp = reqwest::blocking::Client::new()
        .post(s.url("auth/token/create"))
        .header("X-Vault-Token", "root")
        .header("X-Vault-Wrap-TTL", "9999h")
        .json(&json!({}))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let after = s.list("auth/token/accessors").1["data"]["keys"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "no token was created");
}
