//! `vault-rs policy write|read|list|delete|fmt`: ACL policies on
//! sys/policies/acl/*, and local re-formatting of HCL policy files.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use hcl::format::Format as _;
use serde_json::{json, Value};

use crate::client::Method;
use crate::commands::Context;
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::input::read_file_or_stdin;
use crate::output::{self, Format};

/// `vault-rs policy <command>`.
#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Upload a policy from a file (or - for stdin).
    Write(WriteArgs),
    /// Print a policy.
    Read(NameArgs),
    /// List the policy names.
    List,
    /// Delete a policy.
    Delete(NameArgs),
    /// Re-format an HCL policy file in place.
    Fmt(FmtArgs),
}

/// `policy write NAME FILE|-`.
#[derive(Args)]
pub struct WriteArgs {
    /// Policy name.
    name: String,
    /// HCL or JSON policy file; - reads it from stdin.
    #[arg(value_name = "FILE")]
    source: String,
}

/// `policy read|delete NAME`.
#[derive(Args)]
pub struct NameArgs {
    /// Policy name.
    name: String,
}

/// `policy fmt FILE`.
#[derive(Args)]
pub struct FmtArgs {
    /// HCL policy file to re-format (rewritten in place).
    file: PathBuf,
}

/// Runs one policy command.
pub fn run(ctx: &Context, command: PolicyCommand) -> CmdResult {
    match command {
        PolicyCommand::Write(args) => write(ctx, args),
        PolicyCommand::Read(args) => read(ctx, args),
        PolicyCommand::List => list(ctx),
        PolicyCommand::Delete(args) => delete(ctx, args),
        PolicyCommand::Fmt(args) => fmt(ctx, args),
    }
}

/// A policy name: non-empty, no slashes.
fn policy_name(name: &str) -> Result<String, CliError> {
    let name = name.trim();
    if name.is_empty() || name.contains('/') {
        return Err(CliError::usage(format!(
            "invalid policy name {name:?}: it must be non-empty and contain no '/'"
        )));
    }
    Ok(name.to_owned())
}

fn write(ctx: &Context, args: WriteArgs) -> CmdResult {
    let name = policy_name(&args.name)?;
    let policy = read_file_or_stdin(&args.source)?;
    if policy.trim().is_empty() {
        return Err(CliError::usage("the policy is empty"));
    }
    let client = ctx.client()?;
    let body = json!({ "policy": policy });
    client.request(
        Method::Put,
        &format!("sys/policies/acl/{name}"),
        Some(&body),
    )?;
    ctx.success(&format!("Uploaded policy: {name}"))?;
    Ok(EXIT_OK)
}

fn read(ctx: &Context, args: NameArgs) -> CmdResult {
    let name = policy_name(&args.name)?;
    let client = ctx.client()?;
    let body = client
        .read(&format!("sys/policies/acl/{name}"))?
        .ok_or_else(|| CliError::failed(format!("No policy named: {name}")))?;
    if ctx.output.field.is_some() {
        ctx.output.secret(&body)?;
        return Ok(EXIT_OK);
    }
    let text = output::data_of(&body)
        .and_then(|data| data.get("policy").or_else(|| data.get("rules")))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            CliError::failed(format!("the reply for policy {name} has no policy text"))
        })?;
    if !ctx.output.is_table() {
        // As `vault policy read -format=json`: the rules alone.
        ctx.output
            .structured(&serde_json::json!({ "policy": text }))?;
        return Ok(EXIT_OK);
    }
    output::emit(text.trim_end())?;
    Ok(EXIT_OK)
}

fn list(ctx: &Context) -> CmdResult {
    let client = ctx.client()?;
    let body = client
        .list("sys/policies/acl")?
        .ok_or_else(|| CliError::failed("No policies found"))?;
    let names = output::list_keys(&body);
    match ctx.output.format {
        Format::Json | Format::Yaml => ctx.output.structured(&json!(names))?,
        Format::Table => {
            if !names.is_empty() {
                output::emit(&names.join("\n"))?;
            }
        }
    }
    Ok(EXIT_OK)
}

fn delete(ctx: &Context, args: NameArgs) -> CmdResult {
    let name = policy_name(&args.name)?;
    let client = ctx.client()?;
    client.request(Method::Delete, &format!("sys/policies/acl/{name}"), None)?;
    ctx.success(&format!("Deleted policy: {name}"))?;
    Ok(EXIT_OK)
}

/// Parses HCL and prints it back in canonical form (two-space indent,
/// arrays on one line).
pub fn format_hcl(source: &str) -> Result<String, String> {
    let body = hcl::parse(source).map_err(|error| error.to_string())?;
    let mut formatter = hcl::format::Formatter::builder()
        .compact_arrays(true)
        .build_vec();
    body.format_string(&mut formatter)
        .map_err(|error| error.to_string())
}

/// Whether `source` has a comment (`#`, `//` or `/* */`) outside string
/// literals. The HCL formatter drops comments, so such files are refused
/// rather than silently stripped.
fn has_comments(source: &str) -> bool {
    let mut chars = source.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => in_string = true,
            ('#', _) | ('/', Some('/')) | ('/', Some('*')) => return true,
            _ => {}
        }
    }
    false
}

fn fmt(ctx: &Context, args: FmtArgs) -> CmdResult {
    let path = args.file;
    let source = std::fs::read_to_string(&path)
        .map_err(|error| CliError::failed(format!("cannot read {}: {error}", path.display())))?;
    if has_comments(&source) {
        return Err(CliError::failed(format!(
            "{} has comments, which formatting would drop; the file was left unchanged",
            path.display()
        )));
    }
    let formatted = format_hcl(&source).map_err(|error| {
        CliError::failed(format!(
            "failed to parse policy {}: {error}",
            path.display()
        ))
    })?;
    std::fs::write(&path, formatted)
        .map_err(|error| CliError::failed(format!("cannot write {}: {error}", path.display())))?;
    ctx.success(&format!("Formatted policy: {}", path.display()))?;
    Ok(EXIT_OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_is_reindented() {
        let source = "path \"secret/*\" {\ncapabilities = [\"read\",\"list\"]\n}\n";
        let formatted = format_hcl(source);
        assert_eq!(
            formatted.as_deref(),
            Ok("path \"secret/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n")
        );
        assert!(format_hcl("path \"x\" {").is_err());
    }

    #[test]
    fn comments_are_detected_outside_strings() {
        assert!(has_comments("# ops\npath \"a\" {}"));
        assert!(has_comments("path \"a\" {} // x"));
        assert!(has_comments("/* x */"));
        assert!(!has_comments(
            "path \"secret/#/x//y\" { capabilities = [\"read\"] }"
        ));
        assert!(!has_comments("path \"a\\\"#\" {}"));
    }

    #[test]
    fn names_are_checked() {
        assert!(policy_name("ops").is_ok());
        assert!(policy_name("").is_err());
        assert!(policy_name("a/b").is_err());
    }
}
