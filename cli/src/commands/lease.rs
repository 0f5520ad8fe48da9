//! `vault-rs lease lookup|renew|revoke`: leases on sys/leases/*.

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::client::Method;
use crate::commands::{expect_body, insert_opt, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};

/// `vault-rs lease <command>`.
#[derive(Subcommand)]
pub enum LeaseCommand {
    /// Show a lease: issue and expire times, TTL, renewable.
    Lookup(LookupArgs),
    /// Extend a lease.
    Renew(RenewArgs),
    /// Revoke a lease, or every lease under a prefix.
    Revoke(RevokeArgs),
}

/// `lease lookup ID`.
#[derive(Args)]
pub struct LookupArgs {
    /// Lease ID.
    id: String,
}

/// `lease renew ID [--increment D]`.
#[derive(Args)]
pub struct RenewArgs {
    /// Lease ID.
    id: String,
    /// Requested extension (e.g. 1h).
    #[arg(long, short = 'i', value_name = "DURATION")]
    increment: Option<String>,
}

/// `lease revoke ID [--prefix]`.
#[derive(Args)]
pub struct RevokeArgs {
    /// Lease ID, or a prefix with --prefix.
    id: String,
    /// Revoke every lease whose ID starts with the argument.
    #[arg(long)]
    prefix: bool,
}

/// Runs one lease command.
pub fn run(ctx: &Context, command: LeaseCommand) -> CmdResult {
    match command {
        LeaseCommand::Lookup(args) => lookup(ctx, args),
        LeaseCommand::Renew(args) => renew(ctx, args),
        LeaseCommand::Revoke(args) => revoke(ctx, args),
    }
}

fn lease_id(id: &str) -> Result<String, CliError> {
    let id = id.trim().trim_start_matches('/');
    if id.is_empty() {
        return Err(CliError::usage("the lease ID must not be empty"));
    }
    Ok(id.to_owned())
}

fn lookup(ctx: &Context, args: LookupArgs) -> CmdResult {
    let id = lease_id(&args.id)?;
    let client = ctx.client()?;
    let body = json!({ "lease_id": id });
    let reply = client.request(Method::Put, "sys/leases/lookup", Some(&body))?;
    let reply = expect_body(reply, "PUT sys/leases/lookup")?;
    ctx.output.secret(&reply)?;
    Ok(EXIT_OK)
}

fn renew(ctx: &Context, args: RenewArgs) -> CmdResult {
    let id = lease_id(&args.id)?;
    let mut body = Map::new();
    body.insert("lease_id".to_owned(), json!(id));
    insert_opt(&mut body, "increment", args.increment.map(Value::String));
    let client = ctx.client()?;
    let reply = client.request(Method::Put, "sys/leases/renew", Some(&Value::Object(body)))?;
    let reply = expect_body(reply, "PUT sys/leases/renew")?;
    ctx.output.secret(&reply)?;
    Ok(EXIT_OK)
}

fn revoke(ctx: &Context, args: RevokeArgs) -> CmdResult {
    let id = lease_id(&args.id)?;
    let client = ctx.client()?;
    if args.prefix {
        let prefix = id.trim_end_matches('/');
        client.request(
            Method::Put,
            &format!("sys/leases/revoke-prefix/{prefix}"),
            None,
        )?;
        ctx.success(&format!("Revoked all leases under: {prefix}"))?;
    } else {
        let body = json!({ "lease_id": id });
        client.request(Method::Put, "sys/leases/revoke", Some(&body))?;
        ctx.success(&format!("Revoked lease: {id}"))?;
    }
    Ok(EXIT_OK)
}
