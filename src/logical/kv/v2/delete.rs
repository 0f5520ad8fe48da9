//! `delete/:key`, `undelete/:key`, `destroy/:key` with `{versions:[…]}`:
//! soft-delete, restore, or permanently remove given versions.
//!
//! Owns: these three endpoints. Must not change versions other than the
//! listed ones.

use super::config;
use super::store::{self, Op};
use super::versions::{auto_deletion_time, now};
use super::{is_write, lock_key, require_key, KvState};
use crate::logical::{fields, LogicalError, LogicalRequest};
use crate::sdk::Response;

/// The required, non-empty `versions` list.
fn versions(req: &LogicalRequest<'_>, missing: &str) -> Result<Vec<u64>, LogicalError> {
    match fields::opt_u64_list(req.data, "versions")? {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(LogicalError::BadRequest(missing.into())),
    }
}

fn check(req: &LogicalRequest<'_>, key: &str) -> Result<(), LogicalError> {
    if !is_write(req.operation) {
        return Err(LogicalError::UnsupportedOperation);
    }
    require_key(key)
}

pub(super) fn handle_delete(
    kv: &KvState,
    req: &LogicalRequest<'_>,
    key: &str,
) -> Result<Response, LogicalError> {
    check(req, key)?;
    let list = versions(req, "No version number provided")?;
    let _guard = lock_key(kv, req, key);
    let Some(mut meta) = store::load_meta(req.storage, key)? else {
        return Ok(Response::empty());
    };
    let at = now(req);
    let mut changed = false;
    for n in list {
        changed |= meta.soft_delete(n, at)?;
    }
    if changed {
        store::save_meta(req.storage, key, &meta)?;
    }
    Ok(Response::empty())
}

pub(super) fn handle_undelete(
    kv: &KvState,
    req: &LogicalRequest<'_>,
    key: &str,
) -> Result<Response, LogicalError> {
    check(req, key)?;
    let list = versions(req, "No version number provided")?;
    let config = config::load(req.storage)?;
    let _guard = lock_key(kv, req, key);
    let Some(mut meta) = store::load_meta(req.storage, key)? else {
        return Ok(Response::empty());
    };
    // As Vault: an undeleted version is due for deletion again after the
    // configured delete_version_after, counted from now.
    let redelete = auto_deletion_time(
        now(req),
        config.delete_version_after,
        meta.delete_version_after,
    );
    let mut changed = false;
    for n in list {
        changed |= meta.undelete(n, redelete);
    }
    if changed {
        store::save_meta(req.storage, key, &meta)?;
    }
    Ok(Response::empty())
}

pub(super) fn handle_destroy(
    kv: &KvState,
    req: &LogicalRequest<'_>,
    key: &str,
) -> Result<Response, LogicalError> {
    check(req, key)?;
    let list = versions(req, "no version number provided")?;
    let _guard = lock_key(kv, req, key);
    let Some(mut meta) = store::load_meta(req.storage, key)? else {
        return Ok(Response::empty());
    };
    let mut ops: Vec<Op> = Vec::new();
    for n in list {
        if meta.destroy(n) {
            ops.push((store::version_path(key, n), None));
        }
    }
    if ops.is_empty() {
        return Ok(Response::empty());
    }
    ops.push((store::meta_path(key), Some(store::encode(&meta)?)));
    req.storage.transaction(ops)?;
    Ok(Response::empty())
}
