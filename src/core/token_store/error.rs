//! Errors of the token store. None of them contains a token.

use crate::barrier::BarrierError;

#[derive(Debug)]
#[non_exhaustive]
pub enum TokenError {
    /// Unknown, expired or revoked token (403 "permission denied").
    Invalid,
    /// A request field is wrong (400).
    BadRequest(String),
    /// The caller may not do this (403).
    PermissionDenied(String),
    Storage(BarrierError),
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::Invalid => f.write_str("permission denied"),
            TokenError::BadRequest(m) => f.write_str(m),
            TokenError::PermissionDenied(m) => write!(f, "permission denied: {m}"),
            TokenError::Storage(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for TokenError {}

impl From<BarrierError> for TokenError {
    fn from(e: BarrierError) -> Self {
        TokenError::Storage(e)
    }
}
