//! `vault-rs`: the vault-rs server and its command-line client.
//!
//! This file owns the clap command tree, the global options (`-address`,
//! `-format`, `-field`, the TLS flags, `-namespace`), the top-level
//! `init`/`unseal`/`seal` aliases of the `operator` commands, dispatch to
//! the command groups in [`commands`], and exit codes, as `vault`: 0
//! success, 1 a usage error or a local failure, 2 an error from the server
//! (and `status`: 2 sealed, 1 any error). Errors are printed once on
//! stderr: the server's in Vault's `Error making API request.` layout,
//! every other one as `Error: …`.

#![forbid(unsafe_code)]

mod argv;
mod client;
mod commands;
mod error;
mod input;
mod output;
mod vault_format;

use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use std::path::PathBuf;

use crate::client::{TlsFlags, DEFAULT_ADDRESS};
use crate::commands::operator::OperatorCommand;
use crate::commands::{
    apikeys, audit, auth, exec, identity, kv, lease, login, operator, policy, rw, secrets, server,
    status, token, Context,
};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::output::{Format, Output};

/// vault-rs: a secrets vault with a Vault-compatible HTTP API and CLI.
#[derive(Parser)]
#[command(name = "vault-rs", about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Options every client command accepts.
#[derive(Args)]
struct GlobalArgs {
    /// Server address [env: VAULT_ADDR] [default: http://127.0.0.1:8200].
    #[arg(long, global = true, value_name = "URL")]
    address: Option<String>,

    /// Output format [env: VAULT_FORMAT] [default: table].
    #[arg(long, global = true, value_enum)]
    format: Option<Format>,

    /// Print only this field of the reply, raw.
    #[arg(long, global = true, value_name = "NAME")]
    field: Option<String>,

    /// Ask the server to wrap the response in a single-use token with this
    /// TTL (e.g. "60s") [env: VAULT_WRAP_TTL].
    #[arg(long, global = true, value_name = "DURATION", env = "VAULT_WRAP_TTL")]
    wrap_ttl: Option<String>,

    /// PEM file of CA certificates that sign the server's certificate
    /// [env: VAULT_CACERT].
    #[arg(long, global = true, value_name = "FILE")]
    ca_cert: Option<PathBuf>,

    /// PEM certificate presented to the server, with -client-key
    /// [env: VAULT_CLIENT_CERT].
    #[arg(long, global = true, value_name = "FILE")]
    client_cert: Option<PathBuf>,

    /// PEM private key of -client-cert [env: VAULT_CLIENT_KEY].
    #[arg(long, global = true, value_name = "FILE")]
    client_key: Option<PathBuf>,

    /// Do not verify the server's TLS certificate (insecure)
    /// [env: VAULT_SKIP_VERIFY].
    #[arg(long, global = true, num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "BOOL")]
    tls_skip_verify: Option<bool>,

    /// Vault Enterprise namespace: accepted for compatibility, refused
    /// because vault-rs has no namespaces [env: VAULT_NAMESPACE].
    #[arg(long, global = true, value_name = "NAMESPACE")]
    namespace: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run a vault-rs server (--config FILE, or --dev).
    Server(server::ServerArgs),
    /// Print the seal status (exit 0 unsealed, 2 sealed, 1 error).
    Status(status::StatusArgs),
    /// Operator commands: init, unseal, seal, rotate, key-status, rekey, verify-storage.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Initialize a new vault (the same as `operator init`).
    Init(operator::InitArgs),
    /// Submit one unseal key share (the same as `operator unseal`).
    Unseal(operator::UnsealArgs),
    /// Seal the vault (the same as `operator seal`).
    Seal,
    /// Read data at a path.
    Read(rw::ReadArgs),
    /// Show the help of a path: its route, operations and parameters.
    PathHelp(rw::PathHelpArgs),
    /// Write data to a path.
    Write(rw::WriteArgs),
    /// Delete data at a path.
    Delete(rw::DeleteArgs),
    /// List the keys under a path.
    List(rw::ListArgs),
    /// Manage secrets engines.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
    /// Authenticate and store the token.
    Login(login::LoginArgs),
    /// Manage auth methods: list, enable, disable, tune, help.
    #[command(subcommand, disable_help_subcommand = true)]
    Auth(auth::AuthCommand),
    /// Create, inspect, renew and revoke tokens.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Identity tokens: get one from a role, verify one against the JWKS.
    #[command(subcommand)]
    Identity(identity::IdentityCommand),
    /// Manage ACL policies.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Inspect, renew and revoke leases.
    #[command(subcommand)]
    Lease(lease::LeaseCommand),
    /// Key/value secrets (KV versions 1 and 2).
    #[command(subcommand)]
    Kv(kv::KvCommand),
    /// Audit devices, and offline review of audit logs (verify, tail, search).
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Run a command with secrets as environment variables or files.
    Exec(exec::ExecArgs),
    /// Service API keys: create, get, list, creds, rotate, revoke, validate, delete.
    Apikeys(apikeys::ApikeysArgs),
    /// Print the vault-rs version.
    Version,
}

