//! Rotation and revocation notifications (optional, per key): after a
//! rotation (`"event": "rotated"`) or a revocation (`"event": "revoked"`),
//! a JSON event is POSTed to the key's `webhook_url`.
//!
//! The event carries names, versions and times — never a key. It is signed
//! like Stripe's webhooks: header `X-Vault-RS-Signature: t=<unix secs>,
//! v1=<hex HMAC-SHA256(webhook_secret, "<t>.<body>")>`, where the secret
//! is returned once when the webhook is set.
//!
//! Delivery: one background worker per mount (started on its first event,
//! ending once the mount's state is dropped and its queue drained) fed by
//! a bounded queue
//! ([`QUEUE_LEN`] events; beyond, events are dropped with a warning), an
//! HTTPS client (rustls, the Mozilla root store, no redirects, connect and
//! total timeouts), 4 attempts with backoff (0 s, 1 s, 2 s, 4 s).
//!
//! Target policy ([`WebhookPolicy`], from the mount's `config`): the URL
//! must be `https://` unless `webhook_allow_http` is set; every address the
//! host resolves to must be public — loopback, link-local (including the
//! cloud metadata endpoints 169.254.169.254 and fd00:ec2::254), private,
//! shared, multicast, documentation and unspecified ranges are refused —
//! unless it falls in one of `webhook_allowed_networks` (CIDRs). The
//! request then goes to the address that was checked (no second lookup),
//! so a name cannot be re-pointed between the check and the connection.
//!
//! Owns: the event, its signature, the target policy and delivery. Must not
//! touch storage.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::OnceLock;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use ipnet::IpNet;
use serde_json::json;

use super::rotation::Rotated;
use super::store::{time_value, KeyRecord};
use crate::crypto::{hmac_sha256, SecretString};

/// Connect timeout of one attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request timeout of one attempt.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Delay before each attempt.
const BACKOFF: [Duration; 4] = [
    Duration::ZERO,
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];
/// Events waiting for the worker; more are dropped (with a warning).
pub(super) const QUEUE_LEN: usize = 256;

/// Which webhook targets a mount accepts (from its `config`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookPolicy {
    /// Accept `http://` URLs (the body is signed but not encrypted).
    pub allow_http: bool,
    /// Internal networks that may be targeted all the same.
    pub allowed_networks: Vec<IpNet>,
}

/// A parsed webhook URL.
#[derive(Debug)]
struct Target {
    url: reqwest::Url,
    host: String,
    port: u16,
}

fn parse(url: &str, policy: &WebhookPolicy) -> Result<Target, String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|_| "webhook_url is not a valid URL".to_string())?;
    match parsed.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        "http" => {
            return Err(
                "webhook_url must be https:// (set webhook_allow_http in the mount's config \
                 to allow http://)"
                    .into(),
            )
        }
        _ => return Err("webhook_url must be an https:// URL".into()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("webhook_url must not hold credentials".into());
    }
    let host = match parsed.host_str() {
        Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']'),
        _ => return Err("webhook_url has no host".into()),
    }
    .to_string();
    let port = parsed
        .port_or_known_default()
        .ok_or("webhook_url has no port")?;
    Ok(Target {
        url: parsed,
        host,
        port,
    })
}

/// Whether `ip` is an internal address: anything but the public internet.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => v4_internal(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4_internal(v4),
            None => v6_internal(a),
        },
    }
}

fn v4_internal(a: Ipv4Addr) -> bool {
    let [b0, b1, ..] = a.octets();
    a.is_unspecified()
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.is_documentation()
        || b0 == 0
        // Shared address space (carrier-grade NAT), 100.64.0.0/10.
        || (b0 == 100 && (64..128).contains(&b1))
        // IETF protocol assignments, 192.0.0.0/24; benchmarking, 198.18.0.0/15.
        || (b0 == 192 && b1 == 0 && a.octets()[2] == 0)
        || (b0 == 198 && (b1 == 18 || b1 == 19))
        // Reserved, 240.0.0.0/4.
        || b0 >= 240
}

fn v6_internal(a: Ipv6Addr) -> bool {
    let s0 = a.segments()[0];
    a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        // Unique local (fc00::/7, which holds fd00:ec2::254), link-local
        // (fe80::/10), site-local (fec0::/10), documentation (2001:db8::/32).
        || (s0 & 0xfe00) == 0xfc00
        || (s0 & 0xffc0) == 0xfe80
        || (s0 & 0xffc0) == 0xfec0
        || (s0 == 0x2001 && a.segments()[1] == 0x0db8)
        // NAT64 and 6to4 can embed any IPv4 address.
        || (s0 == 0x0064 && a.segments()[1] == 0xff9b)
        || s0 == 0x2002
}

