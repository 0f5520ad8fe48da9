//! Operations: the server's log lines (format, no colour off a terminal,
//! the access log, no secret in any line) and snapshots end to end.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

const CANARY: &str = "canary-s3cret-value-8f2b";

/// Starts the binary with `args` and `env`, stderr into `log`; returns the
/// child and its address.
fn start(args: &[&str], env: &[(&str, &str)], log: &Path) -> (Child, String) {
    let mut cmd = Command::new(common::bin());
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
    let r = c
        .post(format!("{addr}/v1/secret/data/app"))
        .header("X-Vault-Token", "root")
        .json(&json!({"data": {"password": CANARY}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(format!("{addr}/v1/secret/data/app"))
        .header("X-Vault-Token", "root")
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(format!("{addr}/v1/secret/data/missing"))
        .header("X-Vault-Token", "root")
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
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
    let out = Command::new(common::bin())
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
