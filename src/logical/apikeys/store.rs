//! Storage layout of an `apikeys` mount and its in-memory index.
//!
//! Layout inside the mount's storage view (all behind the barrier):
//! - `config`: [`Config`] (prefix, defaults, rate limit);
//! - `salt`: 32 random bytes, the HMAC key of the lookup index (made on
//!   first use, never changed);
//! - `keys/<name>`: one [`KeyRecord`] per key — settings, the rotation
//!   schedule (`next_rotation`, `generation`) and every retained version
//!   with its HMAC and, while usable, its value. A rotation, a revocation
//!   or a retirement rewrites this one entry: a single atomic write.
//!
//! In memory, [`MountState`] holds the salt, the config and a [`KeyTable`]:
//! the records without their values, and an index from HMAC(salt, key) to
//! (record, version). Validation reads only this table. Every mutation takes
//! the mount's write lock ([`WriteGuard`]), writes storage first and then
//! replaces the record's table entries, so the table never shows a state
//! that storage does not hold; the table is rebuilt from storage after
//! every unseal.
//!
//! Owns: the mount's storage paths and the table. Must not touch anything
//! outside the mount's view; never logs a key.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::key::{Environment, DEFAULT_PREFIX};
use super::ratelimit::{Limit, RateLimiter};
use crate::barrier::StorageView;
use crate::crypto::{ct_eq, hmac_sha256, random_secret, SecretBytes, SecretString};
use crate::logical::LogicalError;
use crate::sdk::Telemetry;

pub const CONFIG_PATH: &str = "config";
pub const SALT_PATH: &str = "salt";
pub const KEYS_PREFIX: &str = "keys/";
const SALT_LEN: usize = 32;
/// Versions kept per key (older ones are dropped at the next write).
pub const MAX_VERSIONS: usize = 20;

/// Seconds (from the API) as milliseconds.
pub fn secs_to_ms(secs: u64) -> i64 {
    i64::try_from(secs)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}

/// A time in milliseconds as RFC 3339, or `null` for 0 (never).
pub fn time_value(ms: i64) -> Value {
    if ms == 0 {
        return Value::Null;
    }
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(|t| Value::String(crate::sdk::time::format_rfc3339(t)))
        .unwrap_or(Value::Null)
}

/// The mount's settings (`apikeys/config`). Durations are in seconds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Config {
    pub prefix: String,
    pub default_ttl: u64,
    pub default_rotation_period: u64,
    pub default_grace_period: u64,
    /// Validations per second per client (0: unlimited).
    pub rate_limit: u64,
    pub rate_limit_burst: u64,
    /// Accept `http://` webhook URLs (default: https only).
    pub webhook_allow_http: bool,
    /// Internal networks (CIDRs) webhooks may target all the same
    /// (default: none; loopback, private and link-local are refused).
    pub webhook_allowed_networks: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            prefix: DEFAULT_PREFIX.into(),
            default_ttl: 0,
            default_rotation_period: 0,
            default_grace_period: 3600,
            rate_limit: 1000,
            rate_limit_burst: 2000,
            webhook_allow_http: false,
            webhook_allowed_networks: Vec::new(),
        }
    }
}

impl Config {
    pub fn limit(&self) -> Limit {
        Limit {
            rate: self.rate_limit,
            burst: self.rate_limit_burst.max(self.rate_limit),
        }
    }

    /// Which webhook targets this mount accepts (networks that do not
    /// parse were refused when written, and are skipped).
    pub fn webhook_policy(&self) -> super::webhook::WebhookPolicy {
        super::webhook::WebhookPolicy {
            allow_http: self.webhook_allow_http,
            allowed_networks: self
                .webhook_allowed_networks
                .iter()
                .filter_map(|n| n.parse().ok())
                .collect(),
        }
    }

    pub fn to_json(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }
}

/// A key value as stored: zeroized on drop, serialized as a plain string.
#[derive(Clone)]
pub struct StoredSecret(pub SecretString);

impl Serialize for StoredSecret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.expose())
    }
}

