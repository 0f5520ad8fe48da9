//! The error type of the policy module.

use std::fmt;

/// Why a policy (or a policy name) was rejected.
///
/// Every variant's `Display` output is suitable for an HTTP 400 body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The text is not syntactically valid HCL (or JSON). `line` and `column`
    /// are 1-based and point at the offending input.
    Parse {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column (in characters) of the error.
        column: usize,
        /// What the parser expected or found.
        message: String,
    },
    /// The text parsed but is not a valid policy: unknown key, unknown
    /// capability, misplaced wildcard, wrong value type, … The message names
    /// the offending path block where there is one.
    Invalid(String),
    /// A policy name failed [`normalize_name`](super::normalize_name).
    InvalidName(String),
}

impl PolicyError {
    /// Shorthand for an [`PolicyError::Invalid`] error about one path block.
    pub(crate) fn invalid_path(path: &str, what: impl fmt::Display) -> PolicyError {
        PolicyError::Invalid(format!("path {path:?}: {what}"))
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Parse {
                line,
                column,
                message,
            } => write!(
                f,
                "failed to parse policy: line {line}, column {column}: {message}"
            ),
            PolicyError::Invalid(message) => write!(f, "failed to parse policy: {message}"),
            PolicyError::InvalidName(message) => write!(f, "invalid policy name: {message}"),
        }
    }
}

impl std::error::Error for PolicyError {}
