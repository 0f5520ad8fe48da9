//! `vault-rs token create|lookup|renew|revoke|capabilities` on
//! auth/token/* and sys/capabilities(-self|-accessor). Token arguments are
//! [`SecretString`]s and are only ever sent in request bodies.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

use crate::client::{parse_secret, Client, Method, SecretString};
use crate::commands::{expect_body, expect_data, insert_opt, parse_pairs, split_commas, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::input::secret_or_stdin;
use crate::output::{self, Format};

/// `vault-rs token <command>`.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a child token (or an orphan, or one from a role).
    Create(CreateArgs),
    /// Show a token's properties (default: the current token).
    Lookup(LookupArgs),
    /// Extend a token's lease (default: the current token).
    Renew(RenewArgs),
    /// Revoke a token and, unless orphaned, its children.
    Revoke(RevokeArgs),
    /// Show a token's capabilities on a path.
    Capabilities(CapabilitiesArgs),
}

/// `token create …`.
#[derive(Args)]
pub struct CreateArgs {
    /// Policy to attach (repeatable, or comma-separated).
    #[arg(long = "policy", value_name = "POLICY")]
    policies: Vec<String>,
    /// Initial TTL (e.g. 1h).
    #[arg(long, value_name = "DURATION")]
    ttl: Option<String>,
    /// Hard maximum lifetime, not extendable by renewal.
    #[arg(long, value_name = "DURATION")]
    explicit_max_ttl: Option<String>,
    /// Make a periodic token, renewable for this period forever.
    #[arg(long, value_name = "DURATION")]
    period: Option<String>,
    /// Create a token without a parent (auth/token/create-orphan).
    #[arg(long)]
    orphan: bool,
    /// Do not attach the default policy.
    #[arg(long)]
    no_default_policy: bool,
    /// Number of uses before the token is revoked (0: unlimited).
    #[arg(long, value_name = "N")]
    use_limit: Option<u64>,
    /// Display name of the token.
    #[arg(long, value_name = "NAME")]
    display_name: Option<String>,
    /// Metadata key=value (repeatable).
    #[arg(long = "metadata", value_name = "K=V")]
    metadata: Vec<String>,
    /// Token role to create from (auth/token/create/ROLE).
    #[arg(long, value_name = "ROLE")]
    role: Option<String>,
    /// Whether the token may be renewed (--renewable=false to forbid).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    renewable: Option<bool>,
    /// Token type: service or batch.
    #[arg(long = "type", value_name = "TYPE")]
    token_type: Option<String>,
}

/// `token lookup [TOKEN] [--accessor A]`.
#[derive(Args)]
pub struct LookupArgs {
    /// Token to look up (`-` reads it from stdin).
    #[arg(value_parser = parse_secret, value_name = "TOKEN", conflicts_with = "accessor")]
    token: Option<SecretString>,
    /// Look up by accessor instead of token.
    #[arg(long, value_name = "ACCESSOR")]
    accessor: Option<String>,
}

/// `token renew [TOKEN] [--increment D] [--accessor A]`.
#[derive(Args)]
pub struct RenewArgs {
    /// Token to renew (`-` reads it from stdin).
    #[arg(value_parser = parse_secret, value_name = "TOKEN", conflicts_with = "accessor")]
    token: Option<SecretString>,
    /// Requested lease extension (e.g. 1h).
    #[arg(long, short = 'i', value_name = "DURATION")]
    increment: Option<String>,
    /// Renew by accessor instead of token.
    #[arg(long, value_name = "ACCESSOR")]
    accessor: Option<String>,
}

/// What `token revoke --mode` revokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RevokeMode {
    /// Only this token; its children become orphans.
    Orphan,
    /// Every token created under the given path (sys/leases/revoke-prefix).
    Path,
}

/// `token revoke [TOKEN] [--accessor A] [--self] [--mode orphan|path]`.
#[derive(Args)]
pub struct RevokeArgs {
    /// Token to revoke (`-` reads it from stdin), or a path with --mode path.
    #[arg(value_parser = parse_secret, value_name = "TOKEN", conflicts_with_all = ["accessor", "self_"])]
    token: Option<SecretString>,
    /// Revoke by accessor.
    #[arg(long, value_name = "ACCESSOR", conflicts_with = "self_")]
    accessor: Option<String>,
    /// Revoke the token in use.
    #[arg(long = "self")]
    self_: bool,
    /// Revoke only the token (orphan) or every token under a path (path).
    #[arg(long, value_enum, conflicts_with = "self_")]
    mode: Option<RevokeMode>,
}

/// `token capabilities [TOKEN] PATH`.
#[derive(Args)]
pub struct CapabilitiesArgs {
    /// The token, then the path; with only one argument, the path (for the
    /// current token, or for --accessor).
    #[arg(value_parser = parse_secret, value_name = "TOKEN", required = true, num_args = 1..=2)]
    args: Vec<SecretString>,
    /// Check the token with this accessor.
    #[arg(long, value_name = "ACCESSOR")]
    accessor: Option<String>,
}

