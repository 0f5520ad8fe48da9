//! Fills a sled store for the unseal benchmark (`scripts/bench.sh unseal`):
//! initializes a vault in `FILL_DIR/data`, mounts kv v2 at `secret/`,
//! writes `FILL_KV` entries (default 1,000,000) and creates `FILL_LEASES`
//! service tokens with a TTL (default 100,000; each registers a lease),
//! then writes the unseal key (hex) and the root token to
//! `FILL_DIR/keys.json` for the harness, which starts the real server on
//! the store and times its unseal.
//!
//! Everything goes through the library's request pipeline (`Core::handle`)
//! from many threads at once, so that the storage's group commit shares
//! each sync among them: the store is the one the server would have
//! written. It prints progress and rates; it measures nothing itself.
//!
//! `FILL_DIR=... cargo bench --bench fill_store` (`FILL_THREADS`, default 64).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{json, Map, Value};
use vault_rs::barrier::Barrier;
use vault_rs::core::{Core, CoreConfig, Operation, Request};
use vault_rs::crypto::SecretString;
use vault_rs::physical::SledBackend;
use vault_rs::seal::SealConfig;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn request(op: Operation, path: &str, token: &SecretString, data: Value) -> Request {
    let mut req = Request::new(op, path);
    req.client_token = Some(token.clone());
    if let Value::Object(m) = data {
        req.data = m;
    }
    req
}

/// Runs `each(i)` for i in 0..n on `threads` threads, printing progress.
fn parallel(label: &str, n: usize, threads: usize, each: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    let start = Instant::now();
    let step = (n / 20).max(1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                each(i);
                if (i + 1).is_multiple_of(step) {
                    let t = start.elapsed().as_secs_f64();
                    eprintln!(
                        "fill_store: {label}: {} / {n} ({:.0}/s)",
                        i + 1,
                        (i + 1) as f64 / t.max(1e-9)
                    );
                }
            });
        }
    });
    let t = start.elapsed().as_secs_f64();
    eprintln!(
        "fill_store: {label}: {n} in {t:.1} s ({:.0}/s)",
        n as f64 / t.max(1e-9)
    );
}

fn main() {
    let Some(dir) = std::env::var_os("FILL_DIR") else {
        eprintln!("fill_store: set FILL_DIR to an empty directory");
        std::process::exit(2);
    };
    let dir = std::path::PathBuf::from(dir);
    let kv = env_usize("FILL_KV", 1_000_000);
    let leases = env_usize("FILL_LEASES", 100_000);
    let threads = env_usize("FILL_THREADS", 64).max(1);

    let backend = match SledBackend::open(&dir.join("data")) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("fill_store: cannot open the store: {e}");
            std::process::exit(1);
        }
    };
    let core = Core::new(Barrier::new(Arc::new(backend)), CoreConfig::default());
    let init = core
        .initialize(SealConfig::new(1, 1).expect("1 of 1 is a valid seal config"))
        .expect("initialize");
    let share: String = init.shares[0]
        .expose()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let decoded = vault_rs::seal::decode_share(&share).expect("share");
    core.submit_unseal_share(decoded).expect("unseal");
    let root = init.root_token;

    let mount = json!({"type": "kv", "options": {"version": "2"}});
    core.handle(request(
        Operation::Update,
        "sys/mounts/secret",
        &root,
        mount,
    ))
    .expect("mount kv v2 at secret/");

    parallel("kv v2 entries", kv, threads, |i| {
        let mut data = Map::new();
        data.insert("value".into(), Value::String(format!("{i:0>100}")));
        let body = json!({ "data": data });
        let path = format!("secret/data/fill/{:03}/{i}", i % 1000);
        core.handle(request(Operation::Update, &path, &root, body))
            .expect("kv write");
    });
    parallel("tokens with leases", leases, threads, |_| {
        let body = json!({"ttl": "768h", "policies": ["default"]});
        core.handle(request(Operation::Update, "auth/token/create", &root, body))
            .expect("token create");
    });

    let keys = json!({"unseal_key_hex": share, "root_token": root.expose()});
    if let Err(e) = std::fs::write(dir.join("keys.json"), keys.to_string()) {
        eprintln!("fill_store: cannot write keys.json: {e}");
        std::process::exit(1);
    }
    core.seal();
    eprintln!("fill_store: done: {kv} kv v2 entries, {leases} leases");
}
