//! A throwaway PostgreSQL for tests: `initdb` in a temporary directory, the
//! server listening on 127.0.0.1 only, on a free port, stopped and removed
//! on drop. `VAULT_PG_TEST_URL` points the tests at an existing server
//! instead (each test then uses tables of its own).
//!
//! Where the PostgreSQL binaries are missing, [`TestPostgres::start`]
//! returns `None` and the test says it was skipped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{PostgresBackend, PostgresOptions, DEFAULT_HA_TABLE};

/// A running test server (or the URL of an existing one).
pub(crate) struct TestPostgres {
    pub(crate) url: String,
    child: Option<Child>,
    _dir: Option<tempfile::TempDir>,
}

/// The directory holding `initdb` and `postgres`: on the PATH, or the
/// newest version under Debian's `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
                return Some(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b)
}

/// The uid and gid of the `postgres` account (the server refuses to run
/// as root).
fn postgres_account() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"postgres") && f.len() > 3)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn as_server_user(cmd: &mut Command, account: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = account {
        cmd.uid(uid).gid(gid);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl TestPostgres {
    /// Starts a server, or `None` (after saying so) when PostgreSQL is
    /// not installed.
    pub(crate) fn start(test: &str) -> Option<TestPostgres> {
        if let Ok(url) = std::env::var("VAULT_PG_TEST_URL") {
            return Some(TestPostgres {
                url,
                child: None,
                _dir: None,
            });
        }
        let Some(bin) = bin_dir() else {
            eprintln!(
                "SKIPPED {test}: PostgreSQL is not installed (no initdb on the PATH or under \
                 /usr/lib/postgresql; install the distribution's postgresql package, or set \
                 VAULT_PG_TEST_URL)"
            );
            return None;
        };
        let account = if is_root() {
            Some(postgres_account().expect("running as root needs a postgres account"))
        } else {
            None
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown temp dir");
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "-A",
                "trust",
                "-U",
                "vault",
                "--no-sync",
                "-E",
                "UTF8",
                "-D",
            ])
            .arg(&data)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        as_server_user(&mut initdb, account);
        let out = initdb.output().expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut server = Command::new(bin.join("postgres"));
        server
            .arg("-D")
            .arg(&data)
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-k"])
            .arg(dir.path())
            .args(["-c", "max_connections=200", "-c", "logging_collector=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_server_user(&mut server, account);
        let child = server.spawn().expect("start postgres");
        let pg = TestPostgres {
            url: format!("postgresql://vault@127.0.0.1:{port}/postgres"),
            child: Some(child),
            _dir: Some(dir),
        };
        pg.wait_ready(&data);
        Some(pg)
    }

    fn wait_ready(&self, data: &Path) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if data.join("postmaster.pid").exists() && self.open("ready_check", false).is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "postgres did not start in 30s");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A backend on tables named after `table`.
    pub(crate) fn open(
        &self,
        table: &str,
        ha: bool,
    ) -> Result<PostgresBackend, super::PhysicalError> {
        PostgresBackend::open(&self.options(table, ha))
    }

    pub(crate) fn options(&self, table: &str, ha: bool) -> PostgresOptions {
        PostgresOptions {
            connection_url: self.url.clone(),
            table: table.to_string(),
            ha_enabled: ha,
            ha_table: format!("{table}_{DEFAULT_HA_TABLE}"),
            max_connections: 8,
            max_idle_connections: 2,
            tls_ca_file: None,
            lock_ttl: Duration::from_secs(3),
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
