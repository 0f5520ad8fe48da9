//! Load benchmark of `POST apikeys/validate` against the real server,
//! reported as a ratio to trivial handlers measured in the same run.
//!
//! Starts `vault-rs server --dev` (the binary next to this bench in
//! `target/<profile>/`, or `VAULT_RS_BIN`), creates a key, lifts the
//! validate rate limit, then runs N client threads with keep-alive for a
//! fixed time against each endpoint in turn:
//! - `GET sys/health` (unauthenticated, trivial),
//! - `GET auth/token/lookup-self` (token lookup + ACL, trivial handler),
//! - `POST apikeys/validate` with a valid key (the hot path),
//! - `POST apikeys/validate` with a malformed key (checksum rejection).
//!
//! `cargo bench -p vault-rs-cli --bench validate_load` (env
//! `VALIDATE_LOAD_SECS`, default 5; `VALIDATE_LOAD_THREADS`, default 4).
//! Then it repeats the authenticated endpoints with a file audit device
//! enabled and prints their ratio to the unaudited runs.
//! It only prints: timing is not a test.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The server binary: `VAULT_RS_BIN`, Cargo's path for this bench, or
/// `vault-rs` next to the bench executable's `deps/` directory.
fn binary() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("VAULT_RS_BIN") {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = option_env!("CARGO_BIN_EXE_vault-rs") {
        if std::path::Path::new(p).exists() {
            return Ok(PathBuf::from(p));
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or("cannot locate the target directory")?;
    let target = profile_dir.parent().ok_or("cannot locate target/")?;
    [
        profile_dir.join("vault-rs"),
        target.join("release/vault-rs"),
        target.join("debug/vault-rs"),
    ]
    .into_iter()
    .find(|p| p.exists())
    .ok_or_else(|| "vault-rs binary not found: cargo build --release -p vault-rs-cli".into())
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Result<Server, String> {
    let child = Command::new(binary()?)
        .args([
            "server",
            "--dev",
            "--dev-listen-address",
            "127.0.0.1:0",
            "--dev-root-token-id",
            "root",
        ])
        .env("VAULT_RS_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start vault-rs: {e}"))?;
    // From here on, dropping `server` kills and reaps the process.
    let mut server = Server {
        child,
        addr: String::new(),
    };
    let stdout = server.child.stdout.take().ok_or("no stdout")?;
    let mut reader = BufReader::new(stdout);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("the server exited before listening".into());
        }
        if let Some(i) = line.find("Listening on ") {
            server.addr = line[i + "Listening on ".len()..].trim().to_string();
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                    sink.clear();
                }
            });
            return Ok(server);
        }
    }
}

fn call(
    client: &reqwest::blocking::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Result<(u16, Value), String> {
    let mut rb = client.request(method, url);
    if let Some(t) = token {
        rb = rb.header("X-Vault-Token", t);
    }
    if let Some(b) = body {
        rb = rb.json(b);
    }
    let resp = rb.send().map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp.text().map_err(|e| e.to_string())?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// What one phase sends.
struct Target {
    label: &'static str,
    method: reqwest::Method,
    url: String,
    token: Option<String>,
    body: Option<Value>,
    /// A correct answer (checked on every response).
    check: fn(u16, &Value) -> bool,
}

struct Outcome {
    rps: f64,
    errors: u64,
}

fn run_phase(client: &reqwest::blocking::Client, t: &Target, threads: u64, secs: u64) -> Outcome {
    let stop = AtomicBool::new(false);
    let ok = AtomicU64::new(0);
    let errors = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let r = call(
                        client,
                        t.method.clone(),
                        &t.url,
                        t.token.as_deref(),
                        t.body.as_ref(),
                    );
                    match r {
                        Ok((st, b)) if (t.check)(st, &b) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            });
        }
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
    });
    Outcome {
        rps: ok.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64(),
        errors: errors.load(Ordering::Relaxed),
    }
}

fn setup(client: &reqwest::blocking::Client, base: &str) -> Result<(String, String), String> {
    let root = Some("root");
    let post = |path: &str, body: Value| {
        call(
            client,
            reqwest::Method::POST,
            &format!("{base}/v1/{path}"),
            root,
            Some(&body),
        )
    };
    post("apikeys/config", json!({"rate_limit": 0}))?;
    let (st, b) = post(
        "apikeys/keys/bench",
        json!({"service": "bench", "scopes": ["read"]}),
    )?;
    if st != 200 {
        return Err(format!("create failed: {st} {b}"));
    }
    let key = b["data"]["key"].as_str().ok_or("no key")?.to_string();
    post(
        "sys/policies/acl/validator",
        json!({"policy": "path \"apikeys/validate\" { capabilities = [\"update\"] }\npath \"auth/token/lookup-self\" { capabilities = [\"read\"] }"}),
    )?;
    let (st, b) = post("auth/token/create", json!({"policies": ["validator"]}))?;
    let token = b["auth"]["client_token"]
        .as_str()
        .ok_or_else(|| format!("token create failed: {st} {b}"))?
        .to_string();
    Ok((key, token))
}