/// Runs one token command.
pub fn run(ctx: &Context, command: TokenCommand) -> CmdResult {
    let client = ctx.client()?;
    match command {
        TokenCommand::Create(args) => create(ctx, &client, args),
        TokenCommand::Lookup(args) => lookup(ctx, &client, args),
        TokenCommand::Renew(args) => renew(ctx, &client, args),
        TokenCommand::Revoke(args) => revoke(ctx, &client, args),
        TokenCommand::Capabilities(args) => capabilities(ctx, &client, args),
    }
}

fn create_path(args: &CreateArgs) -> Result<String, CliError> {
    match (&args.role, args.orphan) {
        (Some(role), _) if role.trim().is_empty() => {
            Err(CliError::usage("--role must not be empty"))
        }
        (Some(role), _) => Ok(format!("auth/token/create/{}", role.trim())),
        (None, true) => Ok("auth/token/create-orphan".to_owned()),
        (None, false) => Ok("auth/token/create".to_owned()),
    }
}

fn create_body(args: &CreateArgs) -> Result<Map<String, Value>, CliError> {
    let mut body = Map::new();
    let policies = split_commas(&args.policies);
    if !policies.is_empty() {
        body.insert("policies".to_owned(), json!(policies));
    }
    insert_opt(&mut body, "ttl", args.ttl.clone().map(Value::String));
    insert_opt(
        &mut body,
        "explicit_max_ttl",
        args.explicit_max_ttl.clone().map(Value::String),
    );
    insert_opt(&mut body, "period", args.period.clone().map(Value::String));
    if args.no_default_policy {
        body.insert("no_default_policy".to_owned(), json!(true));
    }
    insert_opt(&mut body, "num_uses", args.use_limit.map(|n| json!(n)));
    insert_opt(
        &mut body,
        "display_name",
        args.display_name.clone().map(Value::String),
    );
    let metadata = parse_pairs(&args.metadata, "metadata")?;
    if !metadata.is_empty() {
        body.insert("meta".to_owned(), Value::Object(metadata));
    }
    insert_opt(&mut body, "renewable", args.renewable.map(Value::Bool));
    insert_opt(
        &mut body,
        "type",
        args.token_type.clone().map(Value::String),
    );
    Ok(body)
}

fn create(ctx: &Context, client: &Client, args: CreateArgs) -> CmdResult {
    let path = create_path(&args)?;
    let body = Value::Object(create_body(&args)?);
    let reply = expect_body(
        client.request(Method::Post, &path, Some(&body))?,
        &format!("POST {path}"),
    )?;
    ctx.output.secret(&reply)?;
    Ok(EXIT_OK)
}

fn lookup(ctx: &Context, client: &Client, args: LookupArgs) -> CmdResult {
    let (method, path, body) = match (args.token, args.accessor) {
        (_, Some(accessor)) => (
            Method::Post,
            "auth/token/lookup-accessor",
            Some(json!({ "accessor": accessor })),
        ),
        (Some(token), None) => {
            let token = secret_or_stdin(token, "token")?;
            (
                Method::Post,
                "auth/token/lookup",
                Some(json!({ "token": token.expose() })),
            )
        }
        (None, None) => (Method::Get, "auth/token/lookup-self", None),
    };
    let reply = expect_body(client.request(method, path, body.as_ref())?, path)?;
    ctx.output.secret(&reply)?;
    Ok(EXIT_OK)
}

fn renew(ctx: &Context, client: &Client, args: RenewArgs) -> CmdResult {
    let mut body = Map::new();
    insert_opt(&mut body, "increment", args.increment.map(Value::String));
    let path = match (args.token, args.accessor) {
        (_, Some(accessor)) => {
            body.insert("accessor".to_owned(), json!(accessor));
            "auth/token/renew-accessor"
        }
        (Some(token), None) => {
            let token = secret_or_stdin(token, "token")?;
            body.insert("token".to_owned(), json!(token.expose()));
            "auth/token/renew"
        }
        (None, None) => "auth/token/renew-self",
    };
    let reply = client.request(Method::Put, path, Some(&Value::Object(body)))?;
    let reply = expect_body(reply, &format!("PUT {path}"))?;
    ctx.output.secret(&reply)?;
    Ok(EXIT_OK)
}

fn revoke(ctx: &Context, client: &Client, args: RevokeArgs) -> CmdResult {
    if args.self_ {
        client.request(Method::Put, "auth/token/revoke-self", None)?;
    } else if let Some(accessor) = args.accessor {
        if args.mode.is_some() {
            return Err(CliError::usage("--mode cannot be used with --accessor"));
        }
        let body = json!({ "accessor": accessor });
        client.request(Method::Put, "auth/token/revoke-accessor", Some(&body))?;
    } else if let Some(token) = args.token {
        let token = secret_or_stdin(token, "token")?;
        revoke_token(client, &token, args.mode)?;
    } else {
        return Err(CliError::usage(
            "give a token, --accessor ACCESSOR or --self",
        ));
    }
    ctx.success("Revoked token (if it existed)")?;
    Ok(EXIT_OK)
}