fn main() -> ExitCode {
    let names = argv::long_flag_names(&Cli::command());
    let args = argv::normalize(std::env::args_os().collect(), &names);
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            // `--help` and `--version` exit 0; every parse error is a usage error.
            return if error.exit_code() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(error::EXIT_USAGE)
            };
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            match &error {
                // Already in Vault's layout, which starts with "Error".
                CliError::Request(api @ client::ClientError::Api { .. }) => eprintln!("{api}"),
                // "No value found at …", as `vault` prints it.
                CliError::NotFound(message) => eprintln!("{message}"),
                other => eprintln!("Error: {other}"),
            }
            ExitCode::from(error.exit_code())
        }
    }
}

/// The value of an environment variable, unless unset or blank.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// `--address`, else `VAULT_ADDR`, else the default address.
fn resolve_address(flag: Option<String>) -> String {
    flag.filter(|address| !address.trim().is_empty())
        .or_else(|| env_value("VAULT_ADDR"))
        .unwrap_or_else(|| DEFAULT_ADDRESS.to_owned())
}

/// `--format`, else `VAULT_FORMAT`, else table.
fn resolve_format(flag: Option<Format>) -> Result<Format, CliError> {
    if let Some(format) = flag {
        return Ok(format);
    }
    match env_value("VAULT_FORMAT") {
        None => Ok(Format::Table),
        Some(value) => Format::from_str(&value, true).map_err(|_| {
            CliError::usage(format!(
                "invalid VAULT_FORMAT {value:?}: expected table, json or yaml"
            ))
        }),
    }
}

/// `-namespace`, else `VAULT_NAMESPACE`: vault-rs has no namespaces, so a
/// non-empty one is refused rather than silently ignored (the request
/// would land in the root namespace).
fn refuse_namespace(flag: Option<String>) -> Result<(), CliError> {
    let (namespace, source) = match flag {
        Some(value) => (Some(value), "-namespace"),
        None => (env_value("VAULT_NAMESPACE"), "VAULT_NAMESPACE"),
    };
    match namespace.map(|value| value.trim().trim_matches('/').to_owned()) {
        Some(value) if !value.is_empty() => Err(CliError::usage(format!(
            "namespaces are not supported by vault-rs ({source} is {value:?}): \
             unset it to use the only namespace, the root one"
        ))),
        _ => Ok(()),
    }
}

/// The TLS flags; `-tls-skip-verify=false` is the same as leaving it out.
fn tls_flags(global: &GlobalArgs) -> TlsFlags {
    TlsFlags {
        ca_cert: global
            .ca_cert
            .clone()
            .filter(|path| !path.as_os_str().is_empty()),
        client_cert: global
            .client_cert
            .clone()
            .filter(|path| !path.as_os_str().is_empty()),
        client_key: global
            .client_key
            .clone()
            .filter(|path| !path.as_os_str().is_empty()),
        skip_verify: global.tls_skip_verify.unwrap_or(false),
    }
}

/// Dispatches to the command; returns its exit code.
fn run(cli: Cli) -> CmdResult {
    if !matches!(cli.command, Command::Server(_) | Command::Version) {
        refuse_namespace(cli.global.namespace.clone())?;
    }
    let tls = tls_flags(&cli.global);
    let ctx = Context {
        address: resolve_address(cli.global.address),
        wrap_ttl: cli.global.wrap_ttl.filter(|ttl| !ttl.trim().is_empty()),
        tls,
        output: Output {
            format: resolve_format(cli.global.format)?,
            field: cli.global.field,
        },
    };
    match cli.command {
        Command::Server(args) => server::run(args),
        Command::Status(args) => status::run(&ctx, args),
        Command::Operator(command) => operator::run(&ctx, command),
        Command::Init(args) => operator::run(&ctx, OperatorCommand::Init(args)),
        Command::Unseal(args) => operator::run(&ctx, OperatorCommand::Unseal(args)),
        Command::Seal => operator::run(&ctx, OperatorCommand::Seal),
        Command::Read(args) => rw::read(&ctx, args),
        Command::PathHelp(args) => rw::path_help(&ctx, args),
        Command::Write(args) => rw::write(&ctx, args),
        Command::Delete(args) => rw::delete(&ctx, args),
        Command::List(args) => rw::list(&ctx, args),
        Command::Secrets(command) => secrets::run(&ctx, command),
        Command::Login(args) => login::run(&ctx, args),
        Command::Auth(command) => auth::run(&ctx, command),
        Command::Token(command) => token::run(&ctx, command),
        Command::Identity(command) => identity::run(&ctx, command),
        Command::Policy(command) => policy::run(&ctx, command),
        Command::Lease(command) => lease::run(&ctx, command),
        Command::Kv(command) => kv::run(&ctx, command),
        Command::Audit(command) => audit::run(&ctx, command),
        Command::Exec(args) => exec::run(&ctx, args),
        Command::Apikeys(args) => apikeys::run(&ctx, args),
        Command::Version => {
            output::emit(&format!("vault-rs v{}", env!("CARGO_PKG_VERSION")))?;
            Ok(EXIT_OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_tree_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn go_style_flags_parse() {
        let names = argv::long_flag_names(&Cli::command());
        let args = [
            "vault-rs",
            "kv",
            "get",
            "-mount=secret",
            "-version=2",
            "-field",
            "k",
            "foo",
        ];
        let args = argv::normalize(args.iter().map(std::ffi::OsString::from).collect(), &names);
        let cli = Cli::try_parse_from(args);
        assert!(cli.is_ok());
        assert_eq!(
            cli.ok().and_then(|cli| cli.global.field),
            Some("k".to_owned())
        );
    }
}
