//! `vault-rs secrets enable|disable|list|tune|move`: secrets engine
//! mounts (sys/mounts, sys/remount).

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::client::Method;
use crate::commands::auth::{bool_text, options_text, replication, vault_ttl};
use crate::commands::{
    clean_path, expect_body, insert_opt, parse_pairs, with_trailing_slash, Context,
};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::output;

/// `vault-rs secrets <command>`.
#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Mount a secrets engine (TYPE: kv, kv-v2, apikeys, …).
    Enable(EnableArgs),
    /// Unmount a secrets engine and delete its data.
    Disable(DisableArgs),
    /// List the mounted secrets engines.
    List(ListArgs),
    /// Change the settings of a mounted secrets engine.
    Tune(TuneArgs),
    /// Move a secrets engine (or, with auth/ paths, an auth method) and
    /// all its data to a new path.
    Move(MoveArgs),
}

/// `secrets move SOURCE DESTINATION`.
#[derive(Args)]
pub struct MoveArgs {
    /// Current mount path.
    #[arg(value_name = "SOURCE")]
    source: String,
    /// New mount path.
    #[arg(value_name = "DESTINATION")]
    destination: String,
}

/// `secrets enable [--path P] [--description D] [--version N] TYPE`.
#[derive(Args)]
pub struct EnableArgs {
    /// Engine type. `kv-v2` means type kv with version 2.
    #[arg(value_name = "TYPE")]
    engine_type: String,
    /// Mount path (default: the type).
    #[arg(long)]
    path: Option<String>,
    /// Human-readable description of the mount.
    #[arg(long)]
    description: Option<String>,
    /// KV version (sets options.version).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
    version: Option<u32>,
    /// Default lease TTL (e.g. 1h).
    #[arg(long, value_name = "DURATION")]
    default_lease_ttl: Option<String>,
    /// Maximum lease TTL (e.g. 24h).
    #[arg(long, value_name = "DURATION")]
    max_lease_ttl: Option<String>,
    /// Engine options as key=value (repeatable).
    #[arg(long = "options", value_name = "K=V")]
    options: Vec<String>,
}

/// `secrets disable PATH`.
#[derive(Args)]
pub struct DisableArgs {
    /// Mount path.
    path: String,
}

/// `secrets list [--detailed]`.
#[derive(Args)]
pub struct ListArgs {
    /// Also show TTLs and options.
    #[arg(long)]
    detailed: bool,
}

/// `secrets tune [flags] PATH`.
#[derive(Args)]
pub struct TuneArgs {
    /// Mount path.
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
    /// KV version (sets options.version).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
    version: Option<u32>,
    /// Engine options as key=value (repeatable).
    #[arg(long = "options", value_name = "K=V")]
    options: Vec<String>,
}

/// Runs one secrets command.
pub fn run(ctx: &Context, command: SecretsCommand) -> CmdResult {
    match command {
        SecretsCommand::Enable(args) => enable(ctx, args),
        SecretsCommand::Disable(args) => disable(ctx, args),
        SecretsCommand::List(args) => list(ctx, args),
        SecretsCommand::Tune(args) => tune(ctx, args),
        SecretsCommand::Move(args) => move_mount(ctx, args),
    }
}

/// The mount type and options for `engine_type` (`kv-v2` → kv, version 2).
fn engine_type_and_version(engine_type: &str, version: Option<u32>) -> (String, Option<u32>) {
    match engine_type {
        "kv-v2" => ("kv".to_owned(), Some(version.unwrap_or(2))),
        other => (other.to_owned(), version),
    }
}

pub fn mount_options(
    pairs: &[String],
    version: Option<u32>,
) -> Result<Map<String, Value>, CliError> {
    let mut options = parse_pairs(pairs, "options")?;
    insert_opt(
        &mut options,
        "version",
        version.map(|v| json!(v.to_string())),
    );
    Ok(options)
}

pub fn ttl_config(default_ttl: Option<String>, max_ttl: Option<String>) -> Map<String, Value> {
    let mut config = Map::new();
    insert_opt(
        &mut config,
        "default_lease_ttl",
        default_ttl.map(Value::String),
    );
    insert_opt(&mut config, "max_lease_ttl", max_ttl.map(Value::String));
    config
}

