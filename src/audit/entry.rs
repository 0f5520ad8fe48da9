//! Audit entries in Vault's JSON shape, with secrets HMAC-ed.
//!
//! A request entry:
//! ```json
//! {"time":"2024-05-01T12:00:00.123456789Z","type":"request",
//!  "auth":{"client_token":"hmac-sha256:…","accessor":"hmac-sha256:…",
//!          "display_name":"token","policies":["default"],"token_policies":["default"],
//!          "metadata":null,"entity_id":"","token_type":"service","token_ttl":3600,
//!          "token_issue_time":"…"},
//!  "request":{"id":"…","operation":"update","mount_point":"secret/","mount_type":"kv",
//!             "client_token":"hmac-sha256:…","client_token_accessor":"hmac-sha256:…",
//!             "path":"secret/app","data":{"password":"hmac-sha256:…"},
//!             "remote_address":"127.0.0.1"},
//!  "seq":12,"prev":"…"}
//! ```
//! A response entry repeats `auth` and `request` and adds
//! `"response":{"mount_point","mount_type","status_code","auth","secret",
//! "data","warnings","wrap_info"}` and, on failure, `"error":"…"`.
//! `status_code` (the HTTP status) is a vault-rs extension; `seq` and
//! `prev` are added by the device's writer (see `chain`).
//!
//! HMAC-ed (as `hmac-sha256:<hex>` keyed with the device's salt): the
//! client token, the accessor (unless `hmac_accessor=false`), every string
//! leaf of request and response `data`, the response's `auth.client_token`
//! and `auth.accessor`, and the wrapping token. `log_raw=true` writes them
//! in clear.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::crypto::{hmac_sha256, SecretBytes};
use crate::sdk::{Request, Response};

/// The prefix of every HMAC-ed value.
pub const HMAC_PREFIX: &str = "hmac-sha256:";

/// Hashes values for one device: its salt and its options.
pub struct Hasher {
    salt: SecretBytes,
    hmac_accessor: bool,
    raw: bool,
}

impl std::fmt::Debug for Hasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hasher")
            .field("salt", &self.salt)
            .field("hmac_accessor", &self.hmac_accessor)
            .field("raw", &self.raw)
            .finish()
    }
}

impl Hasher {
    pub fn new(salt: SecretBytes, hmac_accessor: bool, raw: bool) -> Hasher {
        Hasher {
            salt,
            hmac_accessor,
            raw,
        }
    }

    /// `hmac-sha256:<hex>` of `input` (what `sys/audit-hash` returns).
    pub fn hash(&self, input: &str) -> String {
        format!(
            "{HMAC_PREFIX}{}",
            hex::encode(hmac_sha256(self.salt.expose(), input.as_bytes()))
        )
    }

    fn secret(&self, s: &str) -> String {
        if self.raw || s.is_empty() {
            s.to_string()
        } else {
            self.hash(s)
        }
    }

    fn accessor(&self, s: &str) -> String {
        if self.hmac_accessor {
            self.secret(s)
        } else {
            s.to_string()
        }
    }

    /// `v` with every string leaf HMAC-ed (unless raw).
    fn value(&self, v: &Value) -> Value {
        if self.raw {
            return v.clone();
        }
        match v {
            Value::String(s) => Value::String(self.hash(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.value(x)).collect()),
            Value::Object(m) => Value::Object(self.map(m)),
            other => other.clone(),
        }
    }

    fn map(&self, m: &Map<String, Value>) -> Map<String, Value> {
        m.iter().map(|(k, v)| (k.clone(), self.value(v))).collect()
    }
}

/// Where a request was routed, for `mount_point` / `mount_type`.
#[derive(Clone, Debug, Default)]
pub struct MountInfo {
    pub point: String,
    pub kind: String,
}

/// The token a request was made with, as the audit log records it: a
/// flat copy built by the core from its token entry (the audit subsystem
/// does not know tokens). The token itself is not part of it (the log
/// takes it, HMAC-ed, from the request).
#[derive(Clone, Default)]
pub struct TokenRecord {
    /// HMAC-ed in the log unless the device says `hmac_accessor=false`.
    pub accessor: String,
    pub display_name: String,
    pub policies: Vec<String>,
    /// Empty: logged as `null`.
    pub metadata: Map<String, Value>,
    pub entity_id: String,
    /// The token's TTL at creation, in seconds.
    pub ttl: u64,
    /// Unix seconds.
    pub issue_time: i64,
}

