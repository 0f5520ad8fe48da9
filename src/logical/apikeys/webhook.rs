//! Rotation notifications (optional, per key): after a rotation, a JSON
//! event is POSTed to the key's `webhook_url` on a background thread,
//! retried with backoff (4 attempts over ~7 s).
//!
//! The event carries names, versions and times — never a key. It is signed
//! like Stripe's webhooks: header `X-Vault-RS-Signature: t=<unix secs>,
//! v1=<hex HMAC-SHA256(webhook_secret, "<t>.<body>")>`, where the secret
//! is returned once when the webhook is set. Plain `http://` only (no TLS
//! client in the server); the signature gives integrity, the body holds
//! nothing secret.
//!
//! Owns: the event, its signature and delivery. Must not touch storage.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::json;

use super::rotation::Rotated;
use super::store::{time_value, KeyRecord};
use crate::crypto::{hmac_sha256, SecretString};

const TIMEOUT: Duration = Duration::from_secs(5);
const BACKOFF: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// A parsed `http://host[:port][/path]` URL.
struct Target {
    authority: String,
    host: String,
    port: u16,
    path: String,
}

fn parse(url: &str) -> Result<Target, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("webhook_url must be an http:// URL")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty()
        || authority.contains('@')
        || !path.bytes().all(|b| (0x21..=0x7e).contains(&b))
    {
        return Err("webhook_url is not a valid http:// URL".into());
    }
    let (host, port) = split_host_port(authority)?;
    Ok(Target {
        authority: authority.to_string(),
        host,
        port,
        path: path.to_string(),
    })
}

/// Splits `host[:port]` or `[v6]:port`; the port defaults to 80.
fn split_host_port(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6
                .split_once(']')
                .ok_or("webhook_url has an invalid host")?;
            (host, rest.strip_prefix(':'))
        }
        None => match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err("webhook_url has no host".into());
    }
    let port = match port {
        None => 80,
        Some(p) => p.parse().map_err(|_| "webhook_url has an invalid port")?,
    };
    Ok((host.to_string(), port))
}

/// Checks a `webhook_url` before it is stored ("" clears it).
pub fn check_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    parse(url).map(|_| ())
}

/// The signature header value for `body` at unix time `t`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(body);
    format!(
        "t={t},v1={}",
        hex::encode(hmac_sha256(secret.as_bytes(), &signed))
    )
}

/// Sends a rotation event for `record` if it has a webhook.
pub fn notify_rotation(record: &KeyRecord, rotated: &Rotated, scheduled: bool) {
    let Some(secret) = record.webhook_secret.as_ref().map(|s| s.0.clone()) else {
        return;
    };
    if record.webhook_url.is_empty() {
        return;
    }
    let body = json!({
        "event": "rotated",
        "trigger": if scheduled { "scheduled" } else { "manual" },
        "name": record.name,
        "service": record.service,
        "version": rotated.version,
        "previous_version": rotated.previous_version,
        "previous_valid_until": time_value(rotated.previous_valid_until),
        "next_rotation": time_value(rotated.next_rotation),
        "time": crate::core::time::now_rfc3339(),
    })
    .to_string();
    let url = record.webhook_url.clone();
    let name = record.name.clone();
    let spawned = std::thread::Builder::new()
        .name("vault-rs-apikeys-webhook".into())
        .spawn(move || deliver(&url, &secret, body.as_bytes(), &name));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start an apikeys webhook delivery");
    }
}

fn deliver(url: &str, secret: &SecretString, body: &[u8], name: &str) {
    let target = match parse(url) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(key = %name, error = %e, "apikeys webhook not sent");
            return;
        }
    };
    let mut last = String::new();
    for delay in BACKOFF {
        std::thread::sleep(delay);
        let t = crate::core::time::unix_now();
        match post(&target, &signature(secret.expose(), t, body), body) {
            Ok(status) if (200..300).contains(&status) => return,
            Ok(status) => last = format!("status {status}"),
            Err(e) => last = e,
        }
    }
    tracing::warn!(key = %name, error = %last, "apikeys webhook delivery failed after retries");
}

fn post(target: &Target, signature: &str, body: &[u8]) -> Result<u16, String> {
    let addr = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve webhook host: {e}"))?
        .next()
        .ok_or("webhook host has no address")?;
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|_| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| e.to_string())?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: vault-rs\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nX-Vault-RS-Signature: {signature}\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority,
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .and_then(|_| stream.write_all(body))
        .map_err(|e| e.to_string())?;
    let mut reply = [0u8; 64];
    let n = stream.read(&mut reply).map_err(|e| e.to_string())?;
    let line = String::from_utf8_lossy(&reply[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "webhook receiver sent no HTTP status".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse("http://127.0.0.1:9000/hooks/keys").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("127.0.0.1", 9000, "/hooks/keys")
        );
        let t = parse("http://example.com").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/"));
        let t = parse("http://[::1]:8080/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 8080));
        assert!(parse("https://example.com").is_err());
        assert!(parse("http://user@host/").is_err());
        assert!(parse("http://host:notaport/").is_err());
        assert!(check_url("").is_ok());
    }

    #[test]
    fn signature_covers_time_and_body() {
        let a = signature("s", 1, b"{}");
        assert!(a.starts_with("t=1,v1="));
        assert_ne!(a, signature("s", 2, b"{}"));
        assert_ne!(a, signature("s", 1, b"{ }"));
    }
}
