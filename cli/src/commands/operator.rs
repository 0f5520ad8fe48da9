//! `vault-rs operator …`: init, unseal, seal, rotate, key-status and the
//! rekey flow (sys/init, sys/unseal, sys/seal, sys/rotate, sys/key-status,
//! sys/rekey/*). Shares are read without echo and never printed except
//! where the server hands out new ones (init, completed rekey).

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};

use crate::client::{parse_secret, Client, Method, SecretString};
use crate::commands::status::print_seal_status;
use crate::commands::{expect_body, expect_data, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::input::{read_secret, secret_or_stdin};
use crate::output;

/// Exit code of `operator init --status` when the vault is not initialized.
const EXIT_NOT_INITIALIZED: u8 = 2;

/// `vault-rs operator <command>`.
#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Initialize a new vault: create the unseal key shares and the root token.
    Init(InitArgs),
    /// Submit one unseal key share (prompted for when not given).
    Unseal(UnsealArgs),
    /// Seal the vault: wipe key material from memory.
    Seal,
    /// Add a new barrier encryption key term.
    Rotate,
    /// Show the current barrier key term.
    KeyStatus,
    /// Replace the unseal key and its shares (needs a threshold of old shares).
    Rekey(RekeyArgs),
    /// Check a stopped server's data directory offline and report damage.
    VerifyStorage(crate::commands::verify_storage::VerifyStorageArgs),
    /// Make a new root token from a threshold of unseal shares (OTP-encoded).
    GenerateRoot(crate::commands::generate_root::GenerateRootArgs),
    /// Inspect a snapshot, or restore one into a stopped server's storage.
    #[command(subcommand)]
    Snapshot(crate::commands::snapshot::SnapshotCommand),
}

/// `operator init`.
#[derive(Args)]
pub struct InitArgs {
    /// Number of unseal key shares to create.
    #[arg(long, short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=255))]
    key_shares: u32,

    /// Number of shares needed to unseal.
    #[arg(long, short = 't', default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=255))]
    key_threshold: u32,

    /// Only report whether the vault is initialized (exit 0 yes, 2 no).
    #[arg(long, conflicts_with_all = ["key_shares", "key_threshold"])]
    status: bool,
}

/// `operator unseal [SHARE] [--reset]`.
#[derive(Args)]
pub struct UnsealArgs {
    /// The unseal key share (base64 or hex); `-` reads it from stdin.
    /// Prompted for without echo when omitted.
    #[arg(value_parser = parse_secret, value_name = "SHARE")]
    share: Option<SecretString>,

    /// Discard the shares submitted so far.
    #[arg(long, conflicts_with = "share")]
    reset: bool,
}

/// `operator rekey …`.
#[derive(Args)]
pub struct RekeyArgs {
    /// One share of the current unseal key; `-` reads it from stdin.
    #[arg(value_parser = parse_secret, value_name = "SHARE", conflicts_with_all = ["init", "cancel", "status"])]
    share: Option<SecretString>,

    /// Start a rekey operation.
    #[arg(long, conflicts_with_all = ["cancel", "status"])]
    init: bool,

    /// Cancel the rekey operation in progress.
    #[arg(long, conflicts_with = "status")]
    cancel: bool,

    /// Show the progress of the rekey operation.
    #[arg(long)]
    status: bool,

    /// Number of new key shares (with --init).
    #[arg(long, short = 'n', default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=255))]
    key_shares: u32,

    /// Number of new shares needed to unseal (with --init).
    #[arg(long, short = 't', default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=255))]
    key_threshold: u32,

    /// Nonce of the rekey operation (default: the one in progress).
    #[arg(long)]
    nonce: Option<String>,
}

/// Runs one operator command.
pub fn run(ctx: &Context, command: OperatorCommand) -> CmdResult {
    match command {
        OperatorCommand::Init(args) => init(ctx, args),
        OperatorCommand::Unseal(args) => unseal(ctx, args),
        OperatorCommand::Seal => seal(ctx),
        OperatorCommand::Rotate => rotate(ctx),
        OperatorCommand::KeyStatus => key_status(ctx),
        OperatorCommand::Rekey(args) => rekey(ctx, args),
        OperatorCommand::VerifyStorage(args) => crate::commands::verify_storage::run(args),
        OperatorCommand::Snapshot(command) => crate::commands::snapshot::run(ctx, command),
        OperatorCommand::GenerateRoot(args) => crate::commands::generate_root::run(ctx, args),
    }
}

