//! Secrets engines behind the router.
//!
//! Owns: the [`LogicalBackend`] trait every engine implements, the engines
//! themselves (kv v1/v2, the system backend's handlers), dispatch from a
//! backend's declared routes ([`matched`]) and typed access to request
//! fields. A backend sees only its mount's [`StorageView`]; it must
//! not reach the barrier, other mounts, or HTTP.

pub mod apikeys;
pub mod cubbyhole;
pub mod fields;
pub mod identity;
pub mod kv;
pub mod system;

use serde_json::{Map, Value};

use crate::barrier::{BarrierError, StorageView};
use crate::router::MountEntry;
use crate::sdk::route::{self, FieldError, Matched, RouteError};
pub use crate::sdk::LoginAuth;
use crate::sdk::{Operation, Response, Route};

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
    pub mount: &'a MountEntry,
    pub caller: &'a Caller,
}

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
    fn routes(&self, mount: &MountEntry) -> &'static [Route];

    /// The engine itself, for the core to reach the typed methods of the
    /// instance that serves one mount (KV's in-place upgrade, identity's
    /// API address); `None` for engines that have none.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
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
    /// 404 with a full response body (KV v2 deleted/destroyed versions).
    NotFoundWith(Box<Response>),
    /// 400 naming the problem.
    BadRequest(String),
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
            LogicalError::NotFound | LogicalError::NotFoundWith(_) => f.write_str("not found"),
            LogicalError::BadRequest(m) => f.write_str(m),
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
