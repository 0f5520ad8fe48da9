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

use crate::auth::token::TokenEntry;
use crate::core::CoreError;
use crate::crypto::{hmac_sha256, SecretBytes};
use crate::logical::LogicalError;
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

/// What the core hands the broker for one entry.
pub struct AuditInput<'a> {
    pub request: &'a Request,
    /// The token's entry, once the token was looked up.
    pub auth: Option<&'a TokenEntry>,
    pub mount: &'a MountInfo,
    /// For a response entry: the outcome.
    pub outcome: Option<Outcome<'a>>,
    /// For a request entry that failed before dispatch (authentication).
    pub error: Option<&'a CoreError>,
}

/// The outcome a response entry records.
#[derive(Clone, Copy)]
pub enum Outcome<'a> {
    Ok(&'a Response),
    Err(&'a CoreError),
}

impl<'a> Outcome<'a> {
    pub fn of(result: &'a Result<Response, CoreError>) -> Outcome<'a> {
        match result {
            Ok(r) => Outcome::Ok(r),
            Err(e) => Outcome::Err(e),
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
            metadata: (!e.meta.is_empty()).then(|| e.meta.clone()),
            entity_id: e.entity_id.clone(),
            token_type: "service".into(),
            token_ttl: e.creation_ttl,
            token_issue_time: unix_to_rfc3339(e.creation_time),
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
    let (kind, response, error) = match input.outcome {
        None => (
            "request",
            None,
            input.error.map(error_text).unwrap_or_default(),
        ),
        Some(Outcome::Ok(r)) => (
            "response",
            Some(response_block(input.mount, r, status_of_response(r), h)),
            String::new(),
        ),
        Some(Outcome::Err(e)) => {
            let block = match e {
                CoreError::Logical(LogicalError::NotFoundWith(r)) => {
                    response_block(input.mount, r, 404, h)
                }
                _ => ResponseBlock {
                    mount_point: input.mount.point.clone(),
                    mount_type: input.mount.kind.clone(),
                    status_code: status_of_error(e),
                    auth: None,
                    secret: None,
                    data: None,
                    warnings: Vec::new(),
                    wrap_info: None,
                },
            };
            ("response", Some(block), error_text(e))
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

/// The HTTP status the client gets for `e`: the core's one mapping
/// ([`CoreError::client_view`]), which the HTTP layer answers with.
pub(crate) fn status_of_error(e: &CoreError) -> u16 {
    e.status_code()
}

/// The error as the client sees it (no internal detail).
fn error_text(e: &CoreError) -> String {
    if status_of_error(e) == 500 {
        return "internal error".into();
    }
    e.to_string()
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

/// The current time as Vault writes it (RFC 3339, nanoseconds, UTC).
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
    fn response_entry_has_status_and_error() {
        let h = hasher();
        let req = Request::new(Operation::Read, "secret/missing");
        let mount = MountInfo::default();
        let err = CoreError::PermissionDenied;
        let input = AuditInput {
            request: &req,
            auth: None,
            mount: &mount,
            outcome: Some(Outcome::Err(&err)),
            error: None,
        };
        let v: Value = serde_json::from_str(&render(&input, "t", &h)).unwrap();
        assert_eq!(v["type"], "response");
        assert_eq!(v["response"]["status_code"], 403);
        assert_eq!(v["error"], "permission denied");
        let internal = CoreError::Internal("detail with secret".into());
        let input = AuditInput {
            outcome: Some(Outcome::Err(&internal)),
            ..input
        };
        let text = render(&input, "t", &h);
        assert!(!text.contains("detail"));
    }
}
