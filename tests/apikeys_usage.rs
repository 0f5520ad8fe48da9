//! End-to-end tests of API key use tracking and revocation notices:
//! `last_used_time` and `use_count` per key version on the key's read,
//! counted in memory and written in batches (no storage write per
//! validation; kept across a seal), and a signed `revoked` event on the
//! key's webhook.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use common::TestServer;
use serde_json::{json, Value};

fn validate(s: &TestServer, key: &str) -> bool {
    let (st, b) = s.post("apikeys/validate", json!({ "key": key }));
    assert_eq!(st, 200, "{b}");
    b["data"]["valid"] == true
}

fn versions(s: &TestServer, name: &str) -> Value {
    let (st, b) = s.get(&format!("apikeys/keys/{name}"));
    assert_eq!(st, 200, "{b}");
    b["data"]["versions"].clone()
}

fn storage_writes(s: &TestServer) -> u64 {
    let (st, b) = s.get("apikeys/stats");
    assert_eq!(st, 200, "{b}");
    b["data"]["storage_writes"]
        .as_u64()
        .expect("storage_writes")
}

/// The server clock's time, to the millisecond (how use is recorded).
fn now(s: &TestServer) -> String {
    millis(&s.advance("0s")["data"]["now"])
}

/// An RFC 3339 time cut to whole milliseconds.
fn millis(t: &Value) -> String {
    let t = t.as_str().expect("a time").trim_end_matches('Z');
    let (secs, frac) = t.split_once('.').unwrap_or((t, ""));
    format!("{secs}.{:0<3.3}", frac)
}

#[test]
fn last_used_per_version_is_batched_and_survives_a_seal() {
    let s = TestServer::dev_manual_clock();
    let (st, b) = s.post("apikeys/keys/k", json!({"service": "svc"}));
    assert_eq!(st, 200, "{b}");
    let v1 = b["data"]["key"].as_str().unwrap().to_string();
    let unused = &versions(&s, "k")["1"];
    assert_eq!(unused["use_count"], 0);
    assert_eq!(unused["last_used_time"], Value::Null);

    let writes = storage_writes(&s);
    for _ in 0..3 {
        assert!(validate(&s, &v1));
    }
    assert!(!validate(&s, "vrs_not_a_real_key"));
    // Shown at once, written later: no write per validation.
    let v = &versions(&s, "k")["1"];
    assert_eq!(v["use_count"], 3);
    assert_eq!(millis(&v["last_used_time"]), now(&s));
    assert_eq!(storage_writes(&s), writes);
    // The periodic flush writes the record once.
    s.advance("61s");
    assert_eq!(storage_writes(&s), writes + 1);
    assert_eq!(versions(&s, "k")["1"]["use_count"], 3);

    // After a rotation the old version's use stops moving: its last use is
    // what tells an operator that nobody holds it any more.
    let (st, b) = s.post("apikeys/keys/k/rotate", json!({"grace_period": "1h"}));
    assert_eq!(st, 200, "{b}");
    let v2 = b["data"]["key"].as_str().unwrap().to_string();
    let old_last_used = versions(&s, "k")["1"]["last_used_time"].clone();
    s.advance("10s");
    assert!(validate(&s, &v2));
    assert!(validate(&s, &v2));
    let vs = versions(&s, "k");
    assert_eq!(vs["1"]["use_count"], 3);
    assert_eq!(vs["1"]["last_used_time"], old_last_used);
    assert_eq!(vs["2"]["use_count"], 2);
    assert_eq!(millis(&vs["2"]["last_used_time"]), now(&s));

    // Pending use is written when the vault seals.
    assert_eq!(s.post("sys/seal", json!({})).0, 204);
    s.unseal_all();
    let vs = versions(&s, "k");
    assert_eq!(
        (vs["1"]["use_count"].clone(), vs["2"]["use_count"].clone()),
        (json!(3), json!(2))
    );
}

/// Accepts one webhook delivery; returns its body.
fn receiver() -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hooks", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(": ") {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).expect("body");
        let _ = write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
        String::from_utf8(body).expect("utf8")
    });
    (url, handle)
}

#[test]
fn revocation_is_notified_on_the_webhook() {
    let s = TestServer::dev();
    let (url, rx) = receiver();
    let config = json!({"webhook_allow_http": true, "webhook_allowed_networks": ["127.0.0.0/8"]});
    assert_eq!(s.post("apikeys/config", config).0, 204);
    let (st, b) = s.post(
        "apikeys/keys/hooked",
        json!({"service": "svc", "webhook_url": url}),
    );
    assert_eq!(st, 200, "{b}");
    let key = b["data"]["key"].as_str().unwrap().to_string();
    let (st, b) = s.post("apikeys/keys/hooked/revoke", json!({"version": 1}));
    assert_eq!(st, 200, "{b}");
    let body = rx.join().expect("receiver");
    assert!(!body.contains(&key), "the event carries no key");
    let event: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(event["event"], "revoked");
    assert_eq!(event["name"], "hooked");
    assert_eq!(event["service"], "svc");
    assert_eq!(event["revoked_versions"], json!([1]));
}
