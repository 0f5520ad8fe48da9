//! `vault-rs kv …`: the key/value secrets engine, versions 1 and 2.
//!
//! Owns: finding the mount and its KV version (`sys/internal/ui/mounts/…`,
//! like `vault`), mapping a user path (`secret/foo` or `--mount secret foo`)
//! to the API path (`secret/data/foo`, `secret/metadata/foo`, … on v2; the
//! path itself on v1), and the put/get/patch/delete/undelete/destroy/list/
//! rollback/metadata commands with Vault's table layout.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::{json, Map, Value};

use crate::client::{into_body, Client, Method};
use crate::commands::{insert_opt, parse_pairs, split_commas, with_trailing_slash, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::input::parse_data_args;
use crate::output;

/// `vault-rs kv <command>`.
#[derive(Subcommand)]
pub enum KvCommand {
    /// Write data (a new version on KV v2).
    Put(PutArgs),
    /// Read data (latest or --version N).
    Get(GetArgs),
    /// Update some keys of the latest version (KV v2).
    Patch(PatchArgs),
    /// Delete the latest version, or --versions (soft delete on KV v2).
    Delete(DeleteArgs),
    /// Restore soft-deleted --versions (KV v2).
    Undelete(VersionsArgs),
    /// Permanently remove the data of --versions (KV v2).
    Destroy(VersionsArgs),
    /// List the keys under a path.
    List(ListArgs),
    /// Write the data of an older --version as the new version (KV v2).
    Rollback(RollbackArgs),
    /// Read, write or delete a key's metadata (KV v2).
    #[command(subcommand)]
    Metadata(MetadataCommand),
}

/// `kv metadata <command>`.
#[derive(Subcommand)]
pub enum MetadataCommand {
    /// Show the metadata and the versions of a key.
    Get(PathArgs),
    /// Set max versions, cas-required, delete-version-after, custom metadata.
    Put(MetadataPutArgs),
    /// Delete a key with all its versions and metadata.
    Delete(PathArgs),
}

/// `--mount`: where the KV engine is mounted; the path is then relative.
#[derive(Args)]
pub struct MountArg {
    /// Mount path of the KV engine; the PATH argument is then relative to
    /// it (without it, PATH starts with the mount: secret/foo).
    #[arg(long, value_name = "MOUNT")]
    mount: Option<String>,
}

/// `kv put [--mount M] [--cas N] PATH k=v…`.
#[derive(Args)]
pub struct PutArgs {
    #[command(flatten)]
    mount: MountArg,
    /// Check-and-set: write only if the current version is N (0: only if
    /// the key does not exist).
    #[arg(long, value_name = "N")]
    cas: Option<u64>,
    /// Key path.
    path: String,
    /// Data: key=value, key=@file, key=- (stdin), - (JSON object on
    /// stdin), @file.json (JSON object) or @file.env (KEY=value lines).
    #[arg(value_name = "K=V")]
    data: Vec<String>,
}

/// `kv get [--mount M] [--version N] PATH`.
#[derive(Args)]
pub struct GetArgs {
    #[command(flatten)]
    mount: MountArg,
    /// Version to read (default: the latest).
    #[arg(long, value_name = "N")]
    version: Option<u64>,
    /// Key path.
    path: String,
}

/// How `kv patch` applies the change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PatchMethod {
    /// HTTP PATCH with a JSON merge patch.
    Patch,
    /// Read the latest version, merge locally, write with cas.
    Rw,
}

/// `kv patch [--mount M] [--cas N] [--method patch|rw] PATH k=v…`.
#[derive(Args)]
pub struct PatchArgs {
    #[command(flatten)]
    mount: MountArg,
    /// Check-and-set: patch only if the current version is N.
    #[arg(long, value_name = "N")]
    cas: Option<u64>,
    /// patch (default, falls back to rw when the server refuses PATCH) or rw.
    #[arg(long, value_enum)]
    method: Option<PatchMethod>,
    /// Key to remove from the data (repeatable).
    #[arg(long = "remove-data", value_name = "KEY")]
    remove_data: Vec<String>,
    /// Key path.
    path: String,
    /// Data: key=value, key=@file, key=- (stdin) or - (JSON object on stdin).
    #[arg(value_name = "K=V")]
    data: Vec<String>,
}

