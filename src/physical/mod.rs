//! Physical storage: the untrusted bottom layer.
//!
//! Owns: the [`Backend`] trait and its implementations (sled on disk,
//! in-memory for tests and `--dev`). Everything handed to a backend is
//! already ciphertext under an encrypted key, except the few fixed system
//! entries written by the barrier (seal configuration, wrapped keyring).
//! Must not touch: keys, plaintext, or any layer above. Nothing above
//! `barrier/` holds a `Backend`.

mod error;
mod group_commit;
mod inmem;
mod sled_backend;
#[cfg(test)]
pub(crate) mod testing;

pub use error::PhysicalError;
pub use inmem::InmemBackend;
pub use sled_backend::SledBackend;

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
}

/// Reduces the full keys under `prefix` to one-level children.
fn one_level<I: IntoIterator<Item = String>>(prefix: &str, keys: I) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let child = match rest.find('/') {
            Some(i) => &rest[..=i],
            None => rest,
        };
        if out.last().map(String::as_str) != Some(child) {
            out.push(child.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}
