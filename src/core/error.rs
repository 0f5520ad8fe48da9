//! The core's error: one variant per domain, each carrying that domain's
//! own error enum, and [`CoreError::client_view`]: the one mapping from an
//! error to what the client sees (HTTP status and `errors`), used by the
//! HTTP layer to answer and by the audit log to record the same status.

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
    /// The token named in a request (not the caller's) is unknown, expired
    /// or revoked: 403 `bad token`, as Vault's token lookup answers.
    BadToken,
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
            CoreError::BadToken => f.write_str("bad token"),
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

/// What the client sees of an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientView {
    /// The HTTP status code.
    pub status: u16,
    /// The `errors` list of the body.
    pub errors: Vec<String>,
    /// For a 500: what the server logs (never sent to the client).
    pub detail: Option<String>,
}

impl ClientView {
    fn new(status: u16, errors: Vec<String>) -> ClientView {
        ClientView {
            status,
            errors,
            detail: None,
        }
    }

    fn internal(detail: String) -> ClientView {
        ClientView {
            status: 500,
            errors: vec!["internal error".into()],
            detail: Some(detail),
        }
    }
}

fn barrier_view(e: &BarrierError) -> ClientView {
    match e {
        BarrierError::Sealed => ClientView::new(503, vec!["Vault is sealed".into()]),
        // HA: this node lost the active lock while serving; the write was
        // refused before it could commit, and another node serves it now.
        e if e.is_not_active() => ClientView::new(
            503,
            vec!["this node is no longer the active node; retry the request".into()],
        ),
        BarrierError::NotInitialized
        | BarrierError::AlreadyInitialized
        | BarrierError::InvalidPath(_) => ClientView::new(400, vec![e.to_string()]),
        // A decryption failure with the right keyring means tampering or a
        // wrong unseal key; say no more than that.
        BarrierError::Crypto => ClientView::internal("barrier decryption failed".into()),
        // A damaged store is named (the operator must act), still a 500.
        BarrierError::Damaged(_) => ClientView {
            status: 500,
            errors: vec![e.to_string()],
            detail: Some(e.to_string()),
        },
        other => ClientView::internal(other.to_string()),
    }
}

fn logical_view(e: &LogicalError) -> ClientView {
    match e {
        LogicalError::NotFound => ClientView::new(404, vec![]),
        LogicalError::BadRequest(m) | LogicalError::InvalidCredentials(m) => {
            ClientView::new(400, vec![m.clone()])
        }
        LogicalError::UnsupportedOperation => ClientView::new(405, vec![e.to_string()]),
        LogicalError::UnsupportedPath(_) => ClientView::new(404, vec![e.to_string()]),
        LogicalError::Missing(m) => ClientView::new(404, vec![m.clone()]),
        LogicalError::CasMismatch => ClientView::new(400, vec![e.to_string()]),
        LogicalError::PreconditionFailed(m) => ClientView::new(412, vec![m.clone()]),
        LogicalError::PermissionDenied => ClientView::new(403, vec!["permission denied".into()]),
        LogicalError::RateLimited => ClientView::new(429, vec![e.to_string()]),
        LogicalError::Storage(b) => barrier_view(b),
        LogicalError::Internal(m) => ClientView::internal(m.clone()),
    }
}

impl CoreError {
    /// The HTTP status and error messages the client gets for this error.
    /// The HTTP layer answers with it and the audit log records its status:
    /// there is no other table.
    pub fn client_view(&self) -> ClientView {
        match self {
            CoreError::Sealed => ClientView::new(503, vec!["Vault is sealed".into()]),
            CoreError::NotInitialized => {
                ClientView::new(400, vec!["Vault is not initialized".into()])
            }
            CoreError::PermissionDenied => ClientView::new(403, vec!["permission denied".into()]),
            CoreError::BadToken => ClientView::new(403, vec![self.to_string()]),
            CoreError::UnsupportedPath(_) => ClientView::new(404, vec![self.to_string()]),
            CoreError::BadRequest(m) => ClientView::new(400, vec![m.clone()]),
            CoreError::RateLimited => ClientView::new(429, vec![self.to_string()]),
            CoreError::Seal(e) => ClientView::new(400, vec![e.to_string()]),
            CoreError::Policy(e) => ClientView::new(400, vec![e.to_string()]),
            CoreError::Barrier(e) => barrier_view(e),
            CoreError::Logical(e) => logical_view(e),
            CoreError::Audit(e) => match e {
                AuditError::BadRequest(_) | AuditError::UnknownDevice(_) => {
                    ClientView::new(400, vec![e.to_string()])
                }
                AuditError::Storage(b) => barrier_view(b),
                // Fail closed: the client learns only that the request failed.
                other => ClientView::internal(other.to_string()),
            },
            CoreError::Internal(m) => ClientView::internal(m.clone()),
        }
    }

    /// The HTTP status code of [`CoreError::client_view`].
    pub fn status_code(&self) -> u16 {
        self.client_view().status
    }
}

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

#[cfg(test)]
mod ha_tests {
    use super::*;

    #[test]
    fn a_write_fenced_off_by_ha_storage_is_a_retryable_503() {
        let e = CoreError::Barrier(BarrierError::Physical(
            crate::physical::PhysicalError::NotActive,
        ));
        let v = e.client_view();
        assert_eq!(v.status, 503);
        assert!(v.errors[0].contains("no longer the active node"));
    }
}