/// `kv delete [--mount M] [--versions 1,2] PATH`.
#[derive(Args)]
pub struct DeleteArgs {
    #[command(flatten)]
    mount: MountArg,
    /// Versions to delete (comma-separated or repeated; default: latest).
    #[arg(long, value_name = "N,…")]
    versions: Vec<String>,
    /// Key path.
    path: String,
}

/// `kv undelete|destroy --versions 1,2 PATH`.
#[derive(Args)]
pub struct VersionsArgs {
    #[command(flatten)]
    mount: MountArg,
    /// Versions to act on (comma-separated or repeated).
    #[arg(long, value_name = "N,…", required = true)]
    versions: Vec<String>,
    /// Key path.
    path: String,
}

/// `kv list [--mount M] [PATH]`.
#[derive(Args)]
pub struct ListArgs {
    #[command(flatten)]
    mount: MountArg,
    /// Folder path (may be omitted with --mount).
    path: Option<String>,
}

/// `kv rollback --version N PATH`.
#[derive(Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    mount: MountArg,
    /// Version whose data becomes the new version.
    #[arg(long, value_name = "N", required = true)]
    version: u64,
    /// Key path.
    path: String,
}

/// `kv metadata get|delete PATH`.
#[derive(Args)]
pub struct PathArgs {
    #[command(flatten)]
    mount: MountArg,
    /// Key path.
    path: String,
}

/// `kv metadata put [flags] PATH`.
#[derive(Args)]
pub struct MetadataPutArgs {
    #[command(flatten)]
    mount: MountArg,
    /// Number of versions to keep (0: the mount's setting).
    #[arg(long, value_name = "N")]
    max_versions: Option<u64>,
    /// Require --cas on every write of this key.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    cas_required: Option<bool>,
    /// Soft-delete versions this long after they are written (e.g. 30d).
    #[arg(long, value_name = "DURATION")]
    delete_version_after: Option<String>,
    /// Custom metadata key=value (repeatable).
    #[arg(long = "custom-metadata", value_name = "K=V")]
    custom_metadata: Vec<String>,
    /// Key path.
    path: String,
}

/// Runs one kv command.
pub fn run(ctx: &Context, command: KvCommand) -> CmdResult {
    match command {
        KvCommand::Put(args) => put(ctx, args),
        KvCommand::Get(args) => get(ctx, args),
        KvCommand::Patch(args) => patch(ctx, args),
        KvCommand::Delete(args) => delete(ctx, args),
        KvCommand::Undelete(args) => versions_operation(ctx, args, "undelete"),
        KvCommand::Destroy(args) => versions_operation(ctx, args, "destroy"),
        KvCommand::List(args) => list(ctx, args),
        KvCommand::Rollback(args) => rollback(ctx, args),
        KvCommand::Metadata(MetadataCommand::Get(args)) => metadata_get(ctx, args),
        KvCommand::Metadata(MetadataCommand::Put(args)) => metadata_put(ctx, args),
        KvCommand::Metadata(MetadataCommand::Delete(args)) => metadata_delete(ctx, args),
    }
}

/// Where a key lives: its mount, the engine version, and the path the user
/// gave (for v2 with `--mount`, joined to the mount).
#[derive(Debug, PartialEq, Eq)]
struct KvTarget {
    mount: String,
    v2: bool,
    partial: String,
    mount_flag: bool,
}

impl KvTarget {
    /// The API path: `<mount>/<prefix>/<key>` on v2, the plain path on v1.
    fn path(&self, v2_prefix: &str) -> String {
        if self.v2 {
            add_prefix_to_kv_path(&self.partial, &self.mount, v2_prefix)
        } else if self.mount_flag {
            join_path(&[&self.mount, &self.partial])
        } else {
            self.partial.clone()
        }
    }

    fn require_v2(&self, what: &str) -> Result<(), CliError> {
        if self.v2 {
            Ok(())
        } else {
            Err(CliError::failed(format!(
                "{what} not supported on KV Version 1"
            )))
        }
    }
}

/// Joins path parts with single slashes, dropping empty segments.
fn join_path(parts: &[&str]) -> String {
    parts
        .iter()
        .flat_map(|part| part.split('/'))
        .filter(|segment| !segment.is_empty())
        .collect::<Vec<_>>()
        .join("/")
}