/// Refuses `ip` unless it is public or explicitly allowed.
fn check_address(ip: IpAddr, policy: &WebhookPolicy) -> Result<(), String> {
    if !is_internal(ip) || policy.allowed_networks.iter().any(|n| n.contains(&ip)) {
        return Ok(());
    }
    Err(format!(
        "webhook target {ip} is an internal address (add its network to \
         webhook_allowed_networks in the mount's config to allow it)"
    ))
}

/// Checks a `webhook_url` before it is stored ("" clears it): scheme, and
/// the host when it is an IP address (names are checked at delivery).
pub fn check_url(url: &str, policy: &WebhookPolicy) -> Result<(), String> {
    if url.is_empty() {
        return Ok(());
    }
    let target = parse(url, policy)?;
    if let Ok(ip) = target.host.parse::<IpAddr>() {
        check_address(ip, policy)?;
    }
    Ok(())
}

/// Resolves the target and checks every address; the first is used.
fn resolve(target: &Target, policy: &WebhookPolicy) -> Result<SocketAddr, String> {
    let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve webhook host: {e}"))?
        .collect();
    for a in &addrs {
        check_address(a.ip(), policy)?;
    }
    addrs
        .first()
        .copied()
        .ok_or_else(|| "webhook host has no address".into())
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

/// One event waiting for delivery.
struct Delivery {
    url: String,
    secret: SecretString,
    body: String,
    name: String,
    policy: WebhookPolicy,
}

/// The delivery queue of one mount's state, with its worker (started on
/// the first event). Dropping the queue lets the worker finish what is
/// queued and end.
#[derive(Default)]
pub struct Queue(OnceLock<Option<Sender<Delivery>>>);

impl Queue {
    fn sender(&self) -> Option<&Sender<Delivery>> {
        self.0
            .get_or_init(|| {
                let (tx, rx) = bounded(QUEUE_LEN);
                let spawned = std::thread::Builder::new()
                    .name("vault-rs-apikeys-webhook".into())
                    .spawn(move || worker(rx));
                match spawned {
                    Ok(_) => Some(tx),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start the apikeys webhook worker");
                        None
                    }
                }
            })
            .as_ref()
    }
}

fn worker(rx: Receiver<Delivery>) {
    while let Ok(d) = rx.recv() {
        if let Err(e) = deliver(&d) {
            tracing::warn!(key = %d.name, error = %e, "apikeys webhook not delivered");
        }
    }
}

/// A client that connects to `addr` whatever `host` resolves to.
fn client(host: &str, addr: SocketAddr) -> Result<reqwest::blocking::Client, String> {
    let mut b = reqwest::blocking::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TIMEOUT)
        .user_agent("vault-rs")
        .no_proxy();
    if host.parse::<IpAddr>().is_err() {
        b = b.resolve(host, addr);
    }
    b.build().map_err(|e| e.to_string())
}

/// Sends a rotation event for `record` if it has a webhook.
pub fn notify_rotation(
    queue: &Queue,
    record: &KeyRecord,
    rotated: &Rotated,
    scheduled: bool,
    policy: &WebhookPolicy,
) {
    send(
        queue,
        record,
        json!({
            "event": "rotated",
            "trigger": if scheduled { "scheduled" } else { "manual" },
            "name": record.name,
            "service": record.service,
            "version": rotated.version,
            "previous_version": rotated.previous_version,
            "previous_valid_until": time_value(rotated.previous_valid_until),
            "next_rotation": time_value(rotated.next_rotation),
            // When the event is sent (the receiver's replay window is real time).
            "time": crate::sdk::Clock::rfc3339(&crate::sdk::SystemClock),
        }),
        policy,
    );
}

/// Sends a revocation event for `record` (the versions just revoked) if
/// it has a webhook.
pub fn notify_revocation(
    queue: &Queue,
    record: &KeyRecord,
    versions: &[u64],
    policy: &WebhookPolicy,
) {
    send(
        queue,
        record,
        json!({
            "event": "revoked",
            "name": record.name,
            "service": record.service,
            "revoked_versions": versions,
            "current_version": record.current,
            "time": crate::sdk::Clock::rfc3339(&crate::sdk::SystemClock),
        }),
        policy,
    );
}

