//! End-to-end tests of the `vault-rs` client against a real dev server:
//! status and seal, read/write/list/delete, output formats, tokens,
//! policies, login, secrets engines, leases, and argument errors.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{mask_rows, row_value, write_file, Cli, Server};
use serde_json::Value;

/// A server address where nothing listens.
const NOWHERE: &str = "http://127.0.0.1:1";

use common::parse_json as json;

#[test]
fn status_of_unsealed_dev_server_exits_0() {
    let server = Server::dev();
    let stdout = server.cli().run(&["status"]).ok();
    let masked = mask_rows(
        &stdout,
        &["Version", "Build Date", "Cluster Name", "Cluster ID"],
    );
    assert_eq!(
        masked,
        "Key             Value\n\
         ---             -----\n\
         Seal Type       shamir\n\
         Initialized     true\n\
         Sealed          false\n\
         Total Shares    1\n\
         Threshold       1\n\
         Version         *\n\
         Build Date      *\n\
         Storage Type    inmem\n\
         Cluster Name    *\n\
         Cluster ID      *\n\
         HA Enabled      false\n"
    );
}

#[test]
fn status_needs_no_token() {
    let server = Server::dev();
    server.anonymous().run(&["status"]).ok();
}

#[test]
fn status_json_and_field() {
    let server = Server::dev();
    let body = json(&server.ok(&["-format=json", "status"]));
    assert_eq!(body["sealed"], Value::Bool(false));
    assert_eq!(body["initialized"], Value::Bool(true));
    assert_eq!(body["type"], Value::String("shamir".to_owned()));
    assert_eq!(server.ok(&["status", "--field", "sealed"]), "false");
    let body = json(
        &server
            .cli()
            .env("VAULT_FORMAT", "json")
            .run(&["status"])
            .ok(),
    );
    assert_eq!(body["t"], Value::from(1));
}

#[test]
fn sealed_status_exits_2_and_unseal_restores() {
    let server = Server::dev();
    let stdout = server.ok(&["operator", "seal"]);
    assert_eq!(stdout, "Success! Vault is sealed.\n");
    let sealed = server.cli().run(&["status"]);
    assert_eq!(sealed.code, 2, "stderr: {}", sealed.stderr);
    let masked = mask_rows(&sealed.stdout, &["Version", "Build Date"]);
    assert_eq!(
        masked,
        "Key                Value\n\
         ---                -----\n\
         Seal Type          shamir\n\
         Initialized        true\n\
         Sealed             true\n\
         Total Shares       1\n\
         Threshold          1\n\
         Unseal Progress    0/1\n\
         Unseal Nonce       n/a\n\
         Version            *\n\
         Build Date         *\n\
         Storage Type       inmem\n\
         HA Enabled         false\n"
    );
    // Requests that need the barrier fail while sealed.
    let stderr = server.cli().run(&["token", "lookup"]).fails_with(2);
    assert!(stderr.contains("503"), "{stderr}");

    let key = server.dev_unseal_key();
    let stdout = server
        .cli()
        .stdin(&format!("{key}\n"))
        .run(&["operator", "unseal"])
        .ok();
    assert_eq!(row_value(&stdout, "Sealed").as_deref(), Some("false"));
    assert!(!stdout.contains(&key), "the share must not be printed");
    server.cli().run(&["status"]).ok();
    server.ok(&["token", "lookup"]);
}

#[test]
fn status_of_unreachable_server_exits_1() {
    let home = common::tempdir();
    let stderr = Cli::new(NOWHERE, home.path())
        .run(&["status"])
        .fails_with(1);
    assert!(
        stderr.starts_with("Error: GET sys/seal-status: "),
        "{stderr}"
    );
}