/// Inserts `prefix` after the mount: (`secret/foo`, `secret/`, `data`) →
/// `secret/data/foo` (Vault's `addPrefixToKVPath`).
fn add_prefix_to_kv_path(path: &str, mount: &str, prefix: &str) -> String {
    let mount_trimmed = mount.trim_end_matches('/');
    if path == mount || path == mount_trimmed {
        return join_path(&[mount, prefix]);
    }
    let mount_dir = format!("{mount_trimmed}/");
    let suffix = path.strip_prefix(&mount_dir).unwrap_or(path);
    join_path(&[mount_trimmed, prefix, suffix])
}

/// Asks the server which mount holds `path` and its KV version; a 404
/// (no such endpoint) means version 1 with an unknown mount. A 403 says
/// either that no mount is there or that this token may not use it (the
/// server does not tell which): when the token may list the mounts and
/// none serves `path`, it is the former; otherwise the 403 is the error.
pub(crate) fn preflight(client: &Client, path: &str) -> Result<(String, bool), CliError> {
    let api_path = format!("sys/internal/ui/mounts/{path}");
    let response = client.send(Method::Get, &api_path, &[], None)?;
    if response.status == 404 || (response.status == 403 && known_unmounted(client, path)) {
        return Ok((String::new(), false));
    }
    let body = into_body(Method::Get, response)?.unwrap_or(Value::Null);
    let data = output::data_of(&body);
    let mount = data
        .and_then(|data| data.get("path"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let version = data
        .and_then(|data| data.get("options"))
        .and_then(|options| options.get("version"))
        .map(output::format_value)
        .unwrap_or_default();
    Ok((mount, version == "2"))
}

/// Whether `sys/mounts` (if this token may read it) shows that no secrets
/// engine serves `path`.
fn known_unmounted(client: &Client, path: &str) -> bool {
    let Ok(response) = client.send(Method::Get, "sys/mounts", &[], None) else {
        return false;
    };
    if response.status != 200 {
        return false;
    }
    let Some(body) = response.body else {
        return false;
    };
    let wanted = with_trailing_slash(path.trim_start_matches('/'));
    !crate::commands::secrets::mounts_of(&body)
        .keys()
        .any(|mount| wanted.starts_with(mount.as_str()))
}

/// The error for a path that no secrets engine serves.
fn no_mount(path: &str) -> CliError {
    CliError::not_found(format!(
        "No secrets engine is mounted at {} (see \"vault-rs secrets list\")",
        path.trim_end_matches('/')
    ))
}

/// The API paths of a KV v2 mount; anything else under it is not a place
/// where data can be read.
const V2_PREFIXES: [&str; 7] = [
    "data", "metadata", "delete", "undelete", "destroy", "config", "subkeys",
];

/// For a `read` that found nothing: when `path` is on a KV version 2 mount
/// but not under one of its API prefixes (`secret/foo` rather than
/// `secret/data/foo`), a warning that says where the data is and that
/// `kv get` finds it. `None` otherwise, or when the mount cannot be asked.
pub fn kv_v2_read_hint(client: &Client, path: &str) -> Option<String> {
    let (mount, v2) = preflight(client, path).ok()?;
    if !v2 || mount.is_empty() {
        return None;
    }
    let relative = path
        .strip_prefix(mount.as_str())
        .or_else(|| path.strip_prefix(mount.trim_end_matches('/')))?
        .trim_start_matches('/');
    let first = relative.split('/').next().unwrap_or("");
    if V2_PREFIXES.contains(&first) {
        return None;
    }
    Some(format!(
        "WARNING! {mount} is a KV version 2 secrets engine: its data is read at {}, \
         not at {path}.\nUse \"vault-rs kv get {path}\" for this operation.\n",
        add_prefix_to_kv_path(path, &mount, "data")
    ))
}

/// Resolves the mount and KV version for a path argument.
fn resolve(client: &Client, mount: &MountArg, path: &str) -> Result<KvTarget, CliError> {
    let partial = path.trim().trim_start_matches('/').to_owned();
    let target = match mount.mount.as_deref() {
        Some(flag) => {
            let flag = flag.trim().trim_matches('/');
            if flag.is_empty() {
                return Err(CliError::usage("--mount must not be empty"));
            }
            let (mount, v2) = preflight(client, flag)?;
            if mount.is_empty() {
                return Err(no_mount(flag));
            }
            let partial = if v2 {
                join_path(&[&mount, &partial])
            } else {
                partial
            };
            KvTarget {
                mount,
                v2,
                partial,
                mount_flag: true,
            }
        }
        None => {
            if partial.trim_end_matches('/').is_empty() {
                return Err(CliError::usage("the path must not be empty"));
            }
            let (mount, v2) = preflight(client, &partial)?;
            if mount.is_empty() {
                return Err(no_mount(&partial));
            }
            KvTarget {
                mount,
                v2,
                partial,
                mount_flag: false,
            }
        }
    };
    Ok(target)
}

/// The body of a KV v2 write: `{data, options: {cas}}`.
fn v2_write_body(data: Map<String, Value>, cas: Option<u64>) -> Value {
    let mut options = Map::new();
    insert_opt(&mut options, "cas", cas.map(|cas| json!(cas)));
    json!({ "data": data, "options": options })
}

/// Parses `--versions` values (comma-separated or repeated).
fn parse_versions(values: &[String]) -> Result<Vec<u64>, CliError> {
    split_commas(values)
        .into_iter()
        .map(|text| match text.parse::<u64>() {
            Ok(version) if version > 0 => Ok(version),
            _ => Err(CliError::usage(format!(
                "invalid version {text:?}: versions are positive integers"
            ))),
        })
        .collect()
}

/// GET of a KV path. A 404 that still carries data or warnings (a deleted
/// or destroyed version: metadata without data) is returned as a reply;
/// a bare 404 is `None`.
fn read_kv(
    client: &Client,
    path: &str,
    query: &[(&str, String)],
) -> Result<Option<Value>, CliError> {
    let response = client.send(Method::Get, path, query, None)?;
    if response.status == 404 {
        return Ok(response.body.filter(has_content));
    }
    Ok(into_body(Method::Get, response)?)
}

fn has_content(body: &Value) -> bool {
    let data = output::data_of(body).is_some_and(|data| !data.is_empty());
    let warnings = body
        .get("warnings")
        .and_then(Value::as_array)
        .is_some_and(|warnings| !warnings.is_empty());
    data || warnings
}

/// Prints the `Key  Value` table of `map` under a `=== title ===` header.
fn print_section(title: &str, map: &Map<String, Value>) -> Result<(), CliError> {
    output::emit(&output::header_for_map(title, map))?;
    let rows = output::map_rows(map);
    if rows.is_empty() {
        return Ok(());
    }
    output::emit(&output::key_value_table(&rows))
}

/// Prints the reply of a write: the new version's metadata (v2), or a
/// success line when the server sent no body.
fn print_write_result(
    ctx: &Context,
    full_path: &str,
    reply: Option<Value>,
) -> Result<(), CliError> {
    let Some(body) = reply.filter(|body| output::data_of(body).is_some()) else {
        return ctx.success(&format!("Data written to: {full_path}"));
    };
    if ctx.output.field.is_some() || !ctx.output.is_table() {
        return ctx.output.secret(&body);
    }
    output::print_warnings(&body);
    output::emit(&output::path_header("Secret Path", full_path))?;
    let metadata = output::data_of(&body).cloned().unwrap_or_default();
    print_section("Metadata", &metadata)
}

fn put(ctx: &Context, args: PutArgs) -> CmdResult {
    if args.data.is_empty() {
        return Err(CliError::usage(
            "Must supply data (key=value, key=@file, key=- or -)",
        ));
    }
    let data = parse_data_args(&args.data, 1)?;
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &args.path)?;
    let full_path = target.path("data");
    let reply = if target.v2 {
        let body = v2_write_body(data, args.cas);
        client.request(Method::Post, &full_path, Some(&body))?
    } else {
        if args.cas.is_some() {
            return Err(CliError::usage("--cas is only supported on KV Version 2"));
        }
        client.request(Method::Put, &full_path, Some(&Value::Object(data)))?
    };
    print_write_result(ctx, &full_path, reply)?;
    Ok(EXIT_OK)
}

fn get(ctx: &Context, args: GetArgs) -> CmdResult {
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &args.path)?;
    let full_path = target.path("data");
    let mut query = Vec::new();
    if let Some(version) = args.version {
        if !target.v2 {
            return Err(CliError::usage(
                "--version is only supported on KV Version 2",
            ));
        }
        query.push(("version", version.to_string()));
    }
    let body = read_kv(&client, &full_path, &query)?
        .ok_or_else(|| CliError::not_found(format!("No value found at {full_path}")))?;
    if let Some(field) = &ctx.output.field {
        get_field(ctx, &target, &full_path, &body, field)?;
    } else if !ctx.output.is_table() {
        ctx.output.envelope(&body)?;
    } else {
        print_get_table(&target, &full_path, &body)?;
    }
    Ok(EXIT_OK)
}