/// A failed request as the client sees it: built by the core from its one
/// error-to-reply mapping.
#[derive(Clone)]
pub struct ErrorRecord {
    /// The HTTP status the client gets.
    pub status: u16,
    /// What the log records as `error` (never internal detail).
    pub message: String,
}

/// An error the audit log can record (implemented by the core's error);
/// [`AuditScope::respond`](super::AuditScope::respond) also answers with
/// it when the response entry cannot be recorded.
pub trait AuditedError: From<super::AuditError> {
    fn audit_record(&self) -> ErrorRecord;
}

/// What the core hands the broker for one entry.
pub struct AuditInput<'a> {
    pub request: &'a Request,
    /// The token's record, once the token was looked up.
    pub auth: Option<&'a TokenRecord>,
    pub mount: &'a MountInfo,
    /// For a response entry: the outcome.
    pub outcome: Option<Outcome<'a>>,
    /// For a request entry that failed before dispatch (authentication).
    pub error: Option<&'a ErrorRecord>,
}

/// The outcome a response entry records.
#[derive(Clone)]
pub enum Outcome<'a> {
    Ok(&'a Response),
    Err(ErrorRecord),
}

impl<'a> Outcome<'a> {
    pub fn of<E: AuditedError>(result: &'a Result<Response, E>) -> Outcome<'a> {
        match result {
            Ok(r) => Outcome::Ok(r),
            Err(e) => Outcome::Err(e.audit_record()),
        }
    }
}

#[derive(Serialize)]
struct Entry {
    time: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<AuthBlock>,
    request: RequestBlock,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<ResponseBlock>,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

#[derive(Serialize, Default)]
struct AuthBlock {
    client_token: String,
    accessor: String,
    display_name: String,
    policies: Vec<String>,
    token_policies: Vec<String>,
    metadata: Option<Map<String, Value>>,
    entity_id: String,
    token_type: String,
    token_ttl: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    token_issue_time: String,
}

#[derive(Serialize)]
struct RequestBlock {
    id: String,
    operation: &'static str,
    mount_point: String,
    mount_type: String,
    client_token: String,
    client_token_accessor: String,
    path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    remote_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrap_ttl: Option<u64>,
}

#[derive(Serialize)]
struct ResponseBlock {
    mount_point: String,
    mount_type: String,
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth: Option<ResponseAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<SecretBlock>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wrap_info: Option<Value>,
}

#[derive(Serialize)]
struct ResponseAuth {
    client_token: String,
    accessor: String,
    policies: Vec<String>,
    token_policies: Vec<String>,
    metadata: Option<Map<String, Value>>,
    entity_id: String,
    token_type: String,
    token_ttl: u64,
    renewable: bool,
    orphan: bool,
    num_uses: u64,
}

#[derive(Serialize)]
struct SecretBlock {
    lease_id: String,
}

/// Renders the entry (`type` request when `input.outcome` is `None`,
/// response otherwise) as one compact JSON object, without `seq`/`prev`.
pub fn render(input: &AuditInput<'_>, time: &str, h: &Hasher) -> String {
    let req = input.request;
    let token = req
        .client_token
        .as_ref()
        .map(|t| h.secret(t.expose()))
        .unwrap_or_default();
    let accessor = input
        .auth
        .map(|e| h.accessor(&e.accessor))
        .unwrap_or_default();
    let auth = match input.auth {
        Some(e) => Some(AuthBlock {
            client_token: token.clone(),
            accessor: accessor.clone(),
            display_name: e.display_name.clone(),
            policies: e.policies.clone(),
            token_policies: e.policies.clone(),
            metadata: (!e.metadata.is_empty()).then(|| e.metadata.clone()),
            entity_id: e.entity_id.clone(),
            token_type: "service".into(),
            token_ttl: e.ttl,
            token_issue_time: unix_to_rfc3339(e.issue_time),
        }),
        None if !token.is_empty() => Some(AuthBlock {
            client_token: token.clone(),
            ..AuthBlock::default()
        }),
        None => None,
    };
    let request = RequestBlock {
        id: req.id.clone(),
        operation: req.operation.as_str(),
        mount_point: input.mount.point.clone(),
        mount_type: input.mount.kind.clone(),
        client_token: token,
        client_token_accessor: accessor,
        path: req.path.clone(),
        data: (!req.data.is_empty()).then(|| Value::Object(h.map(&req.data))),
        remote_address: req.remote_addr.map(|a| a.to_string()).unwrap_or_default(),
        wrap_ttl: req.wrap_ttl,
    };
    let (kind, response, error) = match &input.outcome {
        None => (
            "request",
            None,
            input.error.map(|e| e.message.clone()).unwrap_or_default(),
        ),
        Some(Outcome::Ok(r)) => (
            "response",
            Some(response_block(input.mount, r, status_of_response(r), h)),
            // A 404 that carries data is recorded as the error it is for
            // the client, with its response (HMAC-ed).
            if r.is_not_found() {
                "not found".to_string()
            } else {
                String::new()
            },
        ),
        Some(Outcome::Err(e)) => {
            let block = ResponseBlock {
                mount_point: input.mount.point.clone(),
                mount_type: input.mount.kind.clone(),
                status_code: e.status,
                auth: None,
                secret: None,
                data: None,
                warnings: Vec::new(),
                wrap_info: None,
            };
            ("response", Some(block), e.message.clone())
        }
    };
    let entry = Entry {
        time: time.to_string(),
        kind,
        auth,
        request,
        response,
        error,
    };
    serde_json::to_string(&entry).unwrap_or_else(|_| "{}".to_string())
}

fn response_block(mount: &MountInfo, r: &Response, status: u16, h: &Hasher) -> ResponseBlock {
    let data = r
        .data
        .as_ref()
        .map(|d| Value::Object(h.map(d)))
        .or_else(|| r.raw.as_ref().map(|v| h.value(v)));
    ResponseBlock {
        mount_point: mount.point.clone(),
        mount_type: r.mount_type.clone().unwrap_or_else(|| mount.kind.clone()),
        status_code: status,
        auth: r.auth.as_ref().map(|a| ResponseAuth {
            client_token: h.secret(a.client_token.expose()),
            accessor: h.accessor(&a.accessor),
            policies: a.policies.clone(),
            token_policies: a.token_policies.clone(),
            metadata: a.metadata.clone(),
            entity_id: a.entity_id.clone(),
            token_type: a.token_type.clone(),
            token_ttl: a.lease_duration,
            renewable: a.renewable,
            orphan: a.orphan,
            num_uses: a.num_uses,
        }),
        secret: r.lease.as_ref().map(|l| SecretBlock {
            lease_id: l.lease_id.clone(),
        }),
        data,
        warnings: r.warnings.clone(),
        wrap_info: r.wrap_info.as_ref().map(|w| wrap_info(w, h)),
    }
}

/// The wrapping token and accessors are secrets; the rest is metadata.
fn wrap_info(w: &Value, h: &Hasher) -> Value {
    let Value::Object(m) = w else {
        return h.value(w);
    };
    let mut out = Map::new();
    for (k, v) in m {
        let v = match (k.as_str(), v) {
            ("token", Value::String(s)) => Value::String(h.secret(s)),
            ("accessor" | "wrapped_accessor", Value::String(s)) => Value::String(h.accessor(s)),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

/// The HTTP status the client gets for a successful response.
fn status_of_response(r: &Response) -> u16 {
    if let Some(s) = r.status {
        return s;
    }
    if r.raw.is_some() {
        return 200;
    }
    let empty =
        r.data.is_none() && r.auth.is_none() && r.wrap_info.is_none() && r.warnings.is_empty();
    if empty {
        204
    } else {
        200
    }
}

/// RFC 3339 time of a unix timestamp ("" if out of range).
fn unix_to_rfc3339(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The real current time as Vault writes it (RFC 3339, nanoseconds, UTC),
/// for what a device records about its own file (headers, checkpoints,
/// drop notices, the test entry on enable). Request and response entries
/// carry the broker's clock instead ([`super::Broker::load_with_clock`]).
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sdk::Operation;
    use serde_json::json;

    fn hasher() -> Hasher {
        Hasher::new(SecretBytes::from_slice(&[1u8; 32]), true, false)
    }

    #[test]
    fn hash_is_prefixed_hmac() {
        let h = hasher();
        let v = h.hash("hunter2");
        assert!(v.starts_with("hmac-sha256:"));
        assert_eq!(v.len(), HMAC_PREFIX.len() + 64);
        assert_eq!(v, h.hash("hunter2"));
        let other = Hasher::new(SecretBytes::from_slice(&[2u8; 32]), true, false);
        assert_ne!(v, other.hash("hunter2"));
    }

    #[test]
    fn request_entry_hides_every_string() {
        let h = hasher();
        let mut req = Request::new(Operation::Update, "secret/app");
        req.client_token = Some("hvs.CANARYTOKEN".into());
        req.data = json!({"password": "CANARY1", "nested": {"list": ["CANARY2", 5, true]}})
            .as_object()
            .cloned()
            .unwrap();
        let mount = MountInfo {
            point: "secret/".into(),
            kind: "kv".into(),
        };
        let input = AuditInput {
            request: &req,
            auth: None,
            mount: &mount,
            outcome: None,
            error: None,
        };
        let text = render(&input, "2024-01-01T00:00:00Z", &h);
        assert!(!text.contains("CANARY"), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["type"], "request");
        assert_eq!(v["request"]["client_token"], h.hash("hvs.CANARYTOKEN"));
        assert_eq!(v["request"]["data"]["nested"]["list"][1], 5);
        assert_eq!(v["request"]["mount_type"], "kv");
        let raw = Hasher::new(SecretBytes::from_slice(&[1u8; 32]), true, true);
        assert!(render(&input, "t", &raw).contains("CANARY1"));
    }

    #[test]
    fn request_entry_auth_block_from_the_token_record() {
        let h = hasher();
        let mut req = Request::new(Operation::Read, "secret/app");
        req.client_token = Some("hvs.CANARYTOKEN".into());
        let mount = MountInfo::default();
        let token = TokenRecord {
            accessor: "ACCESSOR1".into(),
            display_name: "userpass-alice".into(),
            policies: vec!["default".into(), "dev".into()],
            metadata: Map::new(),
            entity_id: "ent-1".into(),
            ttl: 3600,
            issue_time: 86_400,
        };
        let input = AuditInput {
            request: &req,
            auth: Some(&token),
            mount: &mount,
            outcome: None,
            error: None,
        };
        let v: Value = serde_json::from_str(&render(&input, "t", &h)).unwrap();
        assert_eq!(
            v["auth"],
            json!({
                "client_token": h.hash("hvs.CANARYTOKEN"),
                "accessor": h.hash("ACCESSOR1"),
                "display_name": "userpass-alice",
                "policies": ["default", "dev"],
                "token_policies": ["default", "dev"],
                "metadata": null,
                "entity_id": "ent-1",
                "token_type": "service",
                "token_ttl": 3600,
                "token_issue_time": "1970-01-02T00:00:00Z",
            })
        );
        assert_eq!(v["request"]["client_token_accessor"], h.hash("ACCESSOR1"));
        let mut meta = Map::new();
        meta.insert("role".into(), json!("web"));
        let with_meta = TokenRecord {
            metadata: meta,
            ..token.clone()
        };
        let input = AuditInput {
            auth: Some(&with_meta),
            ..input
        };
        let v: Value = serde_json::from_str(&render(&input, "t", &h)).unwrap();
        assert_eq!(v["auth"]["metadata"], json!({"role": "web"}));
    }

    #[test]
    fn response_entry_has_status_and_error() {
        let h = hasher();
        let req = Request::new(Operation::Read, "secret/missing");
        let mount = MountInfo::default();
        let err = ErrorRecord {
            status: 403,
            message: "permission denied".into(),
        };
        let input = AuditInput {
            request: &req,
            auth: None,
            mount: &mount,
            outcome: Some(Outcome::Err(err)),
            error: None,
        };
        let v: Value = serde_json::from_str(&render(&input, "t", &h)).unwrap();
        assert_eq!(v["type"], "response");
        assert_eq!(v["response"]["status_code"], 403);
        assert_eq!(v["error"], "permission denied");
        assert!(v["response"].get("data").is_none());
        // A 404 that still carries a response (KV v2's deleted versions):
        // the response is recorded, HMAC-ed, with its status and the error
        // the client sees.
        let body = Response::not_found_with_data(json!({"versions": "CANARY"}));
        let input = AuditInput {
            outcome: Some(Outcome::Ok(&body)),
            ..input
        };
        let text = render(&input, "t", &h);
        assert!(!text.contains("CANARY"), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["response"]["status_code"], 404);
        assert_eq!(v["response"]["data"]["versions"], h.hash("CANARY"));
        assert_eq!(v["error"], "not found");
        // Any other success records no error.
        let body = Response::json(json!({"versions": "CANARY"}));
        let input = AuditInput {
            outcome: Some(Outcome::Ok(&body)),
            ..input
        };
        let v: Value = serde_json::from_str(&render(&input, "t", &h)).unwrap();
        assert_eq!(v["response"]["status_code"], 200);
        assert!(v.get("error").is_none(), "{v}");
    }
}
