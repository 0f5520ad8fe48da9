//! `vault-rs apikeys create|get|list|creds|rotate|revoke|validate|delete`:
//! service API keys on an `apikeys` mount (`--mount`, default `apikeys`).
//!
//! Owns: mapping the commands to the engine's paths (`keys/:name`,
//! `keys/:name/rotate`, `keys/:name/revoke`, `creds/:name`, `validate`).
//! Key values (validate's argument, an imported key) are [`SecretString`]s,
//! only ever sent in request bodies; `-` reads them from stdin. `validate`
//! exits 0 for a valid key and 1 otherwise, so scripts can test it.

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::client::{parse_secret, Client, Method, SecretString};
use crate::commands::{expect_body, expect_data, insert_opt, parse_pairs, split_commas, Context};
use crate::error::{CliError, CmdResult, EXIT_FAILURE, EXIT_OK};
use crate::input::secret_or_stdin;

/// `vault-rs apikeys [--mount M] <command>`.
#[derive(Args)]
pub struct ApikeysArgs {
    /// Where the apikeys engine is mounted.
    #[arg(long, global = true, value_name = "PATH", default_value = "apikeys")]
    mount: String,
    #[command(subcommand)]
    command: ApikeysCommand,
}

/// The apikeys commands.
#[derive(Subcommand)]
pub enum ApikeysCommand {
    /// Create a key (shown once), or import one with --import.
    Create(CreateArgs),
    /// Show a key's metadata and versions (never the key).
    Get(NameArgs),
    /// List key names.
    List,
    /// Print the current key of NAME (what a service fetches at boot).
    Creds(NameArgs),
    /// Rotate NAME now; the previous version stays valid for its grace period.
    Rotate(RotateArgs),
    /// Revoke one version (--version) or all versions of NAME, immediately.
    Revoke(RevokeArgs),
    /// Check a key (exit 0 valid, 1 invalid).
    Validate(ValidateArgs),
    /// Revoke all versions of NAME and remove it.
    Delete(NameArgs),
}

/// A key name.
#[derive(Args)]
pub struct NameArgs {
    /// Key name.
    name: String,
}

/// `apikeys create NAME --service S …`.
#[derive(Args)]
pub struct CreateArgs {
    /// Key name.
    name: String,
    /// The service that owns (presents) the key.
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,
    /// live or test (part of the key text).
    #[arg(long, value_name = "ENV")]
    environment: Option<String>,
    /// Scope granted to the key (repeatable, or comma-separated).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Lifetime of each version (e.g. 90d; default: the mount's).
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    /// Rotate automatically this often (e.g. 30d).
    #[arg(long, value_name = "DURATION")]
    rotation_period: Option<String>,
    /// How long a replaced version stays valid (e.g. 1h).
    #[arg(long, value_name = "DURATION")]
    grace_period: Option<String>,
    /// Metadata key=value (repeatable).
    #[arg(long = "metadata", value_name = "K=V")]
    metadata: Vec<String>,
    /// http:// URL notified (signed) of every rotation.
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
    /// Import an externally issued key instead of generating one (`-`: stdin).
    #[arg(long = "import", value_parser = parse_secret, value_name = "KEY")]
    import: Option<SecretString>,
}

/// `apikeys rotate NAME [--grace-period D] [--key K]`.
#[derive(Args)]
pub struct RotateArgs {
    /// Key name.
    name: String,
    /// Grace period of the replaced version for this rotation only.
    #[arg(long, value_name = "DURATION")]
    grace_period: Option<String>,
    /// The provider's new value of an imported key (`-`: stdin).
    #[arg(long = "key", value_parser = parse_secret, value_name = "KEY")]
    key: Option<SecretString>,
}

/// `apikeys revoke NAME [--version N]`.
#[derive(Args)]
pub struct RevokeArgs {
    /// Key name.
    name: String,
    /// Only this version (default: all versions).
    #[arg(long, value_name = "N")]
    version: Option<u64>,
}