/// Queues `event` for the key's webhook, if it has one.
fn send(queue: &Queue, record: &KeyRecord, event: serde_json::Value, policy: &WebhookPolicy) {
    let Some(secret) = record.webhook_secret.as_ref().map(|s| s.0.clone()) else {
        return;
    };
    if record.webhook_url.is_empty() {
        return;
    }
    let delivery = Delivery {
        url: record.webhook_url.clone(),
        secret,
        body: event.to_string(),
        name: record.name.clone(),
        policy: policy.clone(),
    };
    let Some(queue) = queue.sender() else {
        return;
    };
    if let Err(TrySendError::Full(d) | TrySendError::Disconnected(d)) = queue.try_send(delivery) {
        tracing::warn!(key = %d.name, "apikeys webhook queue full: event dropped");
    }
}

/// Up to four attempts; the target is checked before each.
fn deliver(d: &Delivery) -> Result<(), String> {
    let target = parse(&d.url, &d.policy)?;
    let mut last = String::new();
    for delay in BACKOFF {
        std::thread::sleep(delay);
        match attempt(&target, d) {
            Ok(()) => return Ok(()),
            Err(Attempt::Refused(e)) => return Err(e),
            Err(Attempt::Failed(e)) => last = e,
        }
    }
    Err(format!("failed after retries: {last}"))
}

enum Attempt {
    /// The target is not allowed: no retry.
    Refused(String),
    /// Worth retrying.
    Failed(String),
}

fn attempt(target: &Target, d: &Delivery) -> Result<(), Attempt> {
    let addr = resolve(target, &d.policy).map_err(Attempt::Refused)?;
    // The connection goes to the address just checked; the URL keeps its
    // host for TLS and the Host header.
    let client = client(&target.host, addr).map_err(Attempt::Failed)?;
    let request = client.post(target.url.clone());
    // The signature's timestamp is checked against the receiver's real clock.
    let t = crate::sdk::Clock::unix(&crate::sdk::SystemClock);
    let response = request
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(
            "X-Vault-RS-Signature",
            signature(d.secret.expose(), t, d.body.as_bytes()),
        )
        .body(d.body.clone())
        .send()
        .map_err(|e| Attempt::Failed(e.without_url().to_string()))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(Attempt::Failed(format!("status {}", status.as_u16())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> WebhookPolicy {
        WebhookPolicy {
            allow_http: true,
            allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
        }
    }

    #[test]
    fn https_is_required_unless_http_is_allowed() {
        let strict = WebhookPolicy::default();
        assert!(check_url("https://hooks.example.com/keys", &strict).is_ok());
        assert!(check_url("http://hooks.example.com/keys", &strict).is_err());
        assert!(check_url("http://hooks.example.com/keys", &open()).is_ok());
        assert!(check_url("ftp://hooks.example.com/", &open()).is_err());
        assert!(check_url("https://user:pw@hooks.example.com/", &strict).is_err());
        assert!(check_url("not a url", &strict).is_err());
        assert!(check_url("", &strict).is_ok());
        let t = parse("https://[2001:4860::1]:8443/x", &strict).unwrap();
        assert_eq!((t.host.as_str(), t.port), ("2001:4860::1", 8443));
        let t = parse("http://example.com", &open()).unwrap();
        assert_eq!(t.port, 80);
    }

    #[test]
    fn internal_targets_are_refused_unless_allowed() {
        let strict = WebhookPolicy {
            allow_http: true,
            ..WebhookPolicy::default()
        };
        for url in [
            "http://127.0.0.1:9000/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://10.0.0.1/",
            "http://172.16.5.4/",
            "http://192.168.1.1/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://[64:ff9b::a9fe:a9fe]/",
        ] {
            assert!(check_url(url, &strict).is_err(), "{url} accepted");
        }
        assert!(check_url("http://8.8.8.8/", &strict).is_ok());
        assert!(check_url("https://[2606:4700::1111]/", &strict).is_ok());
        // An explicit allowance opens exactly its network.
        assert!(check_url("http://127.0.0.1:9000/", &open()).is_ok());
        assert!(check_url("http://169.254.169.254/", &open()).is_err());
    }

    #[test]
    fn a_name_resolving_to_an_internal_address_is_refused() {
        let strict = WebhookPolicy::default();
        let t = parse("https://localhost:9/", &strict).unwrap();
        assert!(resolve(&t, &strict).is_err());
        let allowed = WebhookPolicy {
            allow_http: false,
            allowed_networks: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        };
        assert!(resolve(&t, &allowed).is_ok());
    }

    #[test]
    fn signature_covers_time_and_body() {
        let a = signature("s", 1, b"{}");
        assert!(a.starts_with("t=1,v1="));
        assert_ne!(a, signature("s", 2, b"{}"));
        assert_ne!(a, signature("s", 1, b"{ }"));
    }
}
