//! Harness for the CLI integration tests: starts the real `vault-rs server`
//! (dev mode, or from a config file with sled storage) on 127.0.0.1:0,
//! learns its address from the `Listening on http(s)://…` line, kills it on
//! drop, and runs the `vault-rs` client against it with a private HOME.
//!
//! Hermetic: every child process (server and client) starts without any
//! `VAULT_*` variable of the outer environment and with HOME set to a
//! temporary directory, so a developer's `~/.vault-token`, `VAULT_TOKEN`
//! or `VAULT_ADDR` never reaches a test.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long a server may take to print its `Listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Removes every `VAULT_*` variable the test process inherited from
/// `command`'s environment and sets its HOME to `home`.
pub fn hermetic(command: &mut Command, home: &Path) {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("VAULT_") {
            command.env_remove(&name);
        }
    }
    command.env("HOME", home);
}

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_vault-rs")
}

/// A running `vault-rs server`; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub addr: String,
    /// Lines the server printed before it listened (dev: unseal key, token).
    pub banner: Vec<String>,
    /// Root token (dev servers: "root"; config servers: after `init`).
    pub root_token: String,
    /// A temporary directory: HOME for the client, data for sled.
    pub dir: tempfile::TempDir,
}

impl Server {
    /// `server --dev --dev-listen-address 127.0.0.1:0 --dev-root-token-id root`.
    pub fn dev() -> Server {
        let dir = tempdir();
        let (child, addr, banner) = spawn(
            &[
                "server",
                "--dev",
                "--dev-listen-address",
                "127.0.0.1:0",
                "--dev-root-token-id",
                "root",
            ],
            dir.path(),
        );
        Server {
            child,
            addr,
            banner,
            root_token: "root".to_owned(),
            dir,
        }
    }

    /// `server --config FILE` with sled storage in a temporary directory
    /// and a plain-HTTP listener; the vault is not initialized.
    pub fn with_config() -> Server {
        Server::with_listener("tls_disable = true")
    }

    /// Like [`Server::with_config`], with `listener_settings` (HCL
    /// attributes) in the listener block after the address.
    pub fn with_listener(listener_settings: &str) -> Server {
        let dir = tempdir();
        let config = dir.path().join("config.hcl");
        let data = dir.path().join("data");
        let text = format!(
            "storage \"sled\" {{\n  path = \"{}\"\n}}\n\nlistener \"tcp\" {{\n  address = \"127.0.0.1:0\"\n  {listener_settings}\n}}\n",
            data.display()
        );
        std::fs::write(&config, text).expect("write the server config");
        let config_arg = config.to_str().expect("utf-8 temp path").to_owned();
        let (child, addr, banner) = spawn(&["server", "--config", &config_arg], dir.path());
        Server {
            child,
            addr,
            banner,
            root_token: String::new(),
            dir,
        }
    }

    /// The `Unseal Key: …` a dev server prints.
    pub fn dev_unseal_key(&self) -> String {
        self.banner
            .iter()
            .find_map(|line| line.split("Unseal Key: ").nth(1))
            .map(|key| key.trim().to_owned())
            .expect("the dev server prints its unseal key")
    }

    /// The client's HOME (where `.vault-token` goes).
    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// A client invocation with the root token.
    pub fn cli(&self) -> Cli {
        Cli::new(&self.addr, self.home()).token(&self.root_token)
    }

    /// A client invocation without any token.
    pub fn anonymous(&self) -> Cli {
        Cli::new(&self.addr, self.home())
    }

    /// Runs the client with the root token and expects success.
    /// A dev server with a KV version 1 engine mounted at `kvv1/`.
    pub fn dev_with_kv1() -> Server {
        let server = Server::dev();
        server.ok(&["secrets", "enable", "-path=kvv1", "-version=1", "kv"]);
        server
    }

    pub fn ok(&self, args: &[&str]) -> String {
        self.cli().run(args).ok()
    }

