//! Where domain errors become HTTP status codes and `{"errors":[…]}`
//! bodies, through the core's one mapping (`CoreError::client_view`, which
//! the audit log uses too). Internal details are logged, never sent.

use axum::http::StatusCode;

use crate::core::CoreError;

/// The status and error messages for `err`: [`CoreError::client_view`]
/// (the one mapping, which the audit log records too); the detail of an
/// internal error is logged here, never sent.
pub fn status_of(err: &CoreError) -> (StatusCode, Vec<String>) {
    let view = err.client_view();
    if let Some(detail) = &view.detail {
        tracing::error!(error = %detail, "internal error");
    }
    let status = StatusCode::from_u16(view.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, view.errors)
}
