//! Test harness: starts the real `vault-rs` binary on 127.0.0.1:0 and
//! talks to it over HTTP.
//!
//! Hermetic: every process started through [`command`] (servers and CLI
//! runs) gets none of the outer `VAULT_*` variables and a HOME that does
//! not exist unless the test sets its own, so a developer's
//! `~/.vault-token`, `VAULT_TOKEN` or `VAULT_ADDR` never reaches a test.
#![allow(dead_code)]

mod clock;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vault-rs")
}

/// `vault-rs` with a clean environment: no inherited `VAULT_*` variable,
/// HOME pointing at an empty, nonexistent directory (callers that need a
/// HOME set their own with `.env("HOME", …)`).
pub fn command() -> Command {
    let mut command = Command::new(bin());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VAULT_") {
            command.env_remove(&name);
        }
    }
    command.env("HOME", std::env::temp_dir().join("vault-rs-tests-no-home"));
    command
}

/// Reruns the test `name` of this test binary with a developer's Vault
/// settings in the outer environment (a token file in HOME, bogus
/// `VAULT_TOKEN`, `VAULT_ADDR`, `VAULT_CACERT`, `VAULT_NAMESPACE`, …) and
/// asserts that it still passes: proof that the harness keeps them out.
pub fn assert_passes_in_a_hostile_environment(name: &str) {
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::write(home.path().join(".vault-token"), "bogus-token\n").expect("token file");
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([name, "--exact", "--test-threads=1"])
        .env("HOME", home.path())
        .env("VAULT_TOKEN", "bogus-token")
        .env("VAULT_ADDR", "http://127.0.0.1:1")
        .env("VAULT_FORMAT", "yaml")
        .env("VAULT_NAMESPACE", "team-a")
        .env("VAULT_CACERT", "/nonexistent/ca.pem")
        .env("VAULT_CAPATH", "/nonexistent")
        .env("VAULT_CLIENT_CERT", "/nonexistent/cert.pem")
        .env("VAULT_CLIENT_KEY", "/nonexistent/key.pem")
        .env("VAULT_SKIP_VERIFY", "maybe")
        .env("VAULT_WRAP_TTL", "5m")
        .output()
        .expect("rerun the test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in a hostile environment:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A running server process; killed on drop.
pub struct TestServer {
    child: Option<Child>,
    pub addr: String,
    pub root_token: String,
    pub keys: Vec<String>,
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    client: reqwest::blocking::Client,
}

fn spawn(args: &[&str]) -> (Child, String, Vec<String>) {
    let mut child = command()
        .args(args)
        .env("VAULT_RS_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start vault-rs");
    let Some(stdout) = child.stdout.take() else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("server stdout is not piped");
    };
    let mut reader = BufReader::new(stdout);
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap_or(0);
        if n == 0 {
            let status = child.wait();
            panic!("server exited before listening ({status:?}); output: {lines:?}");
        }
        if let Some(i) = line.find("Listening on ") {
            let url = line[i + "Listening on ".len()..].trim().to_string();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                    sink.clear();
                }
            });
            return (child, url, lines);
        }
        lines.push(line);
    }
}

pub fn config_text(data: &Path) -> String {
    format!(
        "storage \"sled\" {{\n  path = \"{}\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  tls_disable = true\n}}\n",
        data.display()
    )
}

impl TestServer {
    /// `server --dev` with root token "root".
    pub fn dev() -> TestServer {
        let (child, addr, _) = spawn(&[
            "server",
            "--dev",
            "--dev-listen-address",
            "127.0.0.1:0",
            "--dev-root-token-id",
            "root",
        ]);
        TestServer {
            child: Some(child),
            addr,
            root_token: "root".into(),
            keys: Vec::new(),
            dir: PathBuf::new(),
            _tmp: None,
            client: client(),
        }
    }

