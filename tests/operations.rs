//! Operations: the server's log lines (format, no colour off a terminal,
//! the access log, no secret in any line) and snapshots end to end.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::{json, Value};

const CANARY: &str = "canary-s3cret-value-8f2b";

/// Starts the binary with `args` and `env`, stderr into `log`; returns the
/// child and its address.
fn start(args: &[&str], env: &[(&str, &str)], log: &Path) -> (Child, String) {
    let mut cmd = common::command();
    cmd.args(args)
        .env_remove("VAULT_RS_LOG")
        .env_remove("VAULT_LOG_FORMAT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("server stdout is not piped");
    };
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            let status = child.wait();
            panic!("server exited before listening: {status:?}");
        }
        if let Some(i) = line.find("Listening on ") {
            let addr = line[i + "Listening on ".len()..].trim().to_string();
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                    sink.clear();
                }
            });
            return (child, addr);
        }
    }
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn dev_args() -> Vec<&'static str> {
    vec![
        "server",
        "--dev",
        "--dev-listen-address",
        "127.0.0.1:0",
        "--dev-root-token-id",
        "root",
    ]
}

fn write_canary(addr: &str) {
    let c = reqwest::blocking::Client::new();
    let body = json!({"data": {"password": CANARY}});
    for (method, path, body, status) in [
        ("POST", "secret/data/app", Some(&body), 200),
        ("GET", "secret/data/app", None, 200),
        ("GET", "secret/data/missing", None, 404),
    ] {
        let mut rb = c
            .request(method.parse().unwrap(), format!("{addr}/v1/{path}"))
            .header("X-Vault-Token", "root");
        if let Some(b) = body {
            rb = rb.json(b);
        }
        assert_eq!(rb.send().unwrap().status(), status, "{method} {path}");
    }
}

#[test]
fn json_logs_parse_line_by_line_with_an_access_log_and_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr.log");
    let (child, addr) = start(
        &dev_args(),
        &[
            ("VAULT_LOG_FORMAT", "json"),
            ("VAULT_RS_LOG", "vault_rs=debug"),
        ],
        &log,
    );
    write_canary(&addr);
    stop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(CANARY), "a secret reached the log");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log that is not a terminal"
    );
    let mut access = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"));
        assert!(
            v.get("level").is_some() && v.get("timestamp").is_some(),
            "{line}"
        );
        if v["message"] == "request" {
            access.push(v);
        }
    }
    let find = |method: &str, path: &str, status: u64| {
        access
            .iter()
            .find(|v| v["method"] == method && v["path"] == path && v["status"] == status)
    };
    let write = find("POST", "/v1/secret/data/app", 200).expect("the write is logged");
    assert!(!write["request_id"].as_str().unwrap_or("").is_empty());
    assert!(write["latency_ms"].as_f64().is_some());
    assert!(find("GET", "/v1/secret/data/app", 200).is_some());
    assert!(find("GET", "/v1/secret/data/missing", 404).is_some());
}

#[test]
fn text_logs_have_no_colour_off_a_terminal_and_config_sets_the_format() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("stderr.log");
    let (child, addr) = start(&dev_args(), &[("VAULT_RS_LOG", "vault_rs=debug")], &log);
    write_canary(&addr);
    stop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("request"), "{text}");
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log that is not a terminal"
    );
    assert!(!text.contains(CANARY));

    // log_format in the configuration file.
    let cfg = tmp.path().join("config.hcl");
    let mut config = common::config_text(&tmp.path().join("data"));
    config.push_str("log_format = \"json\"\nlog_level = \"debug\"\n");
    std::fs::write(&cfg, config).unwrap();
    let log = tmp.path().join("config.log");
    let (child, addr) = start(&["server", "--config", cfg.to_str().unwrap()], &[], &log);
    let r = reqwest::blocking::get(format!("{addr}/v1/sys/health")).unwrap();
    assert_eq!(r.status(), 501);
    stop(child);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.lines().count() > 0);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
}

