//! End-to-end tests of the habits a Vault user brings to the `vault-rs`
//! CLI, each against a real server on 127.0.0.1:0: the top-level
//! init/unseal/seal aliases, `auth …`, `kv put` from JSON and .env files,
//! Vault's `-format=json|yaml` envelopes, `-field` without a trailing
//! newline, `secrets list -detailed`, `lease lookup`, the TLS and
//! namespace flags, the KV v2 read hint, Vault's error layout, the dev
//! banner, and that none of it depends on the developer's environment.

mod common;

use std::path::Path;
use std::process::Command;

use common::{parse_json, row_value, write_file, Cli, Server};
use serde_json::{json, Value};

#[test]
fn help_lists_the_top_level_aliases_and_auth() {
    let home = common::tempdir();
    let help = Cli::new("http://127.0.0.1:1", home.path())
        .run(&["--help"])
        .ok();
    for line in [
        "  init ",
        "  unseal ",
        "  seal ",
        "  auth ",
        "(the same as `operator unseal`)",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
    let auth = Cli::new("http://127.0.0.1:1", home.path())
        .run(&["auth", "--help"])
        .ok();
    for command in ["list", "enable", "disable", "tune", "help"] {
        assert!(auth.contains(&format!("  {command} ")), "{auth}");
    }
}

#[test]
fn init_unseal_and_seal_work_without_operator() {
    let server = Server::with_config();
    let stdout = server
        .anonymous()
        .run(&["init", "-key-shares=1", "-key-threshold=1", "-format=json"])
        .ok();
    let body = parse_json(&stdout);
    let key = body["unseal_keys_b64"][0]
        .as_str()
        .or_else(|| body["keys_base64"][0].as_str())
        .expect("an unseal key")
        .to_owned();
    let root = body["root_token"]
        .as_str()
        .expect("a root token")
        .to_owned();
    let stdout = server.anonymous().run(&["unseal", &key]).ok();
    assert_eq!(row_value(&stdout, "Sealed").as_deref(), Some("false"));
    let cli = || Cli::new(&server.addr, server.home()).token(&root);
    assert_eq!(cli().run(&["seal"]).ok(), "Success! Vault is sealed.\n");
    assert_eq!(cli().run(&["status"]).code, 2);
    // The share from stdin, as operators pipe it.
    cli().stdin(&format!("{key}\n")).run(&["unseal"]).ok();
    cli().run(&["status"]).ok();
}

#[test]
fn auth_list_enable_tune_disable_and_help() {
    let server = Server::dev();
    assert_eq!(
        server.ok(&["auth", "enable", "userpass"]),
        "Success! Enabled userpass auth method at: userpass/\n"
    );
    assert_eq!(
        server.ok(&[
            "auth",
            "enable",
            "-path=team-up",
            "-description=second one",
            "userpass"
        ]),
        "Success! Enabled userpass auth method at: team-up/\n"
    );
    let list = server.ok(&["auth", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["Path", "Type", "Accessor", "Description", "Version"],
        "{list}"
    );
    let team = lines
        .iter()
        .find(|line| line.starts_with("team-up/"))
        .expect("the new mount is listed");
    assert!(
        team.contains("userpass") && team.contains("second one"),
        "{list}"
    );
    assert!(
        lines.iter().any(|line| line.starts_with("token/ ")),
        "{list}"
    );

    let detailed = server.ok(&["auth", "list", "-detailed"]);
    assert!(
        detailed.starts_with(
            "Path         Plugin      Accessor"
        ) && detailed.lines().next().unwrap_or("").contains(
            "Default TTL    Max TTL    Token Type         Replication    Seal Wrap    External Entropy Access    Options    Description"
        ),
        "{detailed}"
    );

    assert_eq!(
        server.ok(&["auth", "tune", "-default-lease-ttl=1h", "team-up/"]),
        "Success! Tuned the auth method at: team-up/\n"
    );
    let tuned = parse_json(&server.ok(&["read", "-format=json", "sys/auth/team-up/tune"]));
    assert_eq!(tuned["data"]["default_lease_ttl"], json!(3600), "{tuned}");

    let help = server.ok(&["auth", "help", "userpass"]);
    assert!(
        help.starts_with("Usage: vault-rs login -method=userpass"),
        "{help}"
    );
    // By mount path: the server says which type is there.
    assert_eq!(server.ok(&["auth", "help", "team-up/"]), help);
    let stderr = server
        .cli()
        .run(&["auth", "help", "nowhere/"])
        .fails_with(1);
    assert!(stderr.contains("No auth method available"), "{stderr}");

    assert_eq!(
        server.ok(&["auth", "disable", "team-up"]),
        "Success! Disabled the auth method (if it existed) at: team-up/\n"
    );
    assert!(!server.ok(&["auth", "list"]).contains("team-up/"));
}

/// The data of the latest version of a KV v2 secret, read with `kv get`.
fn kv_data(server: &Server, path: &str) -> Value {
    parse_json(&server.ok(&["kv", "get", "-format=json", path]))["data"]["data"].clone()
}

#[test]
fn kv_put_from_json_file_stdin_value_files_and_env_file() {
    let server = Server::dev();
    let dir = server.home();
    let json_file = write_file(dir, "db.json", r#"{"user": "app", "port": 5432}"#);
    server.ok(&["kv", "put", "secret/db", &format!("@{json_file}")]);
    assert_eq!(
        kv_data(&server, "secret/db"),
        json!({"user": "app", "port": 5432})
    );

    server
        .cli()
        .stdin(r#"{"from": "stdin", "n": [1, 2]}"#)
        .run(&["kv", "put", "secret/piped", "-"])
        .ok();
    assert_eq!(
        kv_data(&server, "secret/piped"),
        json!({"from": "stdin", "n": [1, 2]})
    );

    let pem = write_file(dir, "cert.pem", "-----BEGIN X-----\nabc\n-----END X-----\n");
    server.ok(&[
        "kv",
        "put",
        "secret/tls",
        &format!("cert=@{pem}"),
        "name=web",
    ]);
    assert_eq!(
        kv_data(&server, "secret/tls"),
        json!({"cert": "-----BEGIN X-----\nabc\n-----END X-----\n", "name": "web"})
    );

    let env = write_file(
        dir,
        "app.env",
        "# settings\nexport DB_USER=app\nDB_PASS='p@ss word'\nURL=\"https://x/?a=1#frag\"\n",
    );
    server.ok(&["kv", "put", "secret/app", &format!("@{env}")]);
    assert_eq!(
        kv_data(&server, "secret/app"),
        json!({"DB_USER": "app", "DB_PASS": "p@ss word", "URL": "https://x/?a=1#frag"})
    );

    let bad = write_file(dir, "bad.env", "A=1\nthis-is-a-secret-line\n");
    let stderr = server
        .cli()
        .run(&["kv", "put", "secret/bad", &format!("@{bad}")])
        .fails_with(1);
    assert!(stderr.contains("entry 2"), "{stderr}");
    assert!(!stderr.contains("this-is-a-secret-line"), "{stderr}");
    let stderr = server
        .cli()
        .run(&["kv", "put", "secret/bad", "@/nonexistent/data.json"])
        .fails_with(1);
    assert!(stderr.contains("/nonexistent/data.json"), "{stderr}");
}

#[test]
fn read_prints_vaults_json_and_yaml_envelopes() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/foo", "a=1", "b=<x&y>"]);
    let text = server.ok(&["read", "-format=json", "secret/data/foo"]);
    let masked = mask_json(&text, &["request_id", "created_time"]);
    assert_eq!(
        masked,
        "{\n  \"request_id\": *,\n  \"lease_id\": \"\",\n  \"lease_duration\": 0,\n  \
         \"renewable\": false,\n  \"data\": {\n    \"data\": {\n      \"a\": \"1\",\n      \
         \"b\": \"\\u003cx\\u0026y\\u003e\"\n    },\n    \"metadata\": {\n      \
         \"created_time\": *,\n      \"custom_metadata\": null,\n      \
         \"deletion_time\": \"\",\n      \"destroyed\": false,\n      \"version\": 1\n    \
         }\n  },\n  \"warnings\": null\n}\n"
    );
    let yaml = server.ok(&["read", "-format=yaml", "secret/data/foo"]);
    let masked = mask_yaml(&yaml, &["request_id", "created_time"]);
    assert_eq!(
        masked,
        "data:\n  data:\n    a: \"1\"\n    b: <x&y>\n  metadata:\n    created_time: *\n    \
         custom_metadata: null\n    deletion_time: \"\"\n    destroyed: false\n    \
         version: 1\nlease_duration: 0\nlease_id: \"\"\nrenewable: false\nrequest_id: *\n\
         warnings: null\n"
    );
    // VAULT_FORMAT=yaml does the same.
    let from_env = server
        .cli()
        .env("VAULT_FORMAT", "yaml")
        .run(&["read", "secret/data/foo"])
        .ok();
    assert_eq!(
        mask_yaml(&from_env, &["request_id", "created_time"]),
        masked
    );

    // A token's auth block: Vault's field order, Go's zero values.
    let text = server.ok(&["token", "create", "-format=json", "-policy=default"]);
    let auth_keys: Vec<&str> = text
        .lines()
        .skip_while(|line| !line.starts_with("  \"auth\""))
        .filter_map(|line| line.strip_prefix("    \""))
        .filter_map(|line| line.split('"').next())
        .collect();
    assert_eq!(
        auth_keys,
        [
            "client_token",
            "accessor",
            "policies",
            "token_policies",
            "identity_policies",
            "metadata",
            "orphan",
            "entity_id",
            "lease_duration",
            "renewable",
            "mfa_requirement"
        ],
        "{text}"
    );
    assert!(
        !text.contains("wrap_info") && !text.contains("mount_type"),
        "{text}"
    );

    // `policy read` prints the rules alone, as Vault does.
    let policy = parse_json(&server.ok(&["policy", "read", "-format=json", "default"]));
    let keys: Vec<&String> = policy
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["policy"], "{policy}");
    assert!(policy["policy"]
        .as_str()
        .is_some_and(|rules| rules.contains("auth/token/lookup-self")));
}

/// Replaces the JSON values of `keys` with `*`.
fn mask_json(text: &str, keys: &[&str]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let masked = keys.iter().find_map(|key| {
            let prefix = format!("\"{key}\": ");
            let start = line.find(&prefix)? + prefix.len();
            let comma = if line.ends_with(',') { "," } else { "" };
            Some(format!("{}*{comma}", &line[..start]))
        });
        out.push_str(&masked.unwrap_or_else(|| line.to_owned()));
        out.push('\n');
    }
    out
}

/// Replaces the YAML values of `keys` with `*`.
fn mask_yaml(text: &str, keys: &[&str]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let masked = keys.iter().find_map(|key| {
            let prefix = format!("{key}: ");
            let start = line.find(&prefix)? + prefix.len();
            Some(format!("{}*", &line[..start]))
        });
        out.push_str(&masked.unwrap_or_else(|| line.to_owned()));
        out.push('\n');
    }
    out
}