fn revoke_token(
    client: &Client,
    token: &SecretString,
    mode: Option<RevokeMode>,
) -> Result<(), CliError> {
    match mode {
        Some(RevokeMode::Path) => {
            let prefix = token.expose().trim_matches('/');
            if prefix.is_empty() {
                return Err(CliError::usage("--mode path needs a non-empty path"));
            }
            client.request(
                Method::Put,
                &format!("sys/leases/revoke-prefix/{prefix}"),
                None,
            )?;
        }
        Some(RevokeMode::Orphan) => {
            let body = json!({ "token": token.expose() });
            client.request(Method::Put, "auth/token/revoke-orphan", Some(&body))?;
        }
        None => {
            let body = json!({ "token": token.expose() });
            client.request(Method::Put, "auth/token/revoke", Some(&body))?;
        }
    }
    Ok(())
}

fn capabilities(ctx: &Context, client: &Client, args: CapabilitiesArgs) -> CmdResult {
    let (token, path) = match args.args.as_slice() {
        [path] => (None, path.expose().to_owned()),
        [token, path] => (
            Some(secret_or_stdin(token.clone(), "token")?),
            path.expose().to_owned(),
        ),
        _ => return Err(CliError::usage("expected [TOKEN] PATH")),
    };
    let path = path.trim().trim_start_matches('/').to_owned();
    if path.is_empty() {
        return Err(CliError::usage("the path must not be empty"));
    }
    let (api_path, body) = match (&args.accessor, &token) {
        (Some(_), Some(_)) => {
            return Err(CliError::usage(
                "give either a token or --accessor, not both",
            ))
        }
        (Some(accessor), None) => (
            "sys/capabilities-accessor",
            json!({ "accessor": accessor, "paths": [path] }),
        ),
        (None, Some(token)) => (
            "sys/capabilities",
            json!({ "token": token.expose(), "paths": [path] }),
        ),
        (None, None) => ("sys/capabilities-self", json!({ "paths": [path] })),
    };
    let reply = expect_body(
        client.request(Method::Post, api_path, Some(&body))?,
        api_path,
    )?;
    let list = capability_list(expect_data(&reply, api_path)?, &path);
    print_capabilities(ctx, &list)?;
    Ok(EXIT_OK)
}

/// The capabilities for `path`: the per-path entry, else `capabilities`.
fn capability_list(data: &Map<String, Value>, path: &str) -> Vec<String> {
    let entry = data.get(path).or_else(|| data.get("capabilities"));
    let mut list: Vec<String> = entry
        .and_then(Value::as_array)
        .map(|items| items.iter().map(output::format_value).collect())
        .unwrap_or_default();
    list.sort();
    list
}

fn print_capabilities(ctx: &Context, list: &[String]) -> Result<(), CliError> {
    match ctx.output.format {
        Format::Json | Format::Yaml => ctx.output.structured(&json!(list)),
        Format::Table => output::emit(&list.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: CreateArgs,
    }

    fn parse(args: &[&str]) -> Option<CreateArgs> {
        let mut argv = vec!["create"];
        argv.extend_from_slice(args);
        Wrapper::try_parse_from(argv).ok().map(|w| w.args)
    }

    #[test]
    fn create_body_has_only_given_fields() {
        let args = parse(&[
            "--policy",
            "a,b",
            "--policy",
            "c",
            "--ttl",
            "1h",
            "--metadata",
            "k=v",
            "--use-limit",
            "3",
            "--renewable=false",
        ]);
        let body = args
            .as_ref()
            .map(create_body)
            .and_then(Result::ok)
            .map(Value::Object);
        assert_eq!(
            body,
            Some(
                json!({"policies": ["a", "b", "c"], "ttl": "1h", "meta": {"k": "v"},
                        "num_uses": 3, "renewable": false})
            )
        );
    }

    #[test]
    fn create_paths() {
        let orphan = parse(&["--orphan"]).map(|a| create_path(&a).ok());
        assert_eq!(orphan, Some(Some("auth/token/create-orphan".to_owned())));
        let role = parse(&["--role", "ci"]).map(|a| create_path(&a).ok());
        assert_eq!(role, Some(Some("auth/token/create/ci".to_owned())));
    }

    #[test]
    fn capabilities_per_path_first() {
        let data = json!({"capabilities": ["read"], "secret/x": ["update", "read"]});
        let data = data.as_object().cloned().unwrap_or_default();
        assert_eq!(capability_list(&data, "secret/x"), vec!["read", "update"]);
        assert_eq!(capability_list(&data, "other"), vec!["read"]);
    }
}
