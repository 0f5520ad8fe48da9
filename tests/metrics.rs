//! End-to-end tests of `sys/metrics`: every series moves by exactly the
//! traffic sent (requests by mount, operation and status class; latency
//! counts; audit writes and failures; failed logins; API key validations,
//! rotations, revocations; storage writes), in both renderings.

mod common;

use common::TestServer;
use serde_json::json;
use vault_rs::core::metrics::sample;

fn scrape(s: &TestServer) -> String {
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
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(text, name, labels).unwrap_or(0.0)
}

/// How much `name{labels}` moved between two scrapes.
fn moved(before: &str, after: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(after, name, labels) - value(before, name, labels)
}

#[test]
fn requests_move_the_counters_by_exactly_their_number() {
    let s = TestServer::dev();
    assert_eq!(
        s.post("secret/data/app", json!({"data": {"v": "1"}})).0,
        200
    );
    let before = scrape(&s);
    const N: usize = 7;
    for _ in 0..N {
        assert_eq!(s.get("secret/data/app").0, 200);
    }
    for _ in 0..3 {
        assert_eq!(s.get_raw("secret/data/app", Some("bogus")).0, 403);
    }
    for _ in 0..2 {
        assert_eq!(s.get("secret/data/missing").0, 404);
    }
    assert_eq!(
        s.post("secret/data/other", json!({"data": {"v": "2"}})).0,
        200
    );
    let after = scrape(&s);
    let req = |op, code| {
        moved(
            &before,
            &after,
            "vault_rs_requests_total",
            &[("mount", "secret/"), ("operation", op), ("code", code)],
        )
    };
    assert_eq!(req("read", "2xx"), N as f64);
    assert_eq!(req("read", "4xx"), 5.0);
    assert_eq!(req("update", "2xx"), 1.0);
    assert_eq!(req("read", "5xx"), 0.0);
    // The scrape itself is a sys/ read; one scrape lies between the two
    // renderings (the second one counts after it renders).
    assert_eq!(
        moved(
            &before,
            &after,
            "vault_rs_requests_total",
            &[("mount", "sys/"), ("operation", "read"), ("code", "2xx")]
        ),
        1.0
    );
    assert_eq!(
        moved(
            &before,
            &after,
            "vault_rs_request_duration_seconds_count",
            &[("operation", "read")]
        ),
        (N + 5 + 1) as f64
    );
    // One durable write at least for the KV put (metadata and version).
    assert!(
        moved(
            &before,
            &after,
            "vault_rs_storage_write_duration_seconds_count",
            &[]
        ) >= 1.0
    );
    assert!(after.contains("vault_rs_sealed 0"), "{after}");
    for secret in ["root", "bogus", "secret/data/app"] {
        assert!(!after.contains(secret), "{secret} in the metrics");
    }
    // The JSON rendering carries the same series, in the shape Vault's
    // sys/metrics has (go-metrics' summary, no envelope).
    let (st, b) = s.get("sys/metrics");
    assert_eq!(st, 200);
    assert!(b.get("data").is_none(), "{b}");
    assert!(
        b["Timestamp"].as_str().unwrap().ends_with(" +0000 UTC"),
        "{b}"
    );
    assert_eq!(b["Points"], json!([]));
    let gauge = |name: &str| {
        b["Gauges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["Name"] == name)
            .map(|g| g["Value"].clone())
    };
    assert_eq!(gauge("vault_rs_sealed"), Some(json!(0.0)));
    let reads = b["Counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["Name"] == "vault_rs_requests"
                && c["Labels"] == json!({"mount": "secret/", "operation": "read", "code": "2xx"})
        })
        .expect("secret/ reads in JSON");
    let expected = value(
        &after,
        "vault_rs_requests_total",
        &[("mount", "secret/"), ("operation", "read"), ("code", "2xx")],
    );
    assert_eq!(reads["Count"].as_f64().unwrap(), expected, "{reads}");
    assert!(reads["Count"].as_u64().unwrap() >= N as u64);
    let latency = b["Samples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| {
            c["Name"] == "vault_rs_request_duration_seconds" && c["Labels"]["operation"] == "read"
        })
        .expect("read latency in JSON");
    assert!(latency["Count"].as_u64().unwrap() >= N as u64, "{latency}");
    assert!(latency["Sum"].as_f64().unwrap() > 0.0, "{latency}");
}

