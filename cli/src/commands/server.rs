//! `vault-rs server`: runs the vault-rs server in this process by calling
//! the library's [`vault_rs::server::serve`]; nothing else lives here.

use std::path::PathBuf;

use clap::Args;

use crate::error::{CliError, CmdResult, EXIT_OK};

/// `vault-rs server --config FILE` or `vault-rs server --dev …`.
#[derive(Args)]
pub struct ServerArgs {
    /// Server configuration file (HCL): storage, listener, …
    #[arg(long, value_name = "FILE", required_unless_present = "dev")]
    config: Option<PathBuf>,

    /// Development mode: in-memory storage, initialized and unsealed, with
    /// KV version 2 at secret/. Never use it for real secrets.
    #[arg(long)]
    dev: bool,

    /// Root token of the dev server (default: a random one).
    #[arg(long, value_name = "TOKEN", requires = "dev")]
    dev_root_token_id: Option<String>,

    /// Address the dev server listens on (default 127.0.0.1:8200; port 0
    /// picks a free port).
    #[arg(long, value_name = "ADDR", requires = "dev")]
    dev_listen_address: Option<String>,

    /// Dev mode only: the clock stands still until a root token moves it
    /// (PUT sys/dev/clock {"advance": "5s"}), for tests.
    #[arg(long, requires = "dev", hide = true)]
    dev_manual_clock: bool,
}

/// Runs the server until it stops; an error is reported with exit code 1.
pub fn run(args: ServerArgs) -> CmdResult {
    let options = vault_rs::server::ServerOptions {
        config_path: args.config,
        dev: args.dev,
        dev_root_token_id: args.dev_root_token_id,
        dev_listen_address: args.dev_listen_address,
        dev_manual_clock: args.dev_manual_clock,
    };
    match vault_rs::server::serve(options) {
        Ok(()) => Ok(EXIT_OK),
        Err(error) => Err(CliError::failed(format!("server: {error}"))),
    }
}
