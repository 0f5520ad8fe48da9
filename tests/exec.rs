//! End-to-end tests of `vault-rs exec`: secrets as environment variables
//! and 0600 files, exit codes, `--once`, AppRole login (plain and
//! response-wrapped secret ids), signal forwarding, token renewal and
//! `--restart-on-change`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};

/// Whether `secret/` is KV version 2 on this server.
fn kv_v2(s: &TestServer) -> bool {
    let (_, b) = s.get("sys/internal/ui/mounts/secret");
    b["data"]["options"]["version"] == "2"
}

/// Writes `data` at `secret/<path>` (KV v1 or v2).
fn put_secret(s: &TestServer, path: &str, data: Value) {
    let (st, b) = if kv_v2(s) {
        s.post(&format!("secret/data/{path}"), json!({ "data": data }))
    } else {
        s.post(&format!("secret/{path}"), data)
    };
    assert!(st == 200 || st == 204, "{st} {b}");
}

/// `vault-rs exec ARGS…` against `s`, in `dir`, with `token` in VAULT_TOKEN.
fn exec_cmd(s: &TestServer, dir: &Path, token: Option<&str>, args: &[&str]) -> Command {
    let mut cmd = common::command();
    cmd.arg("exec")
        .args(args)
        .current_dir(dir)
        .env("VAULT_ADDR", &s.addr)
        .env("HOME", dir)
        .env_remove("VAULT_TOKEN")
        .env_remove("VAULT_FORMAT")
        .stdin(Stdio::null());
    if let Some(t) = token {
        cmd.env("VAULT_TOKEN", t);
    }
    cmd
}

