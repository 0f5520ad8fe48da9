//! `vault-rs status`: the seal status table (also printed by
//! `operator unseal`), and its exit codes: 0 unsealed, 2 sealed, 1 error.

use clap::Args;
use serde_json::{Map, Value};

use crate::client::{Client, Method};
use crate::commands::{expect_body, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::output::{self, Output};

/// Exit code of `status` when the vault is sealed (as `vault status`).
pub const EXIT_SEALED: u8 = 2;

/// `vault-rs status` (no arguments).
#[derive(Args)]
pub struct StatusArgs {}

/// Prints the seal status; the exit code tells sealed (2) from unsealed (0),
/// and any error is 1, as `vault status`.
pub fn run(ctx: &Context, args: StatusArgs) -> CmdResult {
    seal_status(ctx, args).map_err(|e| match e {
        CliError::Request(r) => CliError::failed(r.to_string()),
        other => other,
    })
}

fn seal_status(ctx: &Context, _args: StatusArgs) -> CmdResult {
    let client = ctx.client()?;
    let body = expect_body(
        client.request(Method::Get, "sys/seal-status", None)?,
        "GET sys/seal-status",
    )?;
    print_seal_status(&client, &ctx.output, &body)?;
    if is_sealed(&body) {
        Ok(EXIT_SEALED)
    } else {
        Ok(EXIT_OK)
    }
}

/// Whether a seal-status body says sealed (a body without the field is
/// taken as sealed: nothing proves otherwise).
pub fn is_sealed(body: &Value) -> bool {
    body.get("sealed").and_then(Value::as_bool).unwrap_or(true)
}

/// Prints a seal-status body with `ha_enabled` from `sys/leader` added.
pub fn print_seal_status(client: &Client, output: &Output, body: &Value) -> Result<(), CliError> {
    let mut status = body.as_object().cloned().unwrap_or_default();
    status.insert("ha_enabled".to_owned(), Value::Bool(ha_enabled(client)));
    if output.field.is_some() || !output.is_table() {
        return output.map(&status);
    }
    output::emit(&seal_status_table(&status))
}

/// `ha_enabled` from `sys/leader`; false when that cannot be read.
fn ha_enabled(client: &Client) -> bool {
    client
        .request(Method::Get, "sys/leader", None)
        .ok()
        .flatten()
        .and_then(|body| body.get("ha_enabled").and_then(Value::as_bool))
        .unwrap_or(false)
}

/// The `Key    Value` table Vault prints for a seal status.
pub fn seal_status_table(status: &Map<String, Value>) -> String {
    let text = |key: &str| {
        status
            .get(key)
            .map(output::format_value)
            .unwrap_or_default()
    };
    let sealed = status
        .get("sealed")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let mut rows = vec![
        ("Seal Type", text("type")),
        ("Initialized", text("initialized")),
        ("Sealed", text("sealed")),
        ("Total Shares", text("n")),
        ("Threshold", text("t")),
    ];
    if sealed {
        rows.push((
            "Unseal Progress",
            format!("{}/{}", text("progress"), text("t")),
        ));
        rows.push(("Unseal Nonce", text("nonce")));
    }
    if status.get("migration").and_then(Value::as_bool) == Some(true) {
        rows.push(("Seal Migration in Progress", "true".to_owned()));
    }
    rows.push(("Version", text("version")));
    rows.push(("Build Date", text("build_date")));
    rows.push(("Storage Type", text("storage_type")));
    let cluster_name = text("cluster_name");
    let cluster_id = text("cluster_id");
    if !cluster_name.is_empty() && !cluster_id.is_empty() {
        rows.push(("Cluster Name", cluster_name));
        rows.push(("Cluster ID", cluster_id));
    }
    rows.push(("HA Enabled", text("ha_enabled")));
    let rows: Vec<(String, String)> = rows
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect();
    output::key_value_table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sealed_table_shows_progress() {
        let body = json!({"type": "shamir", "initialized": true, "sealed": true, "t": 2, "n": 3,
            "progress": 1, "nonce": "", "version": "0.1.0", "build_date": "",
            "storage_type": "sled", "cluster_name": "", "cluster_id": "", "ha_enabled": false});
        let map = body.as_object().cloned().unwrap_or_default();
        assert_eq!(
            seal_status_table(&map),
            "Key                Value\n\
             ---                -----\n\
             Seal Type          shamir\n\
             Initialized        true\n\
             Sealed             true\n\
             Total Shares       3\n\
             Threshold          2\n\
             Unseal Progress    1/2\n\
             Unseal Nonce       n/a\n\
             Version            0.1.0\n\
             Build Date         n/a\n\
             Storage Type       sled\n\
             HA Enabled         false"
        );
        assert!(is_sealed(&body));
    }
}