fn enable(ctx: &Context, args: EnableArgs) -> CmdResult {
    let engine = args.engine_type.trim();
    if engine.is_empty() {
        return Err(CliError::usage("the engine type must not be empty"));
    }
    let path = clean_path(args.path.as_deref().unwrap_or(engine))?;
    let (mount_type, version) = engine_type_and_version(engine, args.version);
    let mut request = Map::new();
    request.insert("type".to_owned(), json!(mount_type));
    insert_opt(
        &mut request,
        "description",
        args.description.map(Value::String),
    );
    let config = ttl_config(args.default_lease_ttl, args.max_lease_ttl);
    if !config.is_empty() {
        request.insert("config".to_owned(), Value::Object(config));
    }
    let options = mount_options(&args.options, version)?;
    if !options.is_empty() {
        request.insert("options".to_owned(), Value::Object(options));
    }
    let client = ctx.client()?;
    let api_path = format!("sys/mounts/{path}");
    client.request(Method::Post, &api_path, Some(&Value::Object(request)))?;
    ctx.success(&format!(
        "Enabled the {engine} secrets engine at: {}",
        with_trailing_slash(&path)
    ))?;
    Ok(EXIT_OK)
}

fn disable(ctx: &Context, args: DisableArgs) -> CmdResult {
    let path = clean_path(&args.path)?;
    let client = ctx.client()?;
    client.request(Method::Delete, &format!("sys/mounts/{path}"), None)?;
    ctx.success(&format!(
        "Disabled the secrets engine (if it existed) at: {}",
        with_trailing_slash(&path)
    ))?;
    Ok(EXIT_OK)
}

