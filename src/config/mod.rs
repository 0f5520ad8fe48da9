//! The server configuration file (Vault-style HCL).
//!
//! Owns: parsing and validating the file into [`Config`]; every error names
//! the field. Must not touch storage or the network.
//!
//! ```hcl
//! storage "sled" {
//!   path           = "./vault-data"
//!   cache_capacity = 67108864   # bytes of sled's page cache (default 64 MiB)
//! }
//! # or, shared by several nodes (one active, the others standby):
//! # storage "postgresql" {
//! #   connection_url       = "postgresql://vault@db:5432/vault?sslmode=require"
//! #                          # or the VAULT_PG_CONNECTION_URL environment variable
//! #   table                = "vault_kv_store"
//! #   ha_enabled           = true
//! #   ha_table             = "vault_ha_locks"
//! #   max_connections      = 16
//! #   max_idle_connections = 4
//! #   tls_ca_file          = "db-ca.pem"
//! #   lock_ttl             = "5s"
//! # }
//! listener "tcp" {
//!   address       = "127.0.0.1:8200"
//!   tls_disable   = false
//!   tls_cert_file = "cert.pem"
//!   tls_key_file  = "key.pem"
//!   # Bounds on slow or idle clients (defaults shown).
//!   http_read_header_timeout   = "10s"
//!   http_read_timeout          = "30s"
//!   max_connections            = 1024
//!   max_request_body_memory    = 134217728
//!   graceful_shutdown_timeout  = "5s"
//!   # Requests being served at once; more are answered 503 at once.
//!   max_requests_in_flight     = 512
//! }
//! api_addr          = "https://vault.example.com:8200"
//! log_level         = "info"
//! log_format        = "text"   # or "json": one object per line
//! default_lease_ttl = "768h"
//! max_lease_ttl     = "768h"
//! max_request_size  = 33554432
//! ui                = true     # the web UI at /ui/ (on in --dev)
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use hcl::{Block, Body, Expression};

/// Where data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    Sled {
        path: PathBuf,
        /// Bytes of sled's page cache (`cache_capacity`): the bound on the
        /// memory the store's pages take, however large the store.
        cache_capacity: u64,
    },
    Inmem,
    Postgres(PostgresConfig),
}

/// `storage "postgresql"`.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresConfig {
    /// May hold a password: `Debug` never shows it.
    pub connection_url: String,
    pub table: String,
    pub ha_enabled: bool,
    pub ha_table: String,
    pub max_connections: usize,
    pub max_idle_connections: usize,
    pub tls_ca_file: Option<PathBuf>,
    /// How long the HA lock lasts without renewal: about the longest a
    /// standby waits to take over from an active that died.
    pub lock_ttl: Duration,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("connection_url", &"<redacted>")
            .field("table", &self.table)
            .field("ha_enabled", &self.ha_enabled)
            .field("ha_table", &self.ha_table)
            .field("max_connections", &self.max_connections)
            .field("max_idle_connections", &self.max_idle_connections)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("lock_ttl", &self.lock_ttl)
            .finish()
    }
}

/// Default [`PostgresConfig::lock_ttl`].
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(5);

/// The TCP listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    pub address: String,
    pub tls_disable: bool,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// How long a client may take to send a request's headers (and, with
    /// TLS, to complete the handshake) before it is disconnected. Also the
    /// longest a kept-alive connection may stay idle.
    pub http_read_header_timeout: Duration,
    /// How long a client may take to send a request's body.
    pub http_read_timeout: Duration,
    /// Connections served at once; further clients wait in the accept queue.
    pub max_connections: usize,
    /// Request body bytes held in memory at once, over all requests with a
    /// body larger than [`SMALL_BODY`]; others wait for room.
    pub max_request_body_memory: usize,
    /// On shutdown, how long in-flight requests may take before the
    /// remaining connections are dropped and the vault is sealed.
    pub graceful_shutdown_timeout: Duration,
    /// Requests being served at once; a request beyond it is answered 503
    /// at once rather than queued.
    pub max_requests_in_flight: usize,
}