impl<'de> Deserialize<'de> for StoredSecret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| StoredSecret(SecretString::new(s)))
    }
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredSecret([REDACTED])")
    }
}

/// Where a version stands at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionState {
    /// The key's newest version.
    Current,
    /// Superseded, still valid until its grace period ends.
    Grace,
    /// Superseded and past its grace period.
    Retired,
    /// Past its TTL.
    Expired,
    Revoked,
}

impl VersionState {
    pub fn as_str(&self) -> &'static str {
        match self {
            VersionState::Current => "current",
            VersionState::Grace => "grace",
            VersionState::Retired => "retired",
            VersionState::Expired => "expired",
            VersionState::Revoked => "revoked",
        }
    }

    pub fn usable(&self) -> bool {
        matches!(self, VersionState::Current | VersionState::Grace)
    }
}

/// One version of a key. Times are Unix milliseconds, 0 meaning "not".
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VersionRecord {
    pub created: i64,
    #[serde(default)]
    pub expires: i64,
    /// When a newer version replaced it.
    #[serde(default)]
    pub superseded: i64,
    /// End of the grace period (meaningful once superseded).
    #[serde(default)]
    pub valid_until: i64,
    #[serde(default)]
    pub revoked: i64,
    /// When the value was erased (revoked or past grace/TTL).
    #[serde(default)]
    pub retired: i64,
    /// Hex HMAC-SHA256(salt, key): the index entry.
    pub hmac: String,
    /// The value, while the version is usable; never held in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<StoredSecret>,
    /// Last successful validation (ms), as of the last usage flush.
    #[serde(default)]
    pub last_used: i64,
    /// Successful validations, as of the last usage flush.
    #[serde(default)]
    pub use_count: u64,
}

impl VersionRecord {
    pub fn state(&self, now: i64) -> VersionState {
        if self.revoked != 0 {
            VersionState::Revoked
        } else if self.expires != 0 && now >= self.expires {
            VersionState::Expired
        } else if self.retired != 0 || (self.superseded != 0 && now >= self.valid_until) {
            VersionState::Retired
        } else if self.superseded != 0 {
            VersionState::Grace
        } else {
            VersionState::Current
        }
    }

    /// Whether the value should be erased now (no longer usable, not yet erased).
    pub fn needs_retiring(&self, now: i64) -> bool {
        self.retired == 0 && !self.state(now).usable()
    }

    fn mac(&self) -> Option<[u8; 32]> {
        let bytes = hex::decode(&self.hmac).ok()?;
        bytes.try_into().ok()
    }
}

/// One API key: settings, schedule and versions. Durations in seconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyRecord {
    pub name: String,
    pub service: String,
    pub environment: Environment,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    #[serde(default)]
    pub ttl: u64,
    #[serde(default)]
    pub rotation_period: u64,
    #[serde(default)]
    pub grace_period: u64,
    /// Supplied from outside: rotation is "due", never generated.
    #[serde(default)]
    pub imported: bool,
    pub created: i64,
    pub updated: i64,
    /// Incremented by every rotation: a rotation decided on an older
    /// generation is dropped (no double rotation).
    #[serde(default)]
    pub generation: u64,
    /// When the scheduler rotates next (ms; 0: no rotation policy).
    #[serde(default)]
    pub next_rotation: i64,
    pub current: u64,
    pub versions: BTreeMap<u64, VersionRecord>,
    /// Rotation notifications (optional).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub webhook_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<StoredSecret>,
}

impl KeyRecord {
    pub fn current_version(&self) -> Option<&VersionRecord> {
        self.versions.get(&self.current)
    }

    /// Whether the current version is revoked (a dead key is not rotated).
    pub fn is_dead(&self) -> bool {
        self.current_version().is_none_or(|v| v.revoked != 0)
    }

    /// Whether the schedule says "rotate" at `now`.
    pub fn rotation_due(&self, now: i64) -> bool {
        self.next_rotation != 0 && now >= self.next_rotation && !self.is_dead()
    }