/// `kv get --field`: on v2 the field is looked up in the secret's data.
fn get_field(
    ctx: &Context,
    target: &KvTarget,
    full_path: &str,
    body: &Value,
    field: &str,
) -> Result<(), CliError> {
    if !target.v2 {
        return ctx.output.secret(body);
    }
    let inner = output::data_of(body)
        .and_then(|data| data.get("data"))
        .and_then(Value::as_object)
        .ok_or_else(|| CliError::failed(format!("No data found at {full_path}")))?;
    if field == "data" && !inner.contains_key("data") {
        return ctx.output.raw(&Value::Object(inner.clone()));
    }
    ctx.output.map(inner)
}

fn print_get_table(target: &KvTarget, full_path: &str, body: &Value) -> Result<(), CliError> {
    output::print_warnings(body);
    let outer = output::data_of(body);
    if target.v2 {
        output::emit(&output::path_header("Secret Path", full_path))?;
    }
    if let Some(metadata) = outer
        .and_then(|data| data.get("metadata"))
        .and_then(Value::as_object)
    {
        print_section("Metadata", metadata)?;
        output::emit("")?;
    }
    let data = if target.v2 {
        outer
            .and_then(|data| data.get("data"))
            .and_then(Value::as_object)
    } else {
        outer
    };
    if let Some(data) = data {
        print_section("Data", data)?;
    }
    Ok(())
}