/// Default [`ListenerConfig::http_read_header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ListenerConfig::http_read_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default [`ListenerConfig::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default [`ListenerConfig::max_request_body_memory`] (128 MiB: four
/// bodies of the default maximum size).
pub const DEFAULT_BODY_MEMORY: usize = 128 * 1024 * 1024;
/// Default [`ListenerConfig::max_requests_in_flight`].
pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;
/// Default sled `cache_capacity` (64 MiB; sled's own default is 1 GiB).
pub const DEFAULT_SLED_CACHE: u64 = 64 * 1024 * 1024;
/// Smallest sled `cache_capacity` accepted (1 MiB).
pub const MIN_SLED_CACHE: u64 = 1024 * 1024;
/// Default [`ListenerConfig::graceful_shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Bodies up to this size are read without drawing on
/// [`ListenerConfig::max_request_body_memory`] (the connection limit
/// bounds them).
pub const SMALL_BODY: usize = 64 * 1024;

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub storage: StorageConfig,
    pub listener: ListenerConfig,
    pub api_addr: Option<String>,
    pub log_level: String,
    /// `log_format`: how log lines are written to stderr.
    pub log_format: LogFormat,
    pub default_lease_ttl: u64,
    pub max_lease_ttl: u64,
    pub max_request_size: usize,
    pub cluster_name: String,
    /// `telemetry { unauthenticated_metrics_access = true }`.
    pub unauthenticated_metrics: bool,
    /// `enable_unauthenticated_access = ["generate-root"]`: serve
    /// `sys/generate-root/*` without a token (Vault's opt-in; off by default
    /// because anyone who reaches the listener could cancel an attempt).
    pub unauthenticated_generate_root: bool,
    /// `enable_unauthenticated_access = ["rekey"]`: serve `sys/rekey/*`
    /// without a token (Vault's behaviour; OpenBao turned it off by default
    /// too). Off: a token with `sudo` on the path is needed.
    pub unauthenticated_rekey: bool,
    /// `snapshot { … }`: scheduled snapshots, if configured.
    pub snapshot: Option<SnapshotConfig>,
    /// `ui = true`: serve the web UI at `/ui/` (on in `--dev`, off unless
    /// set in a configuration file).
    pub ui: bool,
}

/// How the server writes its log lines (`log_format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines; colours only when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Parses `text` or `json` (any case).
    pub fn parse(s: &str) -> Result<LogFormat, ConfigError> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "standard" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(ConfigError(format!(
                "\"log_format\" must be \"text\" or \"json\" (got \"{s}\")"
            ))),
        }
    }
}

/// `snapshot { interval, path, retain }`: snapshots taken on schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotConfig {
    /// Seconds between two snapshots.
    pub interval: u64,
    /// The directory they are written to (created if missing, mode 0700).
    pub path: PathBuf,
    /// How many are kept; older ones are deleted.
    pub retain: usize,
}

/// A configuration error; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Default request body limit (32 MiB), as Vault.
pub const DEFAULT_MAX_REQUEST_SIZE: usize = 32 * 1024 * 1024;
const DEFAULT_TTL: u64 = 768 * 3600;

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            address: "127.0.0.1:8200".into(),
            tls_disable: true,
            tls_cert_file: None,
            tls_key_file: None,
            http_read_header_timeout: DEFAULT_HEADER_TIMEOUT,
            http_read_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_request_body_memory: DEFAULT_BODY_MEMORY,
            graceful_shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            max_requests_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

impl Config {
    /// The `--dev` configuration.
    pub fn dev(listen: &str) -> Config {
        Config {
            storage: StorageConfig::Inmem,
            listener: ListenerConfig {
                address: listen.to_string(),
                ..ListenerConfig::default()
            },
            api_addr: None,
            log_level: "info".into(),
            log_format: LogFormat::Text,
            default_lease_ttl: DEFAULT_TTL,
            max_lease_ttl: DEFAULT_TTL,
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            cluster_name: "vault-rs".into(),
            unauthenticated_metrics: false,
            unauthenticated_generate_root: false,
            unauthenticated_rekey: false,
            snapshot: None,
            ui: true,
        }
    }

