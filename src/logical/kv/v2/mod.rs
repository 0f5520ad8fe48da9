//! KV version 2: versioned secrets, Vault's `kv-v2` HTTP API.
//!
//! Owns: the v2 layout of a KV mount's storage view, the endpoints
//! `config`, `data/`, `metadata/`, `delete/`, `undelete/`, `destroy/`,
//! `subkeys/`, and the in-place upgrade of a v1 mount. Must not touch
//! anything outside the mount's [`StorageView`].
//!
//! # Storage layout (inside the mount's view)
//!
//! | path                          | value                                          |
//! |-------------------------------|------------------------------------------------|
//! | `v2/config`                   | mount settings ([`config::Config`])           |
//! | `v2/meta/<key>`               | key metadata, every version's state ([`versions::KeyMeta`]) |
//! | `v2/versions/<h>/<n>`         | the data of version `n` of `<key>`; `h` = hex SHA-256 of `<key>` |
//! | `v2/upgraded`                 | marker: this view holds the v2 layout          |
//!
//! Hashing the key in version paths keeps the versions of `a` apart from
//! those of `a/1` (a prefix scan of `v2/versions/<h>/` finds exactly one
//! key's versions). Listing `metadata/` lists `v2/meta/<prefix>`.
//!
//! Every change to one key (a new version, pruning, delete, destroy) is a
//! single atomic storage transaction; changes to one key are serialized by a
//! striped lock keyed by (view id, key) so check-and-set is exact under
//! concurrency. A v1 mount's entries live at the user's paths in the same
//! view; [`upgrade::upgrade_v1_to_v2`] converts them all in one transaction
//! (see that module for why).

mod config;
mod data;
mod delete;
mod metadata;
mod store;
mod subkeys;
#[cfg(test)]
mod tests;
pub(crate) mod upgrade;
mod versions;

use std::hash::{Hash, Hasher};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use serde_json::{Map, Value};

use crate::logical::{matched, LogicalError, LogicalRequest};
use crate::sdk::route::{self, Field, FieldDefault, FieldType, ALL_OPERATIONS};
use crate::sdk::{Operation, Response, Route};

pub(crate) use upgrade::{upgrade_v1_to_v2, v1_guard};

/// Number of lock stripes (as Vault's `locksutil`).
const LOCK_STRIPES: usize = 256;

/// The state of one KV mount, owned by its [`super::KvBackend`] instance
/// (built when the mount is loaded or created, dropped with it on unmount
/// or seal): the per-key lock stripes and the upgrade guard and caches.
pub(crate) struct KvState {
    locks: Box<[RwLock<()>]>,
    pub(super) upgrade: upgrade::UpgradeState,
}

impl Default for KvState {
    fn default() -> Self {
        KvState {
            locks: (0..LOCK_STRIPES).map(|_| RwLock::new(())).collect(),
            upgrade: upgrade::UpgradeState::default(),
        }
    }
}

impl KvState {
    fn stripe(&self, view: &str, key: &str) -> &RwLock<()> {
        let mut h = std::hash::DefaultHasher::new();
        view.hash(&mut h);
        key.hash(&mut h);
        &self.locks[(h.finish() as usize) % self.locks.len()]
    }
}

/// Exclusive access to one key of one mount (all writers).
fn lock_key<'k>(kv: &'k KvState, req: &LogicalRequest<'_>, key: &str) -> RwLockWriteGuard<'k, ()> {
    kv.stripe(req.storage.id(), key)
        .write()
        .unwrap_or_else(|p| p.into_inner())
}

/// Shared access to one key of one mount (readers).
fn read_lock_key<'k>(
    kv: &'k KvState,
    req: &LogicalRequest<'_>,
    key: &str,
) -> RwLockReadGuard<'k, ()> {
    kv.stripe(req.storage.id(), key)
        .read()
        .unwrap_or_else(|p| p.into_inner())
}

const CONFIG: &str = "config";
const METADATA_ROOT: &str = "metadata";
const METADATA: &str = "metadata/:path*";
const DATA: &str = "data/:path*";
const DELETE: &str = "delete/:path*";
const UNDELETE: &str = "undelete/:path*";
const DESTROY: &str = "destroy/:path*";
const SUBKEYS: &str = "subkeys/:path*";

const WRITE: &[Operation] = &[Operation::Create, Operation::Update];

/// The body of `delete/`, `undelete/` and `destroy/`.
const VERSIONS: &[Field] = &[Field::new("versions", FieldType::IntList)];

/// The routes of a v2 mount. `path` is the secret's key (`metadata/` may
/// also name a folder, for LIST); the handlers check the key itself.
pub(crate) const ROUTES: &[Route] = &[
    Route::new(
        CONFIG,
        &[Operation::Read, Operation::Create, Operation::Update],
    ),
    Route::new(METADATA_ROOT, ALL_OPERATIONS),
    Route::new(METADATA, ALL_OPERATIONS),
    Route::new(
        DATA,
        &[
            Operation::Read,
            Operation::Create,
            Operation::Update,
            Operation::Patch,
            Operation::Delete,
        ],
    ),
    Route::new(DELETE, WRITE).fields(VERSIONS),
    Route::new(UNDELETE, WRITE).fields(VERSIONS),
    Route::new(DESTROY, WRITE).fields(VERSIONS),
    SUBKEYS_ROUTE,
];