fn patch(ctx: &Context, args: PatchArgs) -> CmdResult {
    if args.data.is_empty() && args.remove_data.is_empty() {
        return Err(CliError::usage(
            "Must supply data (key=value, key=@file, key=- or -) or --remove-data",
        ));
    }
    let mut data = parse_data_args(&args.data, 1)?;
    for key in &args.remove_data {
        data.insert(key.clone(), Value::Null);
    }
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &args.path)?;
    if !target.v2 {
        return Err(CliError::failed(
            "K/V engine mount must be version 2 for patch support",
        ));
    }
    let full_path = target.path("data");
    let reply = match args.method {
        Some(PatchMethod::Rw) => read_then_write(&client, &full_path, data, args.cas)?,
        Some(PatchMethod::Patch) => merge_patch(&client, &full_path, data, args.cas)?,
        None => match merge_patch(&client, &full_path, data.clone(), args.cas) {
            Err(CliError::Request(error)) if error.status() == Some(405) => {
                read_then_write(&client, &full_path, data, args.cas)?
            }
            other => other?,
        },
    };
    print_write_result(ctx, &full_path, reply)?;
    Ok(EXIT_OK)
}

fn merge_patch(
    client: &Client,
    full_path: &str,
    data: Map<String, Value>,
    cas: Option<u64>,
) -> Result<Option<Value>, CliError> {
    let body = v2_write_body(data, cas);
    Ok(client.request(Method::Patch, full_path, Some(&body))?)
}

/// Reads the latest version, applies the patch locally (null removes a
/// key) and writes the result with cas = the version read.
fn read_then_write(
    client: &Client,
    full_path: &str,
    patch: Map<String, Value>,
    cas: Option<u64>,
) -> Result<Option<Value>, CliError> {
    let current = read_kv(client, full_path, &[])?
        .ok_or_else(|| CliError::not_found(format!("No value found at {full_path}")))?;
    let outer = output::data_of(&current);
    let mut data = outer
        .and_then(|outer| outer.get("data"))
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            CliError::failed(format!("No data found at {full_path}: nothing to patch"))
        })?;
    let version = outer
        .and_then(|outer| outer.get("metadata"))
        .and_then(|metadata| metadata.get("version"))
        .and_then(Value::as_u64);
    for (key, value) in patch {
        if value.is_null() {
            data.remove(&key);
        } else {
            data.insert(key, value);
        }
    }
    let body = v2_write_body(data, cas.or(version));
    Ok(client.request(Method::Post, full_path, Some(&body))?)
}

fn delete(ctx: &Context, args: DeleteArgs) -> CmdResult {
    let versions = parse_versions(&args.versions)?;
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &args.path)?;
    let full_path = if !target.v2 || versions.is_empty() {
        if !versions.is_empty() {
            return Err(CliError::usage(
                "--versions is only supported on KV Version 2",
            ));
        }
        let full_path = target.path("data");
        client.request(Method::Delete, &full_path, None)?;
        full_path
    } else {
        let full_path = target.path("delete");
        let body = json!({ "versions": versions });
        client.request(Method::Post, &full_path, Some(&body))?;
        full_path
    };
    ctx.success(&format!("Data deleted (if it existed) at: {full_path}"))?;
    Ok(EXIT_OK)
}

