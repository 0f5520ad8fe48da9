//! The audit subsystem's error.

use crate::barrier::BarrierError;

/// Why an audit operation failed. Messages never contain secrets: device
/// paths, option names and I/O error kinds only.
#[derive(Debug)]
#[non_exhaustive]
pub enum AuditError {
    /// No enabled device recorded the entry: the request must fail closed (500).
    NotRecorded(String),
    /// A bad device path, type or option (400).
    BadRequest(String),
    /// No device is enabled at this path (400, as Vault).
    UnknownDevice(String),
    /// Reading or writing the audit state behind the barrier failed.
    Storage(BarrierError),
    /// Stored audit state is unusable (500).
    Internal(String),
}

impl std::fmt::Display for AuditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditError::NotRecorded(why) => {
                write!(f, "no audit device recorded the request: {why}")
            }
            AuditError::BadRequest(m) => f.write_str(m),
            AuditError::UnknownDevice(p) => write!(f, "unknown audit backend \"{p}\""),
            AuditError::Storage(e) => write!(f, "audit storage: {e}"),
            AuditError::Internal(m) => write!(f, "audit: {m}"),
        }
    }
}

impl std::error::Error for AuditError {}

impl From<BarrierError> for AuditError {
    fn from(e: BarrierError) -> Self {
        AuditError::Storage(e)
    }
}