    /// Reads and parses `path`.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base)
    }

    /// Parses HCL text; relative file paths are resolved against `base`.
    pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
        let body: Body =
            hcl::from_str(text).map_err(|e| ConfigError(format!("syntax error: {e}")))?;
        let mut cfg = Config::dev("127.0.0.1:8200");
        cfg.ui = false;
        let mut storage = None;
        let mut listener = None;
        for attr in body.attributes() {
            let key = attr.key.as_str();
            let v = &attr.expr;
            match key {
                "api_addr" => cfg.api_addr = Some(string(key, v)?),
                "log_level" => cfg.log_level = log_level(&string(key, v)?)?,
                "log_format" => cfg.log_format = LogFormat::parse(&string(key, v)?)?,
                "cluster_name" => cfg.cluster_name = string(key, v)?,
                "default_lease_ttl" => cfg.default_lease_ttl = duration(key, v)?,
                "max_lease_ttl" => cfg.max_lease_ttl = duration(key, v)?,
                "max_request_size" => cfg.max_request_size = size(key, v)?,
                "enable_unauthenticated_access" => {
                    (cfg.unauthenticated_generate_root, cfg.unauthenticated_rekey) =
                        unauthenticated_access(v)?
                }
                "ui" => cfg.ui = boolean(key, v)?,
                "disable_mlock" | "cluster_addr" | "disable_cache" => {}
                other => return Err(ConfigError(format!("unknown setting \"{other}\""))),
            }
        }
        for block in body.blocks() {
            match block.identifier.as_str() {
                "storage" | "backend" => {
                    if storage.is_some() {
                        return Err(ConfigError("only one \"storage\" block is allowed".into()));
                    }
                    storage = Some(parse_storage(block, base)?);
                }
                "listener" => {
                    if listener.is_some() {
                        return Err(ConfigError(
                            "only one \"listener\" block is supported".into(),
                        ));
                    }
                    listener = Some(parse_listener(block, base)?);
                }
                "telemetry" => cfg.unauthenticated_metrics = parse_telemetry(block)?,
                "snapshot" => {
                    if cfg.snapshot.is_some() {
                        return Err(ConfigError("only one \"snapshot\" block is allowed".into()));
                    }
                    cfg.snapshot = Some(parse_snapshot(block, base)?);
                }
                other => return Err(ConfigError(format!("unknown block \"{other}\""))),
            }
        }
        cfg.storage =
            storage.ok_or_else(|| ConfigError("a \"storage\" block is required".into()))?;
        cfg.listener =
            listener.ok_or_else(|| ConfigError("a \"listener\" block is required".into()))?;
        if cfg.default_lease_ttl > cfg.max_lease_ttl {
            return Err(ConfigError(
                "\"default_lease_ttl\" must not exceed \"max_lease_ttl\"".into(),
            ));
        }
        Ok(cfg)
    }
}

fn label(block: &Block) -> Result<String, ConfigError> {
    match block.labels.first() {
        Some(l) => Ok(l.as_str().to_string()),
        None => Err(ConfigError(format!(
            "\"{}\" block needs a type label",
            block.identifier.as_str()
        ))),
    }
}

fn parse_storage(block: &Block, base: &Path) -> Result<StorageConfig, ConfigError> {
    match label(block)?.as_str() {
        "sled" => {
            let mut path = None;
            let mut cache_capacity = DEFAULT_SLED_CACHE;
            for attr in block.body.attributes() {
                match attr.key.as_str() {
                    "path" => path = Some(string("storage.path", &attr.expr)?),
                    "cache_capacity" => {
                        cache_capacity = size("storage.cache_capacity", &attr.expr)? as u64;
                        if cache_capacity < MIN_SLED_CACHE {
                            return Err(ConfigError(format!(
                                "\"storage.cache_capacity\" must be at least {MIN_SLED_CACHE} bytes"
                            )));
                        }
                    }
                    other => {
                        return Err(ConfigError(format!("unknown setting \"storage.{other}\"")))
                    }
                }
            }
            let path =
                path.ok_or_else(|| ConfigError("\"storage.path\" is required for sled".into()))?;
            if path.is_empty() {
                return Err(ConfigError("\"storage.path\" must not be empty".into()));
            }
            Ok(StorageConfig::Sled {
                path: base.join(path),
                cache_capacity,
            })
        }
        "inmem" => Ok(StorageConfig::Inmem),
        "postgresql" => parse_postgres(block, base, std::env::var("VAULT_PG_CONNECTION_URL").ok()),
        other => Err(ConfigError(format!(
            "unsupported storage type \"{other}\" (use \"sled\", \"postgresql\" or \"inmem\")"
        ))),
    }
}