    /// Kills the server (SIGKILL) and waits for it; its directory stays.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// Starts the server and waits for `Listening on http://…`.
fn spawn(args: &[&str], dir: &Path) -> (Child, String, Vec<String>) {
    let mut command = Command::new(bin());
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    hermetic(&mut command, dir);
    command.env("VAULT_RS_LOG", "warn");
    let mut child = command.spawn().expect("start vault-rs server");
    let stdout = child.stdout.take().expect("server stdout");
    let (sender, receiver) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        let reader = BufReader::new(stdout);
        for line in reader.lines() {
            let Ok(line) = line else { break };
            // Once the test stops listening, keep draining so the server
            // never blocks on a full pipe.
            let _ = sender.send(line);
        }
    });
    let mut banner = Vec::new();
    loop {
        match receiver.recv_timeout(START_TIMEOUT) {
            Ok(line) => {
                if let Some(addr) = listening_address(&line) {
                    return (child, addr, banner);
                }
                banner.push(line);
            }
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not start ({error}); it printed: {banner:?}");
            }
        }
    }
}

fn listening_address(line: &str) -> Option<String> {
    let start = line.find("Listening on http")? + "Listening on ".len();
    let rest = &line[start..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

/// The outcome of one client invocation.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit code 0; returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(
            self.code, 0,
            "expected success; stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self.stdout
    }

    /// Asserts the exit code; returns stderr.
    pub fn fails_with(self, code: i32) -> String {
        assert_eq!(
            self.code, code,
            "unexpected exit code; stderr: {}\nstdout: {}",
            self.stderr, self.stdout
        );
        self.stderr
    }
}

/// One `vault-rs` client invocation being prepared.
pub struct Cli {
    command: Command,
    stdin: Option<String>,
}

impl Cli {
    /// A client for `addr` with HOME = `home` and no token.
    pub fn new(addr: &str, home: &Path) -> Cli {
        let mut command = Command::new(bin());
        hermetic(&mut command, home);
        command.env("VAULT_ADDR", addr).current_dir(home);
        Cli {
            command,
            stdin: None,
        }
    }

    /// Sends `token` through VAULT_TOKEN.
    pub fn token(mut self, token: &str) -> Cli {
        if !token.is_empty() {
            self.command.env("VAULT_TOKEN", token);
        }
        self
    }

    /// Sets another environment variable.
    pub fn env(mut self, name: &str, value: &str) -> Cli {
        self.command.env(name, value);
        self
    }

    /// Feeds `text` to stdin (otherwise stdin is empty, not a terminal).
    pub fn stdin(mut self, text: &str) -> Cli {
        self.stdin = Some(text.to_owned());
        self
    }

    /// Runs with `args` and collects the outcome.
    pub fn run(mut self, args: &[&str]) -> Run {
        self.command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("start vault-rs client");
        let mut input = child.stdin.take().expect("client stdin");
        let text = self.stdin.take().unwrap_or_default();
        let writer = std::thread::spawn(move || {
            let _ = input.write_all(text.as_bytes());
        });
        let output = child.wait_with_output().expect("wait for vault-rs client");
        let _ = writer.join();
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Replaces the value column of table rows whose key is in `keys` with
/// `*`, keeping the alignment, so volatile values (times, IDs) can be
/// compared as golden text.
pub fn mask_rows(text: &str, keys: &[&str]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(&mask_line(line, keys));
        out.push('\n');
    }
    out
}

fn mask_line(line: &str, keys: &[&str]) -> String {
    for key in keys {
        if let Some(rest) = line.strip_prefix(key) {
            if rest.starts_with("    ") {
                let value_start = line.len() - rest.trim_start().len();
                return format!("{}*", &line[..value_start]);
            }
        }
    }
    line.to_owned()
}

/// The value column of the row `key` in a `Key  Value` table.
pub fn row_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?;
        if !rest.starts_with("  ") {
            return None;
        }
        Some(rest.trim().to_owned())
    })
}

/// Writes `contents` to `name` in `dir` and returns the path as a string.
pub fn write_file(dir: &Path, name: &str, contents: &str) -> String {
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, contents).expect("write test file");
    path.to_str().expect("utf-8 temp path").to_owned()
}

/// Parses CLI output as JSON, with the text in the panic message.
pub fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"))
}
