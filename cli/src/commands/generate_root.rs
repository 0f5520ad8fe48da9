//! `vault-rs operator generate-root`: a new root token from a threshold of
//! unseal shares, through `sys/generate-root-token/*` (a sudo token is
//! needed, as with OpenBao's CLI), with Vault's flags:
//!
//! ```text
//! operator generate-root -init [-otp OTP]     start; prints the nonce and the OTP (keep it)
//! operator generate-root -init -pgp-key FILE  start; the token will be encrypted to the key
//! operator generate-root [-nonce N] [SHARE]   submit one share (prompted for when not given)
//! operator generate-root -status | -cancel
//! operator generate-root -decode ENCODED -otp OTP   print the root token
//! ```
//!
//! The root token never travels in clear: the server returns it XORed with
//! the OTP, which only the operator who started the attempt holds, or
//! encrypted to the `-pgp-key` given (`base64 -d | gpg -d` reads it).
//! Decoding is local.

use base64::Engine;
use clap::Args;
use serde_json::{json, Map, Value};

use crate::client::{parse_secret, Client, Method, SecretString};
use crate::commands::{expect_body, expect_data, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::input::{read_secret, secret_or_stdin};
use crate::output;

const ATTEMPT: &str = "sys/generate-root-token/attempt";
const UPDATE: &str = "sys/generate-root-token/update";

/// `operator generate-root …`.
#[derive(Args)]
pub struct GenerateRootArgs {
    /// One unseal key share (base64 or hex); `-` reads it from stdin.
    #[arg(value_parser = parse_secret, value_name = "SHARE", conflicts_with_all = ["init", "cancel", "status", "decode"])]
    share: Option<SecretString>,

    /// Start a root token generation.
    #[arg(long, conflicts_with_all = ["cancel", "status", "decode"])]
    init: bool,

    /// Cancel the attempt in progress.
    #[arg(long, conflicts_with_all = ["status", "decode"])]
    cancel: bool,

    /// Show the attempt's progress.
    #[arg(long, conflicts_with = "decode")]
    status: bool,

    /// Decode an encoded root token (with -otp); needs no server.
    #[arg(long, value_name = "ENCODED", requires = "otp")]
    decode: Option<String>,

    /// The one-time pad: with -init, use this one (otp_length characters)
    /// instead of a generated one; with -decode, the pad of the attempt.
    #[arg(long, value_parser = parse_secret, value_name = "OTP")]
    otp: Option<SecretString>,

    /// With -init: a file holding the OpenPGP public key (binary, base64
    /// or armored) to encrypt the new root token to, instead of an OTP.
    #[arg(long, value_name = "FILE", requires = "init", conflicts_with = "otp")]
    pgp_key: Option<std::path::PathBuf>,

    /// Nonce of the attempt (default: the one in progress).
    #[arg(long)]
    nonce: Option<String>,
}

/// The `pgp_key` field from a key file: its text when it is text (base64
/// or armored; the server checks it), else the base64 of its bytes.
fn pgp_key_field(path: &std::path::Path) -> Result<String, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::usage(format!(
            "cannot read the pgp key file {}: {e}",
            path.display()
        ))
    })?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text.trim().to_owned(),
        Err(e) => base64::engine::general_purpose::STANDARD.encode(e.as_bytes()),
    })
}

pub fn run(ctx: &Context, args: GenerateRootArgs) -> CmdResult {
    if let Some(encoded) = &args.decode {
        let otp = args
            .otp
            .as_ref()
            .ok_or_else(|| CliError::usage("-decode needs -otp"))?;
        let token = decode(encoded, otp.expose())?;
        output::emit(token.expose())?;
        return Ok(EXIT_OK);
    }
    let client = ctx.client()?;
    if args.init {
        let request = match (&args.otp, &args.pgp_key) {
            (Some(otp), _) => json!({ "otp": otp.expose() }),
            (None, Some(path)) => json!({ "pgp_key": pgp_key_field(path)? }),
            (None, None) => json!({}),
        };
        let body = expect_body(
            client.request(Method::Put, ATTEMPT, Some(&request))?,
            "PUT sys/generate-root-token/attempt",
        )?;
        print_status(ctx, expect_data(&body, "the generate-root request")?)?;
        return Ok(EXIT_OK);
    }
    if args.cancel {
        client.request(Method::Delete, ATTEMPT, None)?;
        ctx.success("Root token generation canceled")?;
        return Ok(EXIT_OK);
    }
    if args.status {
        let body = status(&client)?;
        print_status(ctx, expect_data(&body, "the generate-root status")?)?;
        return Ok(EXIT_OK);
    }
    update(ctx, &client, args.share, args.nonce)
}