/// `storage "postgresql"`; `env_url` (`VAULT_PG_CONNECTION_URL`) stands
/// in for an absent `connection_url`.
fn parse_postgres(
    block: &Block,
    base: &Path,
    env_url: Option<String>,
) -> Result<StorageConfig, ConfigError> {
    let mut c = PostgresConfig {
        connection_url: String::new(),
        table: "vault_kv_store".into(),
        ha_enabled: false,
        ha_table: "vault_ha_locks".into(),
        max_connections: 16,
        max_idle_connections: 4,
        tls_ca_file: None,
        lock_ttl: DEFAULT_LOCK_TTL,
    };
    let mut url = None;
    for attr in block.body.attributes() {
        let v = &attr.expr;
        match attr.key.as_str() {
            "connection_url" => url = Some(string("storage.connection_url", v)?),
            "table" => c.table = string("storage.table", v)?,
            "ha_enabled" => c.ha_enabled = boolean("storage.ha_enabled", v)?,
            "ha_table" => c.ha_table = string("storage.ha_table", v)?,
            "max_connections" => c.max_connections = count("storage.max_connections", v, 1000)?,
            "max_idle_connections" => {
                c.max_idle_connections = count("storage.max_idle_connections", v, 1000)?
            }
            "tls_ca_file" => c.tls_ca_file = Some(base.join(string("storage.tls_ca_file", v)?)),
            "lock_ttl" => c.lock_ttl = timeout("storage.lock_ttl", v)?,
            "max_parallel" => {
                c.max_connections = count("storage.max_parallel", v, 1000)?;
            }
            other => return Err(ConfigError(format!("unknown setting \"storage.{other}\""))),
        }
    }
    c.connection_url = url
        .filter(|u| !u.is_empty())
        .or(env_url.filter(|u| !u.is_empty()))
        .ok_or_else(|| {
            ConfigError(
                "\"storage.connection_url\" (or VAULT_PG_CONNECTION_URL) is required for postgresql"
                    .into(),
            )
        })?;
    if c.lock_ttl < Duration::from_secs(2) {
        return Err(ConfigError(
            "\"storage.lock_ttl\" must be at least 2s".into(),
        ));
    }
    Ok(StorageConfig::Postgres(c))
}

fn parse_snapshot(block: &Block, base: &Path) -> Result<SnapshotConfig, ConfigError> {
    let mut interval = None;
    let mut path = None;
    let mut retain = 24usize;
    for attr in block.body.attributes() {
        let v = &attr.expr;
        match attr.key.as_str() {
            "interval" => interval = Some(duration("snapshot.interval", v)?),
            "path" => path = Some(base.join(string("snapshot.path", v)?)),
            "retain" => {
                retain = match v {
                    Expression::Number(n) => n.as_u64().filter(|n| (1..=10_000).contains(n)),
                    _ => None,
                }
                .ok_or_else(|| {
                    ConfigError("\"snapshot.retain\" must be a number from 1 to 10000".into())
                })? as usize
            }
            other => return Err(ConfigError(format!("unknown setting \"snapshot.{other}\""))),
        }
    }
    let interval = interval.filter(|i| *i >= 1).ok_or_else(|| {
        ConfigError("\"snapshot.interval\" is required and at least \"1s\"".into())
    })?;
    let path = path.ok_or_else(|| ConfigError("\"snapshot.path\" is required".into()))?;
    Ok(SnapshotConfig {
        interval,
        path,
        retain,
    })
}

fn parse_telemetry(block: &Block) -> Result<bool, ConfigError> {
    let mut unauthenticated = false;
    for attr in block.body.attributes() {
        match attr.key.as_str() {
            "unauthenticated_metrics_access" => {
                unauthenticated = boolean("telemetry.unauthenticated_metrics_access", &attr.expr)?
            }
            "prometheus_retention_time" | "disable_hostname" => {}
            other => {
                return Err(ConfigError(format!(
                    "unknown setting \"telemetry.{other}\""
                )))
            }
        }
    }
    Ok(unauthenticated)
}