#[test]
fn a_bad_log_format_is_refused_with_a_clear_error() {
    let out = common::command()
        .args(dev_args())
        .env("VAULT_LOG_FORMAT", "xml")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("VAULT_LOG_FORMAT") && err.contains("json"),
        "{err}"
    );
}

// ---- snapshots ----

use common::TestServer;

/// `vault-rs ARGS…` against `s` with `token`; returns (exit code, stdout, stderr).
fn cli(s: &TestServer, token: &str, args: &[&str]) -> (i32, String, String) {
    let home = tempfile::tempdir().unwrap();
    let out = common::command()
        .args(args)
        .env("VAULT_ADDR", &s.addr)
        .env("VAULT_TOKEN", token)
        .env("HOME", home.path())
        .env_remove("VAULT_FORMAT")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(s: &TestServer, path: &str, body: Value) {
    let (st, b) = s.post(path, body);
    assert!(st == 200 || st == 204, "{path}: {st} {b}");
}

/// KV v2 with versions (one deleted), KV v1, a policy, a token, an audit
/// device. Returns the token.
fn populate(s: &TestServer) -> String {
    ok(
        s,
        "sys/mounts/secret",
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    ok(s, "sys/mounts/v1", json!({"type": "kv"}));
    for v in 1..=3 {
        ok(s, "secret/data/app", json!({"data": {"v": v}}));
    }
    ok(s, "secret/delete/app", json!({"versions": [2]}));
    ok(s, "v1/cfg", json!({"url": "https://db"}));
    s.policy(
        "reader",
        r#"path "secret/data/*" { capabilities = ["read"] }"#,
    );
    let audit = s.dir.join("audit.log");
    ok(
        s,
        "sys/audit/file",
        json!({"type": "file", "options": {"file_path": audit.to_str().unwrap()}}),
    );
    s.token(json!({"policies": ["reader"], "ttl": "1h"}))
}

/// What the populated vault answers, for comparison across a restore.
fn reads(s: &TestServer, token: &str) -> Vec<(u16, Value)> {
    let strip = |(st, mut b): (u16, Value)| {
        if let Some(m) = b.as_object_mut() {
            m.remove("request_id");
        }
        (st, b)
    };
    vec![
        strip(s.get("secret/data/app")),
        strip(s.get("secret/data/app?version=1")),
        strip(s.get("secret/data/app?version=2")),
        strip(s.get("secret/metadata/app")),
        strip(s.get("v1/cfg")),
        strip(s.get("sys/policies/acl/reader")),
        strip(s.get_raw("secret/data/app", Some(token))),
        (s.get("sys/audit").0, s.get("sys/audit").1["data"].clone()),
    ]
}

/// A new server whose empty data directory got `file` restored offline
/// (server stopped), started again and unsealed with `origin`'s shares.
fn restored_offline(origin: &TestServer, file: &Path) -> TestServer {
    let mut fresh = TestServer::sled();
    fresh.stop();
    let data = fresh.dir.join("data");
    let (code, out, err) = cli(
        origin,
        "",
        &[
            "operator",
            "snapshot",
            "restore",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    fresh.restart();
    fresh.keys = origin.keys.clone();
    fresh.root_token = origin.root_token.clone();
    fresh.unseal_all();
    fresh
}

#[test]
fn a_snapshot_restores_to_an_identical_vault_on_a_fresh_directory() {
    let s = TestServer::unsealed(3, 2);
    let token = populate(&s);
    let before = reads(&s, &token);
    let file = s.dir.join("backup.snap");
    let (code, out, err) = cli(
        &s,
        &s.root_token,
        &["operator", "snapshot", "save", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let bytes = std::fs::read(&file).unwrap();
    assert!(
        !String::from_utf8_lossy(&bytes).contains("https://db"),
        "plaintext in a snapshot"
    );

    let (code, out, _) = cli(
        &s,
        "",
        &["operator", "snapshot", "inspect", file.to_str().unwrap()],
    );
    assert_eq!(code, 0);
    assert!(out.contains("Entries") && out.contains("SHA-256"), "{out}");

    // A fresh data directory, restored offline, unsealed with the origin's shares.
    let fresh = restored_offline(&s, &file);
    assert_eq!(reads(&fresh, &token), before);
}

#[test]
fn an_online_restore_rolls_back_and_seals() {
    let s = TestServer::unsealed(1, 1);
    populate(&s);
    let before = s.get("secret/data/app");
    let file = s.dir.join("b.snap");
    let (code, _, err) = cli(
        &s,
        &s.root_token,
        &["operator", "snapshot", "save", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    ok(&s, "secret/data/app", json!({"data": {"v": "later"}}));
    ok(&s, "secret/data/new", json!({"data": {"x": 1}}));
    let (code, out, err) = cli(
        &s,
        &s.root_token,
        &["operator", "snapshot", "restore", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(s.get_raw("sys/seal-status", None).1["sealed"], true);
    s.unseal_all();
    assert_eq!(s.get("secret/data/app").1["data"], before.1["data"]);
    assert_eq!(s.get("secret/data/new").0, 404);
}

#[test]
fn bad_snapshots_are_refused_before_anything_changes() {
    let s = TestServer::unsealed(1, 1);
    populate(&s);
    let file = s.dir.join("b.snap");
    let (code, _, err) = cli(
        &s,
        &s.root_token,
        &["operator", "snapshot", "save", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let good = std::fs::read(&file).unwrap();
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("flipped", flipped),
        ("garbage", b"not a snapshot".to_vec()),
        ("empty", Vec::new()),
    ];
    let http = reqwest::blocking::Client::new();
    for (what, body) in bad {
        let r = http
            .post(s.url("sys/storage/snapshot"))
            .header("X-Vault-Token", &s.root_token)
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{what}");
        let errors: Value = r.json().unwrap();
        assert!(errors["errors"][0].is_string(), "{what}: {errors}");
        let path = s.dir.join(format!("{what}.snap"));
        std::fs::write(&path, &body).unwrap();
        let (code, _, err) = cli(
            &s,
            &s.root_token,
            &["operator", "snapshot", "restore", path.to_str().unwrap()],
        );
        assert_ne!(code, 0, "{what}: {err}");
        let (code, _, _) = cli(
            &s,
            "",
            &["operator", "snapshot", "inspect", path.to_str().unwrap()],
        );
        assert_ne!(code, 0, "{what}");
    }
    assert_eq!(s.get_raw("sys/seal-status", None).1["sealed"], false);
    assert_eq!(s.get("secret/data/app").1["data"]["data"]["v"], 3);

    // Another vault's snapshot needs snapshot-force.
    let other = TestServer::unsealed(1, 1);
    let other_file = s.dir.join("other.snap");
    let (code, _, err) = cli(
        &other,
        &other.root_token,
        &["operator", "snapshot", "save", other_file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(
        &s,
        &s.root_token,
        &[
            "operator",
            "snapshot",
            "restore",
            other_file.to_str().unwrap(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("another vault"), "{err}");
    assert_eq!(s.get("secret/data/app").1["data"]["data"]["v"], 3);
}

#[test]
fn snapshots_need_sudo() {
    let s = TestServer::unsealed(1, 1);
    s.policy(
        "almost",
        r#"path "sys/storage/*" { capabilities = ["read", "update", "create"] }"#,
    );
    let t = s.token(json!({"policies": ["almost"]}));
    assert_eq!(s.get_raw("sys/storage/snapshot", Some(&t)).0, 403);
    assert_eq!(s.get_raw("sys/storage/snapshot", None).0, 403);
}

#[test]
fn a_snapshot_under_write_load_has_every_version_chain_complete() {
    let s = TestServer::unsealed(1, 1);
    ok(
        &s,
        "sys/mounts/secret",
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (addr, token, stop) = (s.addr.clone(), s.root_token.clone(), stop.clone());
            std::thread::spawn(move || {
                let c = reqwest::blocking::Client::new();
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let r = c
                        .post(format!("{addr}/v1/secret/data/k{w}-{}", n % 5))
                        .header("X-Vault-Token", &token)
                        .json(&json!({"data": {"n": n}}))
                        .send()
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    n += 1;
                }
            })
        })
        .collect();
    let mut files = Vec::new();
    for i in 0..3 {
        std::thread::sleep(std::time::Duration::from_millis(150));
        let file = s.dir.join(format!("load{i}.snap"));
        let (code, _, err) = cli(
            &s,
            &s.root_token,
            &["operator", "snapshot", "save", file.to_str().unwrap()],
        );
        assert_eq!(code, 0, "{err}");
        files.push(file);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    for file in files {
        let fresh = restored_offline(&s, &file);
        let (_, list) = fresh.list("secret/metadata/");
        for key in list["data"]["keys"].as_array().cloned().unwrap_or_default() {
            let key = key.as_str().unwrap();
            let (st, meta) = fresh.get(&format!("secret/metadata/{key}"));
            assert_eq!(st, 200);
            let current = meta["data"]["current_version"].as_u64().unwrap();
            // Versions older than max_versions (10 by default) are pruned.
            let kept = meta["data"]["versions"].as_object().unwrap().len() as u64;
            assert!(current >= 1 && kept >= 1);
            assert_eq!(kept, current.min(10), "{meta}");
            for v in current + 1 - kept..=current {
                let (st, b) = fresh.get(&format!("secret/data/{key}?version={v}"));
                assert_eq!(st, 200, "{key} v{v} of {current}: {b}");
            }
        }
    }
}

#[test]
fn scheduled_snapshots_are_written_inspectable_and_pruned() {
    let snaps = tempfile::tempdir().unwrap();
    let dir = snaps.path().join("snapshots");
    let mut s = TestServer::sled_with_config(&format!(
        "snapshot {{\n  interval = \"1s\"\n  path = \"{}\"\n  retain = 2\n}}\n",
        dir.display()
    ));
    s.init(1, 1);
    s.unseal_all();
    ok(
        &s,
        "sys/mounts/secret",
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    ok(&s, "secret/data/app", json!({"data": {"v": 1}}));
    let listing = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&dir)
            .map(|r| r.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "snap"));
        v.sort();
        v
    };
    // Three intervals at least: two kept, older ones deleted.
    let start = std::time::Instant::now();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 3 && start.elapsed() < std::time::Duration::from_secs(30) {
        seen.extend(listing());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(seen.len() >= 3, "snapshots seen: {seen:?}");
    let kept = listing();
    assert!(kept.len() <= 2, "{kept:?}");
    let newest = kept.last().expect("a snapshot");
    let (code, out, err) = cli(
        &s,
        "",
        &["operator", "snapshot", "inspect", newest.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Entries"), "{out}");
    // It restores to the same data.
    let fresh = restored_offline(&s, newest);
    assert_eq!(fresh.get("secret/data/app").1["data"]["data"]["v"], 1);
}

#[test]
fn a_bad_snapshot_block_stops_the_server_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    for (block, word) in [
        ("snapshot {\n  path = \"x\"\n}\n", "snapshot.interval"),
        ("snapshot {\n  interval = \"1h\"\n}\n", "snapshot.path"),
        (
            "snapshot {\n  interval = \"1h\"\n  path = \"x\"\n  retain = 0\n}\n",
            "snapshot.retain",
        ),
        (
            "snapshot {\n  interval = \"1h\"\n  path = \"x\"\n  every = 2\n}\n",
            "snapshot.every",
        ),
    ] {
        let cfg = tmp.path().join("config.hcl");
        std::fs::write(&cfg, common::config_text(&tmp.path().join("data")) + block).unwrap();
        let out = common::command()
            .args(["server", "--config", cfg.to_str().unwrap()])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(word), "{word}: {err}");
    }
}
