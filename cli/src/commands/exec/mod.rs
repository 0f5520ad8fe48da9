//! `vault-rs exec`: run a service with its secrets.
//!
//! ```text
//! vault-rs exec [--role-id ID --secret-id-file F [--secret-id-wrapped] | --token-file F]
//!               --env NAME=PATH#FIELD … --file DEST=PATH[#FIELD] …
//!               [--once | --restart-on-change [--poll-interval 5s] [--restart-signal SIGTERM]]
//!               -- COMMAND ARGS…
//! ```
//! Logs in (AppRole, a token file, or the ambient token), reads the listed
//! KV secrets (v1 or v2, detected per mount), then either prints them once
//! (`--once`: an env file for systemd's `EnvironmentFile=`, or JSON with
//! `--format json`) or starts COMMAND with them as environment variables
//! and/or 0600 files, renews the token while it runs, forwards SIGTERM,
//! SIGINT and SIGHUP to it, and exits with its exit code (128+signal when
//! it was killed by a signal). The command does not inherit `VAULT_TOKEN`.
//!
//! Owns: this command's options and the order of the steps. Login and
//! renewal live in [`auth`], reading secrets in [`secrets`], rendering and
//! files in [`render`], the child process in [`supervise`].
//! Secret values are printed only by `--once`, and never appear in errors
//! or warnings.

mod auth;
mod render;
mod secrets;
mod supervise;
mod wait;

use std::ffi::OsString;
use std::time::Duration;

use clap::Args;

use crate::commands::Context;
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::output::Format;

/// `vault-rs exec …`.
#[derive(Args)]
pub struct ExecArgs {
    #[command(flatten)]
    login: auth::LoginOptions,

    /// An environment variable for the command: NAME=PATH#FIELD, where PATH
    /// is a KV path with its mount (secret/app/db) and FIELD a key of it.
    #[arg(long = "env", value_name = "NAME=PATH#FIELD")]
    env: Vec<String>,

    /// A file (mode 0600) for the command: DEST=PATH#FIELD writes the raw
    /// field; DEST=PATH writes the whole secret as JSON.
    #[arg(long = "file", value_name = "DEST=PATH[#FIELD]")]
    file: Vec<String>,

    /// Write the files, print the variables (NAME='value' lines, or JSON
    /// with --format json) and exit, without running a command.
    #[arg(long, conflicts_with = "restart_on_change")]
    once: bool,

    /// Re-read the secrets every --poll-interval; when one changed, restart
    /// the command with the new values (or only signal it, see
    /// --restart-signal).
    #[arg(long)]
    restart_on_change: bool,

    /// How often --restart-on-change re-reads the secrets (5s, 1m, 500ms…).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_interval)]
    poll_interval: Duration,

    /// Signal sent on a change: SIGTERM (the default), SIGINT, SIGQUIT…
    /// stop the command and start it again with the new values; SIGHUP,
    /// SIGUSR1 or SIGUSR2 only rewrite the files and signal it (its
    /// environment cannot change without a restart).
    #[arg(long, value_name = "SIGNAL", default_value = "SIGTERM", value_parser = supervise::parse_signal)]
    restart_signal: nix::sys::signal::Signal,

    /// How long a restart waits for the command to exit before SIGKILL.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_interval)]
    kill_timeout: Duration,

    /// How long to wait, at start, for a vault that is sealed, not yet
    /// initialized or unreachable (retrying with backoff) before giving up;
    /// 0 fails at once.
    #[arg(long, value_name = "DURATION", default_value = "3m", value_parser = parse_timeout)]
    timeout: Duration,

    /// The command to run and its arguments (after `--`).
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    command: Vec<OsString>,
}

/// Parses "5s", "1m", "1h", "500ms" or plain seconds ("5").
fn parse_interval(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (use 5s, 1m, 500ms…)"))?;
    let d = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        _ => return Err(format!("invalid duration {text:?} (use 5s, 1m, 500ms…)")),
    };
    if d.is_zero() {
        return Err("the duration must be positive".to_owned());
    }
    Ok(d)
}

/// `--timeout`: a duration as [`parse_interval`] reads it, or 0.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    if text.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    parse_interval(text)
}

/// Runs the command.
pub fn run(ctx: &Context, args: ExecArgs) -> CmdResult {
    let specs = secrets::Specs::parse(&args.env, &args.file)?;
    if args.once && !args.command.is_empty() {
        return Err(CliError::usage(
            "--once prints the secrets and runs no command; drop the command or --once",
        ));
    }
    if !args.once && args.command.is_empty() {
        return Err(CliError::usage(
            "missing command: vault-rs exec [options] -- COMMAND [ARGS…]",
        ));
    }
    wait::until_ready(&ctx.client()?, &ctx.address, args.timeout)?;
    let session = auth::login(ctx, &args.login)?;
    let snapshot = secrets::fetch(&session.client, &specs)?;
    if args.once {
        render::write_files(&snapshot)?;
        let text = match ctx.output.format {
            Format::Json | Format::Yaml => render::json(&snapshot)?,
            Format::Table => render::env_file(&snapshot),
        };
        crate::output::emit(text.trim_end_matches('\n'))?;
        return Ok(EXIT_OK);
    }
    let options = supervise::Options {
        command: args.command,
        restart_on_change: args.restart_on_change,
        poll_interval: args.poll_interval,
        restart_signal: args.restart_signal,
        kill_timeout: args.kill_timeout,
    };
    supervise::run(session, &specs, snapshot, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_interval("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_interval("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_interval("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("soon").is_err());
        assert!(parse_interval("5d").is_err());
        assert_eq!(parse_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout("90s"), Ok(Duration::from_secs(90)));
        assert!(parse_timeout("-1").is_err());
    }
}