fn parse_listener(block: &Block, base: &Path) -> Result<ListenerConfig, ConfigError> {
    let kind = label(block)?;
    if kind != "tcp" {
        return Err(ConfigError(format!(
            "unsupported listener type \"{kind}\" (use \"tcp\")"
        )));
    }
    let mut l = ListenerConfig {
        tls_disable: false,
        ..ListenerConfig::default()
    };
    for attr in block.body.attributes() {
        let key = attr.key.as_str();
        let v = &attr.expr;
        match key {
            "address" => l.address = string("listener.address", v)?,
            "tls_disable" => l.tls_disable = boolean("listener.tls_disable", v)?,
            "tls_cert_file" => {
                l.tls_cert_file = Some(base.join(string("listener.tls_cert_file", v)?))
            }
            "tls_key_file" => l.tls_key_file = Some(base.join(string("listener.tls_key_file", v)?)),
            "http_read_header_timeout" => {
                l.http_read_header_timeout = timeout("listener.http_read_header_timeout", v)?
            }
            "http_read_timeout" => l.http_read_timeout = timeout("listener.http_read_timeout", v)?,
            "graceful_shutdown_timeout" => {
                l.graceful_shutdown_timeout = timeout("listener.graceful_shutdown_timeout", v)?
            }
            "max_connections" => l.max_connections = count("listener.max_connections", v, 1 << 20)?,
            "max_request_body_memory" => {
                l.max_request_body_memory = size("listener.max_request_body_memory", v)?
            }
            "max_requests_in_flight" => {
                l.max_requests_in_flight = count("listener.max_requests_in_flight", v, 1 << 20)?
            }
            other => return Err(ConfigError(format!("unknown setting \"listener.{other}\""))),
        }
    }
    if l.address.parse::<std::net::SocketAddr>().is_err() {
        return Err(ConfigError(format!(
            "\"listener.address\" is not a host:port address: \"{}\"",
            l.address
        )));
    }
    if !l.tls_disable && (l.tls_cert_file.is_none() || l.tls_key_file.is_none()) {
        return Err(ConfigError(
            "\"listener.tls_cert_file\" and \"listener.tls_key_file\" are required unless \"tls_disable = true\"".into(),
        ));
    }
    Ok(l)
}

fn string(key: &str, v: &Expression) -> Result<String, ConfigError> {
    match v {
        Expression::String(s) => Ok(s.clone()),
        _ => Err(ConfigError(format!("\"{key}\" must be a string"))),
    }
}

fn boolean(key: &str, v: &Expression) -> Result<bool, ConfigError> {
    match v {
        Expression::Bool(b) => Ok(*b),
        Expression::String(s) if s == "true" || s == "1" => Ok(true),
        Expression::String(s) if s == "false" || s == "0" => Ok(false),
        _ => Err(ConfigError(format!("\"{key}\" must be true or false"))),
    }
}

fn duration(key: &str, v: &Expression) -> Result<u64, ConfigError> {
    let parsed = match v {
        Expression::Number(n) => n.as_u64(),
        Expression::String(s) => crate::sdk::parse_duration(s),
        _ => None,
    };
    parsed.ok_or_else(|| {
        ConfigError(format!(
            "\"{key}\" must be a duration such as \"768h\" or seconds"
        ))
    })
}

/// A positive duration ("10s", "500ms", or a number of seconds), at most a day.
fn timeout(key: &str, v: &Expression) -> Result<Duration, ConfigError> {
    let parsed = match v {
        Expression::Number(n) => n.as_u64().map(Duration::from_secs),
        Expression::String(s) => match s.trim().parse::<u64>() {
            Ok(secs) => Some(Duration::from_secs(secs)),
            Err(_) => humantime::parse_duration(s.trim()).ok(),
        },
        _ => None,
    };
    match parsed {
        Some(d) if !d.is_zero() && d <= Duration::from_secs(24 * 3600) => Ok(d),
        _ => Err(ConfigError(format!(
            "\"{key}\" must be a positive duration such as \"10s\" (at most 24h)"
        ))),
    }
}