fn check_threshold(shares: u32, threshold: u32) -> Result<(), CliError> {
    if threshold > shares {
        return Err(CliError::usage(format!(
            "the key threshold ({threshold}) cannot exceed the number of key shares ({shares})"
        )));
    }
    if shares > 1 && threshold < 2 {
        return Err(CliError::usage(
            "the key threshold must be at least 2 when there is more than one key share",
        ));
    }
    Ok(())
}

fn init(ctx: &Context, args: InitArgs) -> CmdResult {
    let client = ctx.client()?;
    if args.status {
        return init_status(&client);
    }
    check_threshold(args.key_shares, args.key_threshold)?;
    let request = json!({
        "secret_shares": args.key_shares,
        "secret_threshold": args.key_threshold,
    });
    let body = expect_body(
        client.request(Method::Put, "sys/init", Some(&request))?,
        "PUT sys/init",
    )?;
    let result = init_output(&body, args.key_shares, args.key_threshold);
    if ctx.output.field.is_some() || !ctx.output.is_table() {
        ctx.output.map(&result)?;
    } else {
        output::emit(&init_text(&result, args.key_threshold))?;
    }
    Ok(EXIT_OK)
}

fn init_status(client: &Client) -> CmdResult {
    let body = expect_body(
        client.request(Method::Get, "sys/init", None)?,
        "GET sys/init",
    )?;
    if body.get("initialized").and_then(Value::as_bool) == Some(true) {
        output::emit("Vault is initialized")?;
        Ok(EXIT_OK)
    } else {
        output::emit("Vault is not initialized")?;
        Ok(EXIT_NOT_INITIALIZED)
    }
}

/// The server's init reply plus the field names `vault operator init
/// -format=json` prints (`unseal_keys_b64`, `unseal_keys_hex`, …), so that
/// scripts written for either work.
fn init_output(body: &Value, shares: u32, threshold: u32) -> Map<String, Value> {
    let mut result = body.as_object().cloned().unwrap_or_default();
    let b64 = body.get("keys_base64").cloned().unwrap_or(json!([]));
    let hex = body.get("keys").cloned().unwrap_or(json!([]));
    result.insert("unseal_keys_b64".to_owned(), b64);
    result.insert("unseal_keys_hex".to_owned(), hex);
    result.insert("unseal_shares".to_owned(), json!(shares));
    result.insert("unseal_threshold".to_owned(), json!(threshold));
    result
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().map(output::format_value).collect())
        .unwrap_or_default()
}

fn init_text(result: &Map<String, Value>, threshold: u32) -> String {
    let keys = string_list(result.get("unseal_keys_b64"));
    let root = result
        .get("root_token")
        .map(output::format_value)
        .unwrap_or_default();
    let mut lines: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(index, key)| format!("Unseal Key {}: {key}", index + 1))
        .collect();
    lines.push(String::new());
    lines.push(format!("Initial Root Token: {root}"));
    lines.push(String::new());
    lines.push(format!(
        "Vault initialized with {} key shares and a key threshold of {threshold}. Please\n\
         securely distribute the key shares printed above. When the vault is re-sealed,\n\
         restarted, or stopped, you must supply at least {threshold} of these keys to\n\
         unseal it before it can start servicing requests.\n\
         \n\
         vault-rs does not store the unseal key. Without at least {threshold} keys to\n\
         reconstruct it, the vault will remain permanently sealed!\n\
         \n\
         It is possible to generate new unseal keys, provided you have a quorum of\n\
         existing unseal keys shares. See \"vault-rs operator rekey\" for more information.",
        keys.len()
    ));
    lines.join("\n")
}

