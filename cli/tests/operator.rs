//! End-to-end tests of `vault-rs operator …` against a real server started
//! from a config file (sled storage): init, unseal, seal, rekey, rotate and
//! key-status, all through the CLI; and the client's TLS settings
//! (`VAULT_CACERT`, `VAULT_SKIP_VERIFY`) against a TLS listener.

mod common;

use std::path::Path;
use std::process::Command;

use common::{mask_rows, row_value, Cli, Server};
use serde_json::Value;

/// What `operator init` printed: the shares and the root token.
struct Init {
    keys: Vec<String>,
    root_token: String,
}

fn parse_init(stdout: &str) -> Init {
    let keys = stdout
        .lines()
        .filter_map(|line| {
            line.split_once(": ")
                .filter(|(label, _)| label.starts_with("Unseal Key "))
        })
        .map(|(_, key)| key.to_owned())
        .collect();
    let root_token = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Initial Root Token: "))
        .expect("root token line")
        .to_owned();
    Init { keys, root_token }
}

fn init(server: &mut Server, shares: &str, threshold: &str) -> Init {
    let stdout = server
        .anonymous()
        .run(&[
            "operator",
            "init",
            "-key-shares",
            shares,
            "-key-threshold",
            threshold,
        ])
        .ok();
    let init = parse_init(&stdout);
    server.root_token = init.root_token.clone();
    init
}

fn unseal_all(server: &Server, keys: &[String]) {
    for key in keys {
        server.anonymous().run(&["operator", "unseal", key]).ok();
    }
}