/// `undelete` and `destroy`: POST `<mount>/<operation>/<key>` {versions}.
fn versions_operation(ctx: &Context, args: VersionsArgs, operation: &str) -> CmdResult {
    let versions = parse_versions(&args.versions)?;
    if versions.is_empty() {
        return Err(CliError::usage(format!(
            "No versions provided, use the \"--versions\" flag to specify the version to {operation}."
        )));
    }
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &args.path)?;
    target.require_v2(&capitalize(operation))?;
    let full_path = target.path(operation);
    let body = json!({ "versions": versions });
    client.request(Method::Post, &full_path, Some(&body))?;
    ctx.success(&format!("Data written to: {full_path}"))?;
    Ok(EXIT_OK)
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn list(ctx: &Context, args: ListArgs) -> CmdResult {
    let path = args.path.unwrap_or_default();
    if args.mount.mount.is_none() && path.trim().trim_matches('/').is_empty() {
        return Err(CliError::usage("give the path to list (or --mount)"));
    }
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &path)?;
    let full_path = with_trailing_slash(&target.path("metadata"));
    let body = client
        .list(&full_path)?
        .ok_or_else(|| CliError::not_found(format!("No value found at {full_path}")))?;
    ctx.output.list(&body)?;
    Ok(EXIT_OK)
}

fn rollback(ctx: &Context, args: RollbackArgs) -> CmdResult {
    if args.version == 0 {
        return Err(CliError::usage("--version must be a positive integer"));
    }
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &args.path)?;
    target.require_v2("Rollback")?;
    let data_path = target.path("data");
    let current = current_version(&client, &target.path("metadata"), &data_path)?;
    if args.version > current {
        return Err(CliError::failed(format!(
            "version {} does not exist at {data_path} (the current version is {current})",
            args.version
        )));
    }
    let old = read_kv(
        &client,
        &data_path,
        &[("version", args.version.to_string())],
    )?
    .ok_or_else(|| {
        CliError::not_found(format!(
            "No value found at {data_path} version {}",
            args.version
        ))
    })?;
    let data = output::data_of(&old)
        .and_then(|outer| outer.get("data"))
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            CliError::failed(format!(
                "cannot roll back to version {}: it is deleted or destroyed",
                args.version
            ))
        })?;
    let body = v2_write_body(data, Some(current));
    let reply = client.request(Method::Post, &data_path, Some(&body))?;
    print_write_result(ctx, &data_path, reply)?;
    Ok(EXIT_OK)
}

/// `current_version` from the key's metadata.
fn current_version(client: &Client, metadata_path: &str, data_path: &str) -> Result<u64, CliError> {
    let metadata = client
        .read(metadata_path)?
        .ok_or_else(|| CliError::not_found(format!("No value found at {data_path}")))?;
    output::data_of(&metadata)
        .and_then(|data| data.get("current_version"))
        .and_then(Value::as_u64)
        .ok_or_else(|| {
            CliError::failed(format!(
                "the metadata of {data_path} has no current_version"
            ))
        })
}

fn metadata_get(ctx: &Context, args: PathArgs) -> CmdResult {
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &args.path)?;
    target.require_v2("Metadata")?;
    let full_path = target.path("metadata");
    let body = client
        .read(&full_path)?
        .ok_or_else(|| CliError::not_found(format!("No value found at {full_path}")))?;
    if ctx.output.field.is_some() || !ctx.output.is_table() {
        ctx.output.secret(&body)?;
        return Ok(EXIT_OK);
    }
    let mut metadata = output::data_of(&body)
        .cloned()
        .ok_or_else(|| CliError::not_found(format!("No value found at {full_path}")))?;
    let versions = metadata.remove("versions").unwrap_or(Value::Null);
    output::emit(&output::path_header("Metadata Path", &full_path))?;
    print_section("Metadata", &metadata)?;
    print_versions(&versions)?;
    Ok(EXIT_OK)
}