    /// Erases values that can no longer be used; true if anything changed.
    pub fn retire_unusable(&mut self, now: i64) -> bool {
        let mut changed = false;
        for v in self.versions.values_mut() {
            if v.needs_retiring(now) {
                v.key = None;
                v.retired = now;
                changed = true;
            }
        }
        changed
    }

    /// Drops the oldest versions beyond [`MAX_VERSIONS`] (never the current).
    pub fn prune(&mut self) {
        while self.versions.len() > MAX_VERSIONS {
            let Some(oldest) = self.versions.keys().next().copied() else {
                return;
            };
            if oldest == self.current {
                return;
            }
            self.versions.remove(&oldest);
        }
    }

    /// A copy without key values or webhook secret (what memory holds).
    fn stripped(&self) -> KeyRecord {
        let mut r = self.clone();
        for v in r.versions.values_mut() {
            v.key = None;
        }
        r.webhook_secret = None;
        r
    }
}

struct IndexEntry {
    mac: [u8; 32],
    record: Arc<KeyRecord>,
    version: u64,
}

/// The in-memory view of a mount's keys: records without values, and the
/// HMAC index. Keyed by the first 16 bytes of the HMAC; the full HMAC is
/// compared in constant time.
#[derive(Default)]
pub struct KeyTable {
    keys: HashMap<String, Arc<KeyRecord>>,
    index: HashMap<[u8; 16], IndexEntry>,
    imported: usize,
}

fn index_key(mac: &[u8; 32]) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(&mac[..16]);
    k
}

impl KeyTable {
    fn remove(&mut self, name: &str) {
        let Some(old) = self.keys.remove(name) else {
            return;
        };
        if old.imported {
            self.imported = self.imported.saturating_sub(1);
        }
        for v in old.versions.values() {
            if let Some(mac) = v.mac() {
                let k = index_key(&mac);
                if self.index.get(&k).is_some_and(|e| e.record.name == name) {
                    self.index.remove(&k);
                }
            }
        }
    }

    fn insert(&mut self, record: KeyRecord) {
        self.remove(&record.name);
        let record = Arc::new(record.stripped());
        if record.imported {
            self.imported += 1;
        }
        for (n, v) in &record.versions {
            if let Some(mac) = v.mac() {
                let entry = IndexEntry {
                    mac,
                    record: record.clone(),
                    version: *n,
                };
                self.index.insert(index_key(&mac), entry);
            }
        }
        self.keys.insert(record.name.clone(), record);
    }

    fn lookup(&self, mac: &[u8; 32]) -> Option<(Arc<KeyRecord>, u64)> {
        let entry = self.index.get(&index_key(mac))?;
        if !ct_eq(&entry.mac, mac) {
            return None;
        }
        Some((entry.record.clone(), entry.version))
    }
}