fn run(s: &TestServer, dir: &Path, token: Option<&str>, args: &[&str]) -> Output {
    exec_cmd(s, dir, token, args)
        .output()
        .expect("run vault-rs exec")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Waits until `cond` holds (10 s at most).
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A running `vault-rs exec`, killed if the test ends before it does.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start(mut cmd: Command) -> Running {
    Running(cmd.spawn().expect("spawn vault-rs exec"))
}

fn signal(child: &Child, name: &str) {
    let st = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(st.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return st;
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("vault-rs exec did not exit");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An AppRole `svc` allowed to read secret/app/*; returns (role_id, secret_id).
fn approle(s: &TestServer, role: Value) -> (String, String) {
    s.post("sys/auth/approle", json!({"type": "approle"}));
    let rules = if kv_v2(s) {
        r#"path "secret/data/app/*" { capabilities = ["read"] }"#
    } else {
        r#"path "secret/app/*" { capabilities = ["read"] }"#
    };
    s.policy("svc", rules);
    let mut body = json!({"token_policies": "svc"});
    if let (Some(b), Some(extra)) = (body.as_object_mut(), role.as_object()) {
        b.extend(extra.clone());
    }
    assert_eq!(s.post("auth/approle/role/svc", body).0, 204);
    let rid = s.get("auth/approle/role/svc/role-id").1["data"]["role_id"]
        .as_str()
        .expect("role_id")
        .to_string();
    let sid = s.post("auth/approle/role/svc/secret-id", json!({})).1["data"]["secret_id"]
        .as_str()
        .expect("secret_id")
        .to_string();
    (rid, sid)
}

#[test]
fn child_sees_its_secret_and_its_exit_code_is_kept() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    put_secret(
        &s,
        "app/db",
        json!({"password": "db-canary-1", "user": "admin"}),
    );
    let out = run(
        &s,
        dir.path(),
        Some("root"),
        &[
            "--env",
            "DB_PASS=secret/app/db#password",
            "--",
            "sh",
            "-c",
            "echo \"$DB_PASS\" > out; echo \"${VAULT_TOKEN:-none}\" > token; exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(read(&dir.path().join("out")), "db-canary-1\n");
    assert_eq!(
        read(&dir.path().join("token")),
        "none\n",
        "VAULT_TOKEN is not passed on"
    );
    assert!(!text(&out.stdout).contains("db-canary-1"));
    assert!(!text(&out.stderr).contains("db-canary-1"));

    let out = run(
        &s,
        dir.path(),
        Some("root"),
        &["--env", "X=secret/app/db#user", "--", "true"],
    );
    assert_eq!(out.status.code(), Some(0));
    // Killed by a signal: 128 + the signal's number.
    let out = run(
        &s,
        dir.path(),
        Some("root"),
        &[
            "--env",
            "X=secret/app/db#user",
            "--",
            "sh",
            "-c",
            "kill -TERM $$",
        ],
    );
    assert_eq!(out.status.code(), Some(143));
}

#[test]
fn files_are_written_with_mode_0600() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    put_secret(
        &s,
        "app/tls",
        json!({"cert": "CERT-canary", "key": "KEY-canary"}),
    );
    let out = run(
        &s,
        dir.path(),
        Some("root"),
        &[
            "--file",
            "cert.pem=secret/app/tls#cert",
            "--file",
            "all.json=secret/app/tls",
            "--",
            "sh",
            "-c",
            "cat cert.pem > seen",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read(&dir.path().join("seen")), "CERT-canary");
    for name in ["cert.pem", "all.json"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .expect("file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let all: Value = serde_json::from_str(&read(&dir.path().join("all.json"))).expect("json");
    assert_eq!(all, json!({"cert": "CERT-canary", "key": "KEY-canary"}));
}

#[test]
fn once_prints_an_env_file_or_json() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    put_secret(
        &s,
        "app/db",
        json!({"password": "it's $HOME `x`", "port": 5432}),
    );
    let args = [
        "--env",
        "DB_PASS=secret/app/db#password",
        "--env",
        "DB_PORT=secret/app/db#port",
        "--once",
    ];
    let out = run(&s, dir.path(), Some("root"), &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let env = text(&out.stdout);
    assert_eq!(env, "DB_PASS='it'\\''s $HOME `x`'\nDB_PORT='5432'\n");
    // The shell reads it back exactly.
    std::fs::write(dir.path().join("app.env"), &env).expect("write");
    let check = Command::new("sh")
        .arg("-c")
        .arg(". ./app.env; printf %s \"$DB_PASS\"")
        .current_dir(dir.path())
        .output()
        .expect("sh");
    assert_eq!(text(&check.stdout), "it's $HOME `x`");

    let mut cmd = exec_cmd(&s, dir.path(), Some("root"), &args);
    let out = cmd.arg("--format").arg("json").output().expect("run");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json output");
    assert_eq!(v, json!({"DB_PASS": "it's $HOME `x`", "DB_PORT": "5432"}));

    // Usage errors: a command with --once, no command without it.
    assert_eq!(
        run(
            &s,
            dir.path(),
            Some("root"),
            &["--env", "A=secret/app/db#port", "--once", "--", "true"]
        )
        .status
        .code(),
        Some(1)
    );
    assert_eq!(
        run(
            &s,
            dir.path(),
            Some("root"),
            &["--env", "A=secret/app/db#port"]
        )
        .status
        .code(),
        Some(1)
    );
    let out = run(
        &s,
        dir.path(),
        Some("root"),
        &["--env", "A=secret/app/db#nope", "--once"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("nope"));
    assert!(!text(&out.stderr).contains("HOME `x`"));
}

#[test]
fn approle_login_with_plain_and_wrapped_secret_ids() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    put_secret(&s, "app/db", json!({"password": "approle-canary"}));
    let (rid, sid) = approle(&s, json!({}));
    std::fs::write(dir.path().join("sid"), format!("{sid}\n")).expect("write");
    let out = run(
        &s,
        dir.path(),
        None,
        &[
            "--role-id",
            &rid,
            "--secret-id-file",
            "sid",
            "--env",
            "P=secret/app/db#password",
            "--once",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "P='approle-canary'\n");

    // A response-wrapped secret id: unwrapped once, then the token is spent.
    let resp = reqwest::blocking::Client::new()
        .post(s.url("auth/approle/role/svc/secret-id"))
        .header("X-Vault-Token", "root")
        .header("X-Vault-Wrap-TTL", "60")
        .json(&json!({}))
        .send()
        .expect("send");
    let body: Value = resp.json().expect("json");
    let wrapping = body["wrap_info"]["token"].as_str().expect("wrap token");
    std::fs::write(dir.path().join("wrapped"), wrapping).expect("write");
    let args = [
        "--role-id",
        &rid,
        "--secret-id-file",
        "wrapped",
        "--secret-id-wrapped",
        "--env",
        "P=secret/app/db#password",
        "--once",
    ];
    let out = run(&s, dir.path(), None, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "P='approle-canary'\n");
    let out = run(&s, dir.path(), None, &args);
    assert_eq!(out.status.code(), Some(2));

    // Wrong credentials fail without echoing them.
    std::fs::write(dir.path().join("bad"), "not-the-secret").expect("write");
    let out = run(
        &s,
        dir.path(),
        None,
        &[
            "--role-id",
            &rid,
            "--secret-id-file",
            "bad",
            "--env",
            "P=secret/app/db#password",
            "--once",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("not-the-secret"));
}

#[test]
fn signals_are_forwarded_to_the_child() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    put_secret(&s, "app/db", json!({"password": "x"}));
    let script = "trap 'echo hup >> log' HUP; trap 'echo term >> log; exit 0' TERM; \
                  echo ready > log; while true; do sleep 0.1; done";
    let mut child = start(exec_cmd(
        &s,
        dir.path(),
        Some("root"),
        &[
            "--env",
            "P=secret/app/db#password",
            "--",
            "sh",
            "-c",
            script,
        ],
    ));
    let log = dir.path().join("log");
    wait_for("the child to start", || read(&log).contains("ready"));
    signal(&child.0, "HUP");
    wait_for("the child to get SIGHUP", || read(&log).contains("hup"));
    signal(&child.0, "TERM");
    let status = wait_exit(&mut child.0);
    assert_eq!(status.code(), Some(0));
    assert_eq!(read(&log), "ready\nhup\nterm\n");
}

#[test]
fn restart_on_change_restarts_with_new_values_and_renews_the_token() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    put_secret(&s, "app/db", json!({"password": "v1"}));
    // A short token TTL: the re-reads only keep working if exec renews it.
    let (rid, sid) = approle(&s, json!({"token_ttl": "3s", "token_max_ttl": "1h"}));
    std::fs::write(dir.path().join("sid"), &sid).expect("write");
    let script = "echo \"$P\" >> seen; trap 'exit 0' TERM; while true; do sleep 0.1; done";
    let mut child = start(exec_cmd(
        &s,
        dir.path(),
        None,
        &[
            "--role-id",
            &rid,
            "--secret-id-file",
            "sid",
            "--env",
            "P=secret/app/db#password",
            "--restart-on-change",
            "--poll-interval",
            "200ms",
            "--",
            "sh",
            "-c",
            script,
        ],
    ));
    let seen = dir.path().join("seen");
    wait_for("the first start", || read(&seen) == "v1\n");
    std::thread::sleep(Duration::from_millis(4500));
    put_secret(&s, "app/db", json!({"password": "v2"}));
    wait_for("the restart with the new value", || {
        read(&seen) == "v1\nv2\n"
    });
    signal(&child.0, "TERM");
    assert_eq!(wait_exit(&mut child.0).code(), Some(0));
}

#[test]
fn reload_signal_rewrites_files_without_a_restart() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    put_secret(&s, "app/db", json!({"password": "v1"}));
    let script = "trap 'cat pw >> seen; echo >> seen' HUP; trap 'exit 0' TERM; \
                  echo start >> seen; while true; do sleep 0.1; done";
    let mut child = start(exec_cmd(
        &s,
        dir.path(),
        Some("root"),
        &[
            "--file",
            "pw=secret/app/db#password",
            "--restart-on-change",
            "--poll-interval",
            "200ms",
            "--restart-signal",
            "SIGHUP",
            "--",
            "sh",
            "-c",
            script,
        ],
    ));
    let seen = dir.path().join("seen");
    wait_for("the start", || read(&seen) == "start\n");
    assert_eq!(read(&dir.path().join("pw")), "v1");
    put_secret(&s, "app/db", json!({"password": "v2"}));
    wait_for("the reload", || read(&seen) == "start\nv2\n");
    signal(&child.0, "TERM");
    assert_eq!(wait_exit(&mut child.0).code(), Some(0));
}

#[test]
fn token_file_or_no_credentials() {
    let s = TestServer::dev();
    let dir = tempfile::tempdir().expect("tempdir");
    put_secret(&s, "app/db", json!({"password": "tf-canary"}));
    std::fs::write(dir.path().join("tok"), "root\n").expect("write");
    let args = [
        "--token-file",
        "tok",
        "--env",
        "P=secret/app/db#password",
        "--once",
    ];
    let out = run(&s, dir.path(), None, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "P='tf-canary'\n");
    let out = run(
        &s,
        dir.path(),
        None,
        &["--env", "P=secret/app/db#password", "--once"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no credentials"));
}

/// A sled server with KV v2 at secret/ holding secret/app/db, then sealed.
fn sealed_with_secret() -> TestServer {
    let s = TestServer::unsealed(1, 1);
    let (st, b) = s.post(
        "sys/mounts/secret",
        json!({"type": "kv", "options": {"version": "2"}}),
    );
    assert_eq!(st, 204, "{b}");
    put_secret(&s, "app/db", json!({"password": "boot-pw"}));
    assert_eq!(s.put_raw("sys/seal", json!({}), Some(&s.root_token)).0, 204);
    s
}

#[test]
fn at_boot_exec_waits_for_a_sealed_vault_and_says_why() {
    let s = sealed_with_secret();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = exec_cmd(
        &s,
        dir.path(),
        Some(&s.root_token),
        &[
            "--timeout",
            "60s",
            "--once",
            "--env",
            "DB=secret/app/db#password",
        ],
    );
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    // It is waiting (it said so on stderr, read below) when the operator
    // unseals.
    std::thread::sleep(Duration::from_millis(700));
    s.unseal_all();
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("sealed") && err.contains("retrying"), "{err}");
    assert!(
        text(&out.stdout).contains("DB='boot-pw'"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn exec_gives_up_after_its_timeout_and_at_once_with_zero() {
    let s = sealed_with_secret();
    let dir = tempfile::tempdir().unwrap();
    let args = |t: &'static str| {
        [
            "--timeout",
            t,
            "--once",
            "--env",
            "DB=secret/app/db#password",
        ]
    };
    let out = run(&s, dir.path(), Some(&s.root_token), &args("0"));
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains("gave up waiting") && err.contains("sealed"),
        "{err}"
    );
    assert!(!err.contains("retrying"), "{err}");

    let out = run(&s, dir.path(), Some(&s.root_token), &args("1s"));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("retrying") && err.contains("gave up waiting"),
        "{err}"
    );

    // Unreachable: nothing listens there any more.
    let addr = s.addr.clone();
    drop(s);
    let out = common::command()
        .args([
            "exec",
            "--timeout",
            "1s",
            "--once",
            "--env",
            "DB=secret/app/db#password",
        ])
        .current_dir(dir.path())
        .env("VAULT_ADDR", &addr)
        .env("VAULT_TOKEN", "t")
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unreachable") && err.contains("gave up waiting"),
        "{err}"
    );
}

#[test]
fn ignores_the_developers_vault_environment() {
    common::assert_passes_in_a_hostile_environment(
        "child_sees_its_secret_and_its_exit_code_is_kept",
    );
}
