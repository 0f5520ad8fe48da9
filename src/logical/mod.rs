//! Secrets engines behind the router.
//!
//! Owns: the [`LogicalBackend`] trait every engine implements (requests,
//! and the `setup`/`cleanup`/`periodic` hooks the core's scheduler drives),
//! the [`MountContext`] a backend instance is built from, the engines
//! themselves (kv v1/v2, cubbyhole, apikeys, identity), dispatch from a
//! backend's declared routes ([`matched`]) and typed access to request
//! fields. A backend sees only its mount's [`StorageView`] and what the
//! request tells it of its mount ([`MountPoint`]), and reads time only
//! from the vault's clock (`LogicalRequest::clock`, the context's clock, or
//! `periodic`'s `now`); it must not reach the barrier, other mounts, or
//! HTTP, and names neither `core` nor `router` (the `sys/` handlers are a
//! part of the core).

pub mod apikeys;
pub mod cubbyhole;
pub mod fields;
pub mod identity;
pub mod kv;

use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::barrier::{BarrierError, StorageView};
use crate::sdk::route::{self, FieldError, Matched, RouteError};
pub use crate::sdk::LoginAuth;
use crate::sdk::{Clock, MountPoint, Operation, Response, Route};

/// Who is calling, as far as a backend needs to know.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// The token's accessor ("" for unauthenticated paths).
    pub accessor: String,
    /// A stable, secret-free id of the token (its storage HMAC), for
    /// per-token storage such as cubbyhole.
    pub token_key: String,
    pub policies: Vec<String>,
    pub display_name: String,
    /// The token's metadata as its auth method set it at login; empty for
    /// tokens made through the token store, whose metadata the creating
    /// token holder chose (engines must not turn that into trusted claims).
    pub metadata: Map<String, Value>,
    pub remote_addr: Option<std::net::IpAddr>,
}

/// A request as a backend sees it: the path is relative to the mount.
pub struct LogicalRequest<'a> {
    pub operation: Operation,
    pub path: &'a str,
    pub data: &'a Map<String, Value>,
    pub storage: &'a StorageView,
    /// The mount the request was routed to.
    pub mount: MountPoint<'a>,
    pub caller: &'a Caller,
    /// The vault's clock: every time rule of an engine reads it.
    pub clock: &'a dyn Clock,
}

/// What a backend instance is built with when its mount is loaded (unseal)
/// or created (`sys/mounts`, `sys/auth`): the instance keeps what it needs
/// and owns its state from then on; it is dropped with the mount (on
/// unmount, or with the unsealed state on seal).
#[derive(Clone)]
pub struct MountContext {
    /// The mount's path (`secret/`) and type (`kv`).
    pub path: String,
    pub kind: String,
    /// The mount's own storage view (the only storage it may touch).
    pub storage: StorageView,
    /// The address clients reach the vault at (`api_addr`), if configured.
    pub api_addr: Option<String>,
    /// The vault's clock.
    pub clock: Arc<dyn Clock>,
    /// Where the backend records what the vault's metrics count.
    pub telemetry: Arc<dyn crate::sdk::Telemetry>,
}

/// Something a backend did on its own (in [`LogicalBackend::periodic`])
/// that the core records in the audit log as an update of `path`
/// (relative to the mount) with `data`, as if it had been requested.
#[derive(Debug)]
pub struct Performed {
    pub path: String,
    pub data: Map<String, Value>,
}

/// Makes the backend of a mount, from its context (`None`: unknown type).
pub type BackendFactory = fn(&MountContext) -> Option<Arc<dyn LogicalBackend>>;