/// Counters shown by `apikeys/stats`.
#[derive(Default)]
pub struct Stats {
    pub valid: AtomicU64,
    pub malformed: AtomicU64,
    pub unknown: AtomicU64,
    pub expired: AtomicU64,
    pub revoked: AtomicU64,
    pub scope: AtomicU64,
    pub service: AtomicU64,
    pub rate_limited: AtomicU64,
    pub rotations: AtomicU64,
    pub scheduled_rotations: AtomicU64,
    /// Storage reads and writes made by this mount state (load included).
    pub storage_reads: AtomicU64,
    pub storage_writes: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Stats {
    pub fn count(&self, c: &AtomicU64) {
        bump(c);
    }
}

fn back(name: &str, uses: Vec<(u64, Use)>) -> HashMap<(String, u64), Use> {
    uses.into_iter()
        .map(|(v, u)| ((name.to_string(), v), u))
        .collect()
}

/// Proof that the mount's write lock is held.
pub struct WriteGuard<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

/// Everything the engine keeps in memory for one mount while unsealed.
pub struct MountState {
    /// The registry epoch this state was loaded in.
    pub epoch: u64,
    salt: SecretBytes,
    config: RwLock<Arc<Config>>,
    table: RwLock<KeyTable>,
    write: Mutex<()>,
    pub limiter: RateLimiter,
    pub stats: Stats,
    /// Rotation events waiting for delivery to their webhooks.
    pub webhooks: super::webhook::Queue,
    /// Where validations, rotations and revocations are counted.
    pub telemetry: Arc<dyn Telemetry>,
    /// Successful validations not yet written to storage.
    pub usage: Usage,
}

/// One version's use since the last flush: (last use in ms, count).
pub type Use = (i64, u64);

/// Successful validations by (key name, version), kept in memory and
/// written to the key records in batches ([`MountState::flush_usage`]),
/// so the hot path never writes. What a crash loses: the uses since the
/// last flush (at most [`USAGE_FLUSH_MS`] of them, by the vault's clock).
#[derive(Default)]
pub struct Usage {
    pending: Mutex<HashMap<(String, u64), Use>>,
    /// When the last flush ran (ms).
    last_flush: AtomicI64,
}

/// How often the pending uses are written (by the `periodic` hook).
pub const USAGE_FLUSH_MS: i64 = 60_000;

impl Usage {
    fn lock(&self) -> MutexGuard<'_, HashMap<(String, u64), Use>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One successful validation of `name` version `version` at `now`.
    pub fn note(&self, name: &str, version: u64, now: i64) {
        let mut map = self.lock();
        let entry = map.entry((name.to_string(), version)).or_insert((0, 0));
        entry.0 = entry.0.max(now);
        entry.1 = entry.1.saturating_add(1);
    }

    /// The unwritten uses of one key, by version.
    pub fn pending(&self, name: &str) -> HashMap<u64, Use> {
        self.lock()
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, v), u)| (*v, *u))
            .collect()
    }

    fn take(&self) -> HashMap<(String, u64), Use> {
        std::mem::take(&mut *self.lock())
    }

    /// Puts back uses whose write failed.
    fn restore(&self, uses: HashMap<(String, u64), Use>) {
        let mut map = self.lock();
        for (k, (at, n)) in uses {
            let e = map.entry(k).or_insert((0, 0));
            e.0 = e.0.max(at);
            e.1 = e.1.saturating_add(n);
        }
    }
}

/// A version's use: what its record holds plus what is pending.
pub fn merged_use(v: &VersionRecord, pending: Option<&Use>) -> Use {
    match pending {
        Some((at, n)) => (v.last_used.max(*at), v.use_count.saturating_add(*n)),
        None => (v.last_used, v.use_count),
    }
}

fn storage_err(e: crate::barrier::BarrierError) -> LogicalError {
    LogicalError::from(e)
}

fn corrupt(what: &str) -> LogicalError {
    LogicalError::Internal(format!("apikeys: corrupt {what} entry"))
}

/// The storage path of a key's record.
pub fn key_path(name: &str) -> String {
    format!("{KEYS_PREFIX}{name}")
}

impl MountState {
    /// Builds the state from storage (creating the salt on first use).
    pub fn load(
        storage: &StorageView,
        epoch: u64,
        telemetry: Arc<dyn Telemetry>,
    ) -> Result<MountState, LogicalError> {
        let stats = Stats::default();
        let config = load_config(storage, &stats)?;
        let salt = load_salt(storage, &stats)?;
        let state = MountState {
            epoch,
            salt,
            config: RwLock::new(Arc::new(config)),
            table: RwLock::new(KeyTable::default()),
            write: Mutex::new(()),
            limiter: RateLimiter::default(),
            stats,
            webhooks: super::webhook::Queue::default(),
            telemetry,
            usage: Usage::default(),
        };
        let names = storage.list(KEYS_PREFIX).map_err(storage_err)?;
        bump(&state.stats.storage_reads);
        let mut table = KeyTable::default();
        for name in names.iter().filter(|n| !n.ends_with('/')) {
            if let Some(record) = state.read_record(storage, name)? {
                table.insert(record);
            }
        }
        *state.table.write().unwrap_or_else(|p| p.into_inner()) = table;
        Ok(state)
    }

