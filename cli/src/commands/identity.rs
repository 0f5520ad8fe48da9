//! `vault-rs identity token ROLE` (a signed identity token for the
//! caller, from identity/oidc/token/ROLE) and `vault-rs identity verify JWT
//! [--audience A]` (checks a token as any service would: the issuer and
//! the JWKS from the server's unauthenticated discovery documents, then
//! the signature, with the published key's own algorithm, expiry, issuer
//! and audience, locally; prints the claims).

use clap::{Args, Subcommand};
use serde_json::{json, Map, Value};
use vault_rs::logical::identity::jwt;

use crate::commands::{expect_body, Context};
use crate::error::{CliError, CmdResult, EXIT_OK};
use crate::output;

/// `vault-rs identity <command>`.
#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Get a signed identity token (JWT) for the current token from a role.
    Token(TokenArgs),
    /// Verify an identity token against the server's JWKS; print its claims.
    Verify(VerifyArgs),
}

/// `identity token ROLE`.
#[derive(Args)]
pub struct TokenArgs {
    /// The identity role (identity/oidc/role/ROLE).
    role: String,
}

/// `identity verify JWT [--audience A]`.
#[derive(Args)]
pub struct VerifyArgs {
    /// The token; - reads it from stdin.
    jwt: String,
    /// The audience (role client_id) the token must name.
    #[arg(long)]
    audience: Option<String>,
}

/// Runs one identity command.
pub fn run(ctx: &Context, command: IdentityCommand) -> CmdResult {
    match command {
        IdentityCommand::Token(args) => token(ctx, args),
        IdentityCommand::Verify(args) => verify(ctx, args),
    }
}

fn token(ctx: &Context, args: TokenArgs) -> CmdResult {
    let role = super::clean_path(&args.role)?;
    let client = ctx.client()?;
    let body = client
        .read(&format!("identity/oidc/token/{role}"))?
        .ok_or_else(|| CliError::failed(format!("No identity role named: {role}")))?;
    if ctx.output.is_table() && ctx.output.field.is_none() {
        let token = output::data_of(&body)
            .and_then(|d| d.get("token"))
            .and_then(Value::as_str)
            .ok_or_else(|| CliError::failed("the reply has no token"))?;
        output::emit(token)?;
        return Ok(EXIT_OK);
    }
    ctx.output.secret(&body)?;
    Ok(EXIT_OK)
}

/// Why a token is not valid, as the check found it.
fn check(
    token: &str,
    issuer: &str,
    jwks: &Value,
    audience: Option<&str>,
    now: i64,
) -> Result<Map<String, Value>, String> {
    let peeked = jwt::peek(token).map_err(|e| e.to_string())?;
    let kid = peeked.kid.ok_or("the token names no key (kid)")?;
    let jwk = jwks
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|keys| {
            keys.iter()
                .find(|k| k.get("kid").and_then(Value::as_str) == Some(&kid))
        })
        .ok_or("the token's key is not (or no longer) published in the JWKS")?;
    let alg = jwk
        .get("alg")
        .and_then(Value::as_str)
        .and_then(jwt::SigningAlgorithm::parse)
        .ok_or("the published key names no supported algorithm")?;
    let claims = jwt::verify(token, jwk, alg.jose()).map_err(|e| e.to_string())?;
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp > now => {}
        Some(_) => return Err("the token has expired".into()),
        None => return Err("the token has no expiry".into()),
    }
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(format!("the token's issuer is not {issuer}"));
    }
    if let Some(aud) = audience {
        let ok = match claims.get("aud") {
            Some(Value::String(a)) => a == aud,
            Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(aud)),
            _ => false,
        };
        if !ok {
            return Err(format!("the token's audience is not {aud}"));
        }
    }
    Ok(claims)
}

fn verify(ctx: &Context, args: VerifyArgs) -> CmdResult {
    let token = if args.jwt == "-" {
        crate::input::read_file_or_stdin("-")?
    } else {
        args.jwt.clone()
    };
    let client = ctx.client()?.with_token(None);
    let discovery = expect_body(
        client.read("identity/oidc/.well-known/openid-configuration")?,
        "GET identity/oidc/.well-known/openid-configuration",
    )?;
    let issuer = discovery
        .get("issuer")
        .and_then(Value::as_str)
        .ok_or_else(|| CliError::failed("the discovery document names no issuer"))?
        .to_owned();
    let jwks = expect_body(
        client.read("identity/oidc/.well-known/keys")?,
        "GET identity/oidc/.well-known/keys",
    )?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match check(token.trim(), &issuer, &jwks, args.audience.as_deref(), now) {
        Ok(claims) => {
            ctx.output.secret(&json!({ "data": claims }))?;
            Ok(EXIT_OK)
        }
        Err(why) => Err(CliError::failed(format!("the token is not valid: {why}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_signature_expiry_issuer_and_audience() {
        let alg = jwt::SigningAlgorithm::ES256;
        let sk = alg.generate().unwrap();
        let jwks = json!({"keys": [jwt::public_jwk(alg, "k1", sk.expose()).unwrap()]});
        let claims = json!({"iss": "https://v/v1/identity/oidc", "aud": "app", "exp": 100});
        let token = jwt::sign(alg, "k1", claims.as_object().unwrap(), sk.expose()).unwrap();
        let iss = "https://v/v1/identity/oidc";
        assert!(check(&token, iss, &jwks, Some("app"), 50).is_ok());
        assert!(check(&token, iss, &jwks, Some("other"), 50)
            .unwrap_err()
            .contains("audience"));
        assert!(check(&token, iss, &jwks, None, 100)
            .unwrap_err()
            .contains("expired"));
        assert!(check(&token, "https://x", &jwks, None, 50)
            .unwrap_err()
            .contains("issuer"));
        let empty = json!({"keys": []});
        assert!(check(&token, iss, &empty, None, 50)
            .unwrap_err()
            .contains("published"));
        assert!(check("a.b.c", iss, &jwks, None, 50).is_err());
    }
}