#[test]
fn tokens_and_leases_are_counted() {
    let s = TestServer::dev();
    for _ in 0..3 {
        s.token(json!({"policies": ["default"], "ttl": "1h"}));
    }
    // The first scrape counts: the root token and three with a lease each.
    let text = scrape(&s);
    assert_eq!(sample(&text, "vault_rs_tokens", &[]), Some(4.0), "{text}");
    assert_eq!(sample(&text, "vault_rs_leases", &[]), Some(3.0), "{text}");
}

#[test]
fn audit_logins_and_api_keys_are_counted() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    assert_eq!(
        s.post(
            "sys/audit/file",
            json!({"type": "file", "options": {"file_path": log.to_str().unwrap()}}),
        )
        .0,
        204
    );
    assert_eq!(
        s.post("sys/auth/userpass", json!({"type": "userpass"})).0,
        204
    );
    assert_eq!(
        s.post("auth/userpass/users/bob", json!({"password": "pw"}))
            .0,
        204
    );
    let (st, b) = s.post("apikeys/keys/k", json!({"service": "svc"}));
    assert_eq!(st, 200, "{b}");
    let key = b["data"]["key"].as_str().unwrap().to_string();
    let before = scrape(&s);
    for _ in 0..3 {
        let (st, _) = s.request(
            "POST",
            "auth/userpass/login/bob",
            Some(json!({"password": "wrong"})),
            None,
        );
        assert_eq!(st, 400);
    }
    let validate = |k: &str| {
        let (st, b) = s.post("apikeys/validate", json!({ "key": k }));
        assert_eq!(st, 200, "{b}");
        b["data"]["valid"] == true
    };
    for _ in 0..4 {
        assert!(validate(&key));
    }
    assert!(!validate("not-a-key"));
    assert_eq!(s.post("apikeys/keys/k/rotate", json!({})).0, 200);
    assert_eq!(s.post("apikeys/keys/k/revoke", json!({})).0, 200);
    for _ in 0..2 {
        assert!(!validate(&key));
    }
    let after = scrape(&s);
    let m = |name, labels: &[(&str, &str)]| moved(&before, &after, name, labels);
    assert_eq!(
        m("vault_rs_login_failures_total", &[("method", "userpass")]),
        3.0
    );
    let outcome = |o| m("vault_rs_apikey_validations_total", &[("outcome", o)]);
    assert_eq!(
        (outcome("valid"), outcome("invalid"), outcome("revoked")),
        (4.0, 1.0, 2.0)
    );
    assert_eq!(m("vault_rs_apikey_rotations_total", &[]), 1.0);
    assert_eq!(m("vault_rs_apikey_revocations_total", &[]), 1.0);
    // Every audited request is two broker calls (request, response): the
    // 3 + 7 + 2 above, the first scrape's response, the second's request.
    let requests = 3 + 7 + 2;
    assert_eq!(
        m("vault_rs_audit_log_duration_seconds_count", &[]),
        (2 * requests + 2) as f64
    );
    assert_eq!(m("vault_rs_audit_log_failures_total", &[]), 0.0);
    assert_eq!(
        sample(
            &after,
            "vault_rs_audit_write_failures_total",
            &[("device", "file/"), ("type", "file")]
        ),
        Some(0.0)
    );
    assert!(!after.contains(&key), "an API key in the metrics");
    assert!(!after.contains("bob"), "a user name in the metrics");
}
