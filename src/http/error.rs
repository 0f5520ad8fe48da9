//! The one place where domain errors become HTTP status codes and
//! `{"errors":[…]}` bodies. Internal details are logged, never sent.

use axum::http::StatusCode;

use crate::audit::AuditError;
use crate::barrier::BarrierError;
use crate::core::CoreError;
use crate::logical::LogicalError;
use crate::policy::PolicyError;
use crate::seal::SealError;

/// The status and error messages for `err`.
pub fn status_of(err: &CoreError) -> (StatusCode, Vec<String>) {
    match err {
        CoreError::Sealed => (
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["Vault is sealed".into()],
        ),
        CoreError::NotInitialized => (
            StatusCode::BAD_REQUEST,
            vec!["Vault is not initialized".into()],
        ),
        CoreError::PermissionDenied => (StatusCode::FORBIDDEN, vec!["permission denied".into()]),
        CoreError::UnsupportedPath(_) => (StatusCode::NOT_FOUND, vec![err.to_string()]),
        CoreError::BadRequest(m) => (StatusCode::BAD_REQUEST, vec![m.clone()]),
        CoreError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, vec![err.to_string()]),
        CoreError::Seal(e) => seal_status(e),
        CoreError::Policy(e) => policy_status(e),
        CoreError::Barrier(e) => barrier_status(e),
        CoreError::Logical(e) => logical_status(e),
        CoreError::Audit(e) => audit_status(e),
        CoreError::Internal(m) => internal(m),
    }
}

fn audit_status(e: &AuditError) -> (StatusCode, Vec<String>) {
    match e {
        AuditError::BadRequest(_) | AuditError::UnknownDevice(_) => {
            (StatusCode::BAD_REQUEST, vec![e.to_string()])
        }
        AuditError::Storage(b) => barrier_status(b),
        // Fail closed: the client learns only that the request failed.
        other => internal(&other.to_string()),
    }
}

fn internal(detail: &str) -> (StatusCode, Vec<String>) {
    tracing::error!(error = %detail, "internal error");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        vec!["internal error".into()],
    )
}

fn seal_status(e: &SealError) -> (StatusCode, Vec<String>) {
    (StatusCode::BAD_REQUEST, vec![e.to_string()])
}

fn policy_status(e: &PolicyError) -> (StatusCode, Vec<String>) {
    (StatusCode::BAD_REQUEST, vec![e.to_string()])
}

fn barrier_status(e: &BarrierError) -> (StatusCode, Vec<String>) {
    match e {
        BarrierError::Sealed => (
            StatusCode::SERVICE_UNAVAILABLE,
            vec!["Vault is sealed".into()],
        ),
        BarrierError::NotInitialized => (StatusCode::BAD_REQUEST, vec![e.to_string()]),
        BarrierError::AlreadyInitialized => (StatusCode::BAD_REQUEST, vec![e.to_string()]),
        BarrierError::InvalidPath(_) => (StatusCode::BAD_REQUEST, vec![e.to_string()]),
        BarrierError::Crypto => {
            // A decryption failure with the right keyring means tampering or
            // a wrong unseal key; say no more than that.
            tracing::error!("barrier decryption failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                vec!["internal error".into()],
            )
        }
        BarrierError::Damaged(_) => {
            tracing::error!(error = %e, "storage refused");
            (StatusCode::INTERNAL_SERVER_ERROR, vec![e.to_string()])
        }
        other => internal(&other.to_string()),
    }
}

fn logical_status(e: &LogicalError) -> (StatusCode, Vec<String>) {
    match e {
        LogicalError::NotFound | LogicalError::NotFoundWith(_) => (StatusCode::NOT_FOUND, vec![]),
        LogicalError::BadRequest(m) => (StatusCode::BAD_REQUEST, vec![m.clone()]),
        LogicalError::UnsupportedOperation => (StatusCode::METHOD_NOT_ALLOWED, vec![e.to_string()]),
        LogicalError::UnsupportedPath(_) => (StatusCode::NOT_FOUND, vec![e.to_string()]),
        LogicalError::CasMismatch => (StatusCode::BAD_REQUEST, vec![e.to_string()]),
        LogicalError::PreconditionFailed(m) => (StatusCode::PRECONDITION_FAILED, vec![m.clone()]),
        LogicalError::PermissionDenied => (StatusCode::FORBIDDEN, vec!["permission denied".into()]),
        LogicalError::RateLimited => (StatusCode::TOO_MANY_REQUESTS, vec![e.to_string()]),
        LogicalError::Storage(b) => barrier_status(b),
        LogicalError::Internal(m) => internal(m),
    }
}