/// `apikeys validate KEY [--scope S] [--service S]`.
#[derive(Args)]
pub struct ValidateArgs {
    /// The key to check (`-` reads it from stdin).
    #[arg(value_parser = parse_secret, value_name = "KEY")]
    key: SecretString,
    /// Scope the key must grant (repeatable, or comma-separated).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// Service the key must belong to.
    #[arg(long, value_name = "SERVICE")]
    service: Option<String>,
}

/// Runs one apikeys command.
pub fn run(ctx: &Context, args: ApikeysArgs) -> CmdResult {
    let mount = args.mount.trim().trim_matches('/').to_owned();
    if mount.is_empty() {
        return Err(CliError::usage("--mount must not be empty"));
    }
    let client = ctx.client()?;
    let api = Api {
        ctx,
        client: &client,
        mount: &mount,
    };
    match args.command {
        ApikeysCommand::Create(a) => api.create(a),
        ApikeysCommand::Get(a) => api.get(&a.name),
        ApikeysCommand::List => api.list(),
        ApikeysCommand::Creds(a) => api.creds(&a.name),
        ApikeysCommand::Rotate(a) => api.rotate(a),
        ApikeysCommand::Revoke(a) => api.revoke(a),
        ApikeysCommand::Validate(a) => api.validate(a),
        ApikeysCommand::Delete(a) => api.delete(&a.name),
    }
}

/// A key name as a path segment.
fn key_name(name: &str) -> Result<&str, CliError> {
    let name = name.trim();
    if name.is_empty() || name.contains('/') {
        return Err(CliError::usage(
            "the key name must be non-empty and contain no '/'",
        ));
    }
    Ok(name)
}

/// The request body of `create`.
fn create_body(a: &CreateArgs) -> Result<Map<String, Value>, CliError> {
    let mut body = Map::new();
    insert_opt(&mut body, "service", a.service.clone().map(Value::String));
    insert_opt(
        &mut body,
        "environment",
        a.environment.clone().map(Value::String),
    );
    let scopes = split_commas(&a.scopes);
    if !scopes.is_empty() {
        body.insert("scopes".to_owned(), json!(scopes));
    }
    insert_opt(&mut body, "ttl", a.ttl.clone().map(Value::String));
    insert_opt(
        &mut body,
        "rotation_period",
        a.rotation_period.clone().map(Value::String),
    );
    insert_opt(
        &mut body,
        "grace_period",
        a.grace_period.clone().map(Value::String),
    );
    let metadata = parse_pairs(&a.metadata, "metadata")?;
    if !metadata.is_empty() {
        body.insert("metadata".to_owned(), Value::Object(metadata));
    }
    insert_opt(
        &mut body,
        "webhook_url",
        a.webhook_url.clone().map(Value::String),
    );
    Ok(body)
}

struct Api<'a> {
    ctx: &'a Context,
    client: &'a Client,
    mount: &'a str,
}