/// A positive whole number, at most `max`.
fn count(key: &str, v: &Expression, max: u64) -> Result<usize, ConfigError> {
    let n = match v {
        Expression::Number(n) => n.as_u64(),
        Expression::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n > 0 && n <= max => Ok(n as usize),
        _ => Err(ConfigError(format!(
            "\"{key}\" must be a whole number from 1 to {max}"
        ))),
    }
}

fn size(key: &str, v: &Expression) -> Result<usize, ConfigError> {
    let n = match v {
        Expression::Number(n) => n.as_u64(),
        Expression::String(s) => s.parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if n > 0 && n <= 1 << 32 => Ok(n as usize),
        _ => Err(ConfigError(format!(
            "\"{key}\" must be a positive number of bytes"
        ))),
    }
}

/// `enable_unauthenticated_access`: a list naming the operations served
/// without a token: `"generate-root"`, `"rekey"` (in that order in the
/// result).
fn unauthenticated_access(v: &Expression) -> Result<(bool, bool), ConfigError> {
    const KEY: &str = "enable_unauthenticated_access";
    let Expression::Array(items) = v else {
        return Err(ConfigError(format!("\"{KEY}\" must be a list of strings")));
    };
    let (mut generate_root, mut rekey) = (false, false);
    for item in items {
        match item {
            Expression::String(s) if s == "generate-root" => generate_root = true,
            Expression::String(s) if s == "rekey" => rekey = true,
            Expression::String(s) => {
                return Err(ConfigError(format!(
                    "\"{KEY}\": unknown operation \"{s}\" (known: \"generate-root\", \"rekey\")"
                )))
            }
            _ => return Err(ConfigError(format!("\"{KEY}\" must be a list of strings"))),
        }
    }
    Ok((generate_root, rekey))
}