/// The mount entries of a `sys/mounts` reply (under `data`, or at the top
/// level for older replies), keyed by path.
pub fn mounts_of(body: &Value) -> Map<String, Value> {
    let source = output::data_of(body)
        .filter(|data| !data.is_empty())
        .or_else(|| body.as_object());
    source
        .map(|map| {
            map.iter()
                .filter(|(_, mount)| mount.get("type").is_some())
                .map(|(path, mount)| (path.clone(), mount.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn list(ctx: &Context, args: ListArgs) -> CmdResult {
    let client = ctx.client()?;
    let body = expect_body(
        client.request(Method::Get, "sys/mounts", None)?,
        "GET sys/mounts",
    )?;
    let mounts = mounts_of(&body);
    if ctx.output.field.is_some() || !ctx.output.is_table() {
        ctx.output.map(&mounts)?;
        return Ok(EXIT_OK);
    }
    output::emit(&mounts_table(&mounts, args.detailed))?;
    Ok(EXIT_OK)
}

fn mounts_table(mounts: &Map<String, Value>, detailed: bool) -> String {
    let mut paths: Vec<&String> = mounts.keys().collect();
    paths.sort();
    let rows: Vec<Vec<String>> = paths
        .into_iter()
        .map(|path| mount_row(path, &mounts[path], detailed))
        .collect();
    if detailed {
        output::table(
            &[
                "Path",
                "Plugin",
                "Accessor",
                "Default TTL",
                "Max TTL",
                "Force No Cache",
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
        output::table(&["Path", "Type", "Accessor", "Description"], &rows)
    }
}

fn mount_row(path: &str, mount: &Value, detailed: bool) -> Vec<String> {
    let text = |key: &str| mount.get(key).map(output::format_value).unwrap_or_default();
    if !detailed {
        return vec![
            path.to_owned(),
            text("type"),
            text("accessor"),
            text("description"),
        ];
    }
    let config = mount.get("config").cloned().unwrap_or(Value::Null);
    // As `vault secrets list -detailed`: the built-in engines have no TTL.
    let builtin = matches!(
        mount.get("type").and_then(Value::as_str),
        Some("system" | "cubbyhole" | "ns_system")
    );
    let ttl = |key: &str| {
        if builtin {
            "n/a".to_owned()
        } else {
            vault_ttl(config.get(key))
        }
    };
    let force_no_cache = config
        .get("force_no_cache")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    vec![
        path.to_owned(),
        text("type"),
        text("accessor"),
        ttl("default_lease_ttl"),
        ttl("max_lease_ttl"),
        force_no_cache.to_string(),
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
}

fn tune(ctx: &Context, args: TuneArgs) -> CmdResult {
    let path = clean_path(&args.path)?;
    let mut request = ttl_config(args.default_lease_ttl, args.max_lease_ttl);
    insert_opt(
        &mut request,
        "description",
        args.description.map(Value::String),
    );
    let options = mount_options(&args.options, args.version)?;
    if !options.is_empty() {
        request.insert("options".to_owned(), Value::Object(options));
    }
    if request.is_empty() {
        return Err(CliError::usage(
            "nothing to tune: give --description, --default-lease-ttl, --max-lease-ttl, --version or --options",
        ));
    }
    let client = ctx.client()?;
    let api_path = format!("sys/mounts/{path}/tune");
    client.request(Method::Post, &api_path, Some(&Value::Object(request)))?;
    ctx.success(&format!(
        "Tuned the secrets engine at: {}",
        with_trailing_slash(&path)
    ))?;
    Ok(EXIT_OK)
}

/// `sys/remount`, then its status (the server moves at once; the status
/// says whether it succeeded).
fn move_mount(ctx: &Context, args: MoveArgs) -> CmdResult {
    let source = with_trailing_slash(&clean_path(&args.source)?);
    let destination = with_trailing_slash(&clean_path(&args.destination)?);
    let client = ctx.client()?;
    let request = json!({"from": source, "to": destination});
    let body = expect_body(
        client.request(Method::Post, "sys/remount", Some(&request))?,
        "sys/remount",
    )?;
    let id = output::data_of(&body)
        .and_then(|d| d.get("migration_id"))
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::failed("the server sent no migration_id for the move"))?
        .to_owned();
    let status = expect_body(
        client.request(Method::Get, &format!("sys/remount/status/{id}"), None)?,
        "sys/remount/status",
    )?;
    let state = output::data_of(&status)
        .and_then(|d| d.get("migration_info"))
        .and_then(|i| i.get("status"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    if state != "success" {
        return Err(CliError::failed(format!(
            "moving {source} to {destination} (migration ID {id}) ended as: {state}"
        )));
    }
    ctx.success(&format!(
        "Finished moving secrets engine {source} to {destination}, with migration ID {id}"
    ))?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_v2_shortcut() {
        assert_eq!(
            engine_type_and_version("kv-v2", None),
            ("kv".to_owned(), Some(2))
        );
        assert_eq!(
            engine_type_and_version("kv", Some(2)),
            ("kv".to_owned(), Some(2))
        );
        assert_eq!(
            engine_type_and_version("apikeys", None),
            ("apikeys".to_owned(), None)
        );
    }

    #[test]
    fn mounts_from_data_or_top_level() {
        let body = json!({
            "request_id": "x", "secret/": {"type": "kv"},
            "data": {"secret/": {"type": "kv"}, "sys/": {"type": "system"}}
        });
        let mounts = mounts_of(&body);
        assert_eq!(mounts.len(), 2);
        let raw = json!({"request_id": "x", "secret/": {"type": "kv"}, "data": null});
        assert_eq!(mounts_of(&raw).len(), 1);
    }

    #[test]
    fn mounts_table_layout() {
        let body = json!({"data": {"secret/": {"type": "kv", "accessor": "kv_1", "description": "key/value"}}});
        let text = mounts_table(&mounts_of(&body), false);
        assert_eq!(
            text,
            "Path       Type    Accessor    Description\n\
             ----       ----    --------    -----------\n\
             secret/    kv      kv_1        key/value"
        );
    }

    #[test]
    fn detailed_row_like_vault() {
        let kv = json!({"type": "kv", "accessor": "kv_1", "local": false, "seal_wrap": false,
            "config": {"default_lease_ttl": 0, "max_lease_ttl": 3600, "force_no_cache": false},
            "options": {"version": "2"}, "description": "", "uuid": "u-1",
            "deprecation_status": "supported"});
        assert_eq!(
            mount_row("secret/", &kv, true),
            vec![
                "secret/",
                "kv",
                "kv_1",
                "system",
                "3600",
                "false",
                "replicated",
                "false",
                "false",
                "map[version:2]",
                "",
                "u-1",
                "",
                "",
                "",
                "supported"
            ]
        );
        let cubbyhole = json!({"type": "cubbyhole", "local": true,
            "config": {"default_lease_ttl": 60}});
        let row = mount_row("cubbyhole/", &cubbyhole, true);
        assert_eq!(&row[3..7], &["n/a", "n/a", "false", "local"]);
    }
}