    /// HMAC(salt, key): the lookup id of a key value.
    pub fn mac(&self, key: &str) -> [u8; 32] {
        hmac_sha256(self.salt.expose(), key.as_bytes())
    }

    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Serialises mutations of this mount.
    pub fn lock_writes(&self) -> WriteGuard<'_> {
        WriteGuard(self.write.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn table(&self) -> std::sync::RwLockReadGuard<'_, KeyTable> {
        self.table.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The key and version a presented key's HMAC belongs to.
    pub fn lookup(&self, mac: &[u8; 32]) -> Option<(Arc<KeyRecord>, u64)> {
        self.table().lookup(mac)
    }

    /// Whether any key of this mount was imported.
    pub fn has_imported(&self) -> bool {
        self.table().imported > 0
    }

    /// A key's record as memory holds it (no values).
    pub fn record(&self, name: &str) -> Option<Arc<KeyRecord>> {
        self.table().keys.get(name).cloned()
    }

    /// Every record (for the scheduler), without values.
    pub fn records(&self) -> Vec<Arc<KeyRecord>> {
        self.table().keys.values().cloned().collect()
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.table().keys.keys().cloned().collect();
        names.sort();
        names
    }

    pub fn key_count(&self) -> usize {
        self.table().keys.len()
    }

    /// A key's full record (values included) from storage.
    pub fn read_record(
        &self,
        storage: &StorageView,
        name: &str,
    ) -> Result<Option<KeyRecord>, LogicalError> {
        bump(&self.stats.storage_reads);
        let Some(bytes) = storage.get(&key_path(name)).map_err(storage_err)? else {
            return Ok(None);
        };
        let bytes = Zeroizing::new(bytes);
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|_| corrupt("key"))
    }

    /// Writes `record` (one atomic write), then shows it in memory.
    pub fn commit(
        &self,
        _guard: &WriteGuard<'_>,
        storage: &StorageView,
        record: &KeyRecord,
    ) -> Result<(), LogicalError> {
        let bytes = Zeroizing::new(serde_json::to_vec(record).map_err(|_| corrupt("key"))?);
        bump(&self.stats.storage_writes);
        storage
            .put(&key_path(&record.name), &bytes)
            .map_err(storage_err)?;
        self.table
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(record.clone());
        Ok(())
    }

    /// Writes the pending uses into the key records when `force` (on
    /// seal or unmount; `now` is then not read) or when [`USAGE_FLUSH_MS`]
    /// have passed since the last flush at `now`; a key that is
    /// gone drops its uses, a failed write keeps them for the next flush.
    /// Returns how many records were written.
    pub fn flush_usage(&self, storage: &StorageView, now: i64, force: bool) -> usize {
        if !force {
            let last = self.usage.last_flush.load(Ordering::Relaxed);
            if last == 0 {
                // The first pass starts the period.
                self.usage.last_flush.store(now, Ordering::Relaxed);
                return 0;
            }
            if now.saturating_sub(last) < USAGE_FLUSH_MS {
                return 0;
            }
            self.usage.last_flush.store(now, Ordering::Relaxed);
        }
        let pending = self.usage.take();
        if pending.is_empty() {
            return 0;
        }
        let mut by_key: HashMap<String, Vec<(u64, Use)>> = HashMap::new();
        for ((name, version), u) in pending {
            by_key.entry(name).or_default().push((version, u));
        }
        let guard = self.lock_writes();
        let mut written = 0;
        for (name, uses) in by_key {
            let mut record = match self.read_record(storage, &name) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(_) => {
                    self.usage.restore(back(&name, uses));
                    continue;
                }
            };
            for (version, u) in &uses {
                if let Some(v) = record.versions.get_mut(version) {
                    (v.last_used, v.use_count) = merged_use(v, Some(u));
                }
            }
            match self.commit(&guard, storage, &record) {
                Ok(()) => written += 1,
                Err(_) => self.usage.restore(back(&name, uses)),
            }
        }
        written
    }

    /// Deletes a key from storage, then from memory.
    pub fn remove(
        &self,
        _guard: &WriteGuard<'_>,
        storage: &StorageView,
        name: &str,
    ) -> Result<(), LogicalError> {
        bump(&self.stats.storage_writes);
        storage.delete(&key_path(name)).map_err(storage_err)?;
        self.table
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        Ok(())
    }

    /// Stores and applies a new config.
    pub fn save_config(
        &self,
        _guard: &WriteGuard<'_>,
        storage: &StorageView,
        config: Config,
    ) -> Result<(), LogicalError> {
        bump(&self.stats.storage_writes);
        storage
            .put_json(CONFIG_PATH, &config)
            .map_err(storage_err)?;
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(config);
        Ok(())
    }
}

