//! `vault-rs auth list|enable|disable|tune|help`: auth method mounts
//! (sys/auth), as `vault auth …`.
//!
//! Owns the auth-method mount commands and the usage text of each built-in
//! login method (`auth help`). Logging in itself belongs to `login`; the
//! secrets-engine mounts belong to `secrets`.

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::client::Method;
use crate::commands::secrets::{mount_options, mounts_of, ttl_config};
use crate::commands::{clean_path, expect_body, insert_opt, with_trailing_slash, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::output::{self, Format};

/// `vault-rs auth <command>`.
#[derive(Subcommand)]
pub enum AuthCommand {
    /// List the enabled auth methods.
    List(ListArgs),
    /// Enable an auth method (TYPE: userpass, approle, …).
    Enable(EnableArgs),
    /// Disable an auth method; tokens it issued are revoked.
    Disable(DisableArgs),
    /// Change the settings of an enabled auth method.
    Tune(TuneArgs),
    /// Show how to log in with an auth method (TYPE or mount PATH).
    Help(HelpArgs),
}

/// `auth list [-detailed]`.
#[derive(Args)]
pub struct ListArgs {
    /// Also show TTLs, token type, options, UUIDs and versions.
    #[arg(long)]
    detailed: bool,
}

/// `auth enable [-path P] [-description D] [ttls] [-options k=v] TYPE`.
#[derive(Args)]
pub struct EnableArgs {
    /// Auth method type (userpass, approle, …).
    #[arg(value_name = "TYPE")]
    method_type: String,
    /// Mount path under auth/ (default: the type).
    #[arg(long)]
    path: Option<String>,
    /// Human-readable description of the mount.
    #[arg(long)]
    description: Option<String>,
    /// Default lease TTL of the tokens it issues (e.g. 1h).
    #[arg(long, value_name = "DURATION")]
    default_lease_ttl: Option<String>,
    /// Maximum lease TTL of the tokens it issues (e.g. 24h).
    #[arg(long, value_name = "DURATION")]
    max_lease_ttl: Option<String>,
    /// Method options as key=value (repeatable).
    #[arg(long = "options", value_name = "K=V")]
    options: Vec<String>,
}

/// `auth disable PATH`.
#[derive(Args)]
pub struct DisableArgs {
    /// Mount path under auth/.
    path: String,
}

/// `auth tune [flags] PATH`.
#[derive(Args)]
pub struct TuneArgs {
    /// Mount path under auth/.
    path: String,
    /// New description.
    #[arg(long)]
    description: Option<String>,
    /// Default lease TTL (e.g. 1h).
    #[arg(long, value_name = "DURATION")]
    default_lease_ttl: Option<String>,
    /// Maximum lease TTL (e.g. 24h).
    #[arg(long, value_name = "DURATION")]
    max_lease_ttl: Option<String>,
    /// Method options as key=value (repeatable).
    #[arg(long = "options", value_name = "K=V")]
    options: Vec<String>,
}

/// `auth help TYPE|PATH`.
#[derive(Args)]
pub struct HelpArgs {
    /// A method type (token, userpass, approle) or the path it is mounted at.
    #[arg(value_name = "TYPE | PATH")]
    method: String,
}

/// Runs one auth command.
pub fn run(ctx: &Context, command: AuthCommand) -> CmdResult {
    match command {
        AuthCommand::List(args) => list(ctx, args),
        AuthCommand::Enable(args) => enable(ctx, args),
        AuthCommand::Disable(args) => disable(ctx, args),
        AuthCommand::Tune(args) => tune(ctx, args),
        AuthCommand::Help(args) => help(ctx, args),
    }
}

fn list(ctx: &Context, args: ListArgs) -> CmdResult {
    let client = ctx.client()?;
    let body = expect_body(
        client.request(Method::Get, "sys/auth", None)?,
        "GET sys/auth",
    )?;
    let mounts = mounts_of(&body);
    if ctx.output.field.is_some() || ctx.output.format != Format::Table {
        ctx.output.map(&mounts)?;
        return Ok(EXIT_OK);
    }
    output::emit(&auth_table(&mounts, args.detailed))?;
    Ok(EXIT_OK)
}

/// The `auth list` table, with Vault's columns.
fn auth_table(mounts: &Map<String, Value>, detailed: bool) -> String {
    let mut paths: Vec<&String> = mounts.keys().collect();
    paths.sort();
    let rows: Vec<Vec<String>> = paths
        .into_iter()
        .map(|path| {
            let mount = &mounts[path];
            let text = |key: &str| mount.get(key).map(output::format_value).unwrap_or_default();
            if !detailed {
                return vec![
                    path.clone(),
                    text("type"),
                    text("accessor"),
                    text("description"),
                    text("plugin_version"),
                ];
            }
            let config = mount.get("config").cloned().unwrap_or(Value::Null);
            let config_text = |key: &str| {
                config
                    .get(key)
                    .map(output::format_value)
                    .unwrap_or_default()
            };
            vec![
                path.clone(),
                text("type"),
                text("accessor"),
                vault_ttl(config.get("default_lease_ttl")),
                vault_ttl(config.get("max_lease_ttl")),
                config_text("token_type"),
                replication(mount),
                bool_text(mount, "seal_wrap"),
                bool_text(mount, "external_entropy_access"),
                options_text(mount),
                text("description"),
                text("uuid"),
                text("plugin_version"),
                text("running_plugin_version"),
                text("running_sha256"),
                text("deprecation_status"),
            ]
        })
        .collect();
    if detailed {
        output::table(
            &[
                "Path",
                "Plugin",
                "Accessor",
                "Default TTL",
                "Max TTL",
                "Token Type",
                "Replication",
                "Seal Wrap",
                "External Entropy Access",
                "Options",
                "Description",
                "UUID",
                "Version",
                "Running Version",
                "Running SHA256",
                "Deprecation Status",
            ],
            &rows,
        )
    } else {
        output::table(
            &["Path", "Type", "Accessor", "Description", "Version"],
            &rows,
        )
    }
}

/// A mount TTL as `vault … list -detailed` prints it: `system` when unset
/// (0), else the number of seconds.
pub fn vault_ttl(value: Option<&Value>) -> String {
    match value.and_then(Value::as_i64) {
        Some(0) | None => "system".to_owned(),
        Some(seconds) => seconds.to_string(),
    }
}

/// `local` or `replicated`.
pub fn replication(mount: &Value) -> String {
    if mount.get("local").and_then(Value::as_bool) == Some(true) {
        "local".to_owned()
    } else {
        "replicated".to_owned()
    }
}

/// A boolean field as Go's `%t` (false when missing).
pub fn bool_text(mount: &Value, key: &str) -> String {
    mount
        .get(key)
        .and_then(Value::as_bool)
        .unwrap_or(false)
        .to_string()
}

/// The mount options as Go's `%v` of a map (`map[]` when none).
pub fn options_text(mount: &Value) -> String {
    match mount.get("options") {
        Some(options @ Value::Object(_)) => output::format_value(options),
        _ => "map[]".to_owned(),
    }
}

fn enable(ctx: &Context, args: EnableArgs) -> CmdResult {
    let method = args.method_type.trim();
    if method.is_empty() {
        return Err(CliError::usage("the auth method type must not be empty"));
    }
    let path = clean_path(args.path.as_deref().unwrap_or(method))?;
    let mut request = Map::new();
    request.insert("type".to_owned(), json!(method));
    insert_opt(
        &mut request,
        "description",
        args.description.map(Value::String),
    );
    let config = ttl_config(args.default_lease_ttl, args.max_lease_ttl);
    if !config.is_empty() {
        request.insert("config".to_owned(), Value::Object(config));
    }
    let options = mount_options(&args.options, None)?;
    if !options.is_empty() {
        request.insert("options".to_owned(), Value::Object(options));
    }
    let client = ctx.client()?;
    client.request(
        Method::Post,
        &format!("sys/auth/{path}"),
        Some(&Value::Object(request)),
    )?;
    ctx.success(&format!(
        "Enabled {method} auth method at: {}",
        with_trailing_slash(&path)
    ))?;
    Ok(EXIT_OK)
}

fn disable(ctx: &Context, args: DisableArgs) -> CmdResult {
    let path = clean_path(&args.path)?;
    let client = ctx.client()?;
    client.request(Method::Delete, &format!("sys/auth/{path}"), None)?;
    ctx.success(&format!(
        "Disabled the auth method (if it existed) at: {}",
        with_trailing_slash(&path)
    ))?;
    Ok(EXIT_OK)
}

fn tune(ctx: &Context, args: TuneArgs) -> CmdResult {
    let path = clean_path(&args.path)?;
    let mut request = ttl_config(args.default_lease_ttl, args.max_lease_ttl);
    insert_opt(
        &mut request,
        "description",
        args.description.map(Value::String),
    );
    let options = mount_options(&args.options, None)?;
    if !options.is_empty() {
        request.insert("options".to_owned(), Value::Object(options));
    }
    if request.is_empty() {
        return Err(CliError::usage(
            "nothing to tune: give -description, -default-lease-ttl, -max-lease-ttl or -options",
        ));
    }
    let client = ctx.client()?;
    client.request(
        Method::Post,
        &format!("sys/auth/{path}/tune"),
        Some(&Value::Object(request)),
    )?;
    ctx.success(&format!(
        "Tuned the auth method at: {}",
        with_trailing_slash(&path)
    ))?;
    Ok(EXIT_OK)
}

/// `auth help`: a built-in type is answered locally; anything else is
/// looked up among the enabled methods by path.
fn help(ctx: &Context, args: HelpArgs) -> CmdResult {
    let name = args.method.trim();
    if name.is_empty() {
        return Err(CliError::usage("give an auth method type or path"));
    }
    if let Some(text) = login_help(name) {
        output::emit(text)?;
        return Ok(EXIT_OK);
    }
    let client = ctx.client()?;
    let body = expect_body(
        client.request(Method::Get, "sys/auth", None)?,
        "GET sys/auth",
    )?;
    let mounts = mounts_of(&body);
    let path = with_trailing_slash(name.trim_matches('/'));
    let method_type = mounts
        .get(&path)
        .and_then(|mount| mount.get("type"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            CliError::failed(format!(
                "No auth method available on the server at \"{path}\""
            ))
        })?;
    let text = login_help(method_type).ok_or_else(|| {
        CliError::failed(format!(
            "the {method_type} auth method at \"{path}\" has no built-in help: \
             log in with `vault-rs login -method={method_type} -path={} K=V…`",
            path.trim_end_matches('/')
        ))
    })?;
    output::emit(text)?;
    Ok(EXIT_OK)
}

/// How to log in with one of the built-in auth method types.
fn login_help(method_type: &str) -> Option<&'static str> {
    match method_type {
        "token" => Some(
            "Usage: vault-rs login TOKEN [CONFIG K=V...]

  The token auth method allows logging in directly with a token. This
  can be a token from the \"token create\" command or API. There are no
  configuration options for this auth method.

  Authenticate using a token:

      $ vault-rs login hvs.CAESI…

  Authenticate with a token read from stdin:

      $ vault-rs login -

Configuration:

  token=<string>
      The token to use for authentication. This is usually provided directly
      via the \"vault-rs login\" command.",
        ),
        "userpass" => Some(
            "Usage: vault-rs login -method=userpass [CONFIG K=V...]

  The userpass auth method allows users to authenticate using Vault's
  internal user database.

  Authenticate as \"sally\":

      $ vault-rs login -method=userpass username=sally
      Password (will be hidden):

  Authenticate as \"bob\":

      $ vault-rs login -method=userpass username=bob password=password

Configuration:

  password=<string>
      Password to use for authentication. If not provided, the CLI will prompt
      for this on stdin.

  username=<string>
      Username to use for authentication.",
        ),
        "approle" => Some(
            "Usage: vault-rs login -method=approle [CONFIG K=V...]

  The approle auth method lets machines and services authenticate with a
  role ID and a secret ID.

  Authenticate with a role ID and a secret ID:

      $ vault-rs login -method=approle role_id=… secret_id=…

Configuration:

  role_id=<string>
      The role ID of the AppRole.

  secret_id=<string>
      A secret ID issued for the role (omit it when the role does not bind
      secret IDs).",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_list_table_has_vaults_columns() {
        let body = json!({"data": {
            "token/": {"type": "token", "accessor": "auth_token_1",
                       "description": "token based credentials", "plugin_version": ""},
            "up2/": {"type": "userpass", "accessor": "auth_userpass_2", "description": "second"}
        }});
        assert_eq!(
            auth_table(&mounts_of(&body), false),
            "Path      Type        Accessor           Description                Version\n\
             ----      ----        --------           -----------                -------\n\
             token/    token       auth_token_1       token based credentials    n/a\n\
             up2/      userpass    auth_userpass_2    second                     n/a"
        );
    }

    #[test]
    fn detailed_cells_like_vault() {
        assert_eq!(vault_ttl(Some(&json!(0))), "system");
        assert_eq!(vault_ttl(Some(&json!(3600))), "3600");
        assert_eq!(vault_ttl(None), "system");
        assert_eq!(replication(&json!({"local": true})), "local");
        assert_eq!(replication(&json!({})), "replicated");
        assert_eq!(options_text(&json!({"options": null})), "map[]");
        assert_eq!(
            options_text(&json!({"options": {"version": "2"}})),
            "map[version:2]"
        );
        assert_eq!(bool_text(&json!({"seal_wrap": true}), "seal_wrap"), "true");
    }

    #[test]
    fn built_in_help_only_for_known_types() {
        assert!(login_help("userpass").is_some_and(|t| t.contains("-method=userpass")));
        assert!(login_help("token").is_some());
        assert!(login_help("approle").is_some());
        assert!(login_help("ldap").is_none());
    }
}