/// Prints one `=== Version N ===` section per version, in numeric order.
fn print_versions(versions: &Value) -> Result<(), CliError> {
    let Some(versions) = versions.as_object() else {
        return Ok(());
    };
    let mut numbers: Vec<(u64, &String)> = versions
        .keys()
        .filter_map(|key| key.parse::<u64>().ok().map(|number| (number, key)))
        .collect();
    numbers.sort();
    for (number, key) in numbers {
        let entry = versions[key].as_object().cloned().unwrap_or_default();
        output::emit("")?;
        print_section(&format!("Version {number}"), &entry)?;
    }
    Ok(())
}

fn metadata_put(ctx: &Context, args: MetadataPutArgs) -> CmdResult {
    let mut body = Map::new();
    insert_opt(
        &mut body,
        "max_versions",
        args.max_versions.map(|n| json!(n)),
    );
    insert_opt(
        &mut body,
        "cas_required",
        args.cas_required.map(Value::Bool),
    );
    insert_opt(
        &mut body,
        "delete_version_after",
        args.delete_version_after.map(Value::String),
    );
    let custom = parse_pairs(&args.custom_metadata, "custom-metadata")?;
    if !custom.is_empty() {
        body.insert("custom_metadata".to_owned(), Value::Object(custom));
    }
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &args.path)?;
    target.require_v2("Metadata")?;
    let full_path = target.path("metadata");
    client.request(Method::Post, &full_path, Some(&Value::Object(body)))?;
    ctx.success(&format!("Data written to: {full_path}"))?;
    Ok(EXIT_OK)
}

fn metadata_delete(ctx: &Context, args: PathArgs) -> CmdResult {
    let client = ctx.client()?;
    let target = resolve(&client, &args.mount, &args.path)?;
    target.require_v2("Metadata")?;
    let full_path = target.path("metadata");
    client.request(Method::Delete, &full_path, None)?;
    ctx.success(&format!("Data deleted (if it existed) at: {full_path}"))?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_go_after_the_mount() {
        assert_eq!(
            add_prefix_to_kv_path("secret/foo", "secret/", "data"),
            "secret/data/foo"
        );
        assert_eq!(
            add_prefix_to_kv_path("secret/a/b", "secret/", "metadata"),
            "secret/metadata/a/b"
        );
        assert_eq!(
            add_prefix_to_kv_path("secret", "secret/", "metadata"),
            "secret/metadata"
        );
        assert_eq!(
            add_prefix_to_kv_path("secret/", "secret/", "metadata"),
            "secret/metadata"
        );
        assert_eq!(
            add_prefix_to_kv_path("team/kv/x", "team/kv/", "data"),
            "team/kv/data/x"
        );
    }

    #[test]
    fn target_paths() {
        let v2 = KvTarget {
            mount: "secret/".to_owned(),
            v2: true,
            partial: "secret/foo".to_owned(),
            mount_flag: true,
        };
        assert_eq!(v2.path("data"), "secret/data/foo");
        assert_eq!(v2.path("destroy"), "secret/destroy/foo");
        let v1_flag = KvTarget {
            mount: "kv/".to_owned(),
            v2: false,
            partial: "foo".to_owned(),
            mount_flag: true,
        };
        assert_eq!(v1_flag.path("data"), "kv/foo");
        let v1 = KvTarget {
            mount: "kv/".to_owned(),
            v2: false,
            partial: "kv/foo".to_owned(),
            mount_flag: false,
        };
        assert_eq!(v1.path("data"), "kv/foo");
        assert!(v1.require_v2("Metadata").is_err());
    }

    #[test]
    fn versions_are_parsed() {
        let values = vec!["1,2".to_owned(), "5".to_owned()];
        assert_eq!(parse_versions(&values).ok(), Some(vec![1, 2, 5]));
        assert!(matches!(
            parse_versions(&["x".to_owned()]),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(
            parse_versions(&["0".to_owned()]),
            Err(CliError::Usage(_))
        ));
    }

    #[test]
    fn write_body_has_cas_only_when_given() {
        let data: Map<String, Value> = Map::new();
        assert_eq!(
            v2_write_body(data.clone(), None),
            json!({"data": {}, "options": {}})
        );
        assert_eq!(
            v2_write_body(data, Some(3)),
            json!({"data": {}, "options": {"cas": 3}})
        );
    }

    #[test]
    fn deleted_version_404_keeps_metadata() {
        let body = json!({"data": {"data": null, "metadata": {"version": 2}}, "warnings": null});
        assert!(has_content(&body));
        assert!(!has_content(&json!({"errors": []})));
    }
}