fn targets(base: &str, key: &str, token: &str) -> Vec<Target> {
    let mut bad = key.as_bytes().to_vec();
    let i = bad.len() - 10;
    bad[i] = if bad[i] == b'x' { b'y' } else { b'x' };
    let bad = String::from_utf8_lossy(&bad).into_owned();
    let tok = Some(token.to_string());
    vec![
        Target {
            label: "GET sys/health (baseline)",
            method: reqwest::Method::GET,
            url: format!("{base}/v1/sys/health"),
            token: None,
            body: None,
            check: |st, _| st == 200,
        },
        Target {
            label: "GET auth/token/lookup-self",
            method: reqwest::Method::GET,
            url: format!("{base}/v1/auth/token/lookup-self"),
            token: tok.clone(),
            body: None,
            check: |st, _| st == 200,
        },
        Target {
            label: "POST apikeys/validate (valid)",
            method: reqwest::Method::POST,
            url: format!("{base}/v1/apikeys/validate"),
            token: tok.clone(),
            body: Some(json!({"key": key, "scope": "read"})),
            check: |st, b| st == 200 && b["data"]["valid"] == true,
        },
        Target {
            label: "POST apikeys/validate (malformed)",
            method: reqwest::Method::POST,
            url: format!("{base}/v1/apikeys/validate"),
            token: tok,
            body: Some(json!({"key": bad})),
            check: |st, b| st == 200 && b["data"]["reason"] == "malformed",
        },
    ]
}

fn main() {
    // `cargo bench` passes harness flags such as `--bench`; ignore them.
    let secs = env_num("VALIDATE_LOAD_SECS", 5);
    let threads = env_num("VALIDATE_LOAD_THREADS", 4);
    let server = match start_server() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("validate_load: {e}");
            std::process::exit(1);
        }
    };
    let client = match reqwest::blocking::Client::builder()
        .pool_max_idle_per_host(threads as usize * 2)
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("validate_load: http client: {e}");
            std::process::exit(1);
        }
    };
    let (key, token) = match setup(&client, &server.addr) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("validate_load: setup: {e}");
            std::process::exit(1);
        }
    };
    println!(
        "validate_load: {threads} threads × {secs}s per endpoint, keep-alive, server {}",
        server.addr
    );
    let mut baseline = None;
    let mut unaudited = Vec::new();
    for t in targets(&server.addr, &key, &token) {
        // Warm the connection pool and the server's caches.
        run_phase(&client, &t, threads, 1);
        let o = run_phase(&client, &t, threads, secs);
        let base = *baseline.get_or_insert(o.rps);
        println!(
            "{:<36} {:>10.0} req/s   ratio to sys/health {:>5.2}   errors {}",
            t.label,
            o.rps,
            o.rps / base,
            o.errors
        );
        unaudited.push(o.rps);
    }
    for fsync in ["batch", "never"] {
        let run = Run {
            threads,
            secs,
            fsync,
        };
        audited_phase(&client, &server.addr, &key, &token, &run, &unaudited);
    }
    drop(server);
}

/// Load settings of one audited phase.
struct Run {
    threads: u64,
    secs: u64,
    /// The audit device's fsync policy.
    fsync: &'static str,
}

/// The same authenticated endpoints with a file audit device, as a ratio
/// to the unaudited runs above. "batch" shows the cost of durable audit
/// (group-committed fsyncs), "never" the cost of the audit code itself.
fn audited_phase(
    client: &reqwest::blocking::Client,
    base: &str,
    key: &str,
    token: &str,
    run: &Run,
    unaudited: &[f64],
) {
    let (threads, secs) = (run.threads, run.secs);
    let dir = std::env::temp_dir().join(format!("vault-rs-bench-audit-{}", std::process::id()));
    if std::fs::create_dir_all(&dir).is_err() {
        eprintln!("validate_load: cannot create {}", dir.display());
        return;
    }
    let body = json!({"type": "file", "options": {
        "file_path": dir.join("audit.log").display().to_string(),
        "fsync": run.fsync,
    }});
    let url = format!("{base}/v1/sys/audit/bench");
    match call(
        client,
        reqwest::Method::PUT,
        &url,
        Some("root"),
        Some(&body),
    ) {
        Ok((204, _)) => {}
        other => {
            eprintln!("validate_load: enabling the audit device failed: {other:?}");
            return;
        }
    }
    println!("with a file audit device (fsync = {}):", run.fsync);
    for (i, t) in targets(base, key, token).iter().enumerate().skip(1) {
        run_phase(client, t, threads, 1);
        let o = run_phase(client, t, threads, secs);
        println!(
            "{:<36} {:>10.0} req/s   ratio to unaudited {:>5.2}   errors {}",
            t.label,
            o.rps,
            o.rps / unaudited[i],
            o.errors
        );
    }
    let _ = call(client, reqwest::Method::DELETE, &url, Some("root"), None);
    let _ = std::fs::remove_dir_all(&dir);
}