fn status(client: &Client) -> Result<Value, CliError> {
    expect_body(
        client.request(Method::Get, ATTEMPT, None)?,
        "GET sys/generate-root-token/attempt",
    )
}

fn update(
    ctx: &Context,
    client: &Client,
    share: Option<SecretString>,
    nonce: Option<String>,
) -> CmdResult {
    let nonce = match nonce {
        Some(n) => n,
        None => {
            let body = status(client)?;
            let data = expect_data(&body, "the generate-root status")?;
            if data.get("started").and_then(Value::as_bool) != Some(true) {
                return Err(CliError::failed(
                    "no root token generation is in progress; start one with: vault-rs operator generate-root -init",
                ));
            }
            data.get("nonce")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| CliError::failed("the status has no nonce; pass -nonce"))?
        }
    };
    let share = match share {
        Some(s) => secret_or_stdin(s, "unseal key")?,
        None => read_secret("Unseal Key (will be hidden): ", "unseal key")?,
    };
    if share.is_empty() {
        return Err(CliError::usage("the unseal key is empty"));
    }
    let request = json!({ "key": share.expose(), "nonce": nonce });
    let body = expect_body(
        client.request(Method::Put, UPDATE, Some(&request))?,
        "PUT sys/generate-root-token/update",
    )?;
    print_status(
        ctx,
        expect_data(&body, "PUT sys/generate-root-token/update")?,
    )?;
    Ok(EXIT_OK)
}

fn print_status(ctx: &Context, data: &Map<String, Value>) -> Result<(), CliError> {
    if ctx.output.field.is_some() || !ctx.output.is_table() {
        return ctx.output.map(data);
    }
    let text = |key: &str| data.get(key).map(output::format_value).unwrap_or_default();
    let mut rows = vec![
        ("Nonce".to_owned(), text("nonce")),
        ("Started".to_owned(), text("started")),
        (
            "Progress".to_owned(),
            format!("{}/{}", text("progress"), text("required")),
        ),
        ("Complete".to_owned(), text("complete")),
    ];
    if data
        .get("otp")
        .and_then(Value::as_str)
        .is_some_and(|o| !o.is_empty())
    {
        rows.push(("OTP".to_owned(), text("otp")));
    }
    rows.push(("OTP Length".to_owned(), text("otp_length")));
    if data
        .get("pgp_fingerprint")
        .and_then(Value::as_str)
        .is_some_and(|f| !f.is_empty())
    {
        rows.push(("PGP Fingerprint".to_owned(), text("pgp_fingerprint")));
    }
    if data
        .get("encoded_token")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        rows.push(("Encoded Token".to_owned(), text("encoded_token")));
    }
    output::emit(&output::key_value_table(&rows))
}

/// `base64(token XOR otp)` (unpadded, padding tolerated) back to the token.
fn decode(encoded: &str, otp: &str) -> Result<SecretString, CliError> {
    let trimmed = encoded.trim().trim_end_matches('=');
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|_| CliError::usage("the encoded token is not base64"))?;
    if raw.len() != otp.len() {
        return Err(CliError::usage(format!(
            "the encoded token ({} bytes) and the OTP ({} characters) differ in length",
            raw.len(),
            otp.len()
        )));
    }
    let bytes: Vec<u8> = raw.iter().zip(otp.bytes()).map(|(e, o)| e ^ o).collect();
    let token = String::from_utf8(bytes)
        .map_err(|_| CliError::usage("the OTP does not decode this token"))?;
    Ok(SecretString::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_vaults_encoding() {
        let t = decode(
            "HWY5CRssK3d7BlwDI1JyPDx0B3seaQILLGc",
            "nHMzbMxFMM6wTaBYs931y032MT",
        )
        .unwrap();
        assert_eq!(t.expose(), "s.tsyaS16Kjtw30eOM4JgY19a3");
        assert!(decode("HWY5", "nHMzbMxFMM6wTaBYs931y032MT").is_err());
        assert!(decode("!!!", "ab").is_err());
    }
}
