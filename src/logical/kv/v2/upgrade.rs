//! Upgrading a KV v1 mount to v2 in place (`sys/mounts/:m/tune` with
//! `options.version = "2"`).
//!
//! Owns: the conversion of v1 entries, the `v2/upgraded` marker, and the
//! guard that keeps v1 requests out while (and after) a view is upgraded.
//! Must not touch other mounts' views.
//!
//! How: every v1 entry (a JSON object at the user's path) becomes version 1
//! of the same key, created now; the v1 entry is removed. The whole
//! conversion is ONE storage transaction, together with the marker. Why not
//! one transaction per key: v1 user paths can be anything, including
//! `v2/meta/…`, so after a crash halfway a rerun could not tell a converted
//! entry from a v1 one. With one transaction the view is either all v1 (no
//! marker) or all v2 (marker), so the upgrade is atomic and idempotent: a
//! view with the marker is left alone. Cost: the mount's data is held in
//! memory once during the upgrade.
//!
//! A request routed to the v1 engine just before the upgrade is held off by
//! [`v1_guard`] (a read lock the upgrade takes for writing) and refused
//! afterwards, so no v1 write lands in a v2 view.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, RwLock, RwLockReadGuard};

use serde_json::{json, Map, Value};

use super::store::{self, Op, MARKER_PATH};
use super::versions::KeyMeta;
use crate::barrier::StorageView;
use crate::logical::LogicalError;
use time::OffsetDateTime;

/// The upgrade guard and caches of one KV mount (part of its
/// [`super::KvState`]; by view id, so an instance never mistakes one view
/// for another).
#[derive(Default)]
pub(crate) struct UpgradeState {
    /// Held for writing by an upgrade, for reading by every v1 request.
    lock: RwLock<()>,
    /// Views upgraded by this instance: v1 requests to them are refused.
    upgraded: Mutex<BTreeSet<String>>,
    /// Views known to carry the marker (saves a read per write).
    marked: Mutex<BTreeSet<String>>,
}

const UPGRADING: &str = "Upgrading from non-versioned to versioned data. This backend will be \
unavailable for a brief period and will resume service shortly.";

fn marker_value() -> Value {
    json!({"layout": "kv-v2", "written_by": "vault-rs"})
}

fn remember(set: &Mutex<BTreeSet<String>>, id: &str) {
    set.lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id.to_string());
}

fn known(set: &Mutex<BTreeSet<String>>, id: &str) -> bool {
    set.lock().unwrap_or_else(|p| p.into_inner()).contains(id)
}

/// Taken by the v1 engine around every request: waits for a running
/// upgrade and refuses requests to a view that has been upgraded.
pub(crate) fn v1_guard<'a>(
    state: &'a UpgradeState,
    storage: &StorageView,
) -> Result<RwLockReadGuard<'a, ()>, LogicalError> {
    let guard = state.lock.read().unwrap_or_else(|p| p.into_inner());
    if known(&state.upgraded, storage.id()) {
        return Err(LogicalError::BadRequest(UPGRADING.into()));
    }
    Ok(guard)
}

fn has_marker(storage: &StorageView) -> Result<bool, LogicalError> {
    let value = storage
        .get(MARKER_PATH)?
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    Ok(value == Some(marker_value()))
}

/// Writes the marker once per view (v2 mounts created as v2).
pub(super) fn ensure_marker(
    state: &UpgradeState,
    storage: &StorageView,
) -> Result<(), LogicalError> {
    if known(&state.marked, storage.id()) {
        return Ok(());
    }
    if !has_marker(storage)? {
        storage.put(MARKER_PATH, &store::encode(&marker_value())?)?;
    }
    remember(&state.marked, storage.id());
    Ok(())
}

/// Converts a KV v1 view to the v2 layout, atomically; a no-op on a view
/// that already has the v2 marker. The converted entries are version 1,
/// created `at`.
pub(crate) fn upgrade_v1_to_v2(
    state: &UpgradeState,
    storage: &StorageView,
    at: OffsetDateTime,
) -> Result<(), LogicalError> {
    let _guard = state.lock.write().unwrap_or_else(|p| p.into_inner());
    if !has_marker(storage)? {
        let ops = plan(storage, at)?;
        storage.transaction(ops)?;
    }
    remember(&state.marked, storage.id());
    remember(&state.upgraded, storage.id());
    Ok(())
}

/// The transaction: delete every v1 entry, put its v2 metadata and version
/// 1, put the marker. A v1 path that equals a v2 path written here keeps
/// the v2 put (its own data was read first and moves under `v2/`).
fn plan(storage: &StorageView, at: OffsetDateTime) -> Result<Vec<Op>, LogicalError> {
    let mut ops: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    for path in storage.scan("")? {
        let Some(bytes) = storage.get(&path)? else {
            continue;
        };
        let data: Map<String, Value> = serde_json::from_slice(&bytes).map_err(|_| {
            LogicalError::Internal("kv upgrade: a v1 entry is not a JSON object".into())
        })?;
        ops.entry(path.clone()).or_insert(None);
        let mut meta = KeyMeta::default();
        let (n, _) = meta.add_version(at, None, 0);
        ops.insert(store::meta_path(&path), Some(store::encode(&meta)?));
        ops.insert(store::version_path(&path, n), Some(store::encode(&data)?));
    }
    ops.insert(
        MARKER_PATH.to_string(),
        Some(store::encode(&marker_value())?),
    );
    Ok(ops.into_iter().collect())
}
