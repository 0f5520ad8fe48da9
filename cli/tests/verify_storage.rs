//! End-to-end tests of `vault-rs operator verify-storage` on the data
//! directory of a real server (sled storage), and of the server refusing
//! to start on a damaged one.

mod common;

use std::process::Command;

use common::{bin, Cli, Server};

fn verify(dir: &std::path::Path, data: &std::path::Path) -> common::Run {
    Cli::new("http://127.0.0.1:1", dir).run(&[
        "operator",
        "verify-storage",
        "--data-dir",
        data.to_str().unwrap(),
    ])
}

#[test]
fn verify_storage_reports_a_clean_and_a_damaged_store() {
    let mut server = Server::with_config();
    let stdout = server
        .anonymous()
        .run(&[
            "operator",
            "init",
            "-key-shares",
            "1",
            "-key-threshold",
            "1",
        ])
        .ok();
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Unseal Key 1: "))
        .expect("unseal key")
        .to_owned();
    server.anonymous().run(&["operator", "unseal", &key]).ok();
    let root = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Initial Root Token: "))
        .expect("root token")
        .to_owned();
    let cli = || server.anonymous().token(&root);
    cli()
        .run(&["secrets", "enable", "-path=secret", "kv-v2"])
        .ok();
    for i in 0..20 {
        cli()
            .run(&["kv", "put", &format!("secret/s{i}"), &format!("v={i}")])
            .ok();
    }
    let home = server.dir.path().to_path_buf();
    let data = home.join("data");
    // While the server runs: refused, nothing reported as damaged.
    let err = verify(&home, &data).fails_with(1);
    assert!(err.contains("stop the server"), "{err}");
    let config = home.join("config.hcl");
    // Killing the server leaves every acknowledged write on disk.
    server.kill();
    let dir = &server.dir;

    let run = verify(dir.path(), &data);
    let out = run.ok();
    assert!(out.contains("is intact"), "{out}");
    assert!(out.contains("commit sequence"), "{out}");

    // One flipped byte in sled's conf: reported, and the server refuses to start.
    let conf = data.join("conf");
    let mut raw = std::fs::read(&conf).unwrap();
    raw[5] ^= 0x20;
    std::fs::write(&conf, raw).unwrap();
    let run = verify(dir.path(), &data);
    assert!(
        run.stdout.contains("FAILED conf checksum"),
        "{}",
        run.stdout
    );
    let err = run.fails_with(1);
    assert!(
        err.contains("is damaged") && err.contains("conf checksum"),
        "{err}"
    );

    let out = Command::new(bin())
        .args(["server", "--config", config.to_str().unwrap()])
        .env("VAULT_RS_LOG", "warn")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&data.display().to_string()) && stderr.contains("corrupt"),
        "{stderr}"
    );
}

#[test]
fn verify_storage_on_a_directory_that_is_not_a_store_fails_clearly() {
    let dir = common::tempdir();
    let err = verify(dir.path(), dir.path()).fails_with(1);
    assert!(err.contains("not a sled data directory"), "{err}");
}