fn unseal(ctx: &Context, args: UnsealArgs) -> CmdResult {
    let client = ctx.client()?;
    let request = if args.reset {
        json!({ "reset": true })
    } else {
        let share = share_or_prompt(args.share, "Unseal Key (will be hidden): ", "unseal key")?;
        json!({ "key": share.expose() })
    };
    let body = expect_body(
        client.request(Method::Put, "sys/unseal", Some(&request))?,
        "PUT sys/unseal",
    )?;
    print_seal_status(&client, &ctx.output, &body)?;
    Ok(EXIT_OK)
}

/// The share given as an argument (`-` = stdin), else prompted for.
fn share_or_prompt(
    share: Option<SecretString>,
    prompt: &str,
    what: &str,
) -> Result<SecretString, CliError> {
    let share = match share {
        Some(share) => secret_or_stdin(share, what)?,
        None => read_secret(prompt, what)?,
    };
    if share.is_empty() {
        return Err(CliError::usage(format!("the {what} is empty")));
    }
    Ok(share)
}

fn seal(ctx: &Context) -> CmdResult {
    let client = ctx.client()?;
    client.request(Method::Put, "sys/seal", None)?;
    ctx.success("Vault is sealed.")?;
    Ok(EXIT_OK)
}

fn rotate(ctx: &Context) -> CmdResult {
    let client = ctx.client()?;
    let reply = client.request(Method::Put, "sys/rotate", None)?;
    let status = match reply.filter(has_term) {
        Some(body) => body,
        None => expect_body(
            client.request(Method::Get, "sys/key-status", None)?,
            "GET sys/key-status",
        )?,
    };
    if ctx.output.is_table() && ctx.output.field.is_none() {
        output::emit("Success! Rotated key\n")?;
    }
    print_key_status(ctx, &status)?;
    Ok(EXIT_OK)
}

fn has_term(body: &Value) -> bool {
    output::data_or_body(body).is_some_and(|data| data.contains_key("term"))
}

fn key_status(ctx: &Context) -> CmdResult {
    let client = ctx.client()?;
    let body = expect_body(
        client.request(Method::Get, "sys/key-status", None)?,
        "GET sys/key-status",
    )?;
    print_key_status(ctx, &body)?;
    Ok(EXIT_OK)
}

fn print_key_status(ctx: &Context, body: &Value) -> Result<(), CliError> {
    let data = expect_data(body, "the key status request")?;
    if ctx.output.field.is_some() || !ctx.output.is_table() {
        return ctx.output.map(data);
    }
    let text = |key: &str| data.get(key).map(output::format_value).unwrap_or_default();
    let rows = vec![
        vec!["Key Term".to_owned(), text("term")],
        vec!["Install Time".to_owned(), text("install_time")],
        vec!["Encryption Count".to_owned(), text("encryptions")],
    ];
    output::emit(&output::columns(&rows))
}

fn rekey(ctx: &Context, args: RekeyArgs) -> CmdResult {
    let client = ctx.client()?;
    if args.init {
        check_threshold(args.key_shares, args.key_threshold)?;
        return rekey_init(ctx, &client, args.key_shares, args.key_threshold);
    }
    if args.cancel {
        client.request(Method::Delete, "sys/rekey/init", None)?;
        ctx.success("Canceled rekeying (if it was started)")?;
        return Ok(EXIT_OK);
    }
    if args.status {
        let status = rekey_status(&client)?;
        print_rekey_status(ctx, &status)?;
        return Ok(EXIT_OK);
    }
    rekey_update(ctx, &client, args.share, args.nonce)
}

fn rekey_init(ctx: &Context, client: &Client, shares: u32, threshold: u32) -> CmdResult {
    let request = json!({ "secret_shares": shares, "secret_threshold": threshold });
    let reply = client.request(Method::Put, "sys/rekey/init", Some(&request))?;
    let status = match reply {
        Some(body) => body,
        None => rekey_status(client)?,
    };
    print_rekey_status(ctx, &status)?;
    Ok(EXIT_OK)
}

fn rekey_status(client: &Client) -> Result<Value, CliError> {
    expect_body(
        client.request(Method::Get, "sys/rekey/init", None)?,
        "GET sys/rekey/init",
    )
}

