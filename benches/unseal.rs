//! Unseal cost with many leases: creates N service tokens with TTLs (each
//! registers a lease), seals, and measures unseal time and resident memory
//! against a baseline vault with no tokens, in the same run.
//!
//! `cargo bench --bench unseal` (N from `UNSEAL_BENCH_TOKENS`, default 100000).
//! Prints ratios; it asserts nothing, timing is not a test.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vault_rs::barrier::Barrier;
use vault_rs::core::{Core, CoreConfig, Operation, Request};
use vault_rs::crypto::SecretString;
use vault_rs::physical::SledBackend;
use vault_rs::seal::{decode_share, SealConfig};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

struct Vault {
    core: Arc<Core>,
    share: String,
    root: SecretString,
    _dir: tempfile::TempDir,
}

fn new_vault() -> Vault {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = SledBackend::open(&dir.path().join("data")).expect("sled");
    let core = Core::new(Barrier::new(Arc::new(backend)), CoreConfig::default());
    let init = core
        .initialize(SealConfig::new(1, 1).expect("config"))
        .expect("init");
    let share = hex_encode(init.shares[0].expose());
    core.submit_unseal_share(decode_share(&share).expect("share"))
        .expect("unseal");
    Vault {
        core,
        share,
        root: init.root_token,
        _dir: dir,
    }
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn create_tokens(v: &Vault, n: usize) {
    let threads = 32;
    let per = n / threads;
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per {
                    let mut req = Request::new(Operation::Update, "auth/token/create");
                    req.client_token = Some(v.root.clone());
                    req.data.insert("ttl".into(), "24h".into());
                    v.core.handle(req).expect("create token");
                }
            });
        }
    });
}

fn time_unseal(v: &Vault) -> (Duration, i64) {
    v.core.seal();
    let before = rss_kib() as i64;
    let start = Instant::now();
    v.core
        .submit_unseal_share(decode_share(&v.share).expect("share"))
        .expect("unseal");
    let took = start.elapsed();
    (took, rss_kib() as i64 - before)
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn main() {
    let n: usize = std::env::var("UNSEAL_BENCH_TOKENS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let baseline = new_vault();
    let loaded = new_vault();
    let start = Instant::now();
    create_tokens(&loaded, n);
    println!(
        "created {n} tokens (with leases) in {:.1?}",
        start.elapsed()
    );
    let mut base_t = Vec::new();
    let mut load_t = Vec::new();
    let mut load_mem = 0;
    for _ in 0..5 {
        base_t.push(time_unseal(&baseline).0);
        let (t, m) = time_unseal(&loaded);
        load_t.push(t);
        load_mem = load_mem.max(m);
    }
    let (b, l) = (median(base_t), median(load_t));
    println!("unseal, empty vault:        {b:.2?} (median of 5)");
    println!("unseal, {n} leases:  {l:.2?} (median of 5)");
    println!(
        "ratio loaded/empty:         {:.2}",
        l.as_secs_f64() / b.as_secs_f64().max(1e-9)
    );
    println!("resident memory growth across unseal: {load_mem} KiB");
    let mut req = Request::new(Operation::Read, "auth/token/lookup-self");
    req.client_token = Some(loaded.root.clone());
    assert!(loaded.core.handle(req).is_ok());
}
