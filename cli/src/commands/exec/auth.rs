//! How `exec` gets its token: AppRole login (role_id plus a secret_id read
//! from a file, optionally response-wrapped), a token file, or the ambient
//! token (`VAULT_TOKEN` / `~/.vault-token`); and how long it lives.
//!
//! Owns: reading credential files and the login requests. Credentials are
//! held in [`SecretString`]s and never appear in messages.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::client::{parse_secret, token_from_env, Client, Method, SecretString};
use crate::commands::{clean_path, expect_body, Context};
use crate::error::CliError;
use crate::output;

/// Login flags of `exec`.
#[derive(Args)]
pub struct LoginOptions {
    /// AppRole role_id to log in with (with --secret-id-file).
    #[arg(long, value_name = "ID", value_parser = parse_secret)]
    role_id: Option<SecretString>,

    /// Read the AppRole role_id from this file instead.
    #[arg(long, value_name = "PATH", conflicts_with = "role_id")]
    role_id_file: Option<PathBuf>,

    /// File holding the AppRole secret_id.
    #[arg(long, value_name = "PATH")]
    secret_id_file: Option<PathBuf>,

    /// The --secret-id-file holds a response-wrapping token: unwrap it
    /// (once; a second unwrap fails) to get the secret_id.
    #[arg(long, requires = "secret_id_file")]
    secret_id_wrapped: bool,

    /// Mount path of the AppRole auth method.
    #[arg(long, value_name = "PATH", default_value = "approle")]
    approle_mount: String,

    /// File holding a token to use instead of logging in.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["role_id", "role_id_file", "secret_id_file"])]
    token_file: Option<PathBuf>,
}

/// A logged-in client and what is known about its token's lifetime.
pub struct Session {
    pub client: Client,
    /// Seconds left when last heard of (0: does not expire).
    pub ttl: u64,
    pub renewable: bool,
}

/// A file's content, trimmed, as a secret; empty is an error.
fn read_secret_file(path: &Path, what: &str) -> Result<SecretString, CliError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|error| {
        CliError::failed(format!(
            "cannot read the {what} file {}: {error}",
            path.display()
        ))
    })?);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(CliError::failed(format!(
            "the {what} file {} is empty",
            path.display()
        )));
    }
    Ok(SecretString::new(trimmed.to_owned()))
}

/// Logs in as the options say.
pub fn login(ctx: &Context, opts: &LoginOptions) -> Result<Session, CliError> {
    let client = ctx.client()?;
    let role_id = match (&opts.role_id, &opts.role_id_file) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(path)) => Some(read_secret_file(path, "role_id")?),
        (None, None) => None,
    };
    if let Some(role_id) = role_id {
        return approle_login(&client, opts, &role_id);
    }
    if opts.secret_id_file.is_some() {
        return Err(CliError::usage(
            "--secret-id-file needs --role-id or --role-id-file",
        ));
    }
    let token = match &opts.token_file {
        Some(path) => read_secret_file(path, "token")?,
        None => token_from_env()?.ok_or_else(|| {
            CliError::usage(
                "no credentials: give --role-id and --secret-id-file, or --token-file, or set VAULT_TOKEN",
            )
        })?,
    };
    token_session(client.with_token(Some(token)))
}

/// The secret_id: the file's content, or what its wrapping token unwraps to.
fn secret_id(client: &Client, opts: &LoginOptions) -> Result<Option<SecretString>, CliError> {
    let Some(path) = &opts.secret_id_file else {
        return Ok(None);
    };
    let content = read_secret_file(path, "secret_id")?;
    if !opts.secret_id_wrapped {
        return Ok(Some(content));
    }
    let unwrapper = client.with_token(Some(content));
    let body = expect_body(
        unwrapper.request(Method::Post, "sys/wrapping/unwrap", None)?,
        "POST sys/wrapping/unwrap",
    )?;
    output::data_of(&body)
        .and_then(|data| data.get("secret_id"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(|s| Some(SecretString::new(s.to_owned())))
        .ok_or_else(|| CliError::failed("the wrapped response holds no secret_id"))
}

fn approle_login(
    client: &Client,
    opts: &LoginOptions,
    role_id: &SecretString,
) -> Result<Session, CliError> {
    let mount = clean_path(&opts.approle_mount)?;
    let mut body = json!({ "role_id": role_id.expose() });
    if let Some(secret) = secret_id(client, opts)? {
        body["secret_id"] = Value::String(secret.expose().to_owned());
    }
    let path = format!("auth/{mount}/login");
    let reply = client
        .with_token(None)
        .request(Method::Post, &path, Some(&body));
    if let Some(Value::String(s)) = body.get_mut("secret_id") {
        zeroize::Zeroize::zeroize(s);
    }
    let reply = expect_body(reply?, &format!("POST {path}"))?;
    let auth = reply
        .get("auth")
        .ok_or_else(|| CliError::failed("the login reply has no auth block"))?;
    let token = auth
        .get("client_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| CliError::failed("the login reply has no token"))?;
    Ok(Session {
        client: client.with_token(Some(SecretString::new(token.to_owned()))),
        ttl: auth
            .get("lease_duration")
            .and_then(Value::as_u64)
            .unwrap_or(0),
        renewable: auth
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A session for an existing token, checked with lookup-self.
fn token_session(client: Client) -> Result<Session, CliError> {
    let body = expect_body(
        client.request(Method::Get, "auth/token/lookup-self", None)?,
        "GET auth/token/lookup-self",
    )?;
    let data = output::data_of(&body);
    let field = |k: &str| data.and_then(|d| d.get(k));
    Ok(Session {
        ttl: field("ttl").and_then(Value::as_u64).unwrap_or(0),
        renewable: field("renewable").and_then(Value::as_bool).unwrap_or(false),
        client,
    })
}

/// Renews the session's token (`auth/token/renew-self`); returns the new
/// TTL in seconds.
pub fn renew(session: &Session) -> Result<u64, CliError> {
    let body = expect_body(
        session
            .client
            .request(Method::Post, "auth/token/renew-self", Some(&json!({})))?,
        "POST auth/token/renew-self",
    )?;
    Ok(body
        .get("auth")
        .and_then(|a| a.get("lease_duration"))
        .and_then(Value::as_u64)
        .unwrap_or(0))
}
