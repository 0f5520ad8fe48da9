//! Errors of the physical layer.

/// A storage failure. The message names the operation, never a value.
#[derive(Debug)]
#[non_exhaustive]
pub enum PhysicalError {
    /// The storage engine reported an I/O or corruption error.
    Io(String),
    /// The storage could not be opened (path, permissions, lock).
    Open(String),
}

impl std::fmt::Display for PhysicalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhysicalError::Io(m) => write!(f, "storage error: {m}"),
            PhysicalError::Open(m) => write!(f, "cannot open storage: {m}"),
        }
    }
}

impl std::error::Error for PhysicalError {}
