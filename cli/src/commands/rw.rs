//! `vault-rs read|write|delete|list|path-help PATH`: the generic commands that send
//! one request to any path under `/v1/` and print the reply like `vault`.

use clap::Args;
use serde_json::Value;

use crate::client::{into_body, Method};
use crate::commands::{clean_path, kv, with_trailing_slash, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::input::parse_data_args;
use crate::output;

/// `read PATH [k=v…]` (the pairs become query parameters).
#[derive(Args)]
pub struct ReadArgs {
    /// Path to read, relative to /v1/.
    path: String,
    /// Query parameters as key=value.
    #[arg(value_name = "K=V")]
    data: Vec<String>,
}

/// `write PATH k=v… | k=@file | k=- | -`.
#[derive(Args)]
pub struct WriteArgs {
    /// Path to write, relative to /v1/.
    path: String,
    /// Data: key=value, key=@file (file contents), key=- (stdin), - (a
    /// JSON object on stdin), @file.json (a JSON object) or @file.env
    /// (KEY=value lines).
    #[arg(value_name = "K=V")]
    data: Vec<String>,
    /// Send the request even without data.
    #[arg(long, short = 'f')]
    force: bool,
}

/// `delete PATH [k=v…]` (the pairs become query parameters).
#[derive(Args)]
pub struct DeleteArgs {
    /// Path to delete, relative to /v1/.
    path: String,
    /// Query parameters as key=value.
    #[arg(value_name = "K=V")]
    data: Vec<String>,
}

/// `list PATH`.
#[derive(Args)]
pub struct ListArgs {
    /// Path to list, relative to /v1/.
    path: String,
}

/// `path-help PATH`.
#[derive(Args)]
pub struct PathHelpArgs {
    /// Path to describe, relative to /v1/ (a mount, or a path under it).
    path: String,
}

/// `path-help`: GET the path with `help=1` and print the help text (the
/// whole reply with `--format json`).
pub fn path_help(ctx: &Context, args: PathHelpArgs) -> CmdResult {
    let path = clean_path(&args.path)?;
    let client = ctx.client()?;
    let Some(body) = client.read_with_query(&path, &[("help", "1".to_string())])? else {
        return Err(CliError::not_found(format!(
            "No help for {path}: no mount or route serves it"
        )));
    };
    match ctx.output.format {
        output::Format::Json => output::print_json(&body)?,
        _ => {
            let text = body.get("help").and_then(Value::as_str).unwrap_or_default();
            output::emit(text)?;
        }
    }
    Ok(EXIT_OK)
}

/// `read`: GET the path and print the reply.
pub fn read(ctx: &Context, args: ReadArgs) -> CmdResult {
    let path = clean_path(&args.path)?;
    let query = query_pairs(&args.data)?;
    let client = ctx.client()?;
    let query_refs: Vec<(&str, String)> =
        query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let Some(body) = client.read_with_query(&path, &query_refs)? else {
        if let Some(hint) = kv::kv_v2_read_hint(&client, &path) {
            eprintln!("{hint}");
        }
        return Err(CliError::not_found(format!("No value found at {path}")));
    };
    ctx.output.secret(&body)?;
    Ok(EXIT_OK)
}

/// `write`: PUT the data as JSON; print the reply, or a success line.
pub fn write(ctx: &Context, args: WriteArgs) -> CmdResult {
    let path = clean_path(&args.path)?;
    if args.data.is_empty() && !args.force {
        return Err(CliError::usage(
            "Must supply data or use --force (data: key=value, key=@file, key=- or -)",
        ));
    }
    let data = parse_data_args(&args.data, 1)?;
    let client = ctx.client()?;
    let reply = client.request(Method::Put, &path, Some(&Value::Object(data)))?;
    match reply {
        Some(body) => ctx.output.secret(&body)?,
        None => ctx.success(&format!("Data written to: {path}"))?,
    }
    Ok(EXIT_OK)
}

/// `delete`: DELETE the path.
pub fn delete(ctx: &Context, args: DeleteArgs) -> CmdResult {
    let path = clean_path(&args.path)?;
    let query = query_pairs(&args.data)?;
    let client = ctx.client()?;
    let query_refs: Vec<(&str, String)> =
        query.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let response = client.send(Method::Delete, &path, &query_refs, None)?;
    match into_body(Method::Delete, response)? {
        Some(body) if body.get("data").is_some_and(|data| !data.is_null()) => {
            ctx.output.secret(&body)?
        }
        _ => ctx.success(&format!("Data deleted (if it existed) at: {path}"))?,
    }
    Ok(EXIT_OK)
}

/// `list`: LIST the path and print its keys.
pub fn list(ctx: &Context, args: ListArgs) -> CmdResult {
    let path = with_trailing_slash(&clean_path(&args.path)?);
    let client = ctx.client()?;
    let body = client
        .list(&path)?
        .ok_or_else(|| CliError::not_found(format!("No value found at {path}")))?;
    if body.get("data").and_then(|data| data.get("keys")).is_none() {
        return Err(CliError::failed(format!("No entries found at {path}")));
    }
    ctx.output.list(&body)?;
    Ok(EXIT_OK)
}

/// `k=v` arguments as query pairs (files and stdin allowed, like data).
fn query_pairs(args: &[String]) -> Result<Vec<(String, String)>, CliError> {
    let data = parse_data_args(args, 1)?;
    let mut pairs = Vec::new();
    for (key, value) in &data {
        match value {
            Value::Array(items) => {
                for item in items {
                    pairs.push((key.clone(), output::format_value(item)));
                }
            }
            other => pairs.push((key.clone(), output::format_value(other))),
        }
    }
    Ok(pairs)
}
