//! Physical storage: the untrusted bottom layer.
//!
//! Owns: the [`Backend`] trait and its implementations (sled on disk,
//! in-memory for tests and `--dev`, PostgreSQL with its HA lock), the durability of sled's data
//! directory (syncs, group commit) and its integrity checks (commit record,
//! integrity file, offline verification). Everything handed to a backend is
//! already ciphertext under an encrypted key, except the few fixed system
//! entries written by the barrier (seal configuration, wrapped keyring).
//! Must not touch: keys, plaintext, or any layer above. Nothing above
//! `barrier/` holds a `Backend`.

mod error;
mod files;
mod group_commit;
mod inmem;
mod integrity;
#[cfg(test)]
pub(crate) mod pg_testing;
mod postgres;
mod sled_backend;
#[cfg(test)]
pub(crate) mod testing;
mod verify;

pub use error::PhysicalError;
pub use inmem::InmemBackend;
pub use postgres::{PostgresBackend, PostgresOptions, DEFAULT_HA_TABLE, DEFAULT_TABLE};
pub use sled_backend::SledBackend;
pub use verify::{verify_storage, StorageCheck, StorageReport};

/// One operation of an atomic batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxnOp {
    Put(String, Vec<u8>),
    Delete(String),
}

/// Key-value storage with Vault's one-level listing.
///
/// Keys are `/`-separated strings. A write returns only once it is durable.
pub trait Backend: Send + Sync + 'static {
    /// The value at `key`, if any.
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PhysicalError>;
    /// Stores `value` at `key`; durable when this returns.
    fn put(&self, key: &str, value: &[u8]) -> Result<(), PhysicalError>;
    /// Removes `key` (no error when absent); durable when this returns.
    fn delete(&self, key: &str) -> Result<(), PhysicalError>;
    /// The direct children of `prefix`, sorted: `name` for an entry,
    /// `name/` for a sub-folder (each listed once).
    fn list(&self, prefix: &str) -> Result<Vec<String>, PhysicalError>;
    /// Every key under `prefix`, at any depth, sorted.
    fn scan(&self, prefix: &str) -> Result<Vec<String>, PhysicalError>;
    /// Applies all of `ops` atomically and durably, or none of them.
    fn transaction(&self, ops: Vec<TxnOp>) -> Result<(), PhysicalError>;
    /// Makes every acknowledged write durable (used at shutdown).
    fn flush(&self) -> Result<(), PhysicalError>;
    /// The storage type name reported in `sys/seal-status`.
    fn kind(&self) -> &'static str;

    /// Every entry, sorted by key, as one point in time shows them: no
    /// write is half-seen, and every entry returned is durable. The
    /// default reads key by key and is consistent only when nothing writes
    /// meanwhile; the real backends override it.
    fn export(&self) -> Result<Vec<(String, Vec<u8>)>, PhysicalError> {
        let mut out = Vec::new();
        for key in self.scan("")? {
            if let Some(v) = self.get(&key)? {
                out.push((key, v));
            }
        }
        Ok(out)
    }

    /// The HA lock of storage shared by several nodes (PostgreSQL with
    /// `ha_enabled`); `None` for single-node storage.
    fn ha_lock(&self) -> Option<std::sync::Arc<dyn HaLock>> {
        None
    }
}

/// Who holds the HA lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockHolder {
    /// The holding node's id (random per process).
    pub holder: String,
    /// Where clients reach it (its `api_addr`).
    pub api_addr: String,
    /// The fencing epoch, raised by every takeover.
    pub epoch: u64,
}

/// The lock that makes one node of several the active one.
///
/// Safety under partitions: the lock expires [`HaLock::ttl`] after its last
/// renewal, in the storage's own clock, and only then may another node take
/// it. The holder renews well within the TTL and steps down as soon as a
/// renewal fails or cannot be confirmed in time. And whatever the holder
/// believes, storage refuses its writes once the lock has expired or moved:
/// every write checks the epoch in the same transaction.
pub trait HaLock: Send + Sync {
    /// Takes the lock if nobody holds it (or the holder's lease expired);
    /// `Some(epoch)` when taken. Writes are allowed from then on.
    fn try_acquire(&self, holder: &str, api_addr: &str) -> Result<Option<u64>, PhysicalError>;
    /// Extends the lock; `false` when it was lost (writes stop at once).
    fn renew(&self) -> Result<bool, PhysicalError>;
    /// Gives the lock up (step-down, seal, shutdown); writes stop at once.
    fn release(&self) -> Result<(), PhysicalError>;
    /// Stops writing without telling storage (the lock could not be
    /// renewed in time; it will expire by itself).
    fn forget(&self);
    /// The current, unexpired holder, if any.
    fn holder(&self) -> Result<Option<LockHolder>, PhysicalError>;
    /// How long the lock lasts without renewal.
    fn ttl(&self) -> std::time::Duration;
}

/// Replaces everything in `backend` with `entries` in one atomic, durable
/// transaction: keys absent from `entries` are deleted. Either the whole
/// new content is in place when this returns `Ok`, or nothing changed.
pub fn replace_all(
    backend: &dyn Backend,
    entries: Vec<(String, Vec<u8>)>,
) -> Result<(), PhysicalError> {
    let keep: std::collections::BTreeSet<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
    let mut ops: Vec<TxnOp> = backend
        .scan("")?
        .into_iter()
        .filter(|k| !keep.contains(k.as_str()))
        .map(TxnOp::Delete)
        .collect();
    drop(keep);
    ops.extend(entries.into_iter().map(|(k, v)| TxnOp::Put(k, v)));
    backend.transaction(ops)
}

/// One step of a one-level listing: given the first key at or after the
/// cursor, the child it belongs to and where to continue. A folder child
/// skips all of its descendants in one seek ('0' is the byte after '/'), so
/// listing costs O(children), not O(descendants).
fn next_child(prefix: &str, key: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix(prefix)?;
    match rest.find('/') {
        Some(i) => Some((rest[..=i].to_string(), format!("{prefix}{}0", &rest[..i]))),
        None => Some((rest.to_string(), format!("{key}\u{0}"))),
    }
}