#[test]
fn field_output_has_no_trailing_newline_when_piped() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/pw", "password=hunter2"]);
    assert_eq!(
        server.ok(&["kv", "get", "-field=password", "secret/pw"]),
        "hunter2"
    );
    assert_eq!(
        server.ok(&["read", "-field=data", "secret/data/pw"]),
        "map[password:hunter2]"
    );
    let token = server.ok(&["token", "create", "-field=token", "-policy=default"]);
    assert!(
        token.starts_with("hvs.") && !token.ends_with('\n'),
        "{token:?}"
    );
    assert_eq!(server.ok(&["status", "-field=sealed"]), "false");
    // JSON and YAML values as Vault prints them.
    assert_eq!(
        server.ok(&["kv", "get", "-format=json", "-field=password", "secret/pw"]),
        "\"hunter2\""
    );
}

#[test]
fn field_output_ends_with_a_newline_on_a_terminal() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/pw", "password=hunter2"]);
    // `script` gives the client a pseudo-terminal as stdout.
    let line = format!("{} kv get -field=password secret/pw", common::bin());
    let mut command = Command::new("script");
    common::hermetic(&mut command, server.home());
    let out = command
        .args(["-qec", &line, "/dev/null"])
        .env("VAULT_ADDR", &server.addr)
        .env("VAULT_TOKEN", &server.root_token)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("script(1) from util-linux runs the client on a terminal");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hunter2\r\n");
}

