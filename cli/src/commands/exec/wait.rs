//! Waiting for the vault at boot: a service started with its vault (same
//! host, same boot) must not fail because the vault is still sealed or not
//! listening yet.
//!
//! Owns: polling `sys/health` (unauthenticated) with exponential backoff
//! until the vault is unsealed and active (or a standby), or `--timeout`
//! passes; one line on stderr per wait saying why. A vault that answers
//! something else (not initialized, an unexpected status) is waited for
//! too — an operator may be about to initialize it — but the line says so.
//! Must not touch: credentials; nothing here sends a token.

use std::time::{Duration, Instant};

use crate::client::{Client, Method};
use crate::error::CliError;

/// First pause between attempts; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What one look at `sys/health` showed.
#[derive(Debug, PartialEq, Eq)]
enum Health {
    Ready,
    NotReady(String),
}

fn check(client: &Client) -> Health {
    match client.send(Method::Get, "sys/health", &[], None) {
        Ok(r) => match r.status {
            200 | 429 | 472 | 473 => Health::Ready,
            503 => Health::NotReady("the vault is sealed".into()),
            501 => Health::NotReady("the vault is not initialized".into()),
            other => Health::NotReady(format!("sys/health answered {other}")),
        },
        Err(e) => Health::NotReady(format!("the vault is unreachable ({e})")),
    }
}

/// Returns once the vault is ready, or an error after `timeout` (zero: a
/// single look, no waiting).
pub fn until_ready(client: &Client, address: &str, timeout: Duration) -> Result<(), CliError> {
    let deadline = Instant::now() + timeout;
    let mut backoff = FIRST_BACKOFF;
    loop {
        let why = match check(client) {
            Health::Ready => return Ok(()),
            Health::NotReady(why) => why,
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(CliError::failed(format!(
                "gave up waiting for the vault at {address} after {}: {why}",
                humantime::format_duration(timeout)
            )));
        }
        let pause = backoff.min(deadline - now);
        eprintln!(
            "vault-rs exec: {why} at {address}; retrying in {} (until {} have passed)",
            humantime::format_duration(round(pause)),
            humantime::format_duration(timeout)
        );
        std::thread::sleep(pause);
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// `pause` to whole milliseconds, for a readable message.
fn round(pause: Duration) -> Duration {
    Duration::from_millis(pause.as_millis() as u64)
}
