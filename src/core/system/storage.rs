//! `sys/storage/snapshot` (GET: take a snapshot; POST/PUT: restore one)
//! and `sys/storage/snapshot-force` (restore a snapshot of another vault).
//! Both sudo.
//!
//! Owns: the HTTP shape of snapshots. The format, its checks and the
//! atomic replacement are the barrier's (`barrier::snapshot`). A restore
//! leaves the vault sealed: the restored seal record and keyring take
//! effect at the next unseal, with the shares of the snapshot's vault.
//! Must not touch: physical storage.

use crate::barrier::snapshot::{Snapshot, SnapshotError};
use crate::core::{Core, CoreError};
use crate::sdk::{Operation, Request, Response};

/// Content type of a snapshot body.
const CONTENT_TYPE: &str = "application/octet-stream";

/// `force`: `sys/storage/snapshot-force` rather than `sys/storage/snapshot`.
pub(super) fn handle(core: &Core, req: &Request, force: bool) -> Result<Response, CoreError> {
    match (req.operation, force) {
        (Operation::Read, false) => save(core),
        (Operation::Create | Operation::Update, _) => restore(core, req, force),
        _ => Err(crate::logical::LogicalError::UnsupportedOperation.into()),
    }
}

fn refused(e: SnapshotError) -> CoreError {
    match e {
        SnapshotError::Barrier(b) => CoreError::Barrier(b),
        SnapshotError::Io(m) => CoreError::Internal(format!("snapshot: {m}")),
        other => CoreError::BadRequest(other.to_string()),
    }
}

fn save(core: &Core) -> Result<Response, CoreError> {
    let mut out = Vec::new();
    core.barrier().snapshot(&mut out).map_err(refused)?;
    Ok(Response {
        binary: Some((CONTENT_TYPE.into(), out)),
        status: Some(200),
        ..Response::default()
    })
}

fn restore(core: &Core, req: &Request, force: bool) -> Result<Response, CoreError> {
    let body = req
        .body_bytes
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| CoreError::BadRequest("the request body must be a snapshot".into()))?;
    let snapshot = Snapshot::read(&mut &body[..]).map_err(refused)?;
    let entries = snapshot.len();
    core.barrier()
        .restore_snapshot(snapshot, force)
        .map_err(refused)?;
    core.seal();
    tracing::warn!("storage restored from a snapshot ({entries} entries); the vault is sealed");
    Ok(Response::empty())
}