impl Api<'_> {
    fn path(&self, rest: &str) -> String {
        format!("{}/{rest}", self.mount)
    }

    /// Sends a request that must return a body, and prints it.
    fn print(&self, method: Method, path: &str, body: Option<&Value>) -> CmdResult {
        let reply = expect_body(
            self.client.request(method, path, body)?,
            &format!("{method} {path}"),
        )?;
        self.ctx.output.secret(&reply)?;
        Ok(EXIT_OK)
    }

    fn create(&self, a: CreateArgs) -> CmdResult {
        let name = key_name(&a.name)?;
        if a.service.as_deref().is_none_or(|s| s.trim().is_empty()) {
            return Err(CliError::usage("--service is required"));
        }
        let mut body = create_body(&a)?;
        if let Some(value) = a.import {
            let value = secret_or_stdin(value, "key")?;
            body.insert("key".to_owned(), json!(value.expose()));
        }
        self.print(
            Method::Post,
            &self.path(&format!("keys/{name}")),
            Some(&Value::Object(body)),
        )
    }

    fn get(&self, name: &str) -> CmdResult {
        let path = self.path(&format!("keys/{}", key_name(name)?));
        match self.client.read(&path)? {
            Some(reply) => {
                self.ctx.output.secret(&reply)?;
                Ok(EXIT_OK)
            }
            None => Err(CliError::failed(format!("No key found at {path}"))),
        }
    }

    fn list(&self) -> CmdResult {
        let path = self.path("keys");
        match self.client.list(&path)? {
            Some(reply) => self.ctx.output.list(&reply)?,
            None => self.ctx.output.list(&json!({"data": {"keys": []}}))?,
        }
        Ok(EXIT_OK)
    }

    fn creds(&self, name: &str) -> CmdResult {
        let path = self.path(&format!("creds/{}", key_name(name)?));
        self.print(Method::Get, &path, None)
    }

    fn rotate(&self, a: RotateArgs) -> CmdResult {
        let path = self.path(&format!("keys/{}/rotate", key_name(&a.name)?));
        let mut body = Map::new();
        insert_opt(&mut body, "grace_period", a.grace_period.map(Value::String));
        if let Some(value) = a.key {
            let value = secret_or_stdin(value, "key")?;
            body.insert("key".to_owned(), json!(value.expose()));
        }
        self.print(Method::Post, &path, Some(&Value::Object(body)))
    }

    fn revoke(&self, a: RevokeArgs) -> CmdResult {
        let path = self.path(&format!("keys/{}/revoke", key_name(&a.name)?));
        let mut body = Map::new();
        insert_opt(&mut body, "version", a.version.map(|v| json!(v)));
        self.print(Method::Post, &path, Some(&Value::Object(body)))
    }

    fn validate(&self, a: ValidateArgs) -> CmdResult {
        let key = secret_or_stdin(a.key, "key")?;
        let mut body = Map::new();
        body.insert("key".to_owned(), json!(key.expose()));
        let scopes = split_commas(&a.scopes);
        if !scopes.is_empty() {
            body.insert("scope".to_owned(), json!(scopes));
        }
        insert_opt(&mut body, "service", a.service.map(Value::String));
        let path = self.path("validate");
        let reply = expect_body(
            self.client
                .request(Method::Post, &path, Some(&Value::Object(body)))?,
            &format!("POST {path}"),
        )?;
        let valid = expect_data(&reply, &path)?.get("valid") == Some(&Value::Bool(true));
        self.ctx.output.secret(&reply)?;
        Ok(if valid { EXIT_OK } else { EXIT_FAILURE })
    }

    fn delete(&self, name: &str) -> CmdResult {
        let name = key_name(name)?;
        self.client
            .request(Method::Delete, &self.path(&format!("keys/{name}")), None)?;
        self.ctx
            .success(&format!("Deleted key {name} (all versions revoked)"))?;
        Ok(EXIT_OK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ApikeysArgs,
    }

    fn parse(args: &[&str]) -> Option<ApikeysArgs> {
        let mut argv = vec!["apikeys"];
        argv.extend_from_slice(args);
        Wrapper::try_parse_from(argv).ok().map(|w| w.args)
    }

    #[test]
    fn create_body_has_only_given_fields() {
        let Some(ApikeysArgs {
            mount,
            command: ApikeysCommand::Create(a),
        }) = parse(&[
            "create",
            "billing",
            "--service",
            "billing",
            "--scope",
            "a,b",
            "--scope",
            "c",
            "--rotation-period",
            "30d",
            "--metadata",
            "team=pay",
            "--mount",
            "keys2",
        ])
        else {
            panic!("create did not parse");
        };
        assert_eq!(mount, "keys2");
        let body = create_body(&a).ok().map(Value::Object);
        assert_eq!(
            body,
            Some(json!({"service": "billing", "scopes": ["a", "b", "c"],
                        "rotation_period": "30d", "metadata": {"team": "pay"}}))
        );
    }

    #[test]
    fn names_are_single_segments() {
        assert!(key_name("a/b").is_err());
        assert!(key_name(" ").is_err());
        assert_eq!(key_name(" a ").ok(), Some("a"));
        assert!(parse(&["validate"]).is_none(), "a key is required");
        assert!(parse(&["list"]).is_some_and(|a| a.mount == "apikeys"));
    }
}