fn print_rekey_status(ctx: &Context, body: &Value) -> Result<(), CliError> {
    let data = expect_data(body, "the rekey status request")?;
    if ctx.output.field.is_some() || !ctx.output.is_table() {
        return ctx.output.map(data);
    }
    let text = |key: &str| data.get(key).map(output::format_value).unwrap_or_default();
    let rows = vec![
        ("Nonce".to_owned(), text("nonce")),
        ("Started".to_owned(), text("started")),
        (
            "Rekey Progress".to_owned(),
            format!("{}/{}", text("progress"), text("required")),
        ),
        ("New Shares".to_owned(), text("n")),
        ("New Threshold".to_owned(), text("t")),
        (
            "Verification Required".to_owned(),
            text("verification_required"),
        ),
    ];
    output::emit(&output::key_value_table(&rows))
}

fn rekey_update(
    ctx: &Context,
    client: &Client,
    share: Option<SecretString>,
    nonce: Option<String>,
) -> CmdResult {
    let status = rekey_status(client)?;
    let status = expect_data(&status, "the rekey status request")?.clone();
    if status.get("started").and_then(Value::as_bool) == Some(false) {
        return Err(CliError::failed(
            "no rekey is in progress; start one with: vault-rs operator rekey --init",
        ));
    }
    let nonce = match nonce {
        Some(nonce) => nonce,
        None => status
            .get("nonce")
            .and_then(Value::as_str)
            .filter(|nonce| !nonce.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| CliError::failed("the rekey status has no nonce; pass --nonce"))?,
    };
    let share = share_or_prompt(share, "Rekey Key (will be hidden): ", "unseal key")?;
    let request = json!({ "key": share.expose(), "nonce": nonce });
    let body = expect_body(
        client.request(Method::Put, "sys/rekey/update", Some(&request))?,
        "PUT sys/rekey/update",
    )?;
    let data = expect_data(&body, "PUT sys/rekey/update")?;
    if data.get("complete").and_then(Value::as_bool) != Some(true) {
        let status = rekey_status(client)?;
        print_rekey_status(ctx, &status)?;
        return Ok(EXIT_OK);
    }
    if ctx.output.field.is_some() || !ctx.output.is_table() {
        ctx.output.map(data)?;
    } else {
        output::emit(&rekey_done_text(data, &status))?;
    }
    Ok(EXIT_OK)
}

fn rekey_done_text(data: &Map<String, Value>, status: &Map<String, Value>) -> String {
    let mut keys = string_list(data.get("keys_base64"));
    if keys.is_empty() {
        keys = string_list(data.get("keys"));
    }
    let threshold = status
        .get("t")
        .map(output::format_value)
        .unwrap_or_default();
    let nonce = data
        .get("nonce")
        .map(output::format_value)
        .unwrap_or_default();
    let mut lines: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(index, key)| format!("Key {}: {key}", index + 1))
        .collect();
    lines.push(String::new());
    lines.push(format!("Operation nonce: {nonce}"));
    lines.push(String::new());
    lines.push(format!(
        "Vault unseal keys rekeyed with {} key shares and a key threshold of {threshold}.\n\
         Please securely distribute the key shares printed above. When the vault is\n\
         re-sealed, restarted, or stopped, you must supply at least {threshold} of these\n\
         keys to unseal it before it can start servicing requests.",
        keys.len()
    ));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_checked() {
        assert!(check_threshold(1, 1).is_ok());
        assert!(check_threshold(5, 3).is_ok());
        assert!(matches!(check_threshold(3, 4), Err(CliError::Usage(_))));
        assert!(matches!(check_threshold(3, 1), Err(CliError::Usage(_))));
    }

    #[test]
    fn init_text_lists_shares_and_token() {
        let body =
            json!({"keys": ["aa", "bb"], "keys_base64": ["qg==", "uw=="], "root_token": "hvs.r"});
        let result = init_output(&body, 2, 2);
        let text = init_text(&result, 2);
        assert!(text
            .starts_with("Unseal Key 1: qg==\nUnseal Key 2: uw==\n\nInitial Root Token: hvs.r\n"));
        assert_eq!(result.get("unseal_keys_hex"), Some(&json!(["aa", "bb"])));
        assert_eq!(result.get("unseal_threshold"), Some(&json!(2)));
    }
}
