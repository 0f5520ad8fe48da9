//! Secrets engines behind the router.
//!
//! Owns: the [`LogicalBackend`] trait every engine implements, the engines
//! themselves (kv v1/v2, cubbyhole, apikeys, identity) and typed access to
//! request fields. A backend sees only its mount's [`StorageView`] and what
//! the request tells it of its mount ([`MountPoint`]); it must not reach
//! the barrier, other mounts, or HTTP, and names neither `core` nor
//! `router` (the `sys/` handlers are a part of the core).

pub mod apikeys;
pub mod cubbyhole;
pub mod fields;
pub mod identity;
pub mod kv;

use serde_json::{Map, Value};

use crate::barrier::{BarrierError, StorageView};
pub use crate::sdk::LoginAuth;
use crate::sdk::{MountPoint, Operation, Response};

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

    /// Whether `path` (relative to the mount) is served without a token
    /// (auth methods' login paths).
    fn unauthenticated(&self, _path: &str) -> bool {
        false
    }

    /// The engine itself, for the core to reach the typed methods of the
    /// instance that serves one mount (KV's in-place upgrade, identity's
    /// API address); `None` for engines that have none.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// Errors of secrets engines.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogicalError {
    /// 404 with `{"errors":[]}`.
    NotFound,
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
            LogicalError::NotFound => f.write_str("not found"),
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

impl From<BarrierError> for LogicalError {
    fn from(e: BarrierError) -> Self {
        match e {
            BarrierError::InvalidPath(m) => LogicalError::BadRequest(format!("invalid path: {m}")),
            other => LogicalError::Storage(other),
        }
    }
}
