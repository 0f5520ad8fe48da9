//! The core's error: one variant per domain, each carrying that domain's
//! own error enum. `http/error.rs` is the one place that maps it to HTTP.

use crate::audit::AuditError;
use crate::barrier::BarrierError;
use crate::logical::LogicalError;
use crate::policy::PolicyError;
use crate::seal::SealError;

#[derive(Debug)]
#[non_exhaustive]
pub enum CoreError {
    /// The vault is sealed (503).
    Sealed,
    /// The vault has not been initialized.
    NotInitialized,
    /// Missing, invalid, expired or revoked token, or ACL denial (403).
    PermissionDenied,
    /// No mount or handler for the path (404 with a message).
    UnsupportedPath(String),
    /// A request that is malformed as a whole (400).
    BadRequest(String),
    /// Too many requests (429).
    RateLimited,
    Barrier(BarrierError),
    Seal(SealError),
    Policy(PolicyError),
    Logical(LogicalError),
    /// Audit devices: enabling them, or no device recorded the request (500).
    Audit(AuditError),
    /// Anything else; the message is logged, never sent to the client.
    Internal(String),
}

impl std::fmt::Display for CoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreError::Sealed => f.write_str("Vault is sealed"),
            CoreError::NotInitialized => f.write_str("Vault is not initialized"),
            CoreError::PermissionDenied => f.write_str("permission denied"),
            CoreError::UnsupportedPath(p) => write!(f, "no handler for route \"{p}\""),
            CoreError::BadRequest(m) => f.write_str(m),
            CoreError::RateLimited => f.write_str("rate limit exceeded"),
            CoreError::Barrier(e) => e.fmt(f),
            CoreError::Seal(e) => e.fmt(f),
            CoreError::Policy(e) => e.fmt(f),
            CoreError::Logical(e) => e.fmt(f),
            CoreError::Audit(e) => e.fmt(f),
            CoreError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for CoreError {}

impl From<BarrierError> for CoreError {
    fn from(e: BarrierError) -> Self {
        match e {
            BarrierError::Sealed => CoreError::Sealed,
            other => CoreError::Barrier(other),
        }
    }
}

impl From<AuditError> for CoreError {
    fn from(e: AuditError) -> Self {
        match e {
            AuditError::Storage(BarrierError::Sealed) => CoreError::Sealed,
            other => CoreError::Audit(other),
        }
    }
}

impl From<SealError> for CoreError {
    fn from(e: SealError) -> Self {
        CoreError::Seal(e)
    }
}

impl From<PolicyError> for CoreError {
    fn from(e: PolicyError) -> Self {
        CoreError::Policy(e)
    }
}

impl From<LogicalError> for CoreError {
    fn from(e: LogicalError) -> Self {
        match e {
            LogicalError::Storage(BarrierError::Sealed) => CoreError::Sealed,
            LogicalError::PermissionDenied => CoreError::PermissionDenied,
            other => CoreError::Logical(other),
        }
    }
}