/// `subkeys/:path?depth=D&version=N`; its schema types the query.
pub(super) const SUBKEYS_ROUTE: Route = Route::new(SUBKEYS, &[Operation::Read]).fields(&[
    Field::new("depth", FieldType::Int).default(FieldDefault::Int(0)),
    Field::new("version", FieldType::Int),
]);

/// Serves one request on a v2 mount.
pub(crate) fn handle(kv: &KvState, req: &LogicalRequest<'_>) -> Result<Response, LogicalError> {
    let m = matched(ROUTES, req)?;
    let key = m.get("path");
    match m.pattern() {
        CONFIG => config::handle(kv, req),
        METADATA_ROOT | METADATA => metadata::handle(kv, req, key),
        DATA => data::handle(kv, req, key),
        DELETE => delete::handle_delete(kv, req, key),
        UNDELETE => delete::handle_undelete(kv, req, key),
        DESTROY => delete::handle_destroy(kv, req, key),
        SUBKEYS => subkeys::handle(kv, req, key),
        _ => Err(LogicalError::UnsupportedPath(req.path.to_string())),
    }
}

/// The answer to a path of a v2 mount that no route serves (a v1-style
/// path, an unknown prefix): Vault's 404 with no data and a warning that
/// names the versioned API and the CLI command to use instead.
pub(crate) fn invalid_path(op: Operation) -> Response {
    let command = match op {
        Operation::Create | Operation::Update => "put",
        Operation::Patch => "patch",
        Operation::Read => "get",
        Operation::List => "list",
        Operation::Delete => "delete",
    };
    Response {
        status: Some(404),
        warnings: vec![format!(
            "Invalid path for a versioned K/V secrets engine. See the API docs for the \
             appropriate API endpoints to use. If using the vault-rs CLI, use \
             'vault-rs kv {command}' for this operation."
        )],
        ..Response::default()
    }
}

/// Create vs update: `data/` and `metadata/` exist once the key has
/// metadata (as Vault's existence checks); other paths are updates.
pub(crate) fn exists(req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
    let key = match route::lookup(ROUTES, req.path) {
        Some(m) if matches!(m.pattern(), DATA | METADATA) => m.get("path"),
        _ => return Ok(None),
    };
    if !valid_key(key) {
        return Ok(Some(false));
    }
    Ok(Some(store::load_meta(req.storage, key)?.is_some()))
}

/// A secret's key: non-empty, no trailing '/'.
fn valid_key(key: &str) -> bool {
    !key.is_empty() && !key.ends_with('/')
}

/// 400 unless `key` names a secret.
fn require_key(key: &str) -> Result<(), LogicalError> {
    if key.is_empty() {
        return Err(LogicalError::BadRequest("missing path".into()));
    }
    if key.ends_with('/') {
        return Err(LogicalError::BadRequest(
            "path must not end with '/'".into(),
        ));
    }
    Ok(())
}

/// Whether the operation is a write of the POST/PUT kind.
fn is_write(op: Operation) -> bool {
    matches!(op, Operation::Create | Operation::Update)
}

/// The optional `version` parameter (0 or absent: latest).
/// The requested (`?version=N`, else current) version of `key`: its data
/// and its metadata JSON. A deleted or destroyed version is Vault's 404
/// whose body is `{<field>: null, metadata}` ([`Live::Gone`]).
fn live_version(
    kv: &KvState,
    req: &LogicalRequest<'_>,
    key: &str,
    field: &str,
) -> Result<Live, LogicalError> {
    let wanted = version_param(req.data)?;
    let _guard = read_lock_key(kv, req, key);
    let meta = store::load_meta(req.storage, key)?.ok_or(LogicalError::NotFound)?;
    let n = if wanted > 0 {
        wanted
    } else {
        meta.current_version
    };
    let v = meta.versions.get(&n).ok_or(LogicalError::NotFound)?;
    let metadata = meta.version_json(n, v);
    if !v.is_live(versions::now(req))? {
        let mut body = Map::new();
        body.insert(field.to_string(), Value::Null);
        body.insert("metadata".into(), metadata);
        return Ok(Live::Gone(Box::new(not_found_with(
            req,
            Value::Object(body),
        ))));
    }
    let data = store::load_version(req.storage, key, n)?;
    Ok(Live::Found(data, metadata))
}

fn version_param(data: &Map<String, Value>) -> Result<u64, LogicalError> {
    Ok(crate::logical::fields::opt_u64(data, "version")?.unwrap_or(0))
}

/// A 404 that still carries a body (deleted or destroyed versions).
fn not_found_with(req: &LogicalRequest<'_>, data: Value) -> Response {
    let mut resp = Response::not_found_with_data(data);
    resp.mount_type = Some(req.mount.kind.to_string());
    resp
}

/// A version as [`live_version`] finds it.
enum Live {
    /// Its data and its metadata JSON.
    Found(Map<String, Value>, Value),
    /// Deleted or destroyed: Vault's 404 with a body, to answer with.
    Gone(Box<Response>),
}
