//! End-to-end tests of the audit subsystem against the real binary: file
//! devices over HTTP, HMAC-ed secrets, `sys/audit-hash`, fail-closed
//! behaviour, a stalled socket device, SIGHUP rotation, restarts, and the
//! `vault-rs audit verify|tail|search|hash` commands.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};
use vault_rs::audit::chain::{line_hash, ChainState};

fn enable_file(s: &TestServer, name: &str, file: &Path, extra: Value) -> (u16, Value) {
    let mut options = json!({ "file_path": file.to_str().expect("utf8 path") });
    if let (Some(o), Some(e)) = (options.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            o.insert(k.clone(), v.clone());
        }
    }
    s.request(
        "PUT",
        &format!("sys/audit/{name}"),
        Some(json!({ "type": "file", "options": options })),
        Some(&s.root_token),
    )
}

fn entries(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .expect("read log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

fn cli(s: &TestServer, args: &[&str]) -> Output {
    common::command()
        .args(args)
        .env("VAULT_ADDR", &s.addr)
        .env("VAULT_TOKEN", &s.root_token)
        .env("HOME", s.dir.as_os_str())
        .output()
        .expect("run vault-rs")
}

fn offline(args: &[&str]) -> Output {
    common::command()
        .args(args)
        .env_remove("VAULT_TOKEN")
        .output()
        .expect("run vault-rs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn public_key(s: &TestServer, device: &str) -> String {
    let (st, b) = s.get(&format!("sys/audit/{device}/public-key"));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["algorithm"], "ed25519");
    b["data"]["public_key"]
        .as_str()
        .expect("public_key")
        .to_string()
}

fn verify(files: &[&Path], key: &str) -> Output {
    let mut args: Vec<String> = vec!["audit".into(), "verify".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.push("--public-key".into());
    args.push(key.into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    offline(&refs)
}

fn tmpdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

#[test]
fn file_device_records_everything_hmaced_and_verifies() {
    let s = TestServer::unsealed(1, 1);
    let dir = tmpdir();
    let log = dir.path().join("audit.log");
    assert_eq!(enable_file(&s, "file", &log, json!({})).0, 204);
    let (st, list) = s.get("sys/audit");
    assert_eq!(st, 200, "{list}");
    assert_eq!(list["data"]["file/"]["type"], "file");
    assert_eq!(list["file/"]["options"]["file_path"], log.to_str().unwrap());
    // Enabling the same path twice is refused; an unknown type too.
    assert_eq!(enable_file(&s, "file", &log, json!({})).0, 400);
    let (st, _) = s.post("sys/audit/x", json!({"type": "nope"}));
    assert_eq!(st, 400);

    assert_eq!(s.post("sys/mounts/kv", json!({"type": "kv"})).0, 204);
    s.policy(
        "app",
        "path \"kv/*\" { capabilities = [\"create\", \"read\", \"update\", \"list\"] }",
    );
    let (st, created) = s.post("auth/token/create", json!({"policies": ["app"]}));
    assert_eq!(st, 200, "{created}");
    let token = created["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    let accessor = created["auth"]["accessor"].as_str().unwrap().to_string();
    let canaries = [
        "CANARY-password-7f3a",
        "CANARY-apikey-vrs_live_9b2c",
        "CANARY-nested-41d0",
    ];
    let (st, b) = s.request(
        "POST",
        "kv/app/db",
        Some(json!({"password": canaries[0], "api_key": canaries[1], "more": {"list": [canaries[2], 1, true]}})),
        Some(&token),
    );
    assert_eq!(st, 204, "{b}");
    let (st, read) = s.request("GET", "kv/app/db", None, Some(&token));
    assert_eq!(st, 200, "{read}");
    assert_eq!(read["data"]["password"], canaries[0]);
    let (st, _) = s.request("GET", "kv/app/db", None, Some("hvs.CANARYbogustoken000000"));
    assert_eq!(st, 403);
    let (st, _) = s.request("GET", "sys/mounts", None, Some(&token));
    assert_eq!(st, 403);
    let (st, looked) = s.request("GET", "auth/token/lookup-self", None, Some(&token));
    assert_eq!(st, 200, "{looked}");

    // A login: the password and the issued token are secrets too.
    assert_eq!(
        s.post("sys/auth/userpass", json!({"type": "userpass"})).0,
        204
    );
    let password = "CANARY-userpass-pw-5e1d";
    let (st, b) = s.post("auth/userpass/users/alice", json!({"password": password}));
    assert_eq!(st, 204, "{b}");
    let (st, login) = s.request(
        "POST",
        "auth/userpass/login/alice",
        Some(json!({"password": password})),
        None,
    );
    assert_eq!(st, 200, "{login}");
    let login_token = login["auth"]["client_token"].as_str().unwrap().to_string();

    // sys/audit-hash reproduces the logged HMAC.
    let (st, h) = s.post("sys/audit-hash/file", json!({"input": token}));
    assert_eq!(st, 200, "{h}");
    let token_hash = h["data"]["hash"].as_str().unwrap().to_string();
    assert!(token_hash.starts_with("hmac-sha256:") && token_hash.len() == 12 + 64);
    assert_eq!(s.post("sys/audit-hash/nope", json!({"input": "x"})).0, 400);
    let key = public_key(&s, "file");

    let text = std::fs::read_to_string(&log).unwrap();
    for secret in [
        token.as_str(),
        accessor.as_str(),
        s.root_token.as_str(),
        "hvs.CANARYbogustoken000000",
        password,
        login_token.as_str(),
    ]
    .into_iter()
    .chain(canaries)
    {
        assert!(
            !text.contains(secret),
            "a secret appears in clear in the audit log"
        );
    }
    let all = entries(&log);
    assert_eq!(all[0]["type"], "header");
    assert_eq!(all[0]["public_key"], key.as_str());
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e["seq"], i as u64 + 1, "seq counts lines");
    }
    // Every request has a request entry and a response entry, in order.
    let reqs: Vec<&Value> = all.iter().filter(|e| e["type"] == "request").collect();
    let resps: Vec<&Value> = all.iter().filter(|e| e["type"] == "response").collect();
    assert!(reqs.len() >= 8, "{}", reqs.len());
    for r in &reqs {
        let id = &r["request"]["id"];
        let n = resps.iter().filter(|x| &x["request"]["id"] == id).count();
        assert_eq!(n, 1, "a response entry for {}", r["request"]["path"]);
    }
    let find = |ty: &str, op: &str, path: &str| {
        all.iter()
            .filter(|e| {
                e["type"] == ty && e["request"]["operation"] == op && e["request"]["path"] == path
            })
            .cloned()
            .collect::<Vec<Value>>()
    };
    let write = find("request", "create", "kv/app/db");
    let write = if write.is_empty() {
        find("request", "update", "kv/app/db")
    } else {
        write
    };
    assert_eq!(write.len(), 1);
    let w = &write[0];
    assert_eq!(w["request"]["client_token"], token_hash.as_str());
    assert_eq!(w["auth"]["client_token"], token_hash.as_str());
    assert_eq!(w["auth"]["policies"], json!(["app", "default"]));
    assert_eq!(w["request"]["mount_type"], "kv");
    assert_eq!(w["request"]["mount_point"], "kv/");
    assert_eq!(w["request"]["remote_address"], "127.0.0.1");
    assert!(w["request"]["data"]["password"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
    assert_eq!(w["request"]["data"]["more"]["list"][1], 1);
    let (st, h) = s.post("sys/audit-hash/file", json!({"input": canaries[0]}));
    assert_eq!(st, 200);
    assert_eq!(w["request"]["data"]["password"], h["data"]["hash"]);
    let (_, h) = s.post("sys/audit-hash/file", json!({"input": accessor}));
    assert_eq!(w["auth"]["accessor"], h["data"]["hash"]);
    let read_resp = find("response", "read", "kv/app/db");
    assert_eq!(read_resp[0]["response"]["status_code"], 200);
    assert!(read_resp[0]["response"]["data"]["password"]
        .as_str()
        .unwrap()
        .starts_with("hmac-sha256:"));
    // The failed authentication is logged with its error.
    let bogus: Vec<&Value> = all
        .iter()
        .filter(|e| e["request"]["path"] == "kv/app/db" && e["error"] == "permission denied")
        .collect();
    assert_eq!(bogus.len(), 2, "request and response of the bad token");
    assert_eq!(bogus[1]["response"]["status_code"], 403);
    assert!(bogus[0]["auth"].get("accessor").is_some());
    // The token creation response carries the new token, hashed.
    let created = find("response", "update", "auth/token/create");
    let created = created.last().unwrap();
    assert_eq!(
        created["response"]["auth"]["client_token"],
        token_hash.as_str()
    );

    let login = find("response", "update", "auth/userpass/login/alice");
    assert_eq!(login.len(), 1);
    assert_eq!(login[0]["request"]["mount_type"], "userpass");
    let (_, h) = s.post("sys/audit-hash/file", json!({"input": login_token}));
    assert_eq!(
        login[0]["response"]["auth"]["client_token"],
        h["data"]["hash"]
    );
    assert!(login[0].get("auth").is_none(), "no token was presented");

    // Disabling the device closes the file with a signed checkpoint.
    assert_eq!(s.delete("sys/audit/file").0, 204);
    assert_eq!(s.get("sys/audit").1["data"], json!({}));
    let out = verify(&[&log], &key);
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with("OK: 1 file(s)"),
        "{}",
        stdout(&out)
    );
    let last = entries(&log).pop().unwrap();
    assert_eq!(last["type"], "checkpoint");
}

/// Builds a log with several checkpoints and returns (lines, key).
fn closed_log(s: &TestServer, dir: &Path) -> (PathBuf, String) {
    let log = dir.join("audit.log");
    assert_eq!(
        enable_file(s, "file", &log, json!({"checkpoint_entries": "4"})).0,
        204
    );
    let key = public_key(s, "file");
    for i in 0..6 {
        assert_eq!(
            s.post(
                "sys/policies/acl/p",
                json!({"policy": format!("path \"x/{i}\" {{ capabilities = [\"read\"] }}")})
            )
            .0,
            204
        );
    }
    assert_eq!(s.delete("sys/audit/file").0, 204);
    (log, key)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn expect_failure(path: &Path, key: &str, kind: &str, line: usize) {
    let out = verify(&[path], key);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("FAILED ({kind})")), "{kind}: {text}");
    assert!(
        text.contains(&format!("{}:{line}:", path.display())),
        "line {line}: {text}"
    );
}

#[test]
fn audit_verify_detects_every_kind_of_tampering() {
    let s = TestServer::unsealed(1, 1);
    let dir = tmpdir();
    let (log, key) = closed_log(&s, dir.path());
    let out = verify(&[&log], &key);
    assert!(out.status.success(), "{}", stdout(&out));
    let orig = lines(&log);
    assert!(orig.len() > 12);
    assert!(
        orig.iter()
            .filter(|l| l.contains("\"type\":\"checkpoint\""))
            .count()
            >= 3
    );
    let case = dir.path().join("case.log");

    // One byte flipped inside an entry.
    let mut l = orig.clone();
    let i = (3..l.len())
        .find(|&i| l[i].contains("\"path\":\""))
        .unwrap();
    let pos = l[i].find("\"path\":\"").unwrap() + 8;
    let mut bytes = l[i].clone().into_bytes();
    bytes[pos] ^= 0x01;
    l[i] = String::from_utf8(bytes).unwrap();
    write_lines(&case, &l);
    expect_failure(&case, &key, "Changed", i + 1);

    // A line deleted (the 7th).
    let mut l = orig.clone();
    l.remove(6);
    write_lines(&case, &l);
    expect_failure(&case, &key, "Deleted", 7);

    // Two lines swapped (6th and 7th).
    let mut l = orig.clone();
    l.swap(5, 6);
    write_lines(&case, &l);
    expect_failure(&case, &key, "Reordered", 6);

    // A forged line appended, correctly linked.
    let mut l = orig.clone();
    let last: Value = serde_json::from_str(l.last().unwrap()).unwrap();
    let mut chain = ChainState {
        next_seq: last["seq"].as_u64().unwrap() + 1,
        prev: line_hash(l.last().unwrap().as_bytes()),
    };
    l.push(chain.link(
        r#"{"time":"2030-01-01T00:00:00Z","type":"request","request":{"path":"secret/forged"}}"#,
    ));
    write_lines(&case, &l);
    expect_failure(&case, &key, "Truncated", l.len());

    // A forged checkpoint (signed with another key) appended.
    let mut l = orig.clone();
    let forged = orig
        .last()
        .unwrap()
        .replace("\"type\":\"checkpoint\"", "\"type\":\"checkpoint\" ");
    l.push(forged);
    write_lines(&case, &l);
    let out = verify(&[&case], &key);
    assert_eq!(out.status.code(), Some(1));

    // Truncated: the last lines removed, or cut in the middle of a line.
    // (Not at a checkpoint: a log cut exactly after a checkpoint is
    // indistinguishable from a shorter one.)
    let keep = if orig[orig.len() - 3].contains("\"type\":\"checkpoint\"") {
        orig.len() - 3
    } else {
        orig.len() - 2
    };
    write_lines(&case, &orig[..keep]);
    expect_failure(&case, &key, "Truncated", keep);
    let text = std::fs::read(&log).unwrap();
    std::fs::write(&case, &text[..text.len() - 7]).unwrap();
    expect_failure(&case, &key, "Truncated", orig.len());

    // The beginning deleted.
    write_lines(&case, &orig[2..]);
    expect_failure(&case, &key, "MissingHeader", 1);

    // Another key.
    // RFC 8032, test 1.
    let other = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    let out = verify(&[&log], other);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("FAILED (WrongKey)"),
        "{}",
        stdout(&out)
    );

    // Without --public-key the header's key is used, with a warning.
    let out = offline(&["audit", "verify", log.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --public-key"));
    // JSON report.
    let out = offline(&[
        "audit",
        "verify",
        "--format",
        "json",
        "--public-key",
        &key,
        case.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problem"]["kind"], "missing_header");
}

fn sighup(s: &TestServer) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server_pid(s)),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));
}

/// Enables a file device through a symlink to a real file, then points
/// the symlink at /dev/full and has the server reopen it (SIGHUP): the
/// device opens but every write fails with ENOSPC (even as root).
fn enable_then_break(s: &TestServer, dir: &Path, name: &str) -> PathBuf {
    let real = dir.join(format!("{name}.real"));
    let link = dir.join(format!("{name}.log"));
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let (st, b) = enable_file(s, name, &link, json!({"timeout": "1s"}));
    assert_eq!(st, 204, "{b}");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/dev/full", &link).unwrap();
    sighup(s);
    link
}

#[test]
fn unwritable_device_fails_closed_and_nothing_is_stored() {
    let s = TestServer::unsealed(1, 1);
    assert_eq!(s.post("sys/mounts/kv", json!({"type": "kv"})).0, 204);
    let dir = tmpdir();
    let link = enable_then_break(&s, dir.path(), "full");
    let start = Instant::now();
    let (st, b) = s.post("kv/app", json!({"password": "never-stored"}));
    assert_eq!(st, 500, "{b}");
    assert_eq!(b["errors"], json!(["internal error"]));
    assert!(start.elapsed() < Duration::from_secs(20));
    let (st, _) = s.get("kv/app");
    assert_eq!(st, 500, "reads fail closed too");
    let (st, health) = s.get_raw("sys/health", None);
    assert_eq!(st, 200);
    assert_eq!(health["audit_ok"], false);
    // The device comes back once its file is writable: the key was never stored.
    std::fs::remove_file(&link).unwrap();
    let (st, b) = s.get("kv/app");
    assert_eq!(st, 404, "{b}");
    assert_eq!(s.post("kv/app", json!({"password": "now"})).0, 204);
    assert_eq!(s.delete("sys/audit/full").0, 204);
}

#[test]
fn enabling_a_device_that_cannot_write_is_refused() {
    let s = TestServer::unsealed(1, 1);
    assert_eq!(s.post("sys/mounts/kv", json!({"type": "kv"})).0, 204);
    let (st, b) = s.put_raw(
        "sys/audit/full",
        json!({"type": "file", "options": {"file_path": "/dev/full", "timeout": "1s"}}),
        Some(&s.root_token),
    );
    assert_eq!(st, 400, "{b}");
    let msg = b["errors"][0].as_str().unwrap_or("");
    assert!(msg.contains("test entry"), "{b}");
    let (st, list) = s.get("sys/audit");
    assert_eq!(st, 200);
    assert!(list["data"].get("full/").is_none(), "{list}");
    // Nothing is wedged: requests are served, and the path is free.
    assert_eq!(s.post("kv/app", json!({"v": "1"})).0, 204);
    let dir = tmpdir();
    let log = dir.path().join("audit.log");
    assert_eq!(enable_file(&s, "full", &log, json!({})).0, 204);
    // The test entry is the first entry of the log, after its header.
    let e = entries(&log);
    assert_eq!(e[0]["type"], "header");
    assert_eq!(e[1]["type"], "test");
    assert_eq!(e[1]["device"], "full/");
    let key = public_key(&s, "full");
    assert_eq!(s.get("kv/app").0, 200);
    assert_eq!(s.delete("sys/audit/full").0, 204);
    let out = verify(&[&log], &key);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn a_failing_device_can_be_disabled_and_the_vault_sealed_even_after_restart() {
    let mut s = TestServer::unsealed(1, 1);
    assert_eq!(s.post("sys/mounts/kv", json!({"type": "kv"})).0, 204);
    s.policy(
        "nosudo",
        r#"path "sys/*" { capabilities = ["create", "read", "update", "delete", "list"] }"#,
    );
    let limited = s.token(json!({"policies": ["nosudo"]}));
    let dir = tmpdir();
    enable_then_break(&s, dir.path(), "full");
    assert_eq!(s.post("kv/app", json!({"v": "1"})).0, 500, "fails closed");
    // Restarted and unsealed, the device still cannot write: still closed.
    s.restart();
    s.unseal_all();
    assert_eq!(s.post("kv/app", json!({"v": "1"})).0, 500);
    // Without sudo the way out stays shut (the ACL decides as always).
    let (st, b) = s.request("DELETE", "sys/audit/full", None, Some(&limited));
    assert_eq!(st, 403, "{b}");
    let (st, b) = s.request("PUT", "sys/seal", None, Some(&limited));
    assert_eq!(st, 403, "{b}");
    // Nor for an anonymous client (fails closed, as everything else).
    assert_eq!(s.request("PUT", "sys/seal", None, None).0, 500);
    // With sudo: seal works (its response could not be logged either: the
    // answer says so)...
    let (st, b) = s.request("PUT", "sys/seal", None, Some(&s.root_token));
    assert_eq!(st, 200, "{b}");
    assert!(
        b["warnings"][0]
            .as_str()
            .unwrap_or("")
            .contains("audit log"),
        "{b}"
    );
    let (_, status) = s.get_raw("sys/seal-status", None);
    assert_eq!(status["sealed"], true);
    s.unseal_all();
    // ... and so does disabling the device, after which requests are served.
    let (st, b) = s.delete("sys/audit/full");
    assert_eq!(st, 200, "{b}");
    assert!(
        b["warnings"][0]
            .as_str()
            .unwrap_or("")
            .contains("audit log"),
        "{b}"
    );
    let (_, list) = s.get("sys/audit");
    assert!(list["data"].get("full/").is_none(), "{list}");
    assert_eq!(s.post("kv/app", json!({"v": "1"})).0, 204);
    s.restart();
    s.unseal_all();
    assert_eq!(s.get("kv/app").0, 200, "the device stays disabled");
}

#[test]
fn audited_status_is_the_status_the_client_saw() {
    let s = TestServer::dev();
    let dir = tmpdir();
    let log = dir.path().join("audit.log");
    assert_eq!(enable_file(&s, "file", &log, json!({})).0, 204);
    // 429: an API key validation over the rate limit.
    let (st, b) = s.post("apikeys/keys/a", json!({"service": "svc"}));
    assert_eq!(st, 200, "{b}");
    let key = b["data"]["key"].as_str().unwrap().to_string();
    assert_eq!(
        s.post(
            "apikeys/config",
            json!({"rate_limit": 1, "rate_limit_burst": 1})
        )
        .0,
        204
    );
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(s.post("apikeys/validate", json!({"key": key})).0);
    }
    assert!(seen.contains(&429), "{seen:?}");
    // 403, 400, 404.
    let limited = s.token(json!({"policies": ["default"]}));
    let (st403, _) = s.request("GET", "secret/data/x", None, Some(&limited));
    let (st400, _) = s.post("sys/policies/acl/bad", json!({"policy": "path {"}));
    let (st404, _) = s.get("secret/data/missing");
    assert_eq!((st403, st400, st404), (403, 400, 404));
    let responses: Vec<(String, u64)> = entries(&log)
        .into_iter()
        .filter(|e| e["type"] == "response")
        .map(|e| {
            (
                e["request"]["path"].as_str().unwrap_or("").to_string(),
                e["response"]["status_code"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let statuses = |path: &str| -> Vec<u64> {
        responses
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| *s)
            .collect()
    };
    let validate: Vec<u16> = statuses("apikeys/validate")
        .iter()
        .map(|&s| s as u16)
        .collect();
    assert_eq!(validate, seen, "the audit log records what the client saw");
    assert_eq!(statuses("secret/data/x"), vec![403]);
    assert_eq!(statuses("sys/policies/acl/bad"), vec![400]);
    assert_eq!(statuses("secret/data/missing"), vec![404]);
}

#[test]
fn world_writable_or_invalid_modes_are_refused() {
    let s = TestServer::unsealed(1, 1);
    let dir = tmpdir();
    let log = dir.path().join("audit.log");
    for mode in ["0777", "0666", "0602", "999", "0x1ff", "-1", "01777", "rw"] {
        let (st, b) = enable_file(&s, "file", &log, json!({ "mode": mode }));
        assert_eq!(st, 400, "mode {mode}: {b}");
    }
    assert!(!log.exists(), "no file was created for a refused mode");
    let (st, b) = enable_file(&s, "file", &log, json!({"mode": "0640"}));
    assert_eq!(st, 204, "{b}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

/// Accepts connections and never reads from them.
fn stalled_listener() -> (String, std::sync::mpsc::Sender<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        loop {
            if rx.try_recv().is_ok() {
                return;
            }
            if let Ok((c, _)) = listener.accept() {
                held.push(c);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (addr, tx)
}

#[test]
fn stalled_socket_device_times_out_while_a_file_device_keeps_serving() {
    let s = TestServer::unsealed(1, 1);
    let dir = tmpdir();
    let log = dir.path().join("audit.log");
    let (addr, stop) = stalled_listener();
    assert_eq!(enable_file(&s, "file", &log, json!({})).0, 204);
    let (st, b) = s.post(
        "sys/audit/sock",
        json!({"type": "socket", "options": {"address": addr, "timeout": "1s", "log_raw": true}}),
    );
    assert_eq!(st, 204, "{b}");
    // A large body fills the socket's buffers: its writer blocks.
    let big = "x".repeat(24 << 20);
    let start = Instant::now();
    let (st, _) = s.post("nomount/big", json!({ "v": big }));
    assert_eq!(st, 404);
    // Without the device timeout this request would never finish; the
    // bounds are loose so a loaded machine does not fail the test.
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    for i in 0..5 {
        let start = Instant::now();
        let (st, b) = s.post(
            &format!("sys/policies/acl/p{i}"),
            json!({"policy": "path \"a\" { capabilities = [\"read\"] }"}),
        );
        assert_eq!(st, 204, "{b}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "request {i} took {:?}",
            start.elapsed()
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, h) = s.get_raw("sys/health", None);
        if h["audit_ok"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "audit_ok stayed true: {h}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // With only the stalled socket left, a request fails closed within the bound.
    assert_eq!(s.delete("sys/audit/file").0, 204);
    let start = Instant::now();
    let (st, _) = s.post("nomount/big2", json!({ "v": big }));
    let took = start.elapsed();
    assert_eq!(st, 500);
    assert!(took < Duration::from_secs(6), "{took:?}");
    let _ = stop.send(());
    let lines = entries(&log);
    assert!(lines.iter().any(|e| e["request"]["path"] == "nomount/big"));
}

fn server_pid(s: &TestServer) -> i32 {
    let config = s.dir.join("config.hcl");
    let needle = config.to_str().unwrap();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let mut cmd = String::new();
        if let Ok(mut f) = std::fs::File::open(e.path().join("cmdline")) {
            let _ = f.read_to_string(&mut cmd);
        }
        if cmd.split('\0').any(|a| a == needle) {
            return pid;
        }
    }
    panic!("server process not found");
}

#[test]
fn sighup_rotation_and_restart_continue_the_chain() {
    let mut s = TestServer::unsealed(1, 1);
    let dir = tmpdir();
    let log = dir.path().join("audit.log");
    let rotated = dir.path().join("audit.log.1");
    assert_eq!(
        enable_file(&s, "file", &log, json!({"checkpoint_interval": "1s"})).0,
        204
    );
    let key = public_key(&s, "file");
    assert_eq!(s.get("sys/mounts").0, 200);
    std::fs::rename(&log, &rotated).unwrap();
    sighup(&s);
    assert_eq!(s.get("sys/mounts").0, 200);
    assert!(log.exists(), "a new file was opened");
    let new = entries(&log);
    assert_eq!(new[0]["type"], "header");
    let old = lines(&rotated);
    assert_eq!(
        new[0]["prev"],
        line_hash(old.last().unwrap().as_bytes()).as_str()
    );
    assert!(
        old.last().unwrap().contains("\"type\":\"checkpoint\""),
        "the old file is closed with a checkpoint"
    );
    // The device survives a crash and restart; the chain continues.
    s.restart();
    s.unseal_all();
    let (st, list) = s.get("sys/audit");
    assert_eq!(st, 200);
    assert_eq!(
        list["data"]["file/"]["options"]["file_path"],
        log.to_str().unwrap()
    );
    assert_eq!(public_key(&s, "file"), key);
    assert_eq!(s.get("sys/mounts").0, 200);
    // The checkpoint interval closes the tail of a live log.
    std::thread::sleep(Duration::from_millis(2500));
    let out = verify(&[&log, &rotated], &key);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(stdout(&out).contains("3 headers"), "{}", stdout(&out));
    let out = verify(&[&log], &key);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("continues an earlier file"));
}

#[test]
fn audit_cli_enable_list_hash_tail_search() {
    let s = TestServer::unsealed(1, 1);
    let dir = tmpdir();
    let log = dir.path().join("audit.log");
    let out = cli(
        &s,
        &[
            "audit",
            "enable",
            "file",
            &format!("file_path={}", log.display()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout(&out).contains("Enabled the file audit device at: file/"));
    let out = cli(&s, &["audit", "list", "--detailed"]);
    assert!(stdout(&out).contains("file/"), "{}", stdout(&out));
    assert_eq!(s.post("sys/mounts/kv", json!({"type": "kv"})).0, 204);
    let token = s.token(json!({"policies": ["default"]}));
    assert_eq!(s.request("GET", "kv/x", None, Some(&token)).0, 403);
    assert_eq!(s.post("kv/app", json!({"k": "v"})).0, 204);
    let out = cli(&s, &["audit", "hash", "file", &token]);
    assert!(out.status.success());
    let hash = stdout(&out).trim().to_string();
    assert!(hash.starts_with("hmac-sha256:"));
    let out = cli(&s, &["audit", "public-key", "file"]);
    assert_eq!(stdout(&out).trim(), public_key(&s, "file"));

    let f = log.to_str().unwrap();
    let out = offline(&["audit", "tail", f, "-n", "4"]);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.contains("204 create kv/app by root from 127.0.0.1"),
        "{text}"
    );
    // The token's creation (response auth) and its one use.
    let out = offline(&["audit", "search", f, "--token-hash", &hash]);
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("403 read   kv/x"), "{text}");
    let out = offline(&[
        "audit",
        "search",
        f,
        "--path",
        "kv/*",
        "--operation",
        "create,update",
        "--status",
        "2xx",
        "--format",
        "json",
    ]);
    let found: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["request"]["path"], "kv/app");
    let out = offline(&["audit", "search", f, "--since", "1h", "--type", "request"]);
    assert!(stdout(&out).lines().count() >= 4);
    let out = offline(&["audit", "search", f, "--until", "2000-01-01T00:00:00Z"]);
    assert_eq!(stdout(&out).lines().count(), 0);

    let out = cli(&s, &["audit", "disable", "file"]);
    assert!(out.status.success());
    let out = offline(&["audit", "verify", f]);
    assert!(out.status.success(), "{}", stdout(&out));
}

#[test]
fn rekey_init_update_and_cancel_are_audited_with_shares_hmaced() {
    let s = TestServer::unsealed(1, 1);
    let dir = tmpdir();
    let log = dir.path().join("audit.log");
    assert_eq!(enable_file(&s, "file", &log, json!({})).0, 204);
    let (st, b) = s.put_raw(
        "sys/rekey/init",
        json!({"secret_shares": 1, "secret_threshold": 1}),
        Some(&s.root_token),
    );
    assert_eq!(st, 200, "{b}");
    assert_eq!(s.delete("sys/rekey/init").0, 204);
    let (_, b) = s.put_raw(
        "sys/rekey/init",
        json!({"secret_shares": 1, "secret_threshold": 1}),
        Some(&s.root_token),
    );
    let nonce = b["nonce"].as_str().unwrap().to_string();
    let (st, b) = s.put_raw(
        "sys/rekey/update",
        json!({"key": s.keys[0], "nonce": nonce}),
        Some(&s.root_token),
    );
    assert_eq!(st, 200, "{b}");
    let new_key = b["keys"][0].as_str().unwrap().to_string();
    let all = entries(&log);
    let seen = |path: &str, op: &str, kind: &str| {
        all.iter().any(|e| {
            e["type"] == kind && e["request"]["path"] == path && e["request"]["operation"] == op
        })
    };
    for kind in ["request", "response"] {
        assert!(seen("sys/rekey/init", "update", kind), "init {kind}");
        assert!(seen("sys/rekey/init", "delete", kind), "cancel {kind}");
        assert!(seen("sys/rekey/update", "update", kind), "update {kind}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(&s.keys[0]), "old share in the audit log");
    assert!(!text.contains(&new_key), "new share in the audit log");
}

#[test]
fn deeply_nested_anonymous_body_keeps_the_log_verifiable() {
    let s = TestServer::unsealed(1, 1);
    let dir = tmpdir();
    let log = dir.path().join("audit.log");
    assert_eq!(enable_file(&s, "file", &log, json!({})).0, 204);
    let key = public_key(&s, "file");
    // 125 levels: within the request parser's limit, deeper than it once
    // inside an audit entry.
    let body = format!("{{\"a\":{}{}}}", "[".repeat(124), "]".repeat(124));
    let (st, _, _) = s.send_bytes("POST", "secret/deep", body.into_bytes(), None);
    assert!((400..500).contains(&st), "{st}");
    assert_eq!(
        s.post(
            "sys/policies/acl/after",
            json!({"policy": "path \"a\" { capabilities = [\"read\"] }"})
        )
        .0,
        204
    );
    assert_eq!(s.delete("sys/audit/file").0, 204);
    let out = verify(&[&log], &key);
    assert!(out.status.success(), "{}", stdout(&out));
    // Tampering after the deep line is still found.
    let mut l = lines(&log);
    let at = l
        .iter()
        .position(|x| x.contains("sys/policies/acl/after"))
        .expect("the later request is logged");
    l[at] = l[at].replace("sys/policies/acl/after", "sys/policies/acl/other");
    write_lines(&log, &l);
    let out = verify(&[&log], &key);
    assert!(!out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains(&format!(":{}:", at + 1)) || text.contains(&format!("line {}", at + 1)),
        "{text}"
    );
}