#[test]
fn write_read_list_delete_round_trip() {
    let server = Server::dev_with_kv1();
    let stdout = server.ok(&["write", "kvv1/app/db", "user=alice", "password=hunter2"]);
    assert_eq!(stdout, "Success! Data written to: kvv1/app/db\n");
    server.ok(&["write", "kvv1/app/cache", "url=redis://x"]);
    server.ok(&["write", "kvv1/top", "a=1"]);

    let stdout = server.ok(&["read", "kvv1/app/db"]);
    let masked = mask_rows(&stdout, &["refresh_interval"]);
    let table = "password    hunter2\nuser        alice\n";
    assert!(masked.ends_with(table), "{stdout}");
    assert!(masked.starts_with("Key "), "{stdout}");

    assert_eq!(server.ok(&["list", "kvv1/"]), "Keys\n----\napp/\ntop\n");
    assert_eq!(server.ok(&["list", "kvv1/app"]), "Keys\n----\ncache\ndb\n");

    let stdout = server.ok(&["delete", "kvv1/app/db"]);
    assert_eq!(
        stdout,
        "Success! Data deleted (if it existed) at: kvv1/app/db\n"
    );
    let stderr = server.cli().run(&["read", "kvv1/app/db"]).fails_with(2);
    assert_eq!(stderr, "No value found at kvv1/app/db\n");
    assert_eq!(server.ok(&["list", "kvv1/app"]), "Keys\n----\ncache\n");
}

