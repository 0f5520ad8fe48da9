//! Where KV v2 keeps things in the mount's view (see the layout table in
//! `mod.rs`), and typed load/encode helpers.
//!
//! Owns: the storage paths of the v2 layout. Must not interpret versions
//! (that is `versions.rs`) or requests.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::versions::KeyMeta;
use crate::barrier::StorageView;
use crate::logical::LogicalError;

/// Mount settings.
pub(super) const CONFIG_PATH: &str = "v2/config";
/// Folder of key metadata.
pub(super) const META_PREFIX: &str = "v2/meta/";
/// Folder of version data.
const VERSIONS_PREFIX: &str = "v2/versions/";
/// Marker: the view holds the v2 layout.
pub(super) const MARKER_PATH: &str = "v2/upgraded";

/// One write of a transaction: a put (`Some`) or a delete (`None`).
pub(super) type Op = (String, Option<Vec<u8>>);

pub(super) fn meta_path(key: &str) -> String {
    format!("{META_PREFIX}{key}")
}

/// The folder holding every version of `key`.
pub(super) fn versions_folder(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    format!("{VERSIONS_PREFIX}{}/", hex::encode(digest))
}

pub(super) fn version_path(key: &str, n: u64) -> String {
    format!("{}{n}", versions_folder(key))
}

/// Encodes a value for storage.
pub(super) fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, LogicalError> {
    serde_json::to_vec(value).map_err(|_| LogicalError::Internal("kv: cannot encode entry".into()))
}

pub(super) fn load_meta(storage: &StorageView, key: &str) -> Result<Option<KeyMeta>, LogicalError> {
    Ok(storage.get_json(&meta_path(key))?)
}

/// The data of version `n`; a version the metadata lists but storage lacks
/// is an internal inconsistency.
pub(super) fn load_version(
    storage: &StorageView,
    key: &str,
    n: u64,
) -> Result<Map<String, Value>, LogicalError> {
    storage
        .get_json::<Map<String, Value>>(&version_path(key, n))?
        .ok_or_else(|| LogicalError::Internal("kv: could not find version data".into()))
}

/// Puts of a new version's data and the key's metadata, deletes of the
/// pruned versions: one atomic transaction.
pub(super) fn version_write_ops(
    key: &str,
    meta: &KeyMeta,
    new_version: u64,
    data: &Map<String, Value>,
    pruned: &[u64],
) -> Result<Vec<Op>, LogicalError> {
    let mut ops: Vec<Op> = pruned
        .iter()
        .map(|n| (version_path(key, *n), None))
        .collect();
    ops.push((version_path(key, new_version), Some(encode(data)?)));
    ops.push((meta_path(key), Some(encode(meta)?)));
    Ok(ops)
}

/// Stores the key's metadata alone.
pub(super) fn save_meta(
    storage: &StorageView,
    key: &str,
    meta: &KeyMeta,
) -> Result<(), LogicalError> {
    storage.put(&meta_path(key), &encode(meta)?)?;
    Ok(())
}

/// Remembers that this view is in the v2 layout (so that a later upgrade
/// call never mistakes v2 entries for v1 data).
pub(super) fn ensure_marker(
    kv: &super::KvState,
    storage: &StorageView,
) -> Result<(), LogicalError> {
    super::upgrade::ensure_marker(&kv.upgrade, storage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_paths_do_not_overlap_between_keys() {
        let a = versions_folder("a");
        let a1 = versions_folder("a/1");
        assert_ne!(a, a1);
        assert!(!version_path("a", 1).starts_with(&a1));
        assert!(version_path("a/1", 1).starts_with(&a1));
        assert_eq!(meta_path("x/y"), "v2/meta/x/y");
    }
}