fn log_level(s: &str) -> Result<String, ConfigError> {
    let l = s.to_lowercase();
    match l.as_str() {
        "trace" | "debug" | "info" | "warn" | "error" => Ok(l),
        _ => Err(ConfigError(format!(
            "\"log_level\" must be one of trace, debug, info, warn, error (got \"{s}\")"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<Config, ConfigError> {
        Config::parse(t, Path::new("/base"))
    }

    fn pg_block(body: &str) -> Block {
        let b: Body = hcl::from_str(&format!("storage \"postgresql\" {{\n{body}\n}}")).unwrap();
        b.blocks().next().unwrap().clone()
    }

    #[test]
    fn postgresql_storage() {
        let block = pg_block(
            r#"connection_url = "postgresql://v:hunter2@db/vault"
               ha_enabled = "true"
               table = "kv"
               ha_table = "locks"
               max_connections = 4
               max_idle_connections = 2
               tls_ca_file = "ca.pem"
               lock_ttl = "8s""#,
        );
        let StorageConfig::Postgres(c) = parse_postgres(&block, Path::new("/base"), None).unwrap()
        else {
            panic!("not postgresql");
        };
        assert_eq!(c.connection_url, "postgresql://v:hunter2@db/vault");
        assert!(c.ha_enabled);
        assert_eq!((c.table.as_str(), c.ha_table.as_str()), ("kv", "locks"));
        assert_eq!((c.max_connections, c.max_idle_connections), (4, 2));
        assert_eq!(c.tls_ca_file, Some(PathBuf::from("/base/ca.pem")));
        assert_eq!(c.lock_ttl, Duration::from_secs(8));
        assert!(!format!("{c:?}").contains("hunter2"));
        // The environment stands in for a missing URL, never for a set one.
        let empty = pg_block("");
        let StorageConfig::Postgres(c) =
            parse_postgres(&empty, Path::new("/"), Some("postgresql://env/x".into())).unwrap()
        else {
            panic!("not postgresql");
        };
        assert_eq!(c.connection_url, "postgresql://env/x");
        assert!(!c.ha_enabled);
        assert_eq!(c.lock_ttl, DEFAULT_LOCK_TTL);
        let set = pg_block(r#"connection_url = "postgresql://file/x""#);
        let StorageConfig::Postgres(c) =
            parse_postgres(&set, Path::new("/"), Some("postgresql://env/x".into())).unwrap()
        else {
            panic!("not postgresql");
        };
        assert_eq!(c.connection_url, "postgresql://file/x");
        assert!(parse_postgres(&empty, Path::new("/"), None).is_err());
        for bad in ["bogus = 1", "lock_ttl = \"1s\"", "max_connections = 0"] {
            let b = pg_block(&format!("connection_url = \"x\"\n{bad}"));
            assert!(parse_postgres(&b, Path::new("/"), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn full_config() {
        let c = parse(
            r#"
            storage "sled" { path = "data" }
            listener "tcp" {
              address = "127.0.0.1:0"
              tls_disable = true
              http_read_header_timeout = "500ms"
              http_read_timeout = 2
              max_connections = 64
              max_request_body_memory = 1048576
              graceful_shutdown_timeout = "1s"
            }
            telemetry {
              unauthenticated_metrics_access = true
            }
            api_addr = "http://x"
            log_level = "DEBUG"
            log_format = "JSON"
            enable_unauthenticated_access = ["generate-root", "rekey"]
            default_lease_ttl = "1h"
            max_lease_ttl = 7200
            max_request_size = 1024
            "#,
        )
        .unwrap();
        assert_eq!(
            c.storage,
            StorageConfig::Sled {
                path: PathBuf::from("/base/data"),
                cache_capacity: DEFAULT_SLED_CACHE,
            }
        );
        assert_eq!(c.default_lease_ttl, 3600);
        assert_eq!(c.max_lease_ttl, 7200);
        assert_eq!(c.max_request_size, 1024);
        assert_eq!(c.log_level, "debug");
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.unauthenticated_generate_root);
        assert!(c.unauthenticated_rekey);
        assert!(c.unauthenticated_metrics);
        assert_eq!(
            c.listener.http_read_header_timeout,
            Duration::from_millis(500)
        );
        assert_eq!(c.listener.http_read_timeout, Duration::from_secs(2));
        assert_eq!(c.listener.max_connections, 64);
        assert_eq!(c.listener.max_request_body_memory, 1 << 20);
        assert_eq!(c.listener.graceful_shutdown_timeout, Duration::from_secs(1));
    }

    #[test]
    fn listener_limits_default_and_refuse_nonsense() {
        let base = "storage \"inmem\" {}\nlistener \"tcp\" {\n address = \"127.0.0.1:1\"\n tls_disable = true\n";
        let c = parse(&format!("{base}}}")).unwrap();
        assert_eq!(c.listener.http_read_header_timeout, DEFAULT_HEADER_TIMEOUT);
        assert_eq!(c.listener.http_read_timeout, DEFAULT_BODY_TIMEOUT);
        assert_eq!(c.listener.max_connections, DEFAULT_MAX_CONNECTIONS);
        assert_eq!(c.listener.max_request_body_memory, DEFAULT_BODY_MEMORY);
        assert_eq!(
            c.listener.graceful_shutdown_timeout,
            DEFAULT_SHUTDOWN_TIMEOUT
        );
        for (extra, field) in [
            ("http_read_header_timeout = 0", "http_read_header_timeout"),
            ("http_read_timeout = \"soon\"", "http_read_timeout"),
            (
                "graceful_shutdown_timeout = \"48h\"",
                "graceful_shutdown_timeout",
            ),
            ("max_connections = 0", "max_connections"),
            ("max_request_body_memory = -5", "max_request_body_memory"),
        ] {
            let e = parse(&format!("{base} {extra}\n}}"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{e}");
        }
    }

    #[test]
    fn sled_cache_and_in_flight_limits() {
        let c = parse(
            "storage \"sled\" {\n path = \"d\"\n cache_capacity = 16777216\n}\nlistener \"tcp\" {\n address = \"127.0.0.1:1\"\n tls_disable = true\n max_requests_in_flight = 8\n}\n",
        )
        .unwrap();
        assert_eq!(
            c.storage,
            StorageConfig::Sled {
                path: PathBuf::from("/base/d"),
                cache_capacity: 16 << 20,
            }
        );
        assert_eq!(c.listener.max_requests_in_flight, 8);
        let c = parse("storage \"sled\" { path = \"d\" }\nlistener \"tcp\" {\n address = \"127.0.0.1:1\"\n tls_disable = true\n}\n").unwrap();
        assert!(matches!(
            c.storage,
            StorageConfig::Sled { cache_capacity, .. } if cache_capacity == DEFAULT_SLED_CACHE
        ));
        assert_eq!(c.listener.max_requests_in_flight, DEFAULT_MAX_IN_FLIGHT);
        for (bad, field) in [
            ("cache_capacity = 1000", "storage.cache_capacity"),
            ("cache_capacity = \"lots\"", "storage.cache_capacity"),
        ] {
            let e = parse(&format!("storage \"sled\" {{\n path = \"d\"\n {bad}\n}}\nlistener \"tcp\" {{\n address = \"127.0.0.1:1\"\n tls_disable = true\n}}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(field), "{e}");
        }
        let e = parse("storage \"inmem\" {}\nlistener \"tcp\" {\n address = \"127.0.0.1:1\"\n tls_disable = true\n max_requests_in_flight = 0\n}\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("max_requests_in_flight"), "{e}");
    }

    #[test]
    fn errors_name_the_field() {
        let base = "storage \"sled\" { path = \"d\" }\nlistener \"tcp\" {\n address = \"127.0.0.1:1\"\n tls_disable = true\n}\n";
        let cases = [
            ("log_level = \"loud\"", "log_level"),
            ("log_format = \"xml\"", "log_format"),
            (
                "enable_unauthenticated_access = [\"sealing\"]",
                "enable_unauthenticated_access",
            ),
            (
                "enable_unauthenticated_access = \"generate-root\"",
                "enable_unauthenticated_access",
            ),
            ("max_lease_ttl = \"forever\"", "max_lease_ttl"),
            ("bogus = 1", "bogus"),
            ("max_request_size = -1", "max_request_size"),
        ];
        for (extra, field) in cases {
            let e = parse(&format!("{base}{extra}")).unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
        assert!(
            parse("listener \"tcp\" {\n address = \"127.0.0.1:1\"\n tls_disable = true\n}")
                .unwrap_err()
                .0
                .contains("storage")
        );
        let e = parse("storage \"sled\" { path = \"d\" }\nlistener \"tcp\" {\n address = \"nope\"\n tls_disable = true\n}").unwrap_err();
        assert!(e.0.contains("listener.address"), "{e}");
        let e = parse(
            "storage \"sled\" { path = \"d\" }\nlistener \"tcp\" { address = \"127.0.0.1:1\" }",
        )
        .unwrap_err();
        assert!(e.0.contains("tls_cert_file"), "{e}");
        assert!(parse("storage \"s3\" {}").is_err());
        assert!(parse("{{{").unwrap_err().0.contains("syntax"));
    }

    /// The example that deploy/ ships (systemd unit, container) parses.
    #[test]
    fn deploy_example_parses() {
        let text = include_str!("../../deploy/vault-rs.hcl");
        let c = parse(text).unwrap();
        assert_eq!(
            c.storage,
            StorageConfig::Sled {
                path: PathBuf::from("/var/lib/vault-rs/data"),
                cache_capacity: DEFAULT_SLED_CACHE,
            }
        );
        assert_eq!(c.listener.address, "0.0.0.0:8200");
    }

    /// `ui`: off in a file unless set, on in `--dev`; a wrong type is refused.
    #[test]
    fn ui_setting() {
        let base = "storage \"sled\" { path = \"d\" }\nlistener \"tcp\" {\n address = \"127.0.0.1:1\"\n tls_disable = true\n}\n";
        assert!(!parse(base).unwrap().ui);
        assert!(parse(&format!("{base}ui = true")).unwrap().ui);
        assert!(!parse(&format!("{base}ui = false")).unwrap().ui);
        assert!(parse(&format!("{base}ui = [1]"))
            .unwrap_err()
            .0
            .contains("ui"));
        assert!(Config::dev("127.0.0.1:0").ui);
    }
}
