//! End-to-end tests of the audit review routes against the real binary:
//! `GET sys/audit/:path/entries` (filters, paging, following) and
//! `POST sys/audit/:path/verify` (a clean log, a tampered line named),
//! with their refusals (no sudo, unknown device, a device with no file).

mod common;

use std::path::Path;

use common::TestServer;
use serde_json::{json, Value};

const SECRET_PATH: &str = "secret/data/review-app";
const SECRET_VALUE: &str = "correct-horse-battery";

fn enable_file(s: &TestServer, name: &str, file: &str) {
    let (st, b) = s.request(
        "PUT",
        &format!("sys/audit/{name}"),
        Some(json!({ "type": "file", "options": { "file_path": file } })),
        Some(&s.root_token),
    );
    assert_eq!(st, 204, "{b}");
}

fn entries(s: &TestServer, query: &str) -> (u16, Value) {
    s.get(&format!("sys/audit/file/entries?{query}"))
}

fn paths(found: &Value) -> Vec<String> {
    found["data"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|h| {
            h["entry"]["request"]["path"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .expect("read log")
        .lines()
        .map(str::to_string)
        .collect()
}

/// A dev server with a file device at `file/` and one secret written and
/// read through it.
fn server_with_log() -> (TestServer, tempfile::TempDir, std::path::PathBuf) {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("audit.log");
    enable_file(&s, "file", log.to_str().expect("utf8"));
    let (st, b) = s.post(SECRET_PATH, json!({ "data": { "password": SECRET_VALUE } }));
    assert_eq!(st, 200, "{b}");
    let (st, b) = s.get(SECRET_PATH);
    assert_eq!(st, 200, "{b}");
    (s, dir, log)
}

#[test]
fn entries_are_found_by_path_operation_and_page() {
    let (s, _dir, log) = server_with_log();
    let (st, b) = entries(&s, &format!("path={SECRET_PATH}"));
    assert_eq!(st, 200, "{b}");
    assert_eq!(paths(&b), [SECRET_PATH, SECRET_PATH], "{b}");
    // the secret is HMAC-ed in the log, and so in what the search returns
    assert!(!b.to_string().contains(SECRET_VALUE), "{b}");
    // each hit names its line of the file
    let text = lines(&log);
    for hit in b["data"]["entries"].as_array().unwrap() {
        let line = hit["line"].as_u64().unwrap() as usize;
        let on_disk: Value = serde_json::from_str(&text[line - 1]).unwrap();
        assert_eq!(on_disk, hit["entry"], "line {line}");
        assert_eq!(on_disk["seq"], hit["seq"]);
    }
    assert_eq!(b["data"]["next_offset"], Value::Null);

    // a glob, an operation
    let (_, b) = entries(&s, "path=secret/*&operation=read");
    assert_eq!(paths(&b), [SECRET_PATH]);
    assert_eq!(
        b["data"]["entries"][0]["entry"]["request"]["operation"],
        "read"
    );
    let (_, b) = entries(&s, "path=secret/*&operation=create,update&status=2xx");
    assert_eq!(paths(&b), [SECRET_PATH]);
    let (_, b) = entries(&s, "path=secret/*&status=error");
    assert_eq!(paths(&b), Vec::<String>::new());
    // requests as well as responses
    let (_, b) = entries(&s, &format!("path={SECRET_PATH}&type=all"));
    assert_eq!(paths(&b).len(), 4, "{b}");
    // a time range: everything so far is before tomorrow, nothing after it
    let (_, b) = entries(&s, "path=secret/*&from=1h");
    assert_eq!(paths(&b).len(), 2, "{b}");
    let (_, b) = entries(&s, "path=secret/*&from=2999-01-01T00:00:00Z");
    assert!(paths(&b).is_empty(), "{b}");

    // the reviewer's own requests, left out
    let (st, _) = s.get("sys/audit/file/public-key");
    assert_eq!(st, 200);
    let (_, b) = entries(&s, "path=sys/audit/*&limit=1000");
    assert!(
        paths(&b).iter().any(|p| p == "sys/audit/file/entries"),
        "{b}"
    );
    let (_, b) = entries(
        &s,
        "path=sys/audit/*&exclude_path=sys/audit/*/entries&limit=1000",
    );
    assert!(!paths(&b).iter().any(|p| p.ends_with("/entries")), "{b}");
    assert!(
        paths(&b).iter().any(|p| p == "sys/audit/file/public-key"),
        "{b}"
    );

    // paged
    let (_, first) = entries(&s, "path=secret/*&limit=1");
    assert_eq!(paths(&first).len(), 1);
    assert_eq!(first["data"]["next_offset"], 1);
    let (_, second) = entries(&s, "path=secret/*&limit=1&offset=1");
    assert_eq!(paths(&second).len(), 1);
    assert_ne!(
        first["data"]["entries"][0]["seq"],
        second["data"]["entries"][0]["seq"]
    );
    assert_eq!(second["data"]["next_offset"], Value::Null);

    // followed: only what came after the last seq read
    let last = second["data"]["last_seq"].as_u64().expect("last_seq");
    let (_, b) = entries(&s, &format!("path=secret/*&after_seq={last}"));
    assert!(paths(&b).is_empty(), "{b}");
    let (st, _) = s.get(SECRET_PATH);
    assert_eq!(st, 200);
    let (_, b) = entries(&s, &format!("path=secret/*&after_seq={last}"));
    assert_eq!(paths(&b), [SECRET_PATH], "{b}");

    // by token: the root token's HMAC (audit-hash) finds its requests
    let (st, h) = s.post("sys/audit-hash/file", json!({ "input": "root" }));
    assert_eq!(st, 200, "{h}");
    let hash = h["data"]["hash"].as_str().unwrap().to_string();
    let (_, b) = entries(&s, &format!("path=secret/*&token_hash={hash}"));
    assert_eq!(paths(&b).len(), 3, "{b}");
    let (_, b) = entries(&s, "path=secret/*&token_hash=hmac-sha256:00");
    assert!(paths(&b).is_empty());

    // bad filters are 400s naming the filter
    for (q, field) in [
        ("status=nope", "status"),
        ("from=whenever", "since"),
        ("operation=sudo", "operation"),
        ("limit=-1", "limit"),
    ] {
        let (st, b) = entries(&s, q);
        assert_eq!(st, 400, "{q}: {b}");
        assert!(b["errors"][0].as_str().unwrap().contains(field), "{q}: {b}");
    }

    // the offline command finds the same entries in the file
    let out = common::command()
        .args([
            "audit",
            "search",
            log.to_str().unwrap(),
            "--path",
            "secret/*",
        ])
        .args(["--operation", "read", "-format", "json"])
        .env_remove("VAULT_TOKEN")
        .output()
        .expect("run vault-rs");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}");
    let (_, b) = entries(&s, "path=secret/*&operation=read");
    let from_server: Vec<Value> = b["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["entry"].clone())
        .collect();
    let from_cli: Vec<Value> = printed
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON entry per line"))
        .collect();
    assert_eq!(from_cli, from_server[..from_cli.len()]);
    assert_eq!(from_cli.len(), 2);
}

#[test]
fn verify_passes_then_names_the_tampered_line() {
    let (s, _dir, log) = server_with_log();
    let (st, b) = s.post("sys/audit/file/verify", json!({}));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["ok"], true, "{b}");
    assert_eq!(b["data"]["first_bad_line"], Value::Null);
    assert!(b["data"]["responses"].as_u64().unwrap() >= 2, "{b}");

    // against the trusted key
    let (st, k) = s.get("sys/audit/file/public-key");
    assert_eq!(st, 200, "{k}");
    let key = k["data"]["public_key"].as_str().unwrap().to_string();
    let (st, b) = s.post("sys/audit/file/verify", json!({ "public_key": key }));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["ok"], true, "{b}");
    assert_eq!(b["data"]["key_from_log"], false, "{b}");
    let (st, b) = s.post(
        "sys/audit/file/verify",
        json!({ "public_key": "not a key" }),
    );
    assert_eq!(st, 400, "{b}");

    // change the path of the secret's write in place (same length)
    let text = lines(&log);
    let at = text
        .iter()
        .position(|l| l.contains("\"type\":\"response\"") && l.contains(SECRET_PATH))
        .expect("the write's response");
    let mut changed = text.clone();
    changed[at] = changed[at].replace("review-app", "review-apq");
    let mut body = changed.join("\n");
    body.push('\n');
    // only complete lines were read: anything appended since stays
    let now = std::fs::read_to_string(&log).unwrap();
    body.push_str(&now[text.iter().map(|l| l.len() + 1).sum::<usize>()..]);
    std::fs::write(&log, body).unwrap();

    let (st, b) = s.post("sys/audit/file/verify", json!({}));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["ok"], false, "{b}");
    assert_eq!(b["data"]["first_bad_line"], at + 1, "{b}");
    assert_eq!(b["data"]["problem"]["line"], at + 1, "{b}");
    assert_eq!(b["data"]["problem"]["kind"], "changed", "{b}");
}

