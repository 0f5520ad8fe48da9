//! Command groups, one module each, and what they share: the [`Context`]
//! of one invocation (server address and output settings), path clean-up,
//! and small helpers for replies.

pub mod apikeys;
pub mod audit;
pub mod auth;
pub mod exec;
pub mod generate_root;
pub mod identity;
pub mod kv;
pub mod lease;
pub mod login;
pub mod operator;
pub mod policy;
pub mod rw;
pub mod secrets;
pub mod server;
pub mod snapshot;
pub mod status;
pub mod token;
pub mod verify_storage;

use serde_json::{Map, Value};

use crate::client::{Client, ClientConfig, TlsFlags};
use crate::error::CliError;
use crate::output::{self, Output};

/// What every client command needs: where the server is, how to print.
pub struct Context {
    pub address: String,
    /// `--wrap-ttl`: responses come back wrapped.
    pub wrap_ttl: Option<String>,
    /// `-ca-cert`, `-client-cert`, `-client-key`, `-tls-skip-verify`.
    pub tls: TlsFlags,
    pub output: Output,
}

impl Context {
    /// A client for the configured address, with the token from the
    /// environment or the token file.
    pub fn client(&self) -> Result<Client, CliError> {
        let mut config = ClientConfig::from_env(self.address.clone())?;
        config.apply_flags(&self.tls);
        config.wrap_ttl = self.wrap_ttl.clone();
        Ok(Client::new(&config)?)
    }

    /// Prints a `Success! …` line (table format only, so that JSON and
    /// `--field` output stays machine-readable).
    pub fn success(&self, message: &str) -> Result<(), CliError> {
        if self.output.is_table() && self.output.field.is_none() {
            output::emit(&format!("Success! {message}"))?;
        }
        Ok(())
    }
}

/// A path argument without surrounding blanks and slashes (`/secret/x/` →
/// `secret/x`); an empty result is a usage error.
pub fn clean_path(path: &str) -> Result<String, CliError> {
    let cleaned = path.trim().trim_matches('/');
    if cleaned.is_empty() {
        return Err(CliError::usage("the path must not be empty"));
    }
    Ok(cleaned.to_owned())
}

/// `path` with exactly one trailing slash.
pub fn with_trailing_slash(path: &str) -> String {
    format!("{}/", path.trim_end_matches('/'))
}

/// The body of a reply that must have one.
pub fn expect_body(body: Option<Value>, what: &str) -> Result<Value, CliError> {
    body.ok_or_else(|| CliError::failed(format!("the server sent an empty reply to {what}")))
}

/// The `data` (or raw body) object of a reply that must have one.
pub fn expect_data<'a>(body: &'a Value, what: &str) -> Result<&'a Map<String, Value>, CliError> {
    output::data_or_body(body)
        .ok_or_else(|| CliError::failed(format!("the reply to {what} has no data")))
}

/// Splits comma-separated flag values (`--policy a,b --policy c`) into
/// their non-empty parts.
pub fn split_commas(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `key=value` flag values (like `--metadata`) into a map of strings.
pub fn parse_pairs(values: &[String], flag: &str) -> Result<Map<String, Value>, CliError> {
    let mut map = Map::new();
    for value in values {
        let Some((key, text)) = value.split_once('=') else {
            return Err(CliError::usage(format!(
                "--{flag} values must be key=value (got {value:?})"
            )));
        };
        if key.is_empty() {
            return Err(CliError::usage(format!("--{flag} has an empty key")));
        }
        map.insert(key.to_owned(), Value::String(text.to_owned()));
    }
    Ok(map)
}

/// Inserts `value` under `key` when it is present.
pub fn insert_opt(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned() {
        assert_eq!(clean_path(" /secret/x/ ").ok(), Some("secret/x".to_owned()));
        assert!(clean_path("/").is_err());
        assert_eq!(with_trailing_slash("a//"), "a/");
    }

    #[test]
    fn commas_and_pairs() {
        let values = vec!["a,b".to_owned(), "c".to_owned(), ",".to_owned()];
        assert_eq!(split_commas(&values), vec!["a", "b", "c"]);
        let pairs = parse_pairs(&["k=v=w".to_owned()], "metadata").ok();
        assert_eq!(
            pairs.map(Value::Object),
            Some(serde_json::json!({"k": "v=w"}))
        );
        assert!(parse_pairs(&["novalue".to_owned()], "metadata").is_err());
    }
}