#[test]
fn secrets_list_detailed_has_vaults_columns() {
    let server = Server::dev();
    let text = server.ok(&["secrets", "list", "-detailed"]);
    let header: Vec<&str> = text
        .lines()
        .next()
        .unwrap_or("")
        .split("    ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "Path",
            "Plugin",
            "Accessor",
            "Default TTL",
            "Max TTL",
            "Force No Cache",
            "Replication",
            "Seal Wrap",
            "External Entropy Access",
            "Options",
            "Description",
            "UUID",
            "Version",
            "Running Version",
            "Running SHA256",
            "Deprecation Status"
        ]
    );
    let secret = text
        .lines()
        .find(|line| line.starts_with("secret/ "))
        .expect("secret/ is listed");
    assert!(secret.contains("map[version:2]"), "{secret}");
    assert!(secret.contains("replicated"), "{secret}");
    let cubbyhole = text
        .lines()
        .find(|line| line.starts_with("cubbyhole/ "))
        .expect("cubbyhole/ is listed");
    let cells: Vec<&str> = cubbyhole.split_whitespace().collect();
    assert_eq!(
        &cells[3..7],
        ["n/a", "n/a", "false", "local"],
        "{cubbyhole}"
    );
}

#[test]
fn lease_lookup_takes_the_lease_path() {
    let server = Server::dev();
    server.ok(&["token", "create", "-ttl=1h", "-field=token"]);
    let keys = parse_json(&server.ok(&[
        "list",
        "-format=json",
        "sys/leases/lookup/auth/token/create",
    ]));
    let lease = format!(
        "auth/token/create/{}",
        keys[0].as_str().expect("a token lease")
    );
    let body = parse_json(&server.ok(&["lease", "lookup", "-format=json", &lease]));
    assert_eq!(body["data"]["id"], json!(lease));
    assert_eq!(body["data"]["renewable"], json!(true));
    assert!(body["data"]["ttl"].as_i64().is_some_and(|ttl| ttl > 3000));
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 6, "{body}");
    let table = server.ok(&["lease", "lookup", &lease]);
    assert_eq!(row_value(&table, "id").as_deref(), Some(lease.as_str()));
}

