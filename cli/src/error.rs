//! The CLI's error type and the exit codes it maps to.
//!
//! Every command returns `Result<_, CliError>`; `main` prints the error once,
//! as `Error: <message>` on stderr, and exits with [`CliError::exit_code`].
//! No variant ever carries a token, share or password: messages are built
//! from paths, statuses and the server's error strings only.

use std::fmt;

use crate::client::ClientError;

/// Exit code of a successful command.
pub const EXIT_OK: u8 = 0;
/// Exit code of a local failure: a usage error (bad flag, wrong number of
/// arguments, bad value) or anything else that failed on this side
/// (unreadable file, …), as `vault`.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage error (the same as any local failure, as `vault`).
pub const EXIT_USAGE: u8 = 1;
/// Exit code of a request the server refused or could not serve, as `vault`.
pub const EXIT_REMOTE: u8 = 2;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong (exit [`EXIT_USAGE`]).
    Usage(String),
    /// The server answered with an error, or could not be reached (exit [`EXIT_REMOTE`]).
    Request(ClientError),
    /// The server has nothing at the path ("No value found", exit
    /// [`EXIT_REMOTE`], as `vault`).
    NotFound(String),
    /// Anything else that went wrong locally or in the reply (exit [`EXIT_FAILURE`]).
    Failed(String),
}

impl CliError {
    /// A usage error with the given message.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    /// Nothing at the path the server was asked about.
    pub fn not_found(message: impl Into<String>) -> Self {
        CliError::NotFound(message.into())
    }

    /// A local or reply failure with the given message.
    pub fn failed(message: impl Into<String>) -> Self {
        CliError::Failed(message.into())
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Request(_) | CliError::NotFound(_) => EXIT_REMOTE,
            CliError::Failed(_) => EXIT_FAILURE,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(message) | CliError::Failed(message) | CliError::NotFound(message) => {
                f.write_str(message)
            }
            CliError::Request(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for CliError {}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        CliError::Request(error)
    }
}

/// Result of a command: the exit code on success (0, or 2 for `status` of a
/// sealed vault), a [`CliError`] otherwise.
pub type CmdResult = Result<u8, CliError>;