fn load_config(storage: &StorageView, stats: &Stats) -> Result<Config, LogicalError> {
    bump(&stats.storage_reads);
    Ok(storage
        .get_json::<Config>(CONFIG_PATH)
        .map_err(storage_err)?
        .unwrap_or_default())
}

/// The mount's salt; created on first use. Callers serialise loads (the
/// registry loads a mount under its write lock), so only one is ever made.
fn load_salt(storage: &StorageView, stats: &Stats) -> Result<SecretBytes, LogicalError> {
    bump(&stats.storage_reads);
    if let Some(bytes) = storage.get(SALT_PATH).map_err(storage_err)? {
        let salt = SecretBytes::from_slice(&bytes);
        if salt.len() != SALT_LEN {
            return Err(corrupt("salt"));
        }
        return Ok(salt);
    }
    let salt = random_secret(SALT_LEN);
    bump(&stats.storage_writes);
    storage.put(SALT_PATH, salt.expose()).map_err(storage_err)?;
    Ok(salt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(created: i64) -> VersionRecord {
        VersionRecord {
            created,
            expires: 0,
            superseded: 0,
            valid_until: 0,
            revoked: 0,
            retired: 0,
            hmac: hex::encode([created as u8; 32]),
            key: None,
            last_used: 0,
            use_count: 0,
        }
    }

    #[test]
    fn version_states() {
        let mut v = version(1000);
        assert_eq!(v.state(1500), VersionState::Current);
        v.superseded = 2000;
        v.valid_until = 3000;
        assert_eq!(v.state(2500), VersionState::Grace);
        assert_eq!(v.state(3000), VersionState::Retired);
        v.expires = 2600;
        assert_eq!(v.state(2700), VersionState::Expired);
        v.revoked = 2100;
        assert_eq!(v.state(2200), VersionState::Revoked);
        assert!(v.needs_retiring(2200));
    }

    #[test]
    fn table_indexes_every_version_and_replaces_on_update() {
        let mut r = KeyRecord {
            name: "a".into(),
            service: "s".into(),
            environment: Environment::Live,
            scopes: vec![],
            metadata: Map::new(),
            ttl: 0,
            rotation_period: 0,
            grace_period: 0,
            imported: false,
            created: 1,
            updated: 1,
            generation: 0,
            next_rotation: 0,
            current: 2,
            versions: BTreeMap::from([(1, version(1)), (2, version(2))]),
            webhook_url: String::new(),
            webhook_secret: None,
        };
        r.versions.get_mut(&1).unwrap().key = Some(StoredSecret(SecretString::from("x")));
        let mut t = KeyTable::default();
        t.insert(r.clone());
        assert_eq!(t.lookup(&[1u8; 32]).map(|(_, v)| v), Some(1));
        assert_eq!(t.lookup(&[2u8; 32]).map(|(_, v)| v), Some(2));
        assert!(
            t.keys["a"].versions[&1].key.is_none(),
            "memory holds no values"
        );
        // Same 16-byte prefix, different tail: no match.
        let mut near = [1u8; 32];
        near[31] = 9;
        assert!(t.lookup(&near).is_none());
        r.versions.remove(&1);
        t.insert(r);
        assert!(t.lookup(&[1u8; 32]).is_none());
        t.remove("a");
        assert!(t.lookup(&[2u8; 32]).is_none());
    }
}