#[test]
fn namespace_flag_and_variable_are_refused_clearly() {
    let server = Server::dev();
    let stderr = server
        .cli()
        .run(&["kv", "get", "-namespace=team-a", "secret/x"])
        .fails_with(1);
    assert!(
        stderr.contains("namespaces are not supported by vault-rs") && stderr.contains("team-a"),
        "{stderr}"
    );
    let stderr = server
        .cli()
        .env("VAULT_NAMESPACE", "team-b")
        .run(&["status"])
        .fails_with(1);
    assert!(stderr.contains("VAULT_NAMESPACE"), "{stderr}");
    // The root namespace, however written, is the one there is.
    server.ok(&["status", "-namespace="]);
    server
        .cli()
        .env("VAULT_NAMESPACE", "")
        .run(&["status"])
        .ok();
    server.ok(&["status", "-address", &server.addr]);
}

#[test]
fn address_flag_beats_vault_addr() {
    let server = Server::dev();
    let stdout = Cli::new("http://127.0.0.1:1", server.home())
        .token("root")
        .run(&["status", "-address", &server.addr, "-field=initialized"])
        .ok();
    assert_eq!(stdout, "true");
}

#[test]
fn tls_flags_on_every_command() {
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
    let client = || Cli::new(&server.addr, server.home());
    let stderr = client().run(&["status"]).fails_with(1);
    assert!(stderr.contains("certificate"), "{stderr}");
    // Uninitialized, hence sealed: exit 2 once the connection succeeds.
    let ca = format!("-ca-cert={}", path("ca.pem"));
    assert_eq!(client().run(&["status", &ca]).code, 2);
    assert_eq!(client().run(&["status", "-tls-skip-verify"]).code, 2);
    assert_eq!(client().run(&["-tls-skip-verify", "status"]).code, 2);
    let stderr = client()
        .run(&["status", "-tls-skip-verify=false"])
        .fails_with(1);
    assert!(stderr.contains("certificate"), "{stderr}");
    // The flag wins over a broken variable.
    let run = client()
        .env("VAULT_CACERT", "/nonexistent/ca.pem")
        .run(&["status", &ca]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    // A client certificate: both halves, readable, or a clear refusal.
    let cert = format!("-client-cert={}", path("cert.pem"));
    let key = format!("-client-key={}", path("key.pem"));
    assert_eq!(client().run(&["status", &ca, &cert, &key]).code, 2);
    let stderr = client().run(&["status", &ca, &cert]).fails_with(1);
    assert!(stderr.contains("-client-key"), "{stderr}");
    let stderr = client()
        .run(&["status", &ca, &cert, "-client-key=/nonexistent/key.pem"])
        .fails_with(1);
    assert!(stderr.contains("/nonexistent/key.pem"), "{stderr}");
    let stderr = client()
        .run(&[
            "status",
            &ca,
            &cert,
            &format!("-client-key={}", path("ext.cnf")),
        ])
        .fails_with(1);
    assert!(stderr.contains("invalid client certificate"), "{stderr}");
}

#[test]
fn read_of_a_kv_v2_path_without_data_suggests_kv_get() {
    let server = Server::dev();
    server.ok(&["kv", "put", "secret/app", "k=v"]);
    let run = server.cli().run(&["read", "secret/app"]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("secret/data/app") && run.stderr.contains("vault-rs kv get secret/app"),
        "{}",
        run.stderr
    );
    // Reads that fail elsewhere carry no such hint.
    let run = server.cli().run(&["read", "secret/data/missing"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr, "No value found at secret/data/missing\n");
}

#[test]
fn kv_get_without_a_mount_says_so() {
    let server = Server::dev();
    let stderr = server
        .cli()
        .run(&["kv", "get", "nomount/app"])
        .fails_with(2);
    assert_eq!(
        stderr,
        "No secrets engine is mounted at nomount/app (see \"vault-rs secrets list\")\n"
    );
    let stderr = server
        .cli()
        .run(&["kv", "put", "-mount=nomount", "app", "k=v"])
        .fails_with(2);
    assert!(
        stderr.contains("No secrets engine is mounted at nomount"),
        "{stderr}"
    );
}

#[test]
fn server_errors_are_printed_in_vaults_layout() {
    let server = Server::dev();
    let stderr = server
        .cli()
        .run(&["write", "sys/policies/acl/bad", "policy=path {"])
        .fails_with(2);
    let url = format!("{}/v1/sys/policies/acl/bad", server.addr);
    assert!(
        stderr.starts_with(&format!(
            "Error making API request.\n\nURL: PUT {url}\nCode: 400. Errors:\n\n* "
        )),
        "{stderr}"
    );
    let stderr = server
        .anonymous()
        .run(&["kv", "get", "secret/x"])
        .fails_with(2);
    assert!(stderr.contains("\nCode: 403. Errors:\n\n* "), "{stderr}");
}

#[test]
fn dev_banner_prints_the_export_line() {
    let server = Server::dev();
    let line = format!("    $ export VAULT_ADDR='{}'", server.addr);
    assert!(server.banner.contains(&line), "{:?}", server.banner);
    assert!(server.banner.iter().any(|l| l.starts_with("Root Token: ")));
}

/// The tests rerun below with a hostile outer environment.
const HERMETIC_PROBES: [&str; 2] = [
    "kv_put_from_json_file_stdin_value_files_and_env_file",
    "init_unseal_and_seal_work_without_operator",
];

#[test]
fn tests_ignore_the_developers_vault_environment() {
    let home = common::tempdir();
    std::fs::write(home.path().join(".vault-token"), "bogus-token\n").expect("token file");
    let exe = std::env::current_exe().expect("the test binary");
    for probe in HERMETIC_PROBES {
        let out = Command::new(&exe)
            .args([probe, "--exact", "--test-threads=1"])
            .env("HOME", home.path())
            .env("VAULT_TOKEN", "bogus-token")
            .env("VAULT_ADDR", "http://127.0.0.1:1")
            .env("VAULT_FORMAT", "yaml")
            .env("VAULT_NAMESPACE", "team-a")
            .env("VAULT_CACERT", "/nonexistent/ca.pem")
            .env("VAULT_WRAP_TTL", "5m")
            .output()
            .expect("rerun the test binary");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("1 passed"),
            "{probe} failed in a hostile environment:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        std::fs::read_to_string(home.path().join(".vault-token"))
            .ok()
            .as_deref(),
        Some("bogus-token\n"),
        "the developer's token file is left alone"
    );
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
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    let ca = format!("req -x509 {ec} -keyout ca.key -out ca.pem -days 2 -subj /CN=testCA");
    let csr = format!("req {ec} -keyout key.pem -out leaf.csr -subj /CN=localhost");
    let sign = "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
                -out cert.pem -days 2 -extfile ext.cnf";
    let extensions = "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
                      extendedKeyUsage=serverAuth,clientAuth\n";
    if std::fs::write(dir.join("ext.cnf"), extensions).is_err() {
        return false;
    }
    [ca.as_str(), csr.as_str(), sign]
        .iter()
        .all(|args| openssl(dir, &args.split(' ').collect::<Vec<_>>()))
}
