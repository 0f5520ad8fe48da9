//! The dev server's manual clock (`server --dev --dev-manual-clock`) and
//! its endpoint `sys/dev/clock`: only in dev mode, only for root, and
//! moving time moves every TTL at once.

mod common;

use common::TestServer;
use serde_json::json;

#[test]
fn the_manual_clock_is_refused_outside_dev_mode() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("config.hcl");
    std::fs::write(&cfg, common::config_text(&dir.path().join("data"))).expect("config");
    let out = std::process::Command::new(common::bin())
        .args([
            "server",
            "--config",
            cfg.to_str().expect("utf8"),
            "--dev-manual-clock",
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        !dir.path().join("data").exists(),
        "refused before opening storage"
    );
    // Hidden from the help text.
    let help = std::process::Command::new(common::bin())
        .args(["server", "--help"])
        .output()
        .expect("help");
    assert!(!String::from_utf8_lossy(&help.stdout).contains("manual-clock"));
}

#[test]
fn a_wall_clock_server_has_no_clock_endpoint() {
    let s = TestServer::dev();
    let (st, b) = s.put_raw("sys/dev/clock", json!({"advance": "1h"}), Some("root"));
    assert_eq!(st, 404, "{b}");
    let (st, _) = s.get("sys/dev/clock");
    assert_eq!(st, 404);
}

#[test]
fn only_root_moves_the_clock_and_every_ttl_follows() {
    let s = TestServer::dev_manual_clock();
    // Not for a token without the root policy, sudo or not.
    s.policy(
        "clock",
        r#"path "sys/dev/clock" { capabilities = ["read", "update", "sudo"] }"#,
    );
    let t = s.token(json!({"policies": ["clock"], "ttl": "1h"}));
    let (st, _) = s.put_raw("sys/dev/clock", json!({"advance": "1s"}), Some(&t));
    assert_eq!(st, 403);
    let (st, _) = s.put_raw("sys/dev/clock", json!({"advance": "1s"}), None);
    assert!(st == 400 || st == 403, "{st}");
    let (st, b) = s.put_raw("sys/dev/clock", json!({"advance": "forever"}), Some("root"));
    assert_eq!(st, 400, "{b}");
    let (st, b) = s.get("sys/dev/clock");
    assert_eq!(st, 200, "{b}");
    let start = b["data"]["unix"].as_i64().expect("unix");
    // Time stands still on its own.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(s.get("sys/dev/clock").1["data"]["unix"], start);
    let short = s.token(json!({"policies": ["default"], "ttl": "30s"}));
    let (_, b) = s.post("auth/token/lookup", json!({"token": short}));
    let accessor = b["data"]["accessor"]
        .as_str()
        .expect("accessor")
        .to_string();
    let b = s.advance("29s");
    assert_eq!(b["data"]["unix"].as_i64(), Some(start + 29));
    let (st, b) = s.request("GET", "auth/token/lookup-self", None, Some(&short));
    assert_eq!(st, 200, "{b}");
    assert_eq!(b["data"]["ttl"], 1);
    // Past the TTL: refused, and revoked by the pass the call ran.
    let b = s.advance("2s");
    assert!(b["data"]["expired"].as_u64() >= Some(1), "{b}");
    let (st, _) = s.request("GET", "auth/token/lookup-self", None, Some(&short));
    assert_eq!(st, 403);
    let (st, _) = s.post("auth/token/lookup-accessor", json!({"accessor": accessor}));
    assert_eq!(st, 400);
    // The clock token (1h) is still good.
    let (st, _) = s.request("GET", "auth/token/lookup-self", None, Some(&t));
    assert_eq!(st, 200);
}
