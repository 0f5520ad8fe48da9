//! `vault-rs login`: authenticate with a token, userpass or AppRole, and
//! store the resulting token in `~/.vault-token` (mode 0600) unless
//! `--no-store`. Tokens and passwords are prompted for without echo when
//! not given and never appear in messages.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use clap::Args;
use serde_json::{json, Map, Value};

use crate::client::{parse_secret, token_file_path, Client, Method, SecretString};
use crate::commands::{clean_path, expect_body, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::input::{read_secret, secret_or_stdin, DataBuilder};
use crate::output;

/// `login [TOKEN | k=v…] [--method M] [--path P] [--no-store]`.
#[derive(Args)]
pub struct LoginArgs {
    /// Auth method: token (default), userpass, approle, or any other
    /// method mounted under auth/ that takes a POST to .../login.
    #[arg(long, default_value = "token")]
    method: String,

    /// Mount path of the auth method (default: the method name).
    #[arg(long)]
    path: Option<String>,

    /// Do not write the token to ~/.vault-token.
    #[arg(long)]
    no_store: bool,

    /// Print nothing on success (the token is still stored).
    #[arg(long, conflicts_with = "token_only")]
    no_print: bool,

    /// Print only the token (implies --no-store).
    #[arg(long)]
    token_only: bool,

    /// The token (token method; `-` reads it from stdin), or key=value
    /// credentials such as username=U password=P, role_id=… secret_id=…
    #[arg(value_parser = parse_secret, value_name = "TOKEN | K=V")]
    credentials: Vec<SecretString>,
}

/// Logs in, stores the token and prints the token information.
pub fn run(ctx: &Context, args: LoginArgs) -> CmdResult {
    let client = ctx.client()?;
    let body = match args.method.as_str() {
        "token" => login_with_token(&client, &args.credentials)?,
        "userpass" => login_userpass(&client, &args)?,
        _ => login_generic(&client, &args)?,
    };
    let token = client_token(&body)?;
    let store = !args.no_store && !args.token_only;
    if store {
        store_token(&token)?;
    }
    if args.token_only {
        output::emit(token.expose())?;
        return Ok(EXIT_OK);
    }
    if args.no_print {
        return Ok(EXIT_OK);
    }
    if ctx.output.is_table() && ctx.output.field.is_none() {
        output::emit(&success_text(store))?;
    }
    ctx.output.secret(&body)?;
    Ok(EXIT_OK)
}

fn success_text(stored: bool) -> String {
    if stored {
        "Success! You are now authenticated. The token information displayed below\n\
         is already stored in ~/.vault-token. You do NOT need to run \"vault-rs login\"\n\
         again. Future requests will automatically use this token.\n"
            .to_owned()
    } else {
        "Success! You are now authenticated. The token information below is displayed\n\
         but not stored: set it in VAULT_TOKEN to use it.\n"
            .to_owned()
    }
}

/// The token method: one token argument (or `token=…`, or `-`, or a
/// prompt), checked with `auth/token/lookup-self`.
fn login_with_token(client: &Client, credentials: &[SecretString]) -> Result<Value, CliError> {
    let token = match credentials {
        [] => read_secret("Token (will be hidden): ", "token")?,
        [one] => {
            let value = match one.expose().strip_prefix("token=") {
                Some(rest) => SecretString::new(rest.to_owned()),
                None => one.clone(),
            };
            secret_or_stdin(value, "token")?
        }
        _ => {
            return Err(CliError::usage(
                "the token method takes one argument: the token",
            ))
        }
    };
    if token.is_empty() {
        return Err(CliError::usage("the token is empty"));
    }
    let checker = client.with_token(Some(token.clone()));
    let lookup = expect_body(
        checker.request(Method::Get, "auth/token/lookup-self", None)?,
        "GET auth/token/lookup-self",
    )?;
    Ok(auth_from_lookup(&token, &lookup))
}

/// Builds a login-like reply (`auth` block) from a lookup-self reply.
fn auth_from_lookup(token: &SecretString, lookup: &Value) -> Value {
    let data = output::data_of(lookup).cloned().unwrap_or_default();
    let field = |key: &str| data.get(key).cloned().unwrap_or(Value::Null);
    let policies = field("policies");
    json!({
        "request_id": lookup.get("request_id").cloned().unwrap_or(Value::Null),
        "lease_id": "",
        "lease_duration": 0,
        "renewable": false,
        "data": null,
        "warnings": lookup.get("warnings").cloned().unwrap_or(Value::Null),
        "auth": {
            "client_token": token.expose(),
            "accessor": field("accessor"),
            "policies": policies.clone(),
            "token_policies": policies,
            "identity_policies": field("identity_policies"),
            "metadata": field("meta"),
            "lease_duration": data.get("ttl").cloned().unwrap_or(json!(0)),
            "renewable": data.get("renewable").cloned().unwrap_or(json!(false)),
            "entity_id": field("entity_id"),
            "token_type": field("type"),
            "orphan": field("orphan"),
        }
    })
}

/// The `key=value` credentials as a JSON object.
fn credential_map(credentials: &[SecretString]) -> Result<Map<String, Value>, CliError> {
    let mut stdin = std::io::stdin().lock();
    let mut builder = DataBuilder::new(&mut stdin);
    for (index, credential) in credentials.iter().enumerate() {
        builder.add(credential.expose(), index + 1)?;
    }
    Ok(builder.finish())
}

fn mount_path(args: &LoginArgs) -> Result<String, CliError> {
    clean_path(args.path.as_deref().unwrap_or(&args.method))
}

/// userpass: POST auth/<mount>/login/<username> {password}.
fn login_userpass(client: &Client, args: &LoginArgs) -> Result<Value, CliError> {
    let mut data = credential_map(&args.credentials)?;
    let username = match data.remove("username") {
        Some(Value::String(name)) if !name.is_empty() => name,
        _ => {
            return Err(CliError::usage(
                "userpass login needs username=<name> (and password=<password>, else it is prompted for)",
            ))
        }
    };
    if !data.contains_key("password") {
        let password = read_secret("Password (will be hidden): ", "password")?;
        data.insert("password".to_owned(), json!(password.expose()));
    }
    let path = format!("auth/{}/login/{username}", mount_path(args)?);
    login_request(client, &path, data)
}

/// Any other method (approle, …): POST auth/<mount>/login with the pairs.
fn login_generic(client: &Client, args: &LoginArgs) -> Result<Value, CliError> {
    let data = credential_map(&args.credentials)?;
    if args.method == "approle" && !data.contains_key("role_id") {
        return Err(CliError::usage(
            "approle login needs role_id=<id> (and secret_id=<id> unless the role does not bind one)",
        ));
    }
    let path = format!("auth/{}/login", mount_path(args)?);
    login_request(client, &path, data)
}

/// Sends a login request without any existing token.
fn login_request(client: &Client, path: &str, data: Map<String, Value>) -> Result<Value, CliError> {
    let anonymous = client.with_token(None);
    let body = anonymous.request(Method::Post, path, Some(&Value::Object(data)))?;
    expect_body(body, &format!("POST {path}"))
}

/// The `auth.client_token` of a login reply.
fn client_token(body: &Value) -> Result<SecretString, CliError> {
    body.get("auth")
        .and_then(|auth| auth.get("client_token"))
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .map(|token| SecretString::new(token.to_owned()))
        .ok_or_else(|| CliError::failed("the login reply has no token"))
}

/// Writes the token to `~/.vault-token` with mode 0600 (through a
/// temporary file and a rename, so a reader never sees half a token).
fn store_token(token: &SecretString) -> Result<(), CliError> {
    if std::env::var("VAULT_TOKEN").is_ok_and(|value| !value.trim().is_empty()) {
        eprintln!(
            "WARNING! The VAULT_TOKEN environment variable is set! It takes precedence over\n\
             the stored token; unset it or update its value if that is unwanted.\n"
        );
    }
    let path = token_file_path().ok_or_else(|| {
        CliError::failed("HOME is not set: cannot store the token (use --no-store)")
    })?;
    write_private_file(&path, token.expose()).map_err(|error| {
        CliError::failed(format!(
            "cannot store the token in {}: {error}",
            path.display()
        ))
    })
}

fn write_private_file(path: &Path, contents: &str) -> std::io::Result<()> {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let result =
        write_new_private(&temporary, contents).and_then(|()| fs::rename(&temporary, path));
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn write_new_private(path: &Path, contents: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn lookup_becomes_auth_block() {
        let token = SecretString::new("hvs.abc".to_owned());
        let lookup = json!({"data": {"accessor": "acc", "policies": ["default"], "ttl": 3600,
            "renewable": true, "meta": {"user": "bob"}}});
        let body = auth_from_lookup(&token, &lookup);
        assert_eq!(body["auth"]["client_token"], json!("hvs.abc"));
        assert_eq!(body["auth"]["lease_duration"], json!(3600));
        assert_eq!(body["auth"]["metadata"], json!({"user": "bob"}));
    }

    #[test]
    fn token_file_is_private() {
        let dir = std::env::temp_dir().join(format!("vault-rs-cli-login-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let path = dir.join(".vault-token");
        assert!(fs::write(&path, "old").is_ok());
        assert!(write_private_file(&path, "hvs.new").is_ok());
        assert_eq!(fs::read_to_string(&path).ok().as_deref(), Some("hvs.new"));
        let mode = fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o777)
            .ok();
        assert_eq!(mode, Some(0o600));
        let _ = fs::remove_dir_all(&dir);
    }
}