/// A secrets engine.
pub trait LogicalBackend: Send + Sync {
    /// Serves one request.
    fn handle(&self, req: &LogicalRequest<'_>) -> Result<Response, LogicalError>;

    /// For create/update: whether the target exists (`None`: the engine
    /// does not distinguish, and the write is an update).
    fn exists(&self, _req: &LogicalRequest<'_>) -> Result<Option<bool>, LogicalError> {
        Ok(None)
    }

    /// The routes this backend serves on `mount` (paths relative to the
    /// mount): the pipeline reads them for the unauthenticated, sudo and
    /// unsupported path/operation decisions, and [`matched`] dispatches
    /// from them.
    fn routes(&self, mount: MountPoint<'_>) -> &'static [Route];

    /// The answer to a request whose path no route of [`Self::routes`]
    /// matches, once the caller was allowed to ask (Vault's catch-all
    /// paths: KV v2 answers a path without `data/` with a 404 whose
    /// warning names the versioned API). `None`: the core's 404
    /// unsupported path.
    fn unrouted(&self, _req: &LogicalRequest<'_>) -> Option<Response> {
        None
    }

    /// The engine itself, for the core to reach the typed methods of the
    /// instance that serves one mount (KV's in-place upgrade, identity's
    /// API address); `None` for engines that have none.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }

    /// For a login (an unauthenticated route of an auth method): the name
    /// the login is for (Vault's alias lookahead: a user name, a role id),
    /// read from the request without checking anything, so the core can
    /// refuse a locked-out alias before the credentials are looked at.
    /// `None`: the backend has no such name, and no lockout applies.
    fn login_alias(&self, _req: &LogicalRequest<'_>) -> Option<String> {
        None
    }

    /// Called by the core once the mount is live (after unseal, or once a
    /// new mount is published), before the scheduler first runs
    /// [`LogicalBackend::periodic`] on it. Errors are logged: the mount
    /// keeps serving.
    fn setup(&self) -> Result<(), LogicalError> {
        Ok(())
    }

    /// Called by the core when the mount stops serving: on seal, and on
    /// unmount before its storage is cleared. Drops what the instance
    /// keeps in memory (derived secrets, caches).
    fn cleanup(&self) {}

    /// The scheduler's periodic call (every tick, and on demand in dev
    /// mode with a manual clock): scheduled work due at `now` (rotation,
    /// retirement). Returns what it did, for the audit log. Never called
    /// while the vault is sealed; calls for one mount never overlap.
    fn periodic(&self, _now: OffsetDateTime) -> Vec<Performed> {
        Vec::new()
    }
}

/// The route of `table` that serves `req`, with its captures, after
/// checking the request's fields against the route's schema: 404 for a
/// path no route matches, 405 for an operation the route does not serve,
/// 400 naming a field of the wrong type.
pub fn matched<'p>(
    table: &'static [Route],
    req: &LogicalRequest<'p>,
) -> Result<Matched<'static, 'p>, LogicalError> {
    let m = route::find(table, req.path, req.operation)
        .map_err(|e| LogicalError::from_route(e, req.path))?;
    m.route.validate(req.operation, req.data)?;
    Ok(m)
}

/// Errors of secrets engines.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogicalError {
    /// 404 with `{"errors":[]}`.
    NotFound,
    /// 404 naming what is missing (Vault's error response with
    /// `ErrUnsupportedPath`, e.g. AppRole's secret-id of a missing role).
    Missing(String),
    /// 400 naming the problem.
    BadRequest(String),
    /// 400: a login's credentials are wrong (counted for lockout).
    InvalidCredentials(String),
    /// 405: the path exists but not for this operation.
    UnsupportedOperation,
    /// 404: no such path in this engine.
    UnsupportedPath(String),
    /// 400: check-and-set mismatch (Vault uses 400 for KV v2).
    CasMismatch,
    /// 412: a precondition failed.
    PreconditionFailed(String),
    PermissionDenied,
    /// 429: the caller is over a rate limit.
    RateLimited,
    Storage(BarrierError),
    /// Logged, never sent.
    Internal(String),
}

impl std::fmt::Display for LogicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogicalError::NotFound => f.write_str("not found"),
            LogicalError::BadRequest(m) => f.write_str(m),
            LogicalError::Missing(m) => f.write_str(m),
            LogicalError::InvalidCredentials(m) => f.write_str(m),
            LogicalError::UnsupportedOperation => f.write_str("unsupported operation"),
            LogicalError::UnsupportedPath(p) => write!(f, "unsupported path \"{p}\""),
            LogicalError::CasMismatch => {
                f.write_str("check-and-set parameter did not match the current version")
            }
            LogicalError::PreconditionFailed(m) => f.write_str(m),
            LogicalError::PermissionDenied => f.write_str("permission denied"),
            LogicalError::RateLimited => f.write_str("rate limit exceeded"),
            LogicalError::Storage(e) => e.fmt(f),
            LogicalError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for LogicalError {}

impl LogicalError {
    /// The error of a path without a route for an operation.
    pub fn from_route(e: RouteError, path: &str) -> LogicalError {
        match e {
            RouteError::UnsupportedPath => LogicalError::UnsupportedPath(path.to_string()),
            RouteError::UnsupportedOperation => LogicalError::UnsupportedOperation,
        }
    }
}

impl From<FieldError> for LogicalError {
    fn from(e: FieldError) -> Self {
        LogicalError::BadRequest(e.to_string())
    }
}

impl From<BarrierError> for LogicalError {
    fn from(e: BarrierError) -> Self {
        match e {
            BarrierError::InvalidPath(m) => LogicalError::BadRequest(format!("invalid path: {m}")),
            other => LogicalError::Storage(other),
        }
    }
}