#[test]
fn write_values_from_files_and_stdin() {
    let server = Server::dev_with_kv1();
    let file = write_file(server.home(), "cert.pem", "-----BEGIN X-----\nabc\n");
    server.ok(&["write", "kvv1/file", &format!("cert=@{file}")]);
    assert_eq!(
        server.ok(&["read", "-field=cert", "kvv1/file"]),
        "-----BEGIN X-----\nabc\n"
    );

    server
        .cli()
        .stdin("from stdin")
        .run(&["write", "kvv1/stdin", "value=-", "other=x"])
        .ok();
    assert_eq!(
        server.ok(&["read", "-field=value", "kvv1/stdin"]),
        "from stdin"
    );

    server
        .cli()
        .stdin(r#"{"n": 3, "list": ["a", "b"], "s": "t"}"#)
        .run(&["write", "kvv1/json", "-"])
        .ok();
    let body = json(&server.ok(&["read", "-format=json", "kvv1/json"]));
    assert_eq!(body["data"]["n"], Value::from(3));
    assert_eq!(body["data"]["list"], serde_json::json!(["a", "b"]));
    let stdout = server.ok(&["read", "kvv1/json"]);
    assert_eq!(row_value(&stdout, "list").as_deref(), Some("[a b]"));

    let stderr = server
        .cli()
        .stdin("x")
        .run(&["write", "kvv1/twice", "a=-", "b=-"])
        .fails_with(1);
    assert!(stderr.contains("stdin"), "{stderr}");
    let stderr = server
        .cli()
        .run(&["write", "kvv1/nofile", "k=@/nonexistent/file"])
        .fails_with(1);
    assert!(stderr.contains("/nonexistent/file"), "{stderr}");
}

#[test]
fn json_and_field_output() {
    let server = Server::dev_with_kv1();
    server.ok(&["write", "kvv1/creds", "user=alice", "port=5432"]);

    let body = json(&server.ok(&["read", "--format", "json", "kvv1/creds"]));
    assert_eq!(body["data"]["user"], Value::String("alice".to_owned()));
    assert!(body.get("request_id").is_some(), "{body}");

    assert_eq!(
        server.ok(&["read", "--field", "user", "kvv1/creds"]),
        "alice"
    );
    assert_eq!(server.ok(&["read", "-field=port", "kvv1/creds"]), "5432");
    assert_eq!(
        server.ok(&["read", "-field=user", "-format=json", "kvv1/creds"]),
        "\"alice\""
    );
    let stderr = server
        .cli()
        .run(&["read", "-field=nope", "kvv1/creds"])
        .fails_with(1);
    assert_eq!(stderr, "Error: Field \"nope\" not present in secret\n");

    let keys = json(&server.ok(&["list", "-format=json", "kvv1/"]));
    assert_eq!(keys, serde_json::json!(["creds"]));
}

#[test]
fn argument_errors_exit_1_with_a_message() {
    let home = common::tempdir();
    let cases: &[(&[&str], &str)] = &[
        (&[], "Usage"),
        (&["bogus"], "unrecognized subcommand"),
        (&["read"], "required"),
        (&["write", "kv/x"], "Must supply data"),
        (
            &["write", "kv/x", "s3cr3t-value"],
            "argument 2 is not of the form key=value",
        ),
        (&["write", "kv/x", "=v"], "empty key"),
        (&["--format", "xml", "status"], "invalid value"),
        (
            &["operator", "init", "-key-shares=3", "-key-threshold=5"],
            "cannot exceed",
        ),
        (&["operator", "init", "-key-shares=0"], "key-shares"),
        (
            &["operator", "rekey", "-init", "-cancel"],
            "cannot be used with",
        ),
        (&["kv", "put", "secret/x"], "Must supply data"),
        (&["kv", "get"], "required"),
        (
            &["kv", "delete", "-versions=abc", "secret/x"],
            "invalid version",
        ),
        (&["kv", "undelete", "secret/x"], "--versions"),
        (&["kv", "rollback", "secret/x"], "--version"),
        (&["token", "revoke"], "--self"),
        (
            &["token", "revoke", "--mode", "sideways", "t"],
            "invalid value",
        ),
        (&["token", "create", "-use-limit=many"], "invalid value"),
        (&["login", "-method=userpass", "password=x"], "username"),
        (&["login", "-method=approle", "secret_id=x"], "role_id"),
        (&["secrets", "enable"], "required"),
        (&["secrets", "tune", "kv"], "nothing to tune"),
        (&["policy", "write", "a/b", "-"], "invalid policy name"),
        (&["server"], "--config"),
        (
            &["server", "--config", "x", "--dev-root-token-id", "t"],
            "--dev",
        ),
    ];
    for (args, message) in cases {
        let run = Cli::new(NOWHERE, home.path()).run(args);
        assert_eq!(run.code, 1, "args {args:?}: stderr {}", run.stderr);
        assert!(
            run.stderr.contains(message),
            "args {args:?}: expected {message:?} in stderr: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("s3cr3t-value"),
            "a value was echoed: {}",
            run.stderr
        );
    }
    let run = Cli::new(NOWHERE, home.path())
        .env("VAULT_FORMAT", "xml")
        .run(&["status"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("VAULT_FORMAT"), "{}", run.stderr);
}

#[test]
fn bad_address_exits_1_and_request_errors_exit_2() {
    let home = common::tempdir();
    let run = Cli::new("not a url", home.path()).run(&["status"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("invalid server address"),
        "{}",
        run.stderr
    );

    let server = Server::dev();
    let stderr = server
        .cli()
        .run(&["write", "sys/mounts/bad", "type=no-such-engine"])
        .fails_with(2);
    assert!(
        stderr.starts_with(&format!(
            "Error making API request.\n\nURL: PUT {}/v1/sys/mounts/bad\nCode: 400. Errors:\n\n* ",
            server.addr
        )),
        "{stderr}"
    );
}

#[test]
fn errors_never_show_tokens() {
    let server = Server::dev();
    let secret = "hvs.NotARealTokenButSecretAnyway1234";
    let stderr = Cli::new(&server.addr, server.home())
        .token(secret)
        .run(&["read", "secret/anything"])
        .fails_with(2);
    assert!(stderr.contains("403"), "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");

    let stderr = server.cli().run(&["token", "lookup", secret]).fails_with(2);
    assert!(
        stderr.starts_with("Error making API request.\n\nURL: POST ")
            && stderr.contains("/v1/auth/token/lookup\n"),
        "{stderr}"
    );
    assert!(!stderr.contains(secret), "{stderr}");

    let stderr = server.anonymous().run(&["login", secret]).fails_with(2);
    assert!(!stderr.contains(secret), "{stderr}");
}

#[test]
fn token_create_lookup_renew_revoke() {
    let server = Server::dev();
    let stdout = server.ok(&[
        "token",
        "create",
        "-policy=default",
        "-ttl=1h",
        "-metadata=team=ops",
        "-display-name=ci",
    ]);
    let token = row_value(&stdout, "token").expect("token row");
    assert!(token.starts_with("hvs."), "{stdout}");
    assert_eq!(row_value(&stdout, "token_duration").as_deref(), Some("1h"));
    assert_eq!(
        row_value(&stdout, "token_policies").as_deref(),
        Some("[\"default\"]")
    );
    assert_eq!(
        row_value(&stdout, "token_meta_team").as_deref(),
        Some("ops")
    );
    let accessor = row_value(&stdout, "token_accessor").expect("accessor row");

    let looked_up = server.ok(&["token", "lookup", &token]);
    assert_eq!(
        row_value(&looked_up, "accessor").as_deref(),
        Some(accessor.as_str())
    );
    assert_eq!(row_value(&looked_up, "ttl").as_deref(), Some("1h"));
    let by_accessor = server.ok(&["token", "lookup", "-accessor", &accessor]);
    assert_eq!(
        row_value(&by_accessor, "accessor").as_deref(),
        Some(accessor.as_str())
    );

    let own =
        Cli::new(&server.addr, server.home())
            .token(&token)
            .run(&["token", "lookup", "-field=id"]);
    assert_eq!(own.ok(), token);

    let renewed = server.ok(&["token", "renew", "-increment=2h", &token]);
    assert_eq!(row_value(&renewed, "token_duration").as_deref(), Some("2h"));

    let json_token = json(&server.ok(&["token", "create", "-format=json", "-ttl=10m"]));
    assert!(
        json_token["auth"]["client_token"].as_str().is_some(),
        "{json_token}"
    );
    let field_token = server.ok(&["token", "create", "-field=token", "-orphan"]);
    assert!(field_token.trim().starts_with("hvs."), "{field_token}");

    assert_eq!(server.ok(&["token", "capabilities", "secret/x"]), "root\n");

    let stdout = server.ok(&["token", "revoke", &token]);
    assert_eq!(stdout, "Success! Revoked token (if it existed)\n");
    server.cli().run(&["token", "lookup", &token]).fails_with(2);

    let child = server.ok(&["token", "create", "-field=token"]);
    let child = child.trim();
    let stdout = Cli::new(&server.addr, server.home())
        .token(child)
        .run(&["token", "revoke", "-self"])
        .ok();
    assert_eq!(stdout, "Success! Revoked token (if it existed)\n");
    server.cli().run(&["token", "lookup", child]).fails_with(2);
}

#[test]
fn token_orphan_revoke_and_accessor_commands() {
    let server = Server::dev();
    let parent = server.ok(&["token", "create", "-field=token"]);
    let parent = parent.trim();
    let child = Cli::new(&server.addr, server.home())
        .token(parent)
        .run(&["token", "create", "-field=token", "-policy=default"])
        .ok();
    let child = child.trim();
    assert!(child.starts_with("hvs."), "{child}");

    server.ok(&["token", "revoke", "-mode=orphan", parent]);
    server.cli().run(&["token", "lookup", parent]).fails_with(2);
    assert_eq!(
        server.ok(&["token", "lookup", "-field=orphan", child]),
        "true"
    );

    let accessor = server.ok(&["token", "lookup", "-field=accessor", child]);
    let accessor = accessor.trim();
    let caps = server.ok(&["token", "capabilities", "-accessor", accessor, "kvv1/x"]);
    assert_eq!(caps, "deny\n");
    let renewed = server.ok(&["token", "renew", "-accessor", accessor]);
    assert_eq!(
        row_value(&renewed, "token_accessor").as_deref(),
        Some(accessor)
    );
    server.ok(&["token", "revoke", "-accessor", accessor]);
    server.cli().run(&["token", "lookup", child]).fails_with(2);
}

#[test]
fn policy_fmt_write_read_list_delete() {
    let server = Server::dev_with_kv1();
    let file = write_file(
        server.home(),
        "readers.hcl",
        "path \"kvv1/*\" {\ncapabilities = [\"read\",\"list\"]\n}\n",
    );
    assert_eq!(
        server.ok(&["policy", "fmt", &file]),
        format!("Success! Formatted policy: {file}\n")
    );
    let formatted = std::fs::read_to_string(&file).expect("read formatted policy");
    assert_eq!(
        formatted,
        "path \"kvv1/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n"
    );

    assert_eq!(
        server.ok(&["policy", "write", "readers", &file]),
        "Success! Uploaded policy: readers\n"
    );
    let text = server.ok(&["policy", "read", "readers"]);
    assert!(text.contains("path \"kvv1/*\""), "{text}");
    server
        .cli()
        .stdin("path \"kvv1/w/*\" {\n  capabilities = [\"create\", \"update\"]\n}\n")
        .run(&["policy", "write", "writers", "-"])
        .ok();
    let list = server.ok(&["policy", "list"]);
    let names: Vec<&str> = list.lines().collect();
    for name in ["default", "readers", "root", "writers"] {
        assert!(names.contains(&name), "{list}");
    }
    let list = json(&server.ok(&["policy", "list", "-format=json"]));
    assert!(
        list.as_array().is_some_and(|names| names.len() >= 4),
        "{list}"
    );

    let token = server.ok(&["token", "create", "-field=token", "-policy=readers"]);
    let caps = server.ok(&["token", "capabilities", token.trim(), "kvv1/x"]);
    assert_eq!(caps, "list, read\n");

    assert_eq!(
        server.ok(&["policy", "delete", "writers"]),
        "Success! Deleted policy: writers\n"
    );
    let stderr = server
        .cli()
        .run(&["policy", "read", "writers"])
        .fails_with(1);
    assert_eq!(stderr, "Error: No policy named: writers\n");

    let commented = write_file(
        server.home(),
        "c.hcl",
        "# ops\npath \"x\" {\ncapabilities=[\"read\"]\n}\n",
    );
    let stderr = server
        .cli()
        .run(&["policy", "fmt", &commented])
        .fails_with(1);
    assert!(stderr.contains("comments"), "{stderr}");
    let bad = write_file(server.home(), "bad.hcl", "path \"x\" {\n");
    server.cli().run(&["policy", "fmt", &bad]).fails_with(1);
}

#[test]
fn login_with_token_stores_a_private_token_file() {
    let server = Server::dev();
    let token = server.ok(&["token", "create", "-field=token", "-policy=default"]);
    let token = token.trim().to_owned();
    let token_file = server.home().join(".vault-token");

    let stdout = server.anonymous().run(&["login", &token]).ok();
    assert!(
        stdout.starts_with("Success! You are now authenticated."),
        "{stdout}"
    );
    assert_eq!(row_value(&stdout, "token").as_deref(), Some(token.as_str()));
    let stored = std::fs::read_to_string(&token_file).expect("token file");
    assert_eq!(stored, token);
    let mode = std::fs::metadata(&token_file)
        .expect("token file metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    // Without VAULT_TOKEN the stored token is used.
    let id = server
        .anonymous()
        .run(&["token", "lookup", "-field=id"])
        .ok();
    assert_eq!(id, token);

    // Token from stdin, not stored.
    std::fs::remove_file(&token_file).expect("remove token file");
    server
        .anonymous()
        .stdin(&format!("{token}\n"))
        .run(&["login", "-no-store", "-"])
        .ok();
    assert!(!token_file.exists());
    let printed = server
        .anonymous()
        .run(&["login", "-token-only", &token])
        .ok();
    assert_eq!(printed, format!("{token}\n"));
    assert!(!token_file.exists());

    server
        .anonymous()
        .run(&["login", "hvs.bogus"])
        .fails_with(2);
    assert!(!token_file.exists());
}

#[test]
fn login_with_userpass() {
    let server = Server::dev();
    server.ok(&["write", "sys/auth/userpass", "type=userpass"]);
    server.ok(&[
        "write",
        "auth/userpass/users/bob",
        "password=pw",
        "token_policies=default",
    ]);
    let stdout = server
        .anonymous()
        .run(&["login", "-method=userpass", "username=bob", "password=pw"])
        .ok();
    assert!(stdout.contains("token_policies"), "{stdout}");
    assert!(server.home().join(".vault-token").exists());
    // Password from stdin when not given.
    let token = server
        .anonymous()
        .stdin("pw\n")
        .run(&[
            "login",
            "-method=userpass",
            "-no-store",
            "-field=token",
            "username=bob",
        ])
        .ok();
    assert!(token.trim().starts_with("hvs."), "{token}");
    let stderr = server
        .anonymous()
        .run(&[
            "login",
            "-method=userpass",
            "-no-store",
            "username=bob",
            "password=wrong",
        ])
        .fails_with(2);
    assert!(!stderr.contains("wrong"), "{stderr}");
}

#[test]
fn login_with_approle() {
    let server = Server::dev();
    server.ok(&["write", "sys/auth/approle", "type=approle"]);
    server.ok(&["write", "auth/approle/role/app", "token_policies=default"]);
    let role_id = server.ok(&["read", "-field=role_id", "auth/approle/role/app/role-id"]);
    let secret_id = server.ok(&[
        "write",
        "-f",
        "-field=secret_id",
        "auth/approle/role/app/secret-id",
    ]);
    let stdout = server
        .anonymous()
        .run(&[
            "login",
            "-method=approle",
            "-no-store",
            &format!("role_id={}", role_id.trim()),
            &format!("secret_id={}", secret_id.trim()),
        ])
        .ok();
    assert!(
        row_value(&stdout, "token").is_some_and(|t| t.starts_with("hvs.")),
        "{stdout}"
    );
}

#[test]
fn secrets_enable_list_tune_disable() {
    let server = Server::dev();
    let stdout = server.ok(&[
        "secrets",
        "enable",
        "-path=team/kv",
        "-description=team secrets",
        "kv",
    ]);
    assert_eq!(
        stdout,
        "Success! Enabled the kv secrets engine at: team/kv/\n"
    );
    let list = server.ok(&["secrets", "list"]);
    let header = list.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("Path ") && header.contains("Type") && header.contains("Description"),
        "{list}"
    );
    let row = list
        .lines()
        .find(|line| line.starts_with("team/kv/"))
        .unwrap_or_else(|| panic!("no team/kv/ row: {list}"));
    assert!(
        row.contains(" kv ") && row.ends_with("team secrets"),
        "{row}"
    );

    let mounts = json(&server.ok(&["secrets", "list", "-format=json"]));
    assert_eq!(mounts["team/kv/"]["type"], Value::String("kv".to_owned()));

    let stdout = server.ok(&["secrets", "tune", "-description=renamed", "team/kv"]);
    assert_eq!(stdout, "Success! Tuned the secrets engine at: team/kv/\n");

    let stdout = server.ok(&["secrets", "disable", "team/kv"]);
    assert_eq!(
        stdout,
        "Success! Disabled the secrets engine (if it existed) at: team/kv/\n"
    );
    let list = server.ok(&["secrets", "list"]);
    assert!(!list.contains("team/kv/"), "{list}");
}

#[test]
fn lease_errors_name_the_request() {
    let server = Server::dev();
    let stderr = server
        .cli()
        .run(&["lease", "lookup", "no/such/lease"])
        .fails_with(2);
    assert!(
        stderr.starts_with("Error making API request.\n\nURL: PUT ")
            && stderr.contains("/v1/sys/leases/lookup\nCode: "),
        "{stderr}"
    );
    let stderr = server
        .cli()
        .run(&["lease", "renew", "no/such/lease"])
        .fails_with(2);
    assert!(
        stderr.starts_with("Error making API request.\n\nURL: PUT ")
            && stderr.contains("/v1/sys/leases/renew\nCode: "),
        "{stderr}"
    );
}

#[test]
fn lease_lookup_renew_revoke_of_a_token_lease() {
    let server = Server::dev();
    let token = server.ok(&["token", "create", "-field=token", "-ttl=1h"]);
    let token = token.trim();
    let keys = json(&server.ok(&[
        "list",
        "-format=json",
        "sys/leases/lookup/auth/token/create",
    ]));
    let id = keys[0].as_str().expect("a token lease");
    let lease = format!("auth/token/create/{id}");
    let stdout = server.ok(&["lease", "lookup", &lease]);
    assert!(row_value(&stdout, "ttl").is_some(), "{stdout}");
    // As Vault: a token's lease is renewed with `token renew`, not here.
    let stderr = server
        .cli()
        .run(&["lease", "renew", "-increment=2h", &lease])
        .fails_with(2);
    assert!(
        stderr.contains("tokens cannot be renewed through this endpoint"),
        "{stderr}"
    );
    assert_eq!(
        server.ok(&["lease", "revoke", &lease]),
        format!("Success! Revoked lease: {lease}\n")
    );
    server.cli().run(&["token", "lookup", token]).fails_with(2);
}

#[test]
fn version_command() {
    let home = common::tempdir();
    let stdout = Cli::new(NOWHERE, home.path()).run(&["version"]).ok();
    assert!(stdout.starts_with("vault-rs v"), "{stdout}");
}