    /// A sled-backed server, uninitialized.
    pub fn sled() -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let mut s = TestServer::start_in(&dir);
        s._tmp = Some(tmp);
        s
    }

    /// A sled-backed server, uninitialized, with `extra` appended to its
    /// configuration file.
    pub fn sled_with_config(extra: &str) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("extra.hcl"), extra).expect("write config");
        let mut s = TestServer::start_in(&dir);
        s._tmp = Some(tmp);
        s
    }

    fn start_in(dir: &Path) -> TestServer {
        let cfg = dir.join("config.hcl");
        let extra = std::fs::read_to_string(dir.join("extra.hcl")).unwrap_or_default();
        std::fs::write(&cfg, config_text(&dir.join("data")) + &extra).expect("write config");
        let (child, addr, _) = spawn(&["server", "--config", cfg.to_str().expect("utf8 path")]);
        TestServer {
            child: Some(child),
            addr,
            root_token: String::new(),
            keys: Vec::new(),
            dir: dir.to_path_buf(),
            _tmp: None,
            client: client(),
        }
    }

    /// A sled server, initialized with `n`/`k` shares and unsealed.
    pub fn unsealed(n: u64, k: u64) -> TestServer {
        let mut s = TestServer::sled();
        s.init(n, k);
        s.unseal_all();
        s
    }

    pub fn init(&mut self, n: u64, k: u64) {
        let (st, body) = self.put_raw(
            "sys/init",
            json!({"secret_shares": n, "secret_threshold": k}),
            None,
        );
        assert_eq!(st, 200, "{body}");
        self.root_token = body["root_token"].as_str().expect("root_token").to_string();
        self.keys = body["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| k.as_str().expect("key").to_string())
            .collect();
    }

    pub fn unseal_all(&self) {
        let t = self.get_raw("sys/seal-status", None).1["t"]
            .as_u64()
            .expect("t") as usize;
        for key in self.keys.iter().take(t) {
            let (st, body) = self.put_raw("sys/unseal", json!({"key": key}), None);
            assert_eq!(st, 200, "{body}");
        }
        assert_eq!(self.get_raw("sys/seal-status", None).1["sealed"], false);
    }

    /// Kills the process (SIGKILL) and starts it again on the same data.
    pub fn restart(&mut self) {
        self.stop();
        let tmp = self._tmp.take();
        let keys = std::mem::take(&mut self.keys);
        let root = std::mem::take(&mut self.root_token);
        let mut s = TestServer::start_in(&self.dir);
        s._tmp = tmp;
        s.keys = keys;
        s.root_token = root;
        *self = s;
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        for _ in 0..100 {
            if let Ok(Some(st)) = c.try_wait() {
                return st;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        c.wait().expect("wait")
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/v1/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Any request; returns status and JSON body (Null when empty).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.client.request(m, self.url(path));
        if let Some(t) = token {
            rb = rb.header("X-Vault-Token", t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().expect("send request");
        let status = resp.status().as_u16();
        let text = resp.text().unwrap_or_default();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, v)
    }

    pub fn get_raw(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.request("GET", path, None, token)
    }

    pub fn put_raw(&self, path: &str, body: Value, token: Option<&str>) -> (u16, Value) {
        self.request("PUT", path, Some(body), token)
    }

    /// Root-token shortcuts.
    pub fn get(&self, path: &str) -> (u16, Value) {
        self.request("GET", path, None, Some(&self.root_token))
    }
    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.request("POST", path, Some(body), Some(&self.root_token))
    }
    pub fn delete(&self, path: &str) -> (u16, Value) {
        self.request("DELETE", path, None, Some(&self.root_token))
    }
    pub fn list(&self, path: &str) -> (u16, Value) {
        self.request("LIST", path, None, Some(&self.root_token))
    }

    /// Creates a token with `policies` (and extra fields); returns the token.
    pub fn token(&self, body: Value) -> String {
        let (st, b) = self.post("auth/token/create", body);
        assert_eq!(st, 200, "{b}");
        b["auth"]["client_token"]
            .as_str()
            .expect("client_token")
            .to_string()
    }

    /// Writes an ACL policy.
    pub fn policy(&self, name: &str, text: &str) {
        let (st, b) = self.post(&format!("sys/policies/acl/{name}"), json!({"policy": text}));
        assert_eq!(st, 204, "{b}");
    }

    /// A raw-bytes body request.
    pub fn send_bytes(
        &self,
        method: &str,
        path: &str,
        bytes: Vec<u8>,
        token: Option<&str>,
    ) -> (u16, Value, String) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.client.request(m, self.url(path)).body(bytes);
        if let Some(t) = token {
            rb = rb.header("X-Vault-Token", t);
        }
        let resp = rb.send().expect("send");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let text = resp.text().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::Null),
            ct,
        )
    }
}

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

impl TestServer {
    /// A sled server, uninitialized, started from the configuration that
    /// `config` writes for a data directory (the argument is that directory).
    pub fn from_config(config: impl FnOnce(&Path) -> String) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_path_buf();
        let cfg = dir.join("config.hcl");
        std::fs::write(&cfg, config(&dir)).expect("write config");
        let (child, addr, _) = spawn(&["server", "--config", cfg.to_str().expect("utf8 path")]);
        TestServer {
            child: Some(child),
            addr,
            root_token: String::new(),
            keys: Vec::new(),
            dir,
            _tmp: Some(tmp),
            client: client(),
        }
    }

    /// `host:port` of the listener.
    pub fn host_port(&self) -> &str {
        self.addr
            .trim_start_matches("http://")
            .trim_start_matches("https://")
    }
}