#[test]
fn review_needs_sudo_and_a_file_device() {
    let (s, _dir, _log) = server_with_log();
    // every capability but sudo on the review paths
    s.policy(
        "auditor",
        r#"path "sys/audit/*" { capabilities = ["create", "read", "update", "list"] }"#,
    );
    let token = s.token(json!({ "policies": ["auditor"] }));
    let (st, b) = s.get_raw("sys/audit/file/entries", Some(&token));
    assert_eq!(st, 403, "{b}");
    let (st, b) = s.request(
        "POST",
        "sys/audit/file/verify",
        Some(json!({})),
        Some(&token),
    );
    assert_eq!(st, 403, "{b}");
    s.policy(
        "auditor",
        r#"path "sys/audit/*" { capabilities = ["create", "read", "update", "sudo"] }"#,
    );
    let (st, b) = s.get_raw("sys/audit/file/entries", Some(&token));
    assert_eq!(st, 200, "{b}");
    // no token at all
    let (st, _) = s.get_raw("sys/audit/file/entries", None);
    assert_eq!(st, 403);

    // an unknown device, a device that keeps no file
    let (st, b) = s.get("sys/audit/nothing/entries");
    assert_eq!(st, 400, "{b}");
    assert!(b["errors"][0].as_str().unwrap().contains("nothing"), "{b}");
    let (st, b) = s.post("sys/audit/nothing/verify", json!({}));
    assert_eq!(st, 400, "{b}");
    enable_file(&s, "dropped", "discard");
    let (st, b) = s.get("sys/audit/dropped/entries");
    assert_eq!(st, 400, "{b}");
    assert!(b["errors"][0].as_str().unwrap().contains("log file"), "{b}");
    // the wrong operation on a review path
    let (st, _) = s.delete("sys/audit/file/entries");
    assert_eq!(st, 405);
    // a device cannot be enabled under a review path's name
    let (st, b) = s.request(
        "PUT",
        "sys/audit/x/entries",
        Some(json!({ "type": "file", "options": { "file_path": "discard" } })),
        Some(&s.root_token),
    );
    assert!(st == 400 || st == 405, "{st} {b}");
}