#[test]
fn init_and_unseal_through_the_cli() {
    let mut server = Server::with_config();
    let run = server.anonymous().run(&["status"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        row_value(&run.stdout, "Initialized").as_deref(),
        Some("false")
    );
    let run = server.anonymous().run(&["operator", "init", "-status"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (2, "Vault is not initialized\n")
    );

    let stdout = server
        .anonymous()
        .run(&["operator", "init", "-key-shares=3", "-key-threshold=2"])
        .ok();
    let init = parse_init(&stdout);
    server.root_token = init.root_token.clone();
    assert_eq!(init.keys.len(), 3, "{stdout}");
    assert!(init.root_token.starts_with("hvs."), "{stdout}");
    assert!(
        stdout.contains("initialized with 3 key shares and a key threshold of 2"),
        "{stdout}"
    );
    let run = server.anonymous().run(&["operator", "init", "-status"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "Vault is initialized\n")
    );

    let sealed = server.anonymous().run(&["status"]);
    assert_eq!(sealed.code, 2, "{}", sealed.stderr);
    let masked = mask_rows(&sealed.stdout, &["Version", "Build Date"]);
    assert_eq!(
        masked,
        "Key                Value\n\
         ---                -----\n\
         Seal Type          shamir\n\
         Initialized        true\n\
         Sealed             true\n\
         Total Shares       3\n\
         Threshold          2\n\
         Unseal Progress    0/2\n\
         Unseal Nonce       n/a\n\
         Version            *\n\
         Build Date         *\n\
         Storage Type       sled\n\
         HA Enabled         false\n"
    );

    // First share as an argument: progress 1/2, still sealed.
    let stdout = server
        .anonymous()
        .run(&["operator", "unseal", &init.keys[0]])
        .ok();
    assert_eq!(row_value(&stdout, "Sealed").as_deref(), Some("true"));
    assert_eq!(
        row_value(&stdout, "Unseal Progress").as_deref(),
        Some("1/2")
    );
    assert!(
        row_value(&stdout, "Unseal Nonce").is_some_and(|nonce| nonce != "n/a"),
        "{stdout}"
    );
    // A wrong share is refused; progress is kept.
    server
        .anonymous()
        .run(&["operator", "unseal", "AAAAnot-a-share"])
        .fails_with(2);
    // Second share from stdin (not a terminal): unsealed.
    let stdout = server
        .anonymous()
        .stdin(&format!("{}\n", init.keys[2]))
        .run(&["operator", "unseal"])
        .ok();
    assert_eq!(row_value(&stdout, "Sealed").as_deref(), Some("false"));
    server.anonymous().run(&["status"]).ok();

    // The root token works; a second init is refused.
    server.ok(&["token", "lookup"]);
    let stderr = server
        .anonymous()
        .run(&["operator", "init", "-key-shares=1", "-key-threshold=1"])
        .fails_with(2);
    assert!(
        stderr.starts_with(&format!(
            "Error making API request.\n\nURL: PUT {}/v1/sys/init\nCode: 400. Errors:\n\n* ",
            server.addr
        )),
        "{stderr}"
    );

    // Seal again: exit 2; unseal needs the shares again.
    server.ok(&["operator", "seal"]);
    assert_eq!(server.anonymous().run(&["status"]).code, 2);
    unseal_all(&server, &init.keys[1..]);
    server.anonymous().run(&["status"]).ok();
}

#[test]
fn unseal_reset_discards_progress() {
    let mut server = Server::with_config();
    let init = init(&mut server, "3", "2");
    server
        .anonymous()
        .run(&["operator", "unseal", &init.keys[0]])
        .ok();
    let stdout = server
        .anonymous()
        .run(&["operator", "unseal", "-reset"])
        .ok();
    assert_eq!(
        row_value(&stdout, "Unseal Progress").as_deref(),
        Some("0/2")
    );
}

#[test]
fn init_json_output_has_vault_and_api_fields() {
    let server = Server::with_config();
    let stdout = server
        .anonymous()
        .run(&[
            "operator",
            "init",
            "-format=json",
            "-key-shares=1",
            "-key-threshold=1",
        ])
        .ok();
    let body: Value = serde_json::from_str(&stdout).expect("init JSON");
    assert_eq!(
        body["unseal_keys_b64"].as_array().map(Vec::len),
        Some(1),
        "{body}"
    );
    assert_eq!(body["keys_base64"], body["unseal_keys_b64"]);
    assert_eq!(body["unseal_threshold"], Value::from(1));
    let key = body["unseal_keys_b64"][0].as_str().expect("share");
    let token = body["root_token"].as_str().expect("root token");
    assert!(token.starts_with("hvs."));
    let unsealed = server
        .anonymous()
        .run(&["operator", "unseal", "-format=json", key])
        .ok();
    let status: Value = serde_json::from_str(&unsealed).expect("unseal JSON");
    assert_eq!(status["sealed"], Value::Bool(false));
    let root = server
        .anonymous()
        .run(&["operator", "init", "-status"])
        .ok();
    assert_eq!(root, "Vault is initialized\n");
}

#[test]
fn rekey_replaces_the_shares() {
    let mut server = Server::with_config();
    let old = init(&mut server, "3", "2");
    unseal_all(&server, &old.keys[..2]);

    let stdout = server.ok(&[
        "operator",
        "rekey",
        "-init",
        "-key-shares=2",
        "-key-threshold=2",
    ]);
    assert_eq!(
        row_value(&stdout, "Started").as_deref(),
        Some("true"),
        "{stdout}"
    );
    assert_eq!(row_value(&stdout, "New Shares").as_deref(), Some("2"));
    assert_eq!(row_value(&stdout, "Rekey Progress").as_deref(), Some("0/2"));
    let nonce = row_value(&stdout, "Nonce").expect("nonce");

    let stdout = server.ok(&["operator", "rekey", "-status"]);
    assert_eq!(row_value(&stdout, "Nonce").as_deref(), Some(nonce.as_str()));

    let stdout = server.ok(&["operator", "rekey", "-nonce", &nonce, &old.keys[0]]);
    assert_eq!(
        row_value(&stdout, "Rekey Progress").as_deref(),
        Some("1/2"),
        "{stdout}"
    );
    let stdout = server
        .cli()
        .stdin(&format!("{}\n", old.keys[2]))
        .run(&["operator", "rekey"])
        .ok();
    let new_keys: Vec<String> = stdout
        .lines()
        .filter_map(|line| {
            line.split_once(": ")
                .filter(|(label, _)| label.starts_with("Key "))
        })
        .map(|(_, key)| key.to_owned())
        .collect();
    assert_eq!(new_keys.len(), 2, "{stdout}");
    assert!(
        stdout.contains(&format!("Operation nonce: {nonce}")),
        "{stdout}"
    );

    // The new shares unseal; that first use retires the old ones (until
    // then they keep working, so a lost response never locks the vault).
    server.ok(&["operator", "seal"]);
    unseal_all(&server, &new_keys);
    server.anonymous().run(&["status"]).ok();
    server.ok(&["operator", "seal"]);
    for key in &old.keys[..2] {
        let _ = server.anonymous().run(&["operator", "unseal", key]);
    }
    assert_eq!(server.anonymous().run(&["status"]).code, 2);
    server
        .anonymous()
        .run(&["operator", "unseal", "-reset"])
        .ok();
    unseal_all(&server, &new_keys);
    server.anonymous().run(&["status"]).ok();
}

#[test]
fn rekey_cancel_and_submit_without_rekey() {
    let mut server = Server::with_config();
    let keys = init(&mut server, "1", "1").keys;
    unseal_all(&server, &keys);
    server.ok(&[
        "operator",
        "rekey",
        "-init",
        "-key-shares=1",
        "-key-threshold=1",
    ]);
    let stdout = server.ok(&["operator", "rekey", "-cancel"]);
    assert_eq!(stdout, "Success! Canceled rekeying (if it was started)\n");
    let stdout = server.ok(&["operator", "rekey", "-status"]);
    assert_eq!(row_value(&stdout, "Started").as_deref(), Some("false"));
    let stderr = server
        .cli()
        .run(&["operator", "rekey", &keys[0]])
        .fails_with(1);
    assert!(stderr.contains("no rekey is in progress"), "{stderr}");
}

#[test]
fn rotate_adds_a_key_term() {
    let mut server = Server::with_config();
    let keys = init(&mut server, "1", "1").keys;
    unseal_all(&server, &keys);
    let status = server.ok(&["operator", "key-status"]);
    assert_eq!(
        row_value(&status, "Key Term").as_deref(),
        Some("1"),
        "{status}"
    );
    assert!(row_value(&status, "Install Time").is_some(), "{status}");
    let stdout = server.ok(&["operator", "rotate"]);
    assert!(stdout.starts_with("Success! Rotated key\n\n"), "{stdout}");
    assert_eq!(
        row_value(&stdout, "Key Term").as_deref(),
        Some("2"),
        "{stdout}"
    );
    let body: Value = serde_json::from_str(&server.ok(&["operator", "key-status", "-format=json"]))
        .expect("JSON");
    assert_eq!(body["term"], Value::from(2));
    assert_eq!(server.ok(&["operator", "key-status", "-field=term"]), "2");
}

/// Runs openssl with `args` in `dir`; false when it is missing or fails.
fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// Makes `ca.pem` and a `cert.pem`/`key.pem` for 127.0.0.1 signed by it.
fn make_pki(dir: &Path) -> bool {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend_from_slice(&ec);
    ca.extend_from_slice(&[
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
    ]);
    let mut csr = vec!["req"];
    csr.extend_from_slice(&ec);
    csr.extend_from_slice(&[
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=localhost",
    ]);
    let extensions = "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    if std::fs::write(dir.join("ext.cnf"), extensions).is_err() {
        return false;
    }
    let sign = [
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ];
    openssl(dir, &ca) && openssl(dir, &csr) && openssl(dir, &sign)
}

#[test]
fn tls_needs_the_ca_certificate_or_skip_verify() {
    let pki = common::tempdir();
    assert!(
        make_pki(pki.path()),
        "openssl is needed to make the test certificates"
    );
    let path = |name: &str| pki.path().join(name).display().to_string();
    let server = Server::with_listener(&format!(
        "tls_cert_file = \"{}\"\n  tls_key_file = \"{}\"",
        path("cert.pem"),
        path("key.pem")
    ));
    assert!(server.addr.starts_with("https://"), "{}", server.addr);
    let client = || Cli::new(&server.addr, server.home());

    let stderr = client().run(&["status"]).fails_with(1);
    assert!(stderr.contains("certificate"), "{stderr}");
    // Uninitialized, hence sealed: exit 2 once the connection succeeds.
    let run = client()
        .env("VAULT_CACERT", &path("ca.pem"))
        .run(&["status"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let run = client().env("VAULT_SKIP_VERIFY", "true").run(&["status"]);
    assert_eq!(run.code, 2, "{}", run.stderr);

    let stderr = client()
        .env("VAULT_SKIP_VERIFY", "maybe")
        .run(&["status"])
        .fails_with(1);
    assert!(stderr.contains("VAULT_SKIP_VERIFY"), "{stderr}");
    let stderr = client()
        .env("VAULT_CACERT", "/nonexistent/ca.pem")
        .run(&["status"])
        .fails_with(1);
    assert!(stderr.contains("/nonexistent/ca.pem"), "{stderr}");
    let stderr = client()
        .env("VAULT_CACERT", &path("ext.cnf"))
        .run(&["status"])
        .fails_with(1);
    assert!(stderr.contains("certificate"), "{stderr}");
}
